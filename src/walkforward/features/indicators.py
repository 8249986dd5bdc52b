"""Causal engineered features computed from OHLCV bars.

Every feature value at bar ``t`` uses only bars at or before ``t``: rolling windows end at ``t``,
TA-Lib indicators are recursive from the first bar forward, and the regime models are fitted on
data strictly before the block they label. Each feature carries an honest ``lookback`` (the number
of bars of history its value depends on, including ``t``) so that the walk-forward splitter can
embargo training rows whose features reach into a test block.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import talib
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from walkforward.domain import BAR_COLUMNS, RAW_PRICE_COLUMNS
from walkforward.features import FEATURE_SET_VERSION as FEATURE_SET_VERSION  # re-exported

logger = logging.getLogger(__name__)

#: Scaling groups: ``bounded`` oscillators are passed through, ``robust`` (volume/counts) get a
#: RobustScaler, ``regime`` columns are categorical integers, everything else is ``standard``.
FEATURE_GROUPS: frozenset[str] = frozenset({"standard", "bounded", "robust", "regime"})

_RET_HORIZONS = (1, 5, 15, 60)
_Z_WINDOWS = (20, 60)
_MA_WINDOWS = (20, 60)
_RV_WINDOW = 60
_GMM_MIN_ROWS = 50
_GMM_COMPONENTS = 3

_C = frozenset({"close"})
_HLC = frozenset({"high", "low", "close"})
_HL = frozenset({"high", "low"})
_OHLC = frozenset({"open", "high", "low", "close"})


@dataclass(frozen=True)
class FeatureDef:
    """Metadata of one engineered feature.

    Attributes
    ----------
    name : str
        Column name (lower snake case, never a raw bar column nor a ``open_``/``close_``... prefix).
    lookback : int
        Bars of history (at the ingest bar size) the value at ``t`` depends on, including ``t``.
    group : str
        Scaling group: ``standard``, ``bounded``, ``robust`` or ``regime``.
    requires : frozenset[str]
        Raw bar columns the feature needs.
    """

    name: str
    lookback: int
    group: str
    requires: frozenset[str]


def regime_windows(bars_per_day: int) -> tuple[int, int]:
    """Return ``(W, R)``: the trailing window and the GMM refit block size, in bars.

    ``W = max(100, 5 * bars_per_day)`` (about a week) and ``R = max(20, bars_per_day)`` (about a day).
    """
    if bars_per_day < 1:
        raise ValueError(f"bars_per_day must be >= 1, got {bars_per_day}")
    return max(100, 5 * bars_per_day), max(20, bars_per_day)


def feature_defs(bars_per_day: int) -> list[FeatureDef]:
    """Return the full feature catalog; the regime windows scale with ``bars_per_day``."""
    w, r = regime_windows(bars_per_day)
    defs: list[FeatureDef] = []
    defs += [FeatureDef(f"ret_{h}", h + 1, "standard", _C) for h in _RET_HORIZONS]
    # z-score of ret_1 over w values: the oldest ret_1 needs one more bar.
    defs += [FeatureDef(f"return_z_score_{z}", z + 1, "standard", _C) for z in _Z_WINDOWS]
    defs += [FeatureDef(f"ma_dist_{m}", m, "standard", _C) for m in _MA_WINDOWS]
    defs.append(FeatureDef("momentum_10", 11, "standard", _C))
    # EMA-based TA-Lib indicators decay but never fully forget the start of the series; we use the
    # nominal window (TA-Lib's lookback + 1) as the honest-enough dependency length.
    defs += [FeatureDef(n, 26 + 9 - 1, "standard", _C) for n in ("macd_line", "macd_signal", "macd_hist")]
    defs.append(FeatureDef("rsi_14", 15, "bounded", _C))
    defs.append(FeatureDef("ibs", 1, "bounded", _HLC))
    defs.append(FeatureDef("aroon_up_25", 26, "bounded", _HL))
    defs.append(FeatureDef("aroon_down_25", 26, "bounded", _HL))
    # STOCH: fast %K over 14 bars, slow %K = SMA3 of it (16 bars), slow %D = SMA3 of slow %K (18 bars).
    defs.append(FeatureDef("stoch_k_14", 16, "bounded", _HLC))
    defs.append(FeatureDef("stoch_d_3", 18, "bounded", _HLC))
    defs.append(FeatureDef("bop", 1, "bounded", _OHLC))
    defs.append(FeatureDef("mfi_14", 15, "bounded", _HLC | {"volume"}))
    defs.append(FeatureDef("volume", 1, "robust", frozenset({"volume"})))
    defs.append(FeatureDef("trade_count", 1, "robust", frozenset({"trade_count"})))
    defs.append(FeatureDef("volume_z_20", 20, "standard", frozenset({"volume"})))
    defs.append(FeatureDef("trade_count_z_20", 20, "standard", frozenset({"trade_count"})))
    defs.append(FeatureDef("dist_vwap", 1, "standard", frozenset({"close", "vwap"})))
    defs.append(FeatureDef("realized_vol_60", _RV_WINDOW + 1, "standard", _C))
    # Quantiles over W values of realized_vol_60, the oldest of which reaches 60 bars further back.
    defs.append(FeatureDef("regime_vix", w + _RV_WINDOW, "regime", _C))
    # The last row of a block of R bars is labelled by a model fitted on the W bars before the block
    # start (W + R bars back at most), and those rows' realized_vol_60 reaches 60 bars further.
    defs.append(FeatureDef("regime_gmm", w + _RV_WINDOW + r, "regime", _C))
    return defs


def _arr(s: pd.Series) -> np.ndarray:
    """Return a float64 C-contiguous copy-or-view, as TA-Lib requires."""
    return np.ascontiguousarray(s.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def _safe_div(num: np.ndarray | pd.Series, den: np.ndarray | pd.Series) -> np.ndarray:
    """Divide elementwise, mapping division by zero (±inf or 0/0) to NaN."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(num, dtype=np.float64) / np.asarray(den, dtype=np.float64)
    out[~np.isfinite(out)] = np.nan
    return out


