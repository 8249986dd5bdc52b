"""Distribution drift of columns (features, predictions) between reference rows and a new window; pure.

Two distances per column, as a monitoring desk reads them: the population stability index (PSI) on
ten quantile bins of the reference rows (missing values are a bin of their own, so a column going
missing is drift too) and the two-sample Kolmogorov-Smirnov distance (``scipy.stats.ks_2samp``).

Their thresholds are not textbook constants nor KS p-values: features are autocorrelated, so a
window of ``m`` rows carries far fewer than ``m`` independent observations and an i.i.d. test
raises false alarms on a perfectly stationary series. Instead the null spread of each distance is
calibrated by a circular block bootstrap (``arch.bootstrap.CircularBlockBootstrap``) of the
reference rows: each draw is a pseudo reference (``n`` rows) and a pseudo window (``m`` rows, as
long as the real one), both resampled in blocks from the reference, and the distances between them
are what "no drift" looks like for this series at these lengths. The blocks are sized for the
series' persistence (:func:`block_length`) and the draws' spread is corrected to first order for
what blocks miss; still, a stationary AR(1) with phi 0.9 (2,000 / 500 rows) warns in about 8% of
seeds against the nominal 5% (12% without the correction; ``bench/bench_drift_calibration.py``):
the reference holds only ~100 independent rows' worth of such a series. The same row indices are
used for every column, which keeps the columns' dependence and lets one family-wise rule cover them
all (see :func:`compare`).
Settings floors (e.g. PSI 0.1 / 0.25) keep immaterial shifts of very long windows from alerting.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "OK",
    "WARN",
    "ALERT",
    "ColumnDrift",
    "DriftConfig",
    "DriftTable",
    "block_length",
    "compare",
    "persistence",
    "psi",
    "quantile_edges",
    "worst",
]

OK, WARN, ALERT = "ok", "warn", "alert"
_RANK = {OK: 0, WARN: 1, ALERT: 2}
#: a bin's share is floored here before the log ratio: an empty bin would make PSI infinite
_EPS = 1e-4


@dataclass(frozen=True)
class DriftConfig:
    """Thresholds and bootstrap settings (``WALKFORWARD_DRIFT_*`` in :class:`walkforward.config.Settings`).

    ``warn_level`` / ``alert_level`` are family-wise: the chance that *any* column of a stationary
    series crosses its threshold (in the bootstrap's world) is about 5% / 1%. The floors are the
    smallest thresholds used whatever the bootstrap says. ``block_length`` ``None`` chooses it from the
    data (:func:`block_length`).
    """

    psi_warn: float = 0.1
    psi_alert: float = 0.25
    ks_warn: float = 0.1
    ks_alert: float = 0.2
    warn_level: float = 0.95
    alert_level: float = 0.99
    draws: int = 1000
    bins: int = 10
    seed: int = 0
    block_length: int | None = None
    perf_warn_z: float = 2.0
    perf_alert_z: float = 3.0
    min_rows: int = 30

    def __post_init__(self) -> None:
        if not 0.5 <= self.warn_level < self.alert_level < 1.0:
            raise ValueError(f"drift levels need 0.5 <= warn < alert < 1 (got {self.warn_level}, {self.alert_level})")
        if self.psi_warn > self.psi_alert or self.ks_warn > self.ks_alert:
            raise ValueError("drift floors need warn <= alert for PSI and KS")
        if self.draws < 100 or self.bins < 2 or self.min_rows < 2:
            raise ValueError("drift needs at least 100 bootstrap draws, 2 bins and min_rows >= 2")


@dataclass(frozen=True)
class ColumnDrift:
    """One column's distances, thresholds and status (``counted``: it decides the model's status)."""

    name: str
    psi: float
    ks: float
    psi_warn: float
    psi_alert: float
    ks_warn: float
    ks_alert: float
    status: str
    counted: bool
    missing_ref: float
    missing_new: float
    mean_ref: float | None
    mean_new: float | None
    std_ref: float | None
    std_new: float | None

    @property
    def excess(self) -> float:
        """How far past its alert threshold the column is (1 = on it): the sort key after the status."""
        return max(self.psi / self.psi_alert, self.ks / self.ks_alert)

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "excess": self.excess}


@dataclass(frozen=True)
class DriftTable:
    """Every column's drift, drifting first, and how the thresholds were calibrated."""

    columns: tuple[ColumnDrift, ...]
    n_ref: int
    n_new: int
    block_length: int
    draws: int
    warn_z: float  # the family-wise critical values on the log-standardised scale
    alert_z: float

    def over(self, status: str) -> list[ColumnDrift]:
        """Counted columns at ``status`` or worse."""
        return [c for c in self.columns if c.counted and _RANK[c.status] >= _RANK[status]]

    def to_dict(self) -> dict[str, object]:
        return {
            "rows_reference": self.n_ref,
            "rows_new": self.n_new,
            "block_length": self.block_length,
            "draws": self.draws,
            "warn_z": self.warn_z,
            "alert_z": self.alert_z,
            "over_warn": len(self.over(WARN)),
            "over_alert": len(self.over(ALERT)),
            "columns": [c.to_dict() for c in self.columns],
        }


