"""Causality and catalog invariants of the engineered features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walkforward.domain import BAR_COLUMNS, RAW_PRICE_COLUMNS
from walkforward.features.demo import generate_market
from walkforward.features.indicators import FEATURE_GROUPS, FeatureDef, compute_features, feature_defs

BARS_PER_DAY = 20
CLOSE_ONLY_EXCLUDED = {
    "ibs",
    "aroon_up_25",
    "aroon_down_25",
    "stoch_k_14",
    "stoch_d_3",
    "bop",
    "mfi_14",
    "volume",
    "trade_count",
    "volume_z_20",
    "trade_count_z_20",
    "dist_vwap",
}


def make_bars(n: int, seed: int, close_only: bool = False) -> pd.DataFrame:
    """A random walk with consistent OHLC, a few flat bars and regime-like volatility changes."""
    rng = np.random.default_rng(seed)
    vol = np.repeat(rng.choice([0.002, 0.01, 0.03], size=n // 50 + 1), 50)[:n]
    close = 100.0 * np.exp(np.cumsum(vol * rng.standard_normal(n)))
    ts = pd.date_range("2024-01-02 09:30", periods=n, freq="min")
    if close_only:
        return pd.DataFrame({"ts": ts, "close": close})
    open_ = np.concatenate([[100.0], close[:-1]])
    wick = np.abs(rng.standard_normal((2, n))) * vol * 0.5
    wick[:, rng.random(n) < 0.05] = 0.0
    high = np.maximum(open_, close) * np.exp(wick[0])
    low = np.minimum(open_, close) * np.exp(-wick[1])
    volume = np.round(rng.lognormal(8.0, 1.0, n))
    volume[rng.random(n) < 0.02] = 0.0
    return pd.DataFrame(
        {
            "ts": ts,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
            "vwap": (high + low + close) / 3.0,
            "trade_count": np.round(volume / 50.0),
        }
    )


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(200, 700),
    cut=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
    close_only=st.booleans(),
)
def test_features_are_causal(n: int, cut: float, seed: int, close_only: bool) -> None:
    bars = make_bars(n, seed, close_only)
    t = int(cut * (n - 1))
    full, defs = compute_features(bars, bars_per_day=BARS_PER_DAY)
    part, part_defs = compute_features(bars.iloc[: t + 1], bars_per_day=BARS_PER_DAY)
    assert list(full.columns) == list(part.columns) == list(defs) == list(part_defs)
    assert len(full) == n and len(part) == t + 1
    for name in full.columns:
        np.testing.assert_array_equal(
            full[name].to_numpy()[: t + 1], part[name].to_numpy(), err_msg=f"{name} is not causal"
        )


def test_close_only_gets_close_features() -> None:
    features, defs = compute_features(make_bars(300, 1, close_only=True), bars_per_day=BARS_PER_DAY)
    assert set(features.columns) == set(defs)
    assert not CLOSE_ONLY_EXCLUDED & set(defs)
    assert all(d.requires == {"close"} for d in defs.values())
    assert {"ret_1", "rsi_14", "macd_line", "regime_vix", "regime_gmm"} <= set(defs)


def test_full_bars_get_every_feature() -> None:
    bars = make_bars(400, 2)
    features, defs = compute_features(bars, bars_per_day=BARS_PER_DAY)
    assert set(defs) == {d.name for d in feature_defs(BARS_PER_DAY)}
    assert features.index.equals(bars.index)
    assert (features.dtypes == "float64").all()
    assert not np.isinf(features.to_numpy()).any()
    ibs = features["ibs"].dropna()
    assert ((ibs >= 0) & (ibs <= 1)).all()


def test_non_default_index_is_kept() -> None:
    bars = make_bars(250, 3)
    bars.index = pd.RangeIndex(1000, 1250)
    features, _ = compute_features(bars, bars_per_day=BARS_PER_DAY)
    assert features.index.equals(bars.index)
    assert features["ret_1"].notna().sum() == 249


@pytest.mark.parametrize("bars_per_day", [1, 20, 78, 390])
def test_catalog_invariants(bars_per_day: int) -> None:
    defs = feature_defs(bars_per_day)
    names = [d.name for d in defs]
    assert len(names) == len(set(names))
    prefixes = tuple(f"{c}_" for c in RAW_PRICE_COLUMNS)
    for d in defs:
        assert isinstance(d, FeatureDef)
        assert not d.name.startswith(prefixes)
        assert d.name not in RAW_PRICE_COLUMNS
        assert d.name == d.name.lower()
        assert d.lookback >= 1
        assert d.group in FEATURE_GROUPS
        assert d.requires <= set(BAR_COLUMNS)
    by_name = {d.name: d for d in defs}
    w, r = max(100, 5 * bars_per_day), max(20, bars_per_day)
    assert by_name["regime_vix"].lookback == w + 60
    assert by_name["regime_gmm"].lookback == w + 60 + r
    assert by_name["ret_5"].lookback == 6


def test_requires_satisfied_by_present_columns() -> None:
    bars = make_bars(300, 4).drop(columns=["vwap", "trade_count"])
    _, defs = compute_features(bars, bars_per_day=BARS_PER_DAY)
    present = set(bars.columns)
    assert all(d.requires <= present for d in defs.values())
    assert "dist_vwap" not in defs and "trade_count_z_20" not in defs and "mfi_14" in defs


def test_lookback_bounds_first_valid_row() -> None:
    """With clean inputs a non-regime feature cannot be defined before it has ``lookback`` bars.

    (TA-Lib aligns slow %K with slow %D, so ``stoch_k_14`` starts two bars later than it could.)
    """
    bars = make_bars(600, 5)
    features, defs = compute_features(bars, bars_per_day=BARS_PER_DAY)
    for name, d in defs.items():
        first = features[name].first_valid_index()
        assert first is not None, name
        if d.group != "regime":
            assert d.lookback - 1 <= first <= d.lookback + 1, (name, first, d.lookback)


def test_regime_labels_on_demo_data() -> None:
    bars = generate_market(days=12, symbols=("AAPL",), seed=3)["AAPL"]
    features, _ = compute_features(bars, bars_per_day=390)
    for name in ("regime_vix", "regime_gmm"):
        labels = features[name].dropna()
        assert len(labels) > 0
        assert set(labels.unique()) <= {0.0, 1.0, 2.0}
    gmm = features["regime_gmm"]
    rv = features["realized_vol_60"]
    means = rv.groupby(gmm).mean()
    assert means.loc[0.0] < means.loc[2.0]


def test_infinities_become_nan() -> None:
    bars = make_bars(200, 6)
    bars.loc[50, "vwap"] = 0.0
    features, _ = compute_features(bars, bars_per_day=BARS_PER_DAY)
    assert np.isnan(features.loc[50, "dist_vwap"])
    assert not np.isinf(features.to_numpy()).any()