def _rolling_z(x: pd.Series, window: int) -> np.ndarray:
    """Z-score of ``x[t]`` against the mean/std of the last ``window`` values including ``t``."""
    roll = x.rolling(window, min_periods=window)
    mean = roll.mean().to_numpy()
    std = roll.std().to_numpy()
    # A (near) constant window has no meaningful scale: NaN rather than a huge float-noise z-score.
    scale = np.abs(mean) * 1e-12 + 1e-300
    std = np.where(std > scale, std, np.nan)
    return _safe_div(x.to_numpy(dtype=np.float64) - mean, std)


def _regime_vix(rv: pd.Series, window: int) -> np.ndarray:
    """Tercile (0 low, 1 normal, 2 high) of ``rv[t]`` within its trailing ``window`` values."""
    roll = rv.rolling(window, min_periods=window)
    q1 = roll.quantile(1 / 3).to_numpy()
    q2 = roll.quantile(2 / 3).to_numpy()
    v = rv.to_numpy(dtype=np.float64)
    out = np.where(v <= q1, 0.0, np.where(v <= q2, 1.0, 2.0))
    out[np.isnan(q1) | np.isnan(q2) | np.isnan(v)] = np.nan
    return out


def _regime_gmm(ret_1: np.ndarray, rv: np.ndarray, window: int, block: int) -> np.ndarray:
    """Label rows with a 3-state Gaussian mixture refitted every ``block`` rows on past data only.

    For each block of ``block`` consecutive rows, the mixture is fitted on the standardized
    ``[ret_1, realized_vol]`` of the ``window`` rows strictly before the block start and then labels
    the block; components are relabelled by ascending realized-vol mean so 0 is always the calmest.
    """
    n = len(rv)
    out = np.full(n, np.nan)
    x = np.column_stack([ret_1, rv])
    valid = ~np.isnan(x).any(axis=1)
    # Tiny 2-D fits: multithreaded BLAS only adds synchronisation overhead (about 3x slower).
    with threadpool_limits(limits=1):
        for start in range(block, n, block):
            _fit_predict_block(x, valid, out, start, window, block)
    return out


def _fit_predict_block(x: np.ndarray, valid: np.ndarray, out: np.ndarray, start: int, window: int, block: int) -> None:
    """Fit the mixture on the ``window`` valid rows before ``start`` and label the block into ``out``."""
    lo = max(0, start - window)
    fit = x[lo:start][valid[lo:start]]
    rows = np.flatnonzero(valid[start : start + block]) + start
    if len(fit) < _GMM_MIN_ROWS or len(rows) == 0:
        return
    mean = fit.mean(axis=0)
    std = fit.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    # k-means++ seeding (deterministic via random_state) is ~4x cheaper than a full k-means init,
    # which matters with one refit per block.
    gmm = GaussianMixture(n_components=_GMM_COMPONENTS, random_state=0, init_params="k-means++")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gmm.fit((fit - mean) / std)
    except ValueError as exc:  # degenerate window (e.g. too few distinct points)
        logger.debug("regime_gmm: fit failed for block at row %d: %s", start, exc)
        return
    rank = np.argsort(np.argsort(gmm.means_[:, 1]))  # component -> rank by realized-vol mean
    out[rows] = rank[gmm.predict((x[rows] - mean) / std)]


