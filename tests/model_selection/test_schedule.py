"""The retraining schedule's plan: no refit trains on a row whose label reaches the period it trades."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walkforward.errors import InvalidInputError
from walkforward.model_selection.schedule import SchedulePlan, schedule_plan


@st.composite
def schedules(draw: st.DrawFn) -> tuple[np.ndarray, int, int, int]:
    sizes = draw(st.lists(st.integers(1, 8), min_size=2, max_size=30))  # bars per session (uneven days)
    sessions = np.repeat(np.arange(len(sizes)), sizes)
    initial = draw(st.integers(1, len(sizes) - 1))
    every = draw(st.integers(1, 10))
    lookforward = draw(st.integers(1, 5))
    return sessions, initial, every, lookforward


@settings(max_examples=300, deadline=None)
@given(schedules())
def test_no_refit_trains_on_a_label_reaching_its_period(case: tuple[np.ndarray, int, int, int]) -> None:
    sessions, initial, every, look = case
    try:
        plan = schedule_plan(sessions, initial=initial, every=every, lookforward=look)
    except InvalidInputError as exc:
        assert "no training row left" in str(exc)
        assert np.searchsorted(sessions, initial) <= look
        return
    first = int(np.searchsorted(sessions, initial))
    assert_purged(plan)
    for refit in plan.refits:
        start = int(refit.trade_index[0])
        # the label of row i is read from rows i+1..i+look: all of them before the traded period
        assert refit.train_index.max() + look < start
        # ... and nothing else is left out: every row whose label is known by then is used (expanding)
        assert refit.train_index.tolist() == list(range(start - look))
        assert refit.purged == min(look, start)
        # a period is `every` whole sessions (the last may be shorter)
        assert len(set(sessions[refit.trade_index].tolist())) <= every
    # the frozen model trains on the first refit's rows, which precede every traded row
    assert plan.frozen_train_index.max() + look < plan.trade_index.min()
    # the periods follow one another and cover every row after the initial window exactly once
    assert plan.trade_index.tolist() == list(range(first, sessions.size))
    starts = [int(sessions[r.trade_index[0]]) for r in plan.refits]
    assert starts == list(range(initial, int(sessions.max()) + 1, every))


def assert_purged(plan: SchedulePlan) -> None:
    for refit in plan.refits:
        assert refit.train_index.max() + plan.lookforward < refit.trade_index[0]


def test_a_planted_leak_is_caught() -> None:
    """The check fails on a plan whose second refit trains on every row before its period (unpurged)."""
    plan = schedule_plan(np.repeat(np.arange(6), 4), initial=2, every=2, lookforward=3)
    assert_purged(plan)
    second = plan.refits[1]
    leaky = dataclasses.replace(second, train_index=np.arange(second.trade_index[0]))
    with pytest.raises(AssertionError):
        assert_purged(dataclasses.replace(plan, refits=(plan.refits[0], leaky, *plan.refits[2:])))


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"initial": 6, "every": 1, "lookforward": 1}, "none after an initial window of 6"),
        ({"initial": 0, "every": 1, "lookforward": 1}, "invalid initial=0"),
        ({"initial": 2, "every": 0, "lookforward": 1}, "invalid every=0"),
        ({"initial": 1, "every": 1, "lookforward": 4}, "no training row left"),
    ],
)
def test_refusals_name_the_fix(kw: dict[str, int], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        schedule_plan(np.repeat(np.arange(6), 4), **kw)


def test_rows_out_of_time_order_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="not in time order"):
        schedule_plan(np.array([0, 0, 1, 1, 0, 2]), initial=1, every=1, lookforward=1)