def worst(statuses: Sequence[str]) -> str:
    """The most severe of ``statuses`` (ok when empty)."""
    return max(statuses, key=_RANK.__getitem__, default=OK)


def quantile_edges(ref: np.ndarray, bins: int) -> np.ndarray:
    """Inner edges of ``bins`` equal-count bins of the reference's non-missing values (ties merge bins)."""
    valid = ref[~np.isnan(ref)]
    if valid.size == 0:
        return np.empty(0)
    return np.unique(np.quantile(valid, np.linspace(0.0, 1.0, bins + 1)[1:-1]))


def _bin_ids(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value (right-closed on the reference's quantiles); missing values get the last bin."""
    ids = np.searchsorted(edges, values, side="left")
    return np.where(np.isnan(values), edges.size + 1, ids)


def _psi_from_shares(ref: np.ndarray, new: np.ndarray) -> np.ndarray:
    ref, new = np.maximum(ref, _EPS), np.maximum(new, _EPS)
    return np.sum((new - ref) * np.log(new / ref), axis=-1)


def psi(ref: np.ndarray, new: np.ndarray, edges: np.ndarray) -> float:
    """Population stability index of ``new`` against ``ref`` on ``edges`` (missing values: their own bin)."""
    k = edges.size + 2
    shares = [np.bincount(_bin_ids(x, edges), minlength=k) / max(x.size, 1) for x in (ref, new)]
    return float(_psi_from_shares(shares[0], shares[1]))


def _ks(ref: np.ndarray, new: np.ndarray) -> float:
    from scipy.stats import ks_2samp

    a, b = ref[~np.isnan(ref)], new[~np.isnan(new)]
    if a.size == 0 or b.size == 0:
        return 0.0 if a.size == b.size else 1.0
    return float(ks_2samp(a, b, method="asymp").statistic)  # the distance only: no exact p-value


def persistence(ref: np.ndarray) -> float:
    """The columns' median persistence ``A = sum |k| rho_k / sum rho_k`` (0 for i.i.d. rows), read back
    from Politis and White's automatic block length (``arch.bootstrap.optimal_block_length``,
    circular), which is ``(1.5 A^2 n)^(1/3)``."""
    from arch.bootstrap import optimal_block_length

    n = ref.shape[0]
    estimates = []
    for column in ref.T:
        x = column[~np.isnan(column)]
        if x.size >= 20 and np.ptp(x) > 0:
            estimates.append(float(optimal_block_length(x)["circular"].iloc[0]))
    return math.sqrt(float(np.median(estimates)) ** 3 / (1.5 * n)) if estimates else 0.0


def block_length(ref: np.ndarray, a: float | None = None) -> int:
    """The bootstrap's block length for reference rows ``ref`` (n x p) of persistence ``a`` (:func:`persistence`).

    A circular block bootstrap understates the spread of a window's distribution in two ways: blocks
    cut the dependence beyond their length (relative variance bias ``-A / b``) and blocks drawn from
    the reference itself vary less about it than the process about its law (``-b / n``); both are
    corrected to first order in :func:`compare`. Politis and White's length is tuned for the variance
    of a mean and is short for persistent series (AR(1) phi 0.9, n 2000: about 55 rows, a 17%
    shortfall), so the block is ``sqrt(A n)``, the length that minimises the two biases together
    (about 140 rows there, 14% before the correction), floored at ``sqrt(n)`` and capped at ``n / 4``
    so that a draw still mixes a few blocks.
    """
    n = ref.shape[0]
    a = persistence(ref) if a is None else a
    chosen = max(math.sqrt(n), math.sqrt(a * n))
    return int(max(1, min(math.ceil(chosen), n // 4)))


#: the KS distances of bootstrap draws are read on at most this many quantile cells of each column
#: (exact when a column has no more distinct values; otherwise a cell holds 1/250 of the reference)
_KS_CELLS = 250


def _ks_edges(ref: np.ndarray) -> np.ndarray:
    """Each distinct value, or ``_KS_CELLS`` quantiles of the non-missing values when there are more."""
    values = np.unique(ref[~np.isnan(ref)])
    if values.size <= _KS_CELLS:
        return values
    return np.unique(np.quantile(values, np.linspace(0.0, 1.0, _KS_CELLS + 1)[1:], method="inverted_cdf"))


class _Resampler:
    """The distances of many bootstrap draws, computed from the draws' row counts.

    A draw is a multiset of reference rows, so its distribution is the row counts times a fixed
    row-to-cell matrix: the shares of the PSI bins, and of fine cells (each distinct value, up to
    ``_KS_CELLS`` quantiles) whose cumulative sums are the ECDFs the KS distance compares. One sparse
    product per batch of draws replaces sorting B x p fresh samples with ``ks_2samp`` (20 s for 50
    columns and 2,000 rows); the tests check the two agree.
    """

    def __init__(self, ref: np.ndarray, edges: Sequence[np.ndarray]) -> None:
        from scipy import sparse

        n, p = ref.shape
        self.k = max(e.size for e in edges) + 2  # PSI bins per column (the last: missing)
        fine = [_ks_edges(ref[:, j]) for j in range(p)]
        self.g = max(1, max(f.size for f in fine))  # KS cells per column
        rows, cols = [], []
        for j in range(p):
            x = ref[:, j]
            rows.append(np.arange(n))
            cols.append(j * self.k + _bin_ids(x, edges[j]))
            valid = np.flatnonzero(~np.isnan(x))  # a missing value is in no KS cell
            rows.append(valid)
            cols.append(p * self.k + j * self.g + np.searchsorted(fine[j], x[valid], side="left"))
        r, c = np.concatenate(rows), np.concatenate(cols)
        self.cells = sparse.csc_matrix((np.ones(r.size), (r, c)), shape=(n, p * (self.k + self.g)))
        self.n, self.p = n, p

    def _shares(self, rows: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Each draw's PSI bin shares and KS cell shares (columns x cells x draws; each column sums to 1)."""
        counts = np.array([np.bincount(r, minlength=self.n) for r in rows], dtype=float)  # draws x n
        mass = self.cells.T @ counts.T  # cells x draws (draws last: the sums below run over contiguous rows)
        bins = mass[: self.p * self.k].reshape(self.p, self.k, -1)
        cells = mass[self.p * self.k :].reshape(self.p, self.g, -1)
        return (
            bins / np.maximum(bins.sum(axis=1, keepdims=True), 1.0),
            cells / np.maximum(cells.sum(axis=1, keepdims=True), 1.0),
        )

    def distances(
        self, ref_rows: Sequence[np.ndarray], new_rows: Sequence[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """PSI and KS (draws x columns) between each pair of ``new_rows`` and ``ref_rows`` of the reference."""
        bins_a, cells_a = self._shares(ref_rows)
        bins_b, cells_b = self._shares(new_rows)
        psi = _psi_from_shares(np.moveaxis(bins_a, 1, -1), np.moveaxis(bins_b, 1, -1))  # columns x draws
        gap = np.cumsum(cells_a - cells_b, axis=1)  # the difference of the two ECDFs at each cell's upper edge
        return psi.T, np.abs(gap).max(axis=1).T


def _draws(n: int, m: int, block: int, draws: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``draws`` pairs of circular-block-bootstrap row indices: a pseudo reference (n) and window (m)."""
    from arch.bootstrap import CircularBlockBootstrap

    rng = np.random.default_rng(seed)
    bs = CircularBlockBootstrap(block, np.arange(n), seed=rng)
    stream = (np.asarray(pos[0]) for pos, _ in bs.bootstrap(draws * (2 + m // n)))
    out = []
    for _ in range(draws):
        ref_rows = next(stream)
        # The first m rows of a length-n draw are a length-m draw (blocks laid end to end, cut off).
        new_rows = np.concatenate([next(stream) for _ in range(1 + m // n)])[:m]
        out.append((ref_rows, new_rows))
    return out


def _log_scale(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    logs = np.log(np.maximum(values, 1e-12))
    return logs.mean(axis=0), np.maximum(logs.std(axis=0, ddof=1), 1e-9)


def _moments(x: np.ndarray) -> tuple[float | None, float | None]:
    valid = x[~np.isnan(x)]
    if valid.size < 2:
        return None, None
    return float(valid.mean()), float(valid.std(ddof=1))


def compare(
    ref: np.ndarray,
    new: np.ndarray,
    names: Sequence[str],
    config: DriftConfig,
    *,
    counted: Sequence[bool] | None = None,
) -> DriftTable:
    """Drift of each column of ``new`` (m x p) against reference rows ``ref`` (n x p, in time order).

    Many columns make many chances of a false alarm, so the thresholds are family-wise (a max-T
    rule, Westfall and Young 1993): each distance is put on a log scale and standardised by its own
    bootstrap mean and spread, the largest standardised distance over the ``counted`` columns is
    taken in every draw, and its ``warn_level`` / ``alert_level`` quantiles ``z`` give each column its
    threshold ``exp(mean + z * spread)`` (then raised to the settings floor). So a stationary series
    sets off a warning on *any* counted column only about 5% of the time, and an alert 1%, however
    many columns there are. A column's status is the worst of its PSI and KS statuses.

    Examples
    --------
    >>> table = compare(train_x, new_x, ["ret_1", "rsi_14"], DriftConfig())  # doctest: +SKIP
    >>> table.columns[0].status  # doctest: +SKIP
    'alert'
    """
    ref, new = np.asarray(ref, dtype=float), np.asarray(new, dtype=float)
    if ref.ndim != 2 or new.ndim != 2 or ref.shape[1] != new.shape[1] or ref.shape[1] != len(names):
        raise ValueError(f"reference {ref.shape} and new {new.shape} rows need the same {len(names)} columns")
    n, m = ref.shape[0], new.shape[0]
    if n < config.min_rows or m < 1:
        raise ValueError(f"need at least {config.min_rows} reference rows and one new row (got {n} and {m})")
    mask = np.ones(len(names), dtype=bool) if counted is None else np.asarray(counted, dtype=bool)
    edges = [quantile_edges(ref[:, j], config.bins) for j in range(ref.shape[1])]
    observed_psi = np.array([psi(ref[:, j], new[:, j], edges[j]) for j in range(ref.shape[1])])
    observed_ks = np.array([_ks(ref[:, j], new[:, j]) for j in range(ref.shape[1])])

    a = persistence(ref)
    block = config.block_length or block_length(ref, a)
    resampler = _Resampler(ref, edges)
    pairs = _draws(n, m, block, config.draws, config.seed)
    # in batches: a batch's draws x cells stay near 4M numbers (~32 MB)
    batch = max(1, 4_000_000 // (resampler.p * (resampler.k + resampler.g)))
    parts = [resampler.distances(*zip(*pairs[i : i + batch], strict=True)) for i in range(0, len(pairs), batch)]
    boot_psi = np.vstack([b[0] for b in parts])  # draws x columns
    boot_ks = np.vstack([b[1] for b in parts])
    mu_psi, sd_psi = _log_scale(boot_psi)
    mu_ks, sd_ks = _log_scale(boot_ks)
    family = np.hstack([((np.log(np.maximum(boot_psi, 1e-12)) - mu_psi) / sd_psi)[:, mask],
                        ((np.log(np.maximum(boot_ks, 1e-12)) - mu_ks) / sd_ks)[:, mask]])  # fmt: skip
    peak = family.max(axis=1) if family.size else np.zeros(config.draws)
    warn_z, alert_z = (float(np.quantile(peak, q)) for q in (config.warn_level, config.alert_level))
    # The draws' spread falls short of the process's by about A / block (dependence cut at the
    # blocks' ends) + block / n (blocks drawn from the reference vary less about it than the process
    # about its law): variance x (1 - A / b - b / n), at most halved. PSI is quadratic in the shares'
    # deviations and KS linear, so their log-scale centres are raised by the full and half inverse.
    shrink = -math.log(max(1.0 - a / block - block / n, 0.5))
    mu_psi, mu_ks = mu_psi + shrink, mu_ks + 0.5 * shrink

    rows = []
    for j, name in enumerate(names):
        psi_w = max(config.psi_warn, float(np.exp(mu_psi[j] + warn_z * sd_psi[j])))
        psi_a = max(config.psi_alert, float(np.exp(mu_psi[j] + alert_z * sd_psi[j])), psi_w)
        ks_w = max(config.ks_warn, float(np.exp(mu_ks[j] + warn_z * sd_ks[j])))
        ks_a = max(config.ks_alert, float(np.exp(mu_ks[j] + alert_z * sd_ks[j])), ks_w)
        p, k = float(observed_psi[j]), float(observed_ks[j])
        status = ALERT if p > psi_a or k > ks_a else WARN if p > psi_w or k > ks_w else OK
        mean_ref, std_ref = _moments(ref[:, j])
        mean_new, std_new = _moments(new[:, j])
        rows.append(
            ColumnDrift(
                name=name,
                psi=p,
                ks=k,
                psi_warn=psi_w,
                psi_alert=psi_a,
                ks_warn=ks_w,
                ks_alert=ks_a,
                status=status,
                counted=bool(mask[j]),
                missing_ref=float(np.isnan(ref[:, j]).mean()),
                missing_new=float(np.isnan(new[:, j]).mean()),
                mean_ref=mean_ref,
                mean_new=mean_new,
                std_ref=std_ref,
                std_new=std_new,
            )
        )
    rows.sort(key=lambda c: (-_RANK[c.status], not c.counted, -c.excess))
    return DriftTable(tuple(rows), n, m, block, config.draws, warn_z, alert_z)