def compute_features(bars: pd.DataFrame, *, bars_per_day: int) -> tuple[pd.DataFrame, dict[str, FeatureDef]]:
    """Compute every catalog feature whose input columns are present.

    Parameters
    ----------
    bars : pd.DataFrame
        Column ``ts`` (sorted ascending, unique) plus ``close`` and optionally
        ``open``/``high``/``low``/``volume``/``vwap``/``trade_count``. Interior gaps (NaN) are not
        expected: recursive TA-Lib indicators stay NaN after one.
    bars_per_day : int
        Bars per trading day at this bar size; sets the regime windows.

    Returns
    -------
    tuple[pd.DataFrame, dict[str, FeatureDef]]
        The features (same index and length as ``bars``, float64 columns) and the used definitions
        by name. Features whose inputs are missing are skipped, so a close-only index such as VIX
        gets only the close-based ones. MACD outputs are divided by ``close`` so they are
        comparable across price levels and symbols. Infinite values are replaced by NaN.
    """
    if "close" not in bars.columns:
        raise ValueError("bars must have a 'close' column")
    present = {c for c in BAR_COLUMNS if c in bars.columns}
    defs = {d.name: d for d in feature_defs(bars_per_day) if d.requires <= present}
    w, r = regime_windows(bars_per_day)

    col = {c: bars[c].astype("float64").reset_index(drop=True) for c in present}
    close = col["close"]
    c_arr = _arr(close)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_close = pd.Series(np.log(c_arr))
    ret_1 = log_close.diff(1)
    rv = ret_1.rolling(_RV_WINDOW, min_periods=_RV_WINDOW).std()

    raw: dict[str, np.ndarray | pd.Series] = {f"ret_{h}": log_close.diff(h) for h in _RET_HORIZONS}
    raw |= {f"return_z_score_{z}": _rolling_z(ret_1, z) for z in _Z_WINDOWS}
    raw |= {f"ma_dist_{m}": _safe_div(c_arr, close.rolling(m, min_periods=m).mean()) - 1.0 for m in _MA_WINDOWS}
    raw["momentum_10"] = _safe_div(c_arr, close.shift(10)) - 1.0
    macd, signal, hist = talib.MACD(c_arr, fastperiod=12, slowperiod=26, signalperiod=9)
    raw["macd_line"] = _safe_div(macd, c_arr)
    raw["macd_signal"] = _safe_div(signal, c_arr)
    raw["macd_hist"] = _safe_div(hist, c_arr)
    raw["rsi_14"] = talib.RSI(c_arr, timeperiod=14)
    raw["realized_vol_60"] = rv
    raw["regime_vix"] = _regime_vix(rv, w)
    raw["regime_gmm"] = _regime_gmm(ret_1.to_numpy(), rv.to_numpy(), w, r)
    if _HL <= present:
        h_arr, l_arr = _arr(col["high"]), _arr(col["low"])
        raw["aroon_down_25"], raw["aroon_up_25"] = talib.AROON(h_arr, l_arr, timeperiod=25)
        span = h_arr - l_arr
        raw["ibs"] = np.where(span == 0, 0.5, _safe_div(c_arr - l_arr, span))
        raw["stoch_k_14"], raw["stoch_d_3"] = talib.STOCH(
            h_arr,
            l_arr,
            c_arr,
            fastk_period=14,
            slowk_period=3,
            slowk_matype=talib.MA_Type.SMA,
            slowd_period=3,
            slowd_matype=talib.MA_Type.SMA,
        )
        if "open" in present:
            raw["bop"] = talib.BOP(_arr(col["open"]), h_arr, l_arr, c_arr)
        if "volume" in present:
            raw["mfi_14"] = talib.MFI(h_arr, l_arr, c_arr, _arr(col["volume"]), timeperiod=14)
    for count in ("volume", "trade_count"):
        if count in present:
            raw[count] = col[count]
            raw[f"{count}_z_20"] = _rolling_z(pd.Series(np.log1p(np.maximum(_arr(col[count]), 0.0))), 20)
    if "vwap" in present:
        raw["dist_vwap"] = _safe_div(c_arr, _arr(col["vwap"])) - 1.0

    out: dict[str, np.ndarray] = {}
    for name in defs:
        values = np.array(raw[name], dtype=np.float64)  # a writable copy
        values[np.isinf(values)] = np.nan
        out[name] = values
    features = pd.DataFrame(out, index=bars.index, dtype="float64")
    _check_names(defs)
    logger.debug("computed %d features on %d bars", len(defs), len(bars))
    return features, defs


def _check_names(defs: dict[str, FeatureDef]) -> None:
    """Refuse feature names that could be mistaken for (or leak) raw prices."""
    prefixes = tuple(f"{c}_" for c in RAW_PRICE_COLUMNS)
    for d in defs.values():
        if d.name.startswith(prefixes) or d.name in RAW_PRICE_COLUMNS or d.lookback < 1:
            raise AssertionError(f"invalid feature definition {d}")
        if d.group not in FEATURE_GROUPS:
            raise AssertionError(f"unknown feature group {d.group!r} for {d.name}")
