"""Split detection and adjustment: planted splits are found on their day, ordinary gaps are not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walkforward.errors import IngestError
from walkforward.features.corporate import SPLIT_RATIOS, adjust, check_splits, detect_splits
from walkforward.features.demo import generate_market


def _daily(days: int = 120, seed: int = 0, volume_noise: float = 0.25) -> pd.DataFrame:
    """Daily OHLCV bars: a 2%-a-day random walk, 1% overnight gaps, a lognormal volume around 1M shares."""
    rng = np.random.default_rng(seed)
    ts = pd.bdate_range("2023-01-02", periods=days)
    close = 80 * np.exp(np.cumsum(rng.normal(0, 0.02, days)))
    open_ = np.r_[80, close[:-1]] * np.exp(rng.normal(0, 0.01, days))  # a 1% overnight gap, typically
    return pd.DataFrame(
        {
            "ts": ts,
            "open": open_,
            "high": np.maximum(open_, close) * 1.01,
            "low": np.minimum(open_, close) * 0.99,
            "close": close,
            "volume": 1e6 * np.exp(rng.normal(0, volume_noise, days)),
        }
    )


def _intraday(days: int = 30, seed: int = 0) -> pd.DataFrame:
    """The demo market's AAPL: realistic 1-minute bars with intraday volume patterns."""
    bars = generate_market(days=days, symbols=("AAPL",), seed=seed)["AAPL"]
    return bars.reset_index(drop=True)


def _plant_split(bars: pd.DataFrame, day: pd.Timestamp, ratio: float) -> pd.DataFrame:
    """Undo the adjustment of a ``ratio`` split (price before/after) effective at ``day``: later bars unadjusted."""
    out = bars.copy()
    after = out["ts"].dt.normalize() >= day
    for c in ("open", "high", "low", "close"):
        out.loc[after, c] = out.loc[after, c] / ratio
    out.loc[after, "volume"] = out.loc[after, "volume"] * ratio
    return out


def _days(bars: pd.DataFrame) -> list[pd.Timestamp]:
    return sorted(bars["ts"].dt.normalize().unique())


@pytest.mark.parametrize(("ratio", "label"), [(2.0, "2:1"), (1.5, "3:2"), (3.0, "3:1"), (0.1, "1:10")])
def test_a_planted_split_is_found_on_its_day_in_daily_bars(ratio: float, label: str) -> None:
    bars = _daily(seed=1)
    day = _days(bars)[60]
    (suspect,) = detect_splits(_plant_split(bars, day, ratio))
    assert (suspect.day, suspect.label, suspect.confirmed) == (day.strftime("%Y-%m-%d"), label, True)
    assert suspect.volume_ratio == pytest.approx(ratio, rel=0.35)
    assert detect_splits(bars) == []


def test_a_planted_split_is_found_in_minute_bars() -> None:
    bars = _intraday()
    day = _days(bars)[17]
    (suspect,) = detect_splits(_plant_split(bars, day, 2.0))
    assert (suspect.day, suspect.label) == (day.strftime("%Y-%m-%d"), "2:1")
    assert detect_splits(bars) == []


@settings(max_examples=60, deadline=None)
@given(
    ratio=st.sampled_from([r for r, _ in SPLIT_RATIOS]),
    at=st.integers(min_value=1, max_value=79),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_every_common_ratio_is_found_wherever_it_falls(ratio: float, at: int, seed: int) -> None:
    bars = _daily(days=80, seed=seed, volume_noise=0.1)
    day = _days(bars)[at]
    found = detect_splits(_plant_split(bars, day, ratio))
    assert [s.day for s in found] == [day.strftime("%Y-%m-%d")]
    assert dict((v, k) for k, v in SPLIT_RATIOS)[found[0].label] == ratio
    if 20 <= at <= 55:  # volume on both sides: the split is confirmed
        assert found[0].confirmed


def test_no_false_alarm_on_real_looking_gaps_and_crashes() -> None:
    """A 10% gap, a 34% crash (a 3:2 ratio) on days of heavy volume and a 2x rally on flat volume are market moves."""
    bars = _daily(days=200, seed=3)
    days = _days(bars)
    moved = bars.copy()
    for day, factor in ((days[40], 1.10), (days[90], 1 / 1.52), (days[150], 2.0)):
        after = moved["ts"] >= day
        moved.loc[after, ["open", "high", "low", "close"]] *= factor
    spike = moved["ts"].isin(days[90:93])
    moved.loc[spike, "volume"] *= 6  # a crash trades heavily for days, not for weeks
    assert detect_splits(moved) == []
    assert detect_splits(_intraday(days=40, seed=5)) == []


def test_without_volume_a_price_match_is_only_a_warning() -> None:
    bars = _daily(seed=2)
    day = _days(bars)[30]
    close_only = _plant_split(bars, day, 2.0)[["ts", "close"]]
    (suspect,) = detect_splits(close_only)
    assert suspect.label == "2:1" and not suspect.confirmed
    (warning,) = check_splits("VIX", close_only, None, allow_unadjusted=False)
    assert warning.startswith(f"VIX: {day:%Y-%m-%d} looks like an unadjusted 2:1 split") and "no volume" in warning


def test_a_confirmed_split_is_refused_naming_the_day_and_the_fix() -> None:
    bars = _daily(seed=4)
    day = _days(bars)[50]
    split = _plant_split(bars, day, 2.0)
    with pytest.raises(
        IngestError, match=rf"^ABC: {day:%Y-%m-%d} looks like an unadjusted 2:1 split .*adj_factor.*--allow-unadjusted"
    ):
        check_splits("ABC", split, None, allow_unadjusted=False)
    (warning,) = check_splits("ABC", split, None, allow_unadjusted=True)
    assert "ingested as it is" in warning


def test_adj_factor_and_adj_close_undo_the_split() -> None:
    bars = _daily(seed=6)
    day = _days(bars)[70]
    split = _plant_split(bars, day, 3.0)
    before = (split["ts"] < day).to_numpy()
    factor = np.where(before, 1 / 3, 1.0)
    adjusted, used = adjust(split.assign(adj_factor=factor), "ABC")
    assert used == "adj_factor" and "adj_factor" not in adjusted.columns
    expected = _plant_split(bars, split["ts"].iloc[0], 3.0)  # everything on the post-split scale
    for c in ("open", "high", "low", "close", "volume"):
        np.testing.assert_allclose(adjusted[c].to_numpy(), expected[c].to_numpy(), rtol=1e-12, err_msg=c)
    assert detect_splits(adjusted) == []
    by_close, used = adjust(split.assign(adj_close=split["close"] * factor), "ABC")
    assert used == "adj_close"
    np.testing.assert_allclose(by_close["close"].to_numpy(), expected["close"].to_numpy(), rtol=1e-12)


def test_an_inverted_factor_or_two_adjustment_columns_are_refused() -> None:
    bars = _daily(seed=7)
    day = _days(bars)[40]
    split = _plant_split(bars, day, 2.0)
    inverted = np.where((split["ts"] < day).to_numpy(), 2.0, 1.0)  # raw / factor instead of raw x factor
    adjusted, used = adjust(split.assign(adj_factor=inverted), "ABC")
    with pytest.raises(
        IngestError, match="after applying adj_factor the bars still jump: check the factor's direction"
    ):
        check_splits("ABC", adjusted, used, allow_unadjusted=False)
    with pytest.raises(IngestError, match="both adj_factor and adj_close are given"):
        adjust(split.assign(adj_factor=1.0, adj_close=split["close"]), "ABC")
