"""The metric filter parser: what it accepts is exactly conditions on listed metrics; refusals name the token."""

from __future__ import annotations

from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walkforward.errors import InvalidInputError
from walkforward.metric_filter import MAX_CONDITIONS, OPERATORS, MetricCondition, parse_where
from walkforward.model_summary import LISTED_METRICS

conditions = st.builds(
    MetricCondition,
    name=st.sampled_from(LISTED_METRICS),
    op=st.sampled_from(OPERATORS),
    value=st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12),
)


@given(st.lists(conditions, min_size=1, max_size=MAX_CONDITIONS), st.sampled_from([" and ", " AND ", "  and\t"]))
def test_written_conditions_parse_back_to_themselves(written: list[MetricCondition], joiner: str) -> None:
    text = joiner.join(f"{c.name}{c.op}{c.value!r}" for c in written)
    assert parse_where([text]) == tuple(written)


@given(st.lists(conditions, min_size=1, max_size=MAX_CONDITIONS), st.randoms(use_true_random=False))
def test_metric_names_in_any_case_give_the_stored_name(written: list[MetricCondition], rnd: Random) -> None:
    def recase(name: str) -> str:
        return "".join(ch.upper() if rnd.random() < 0.5 else ch.lower() for ch in name)

    text = " and ".join(f"{recase(c.name)} {c.op} {c.value!r}" for c in written)
    assert parse_where([text]) == tuple(written)


def test_texts_are_joined_and_empty_ones_skipped() -> None:
    assert parse_where(["sharpe > 1", "", "  ", "ic>=-0.5e-2"]) == (
        MetricCondition("sharpe", ">", 1.0),
        MetricCondition("ic", ">=", -0.005),
    )


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("sharpe", "the end of the filter where an operator"),
        ("sharpe 1", "'1' where an operator"),
        ("sharpe == 1", "'=' where a number"),
        ("Sharpness > 1", "unknown metric 'Sharpness'"),
        ("sharpe > 1 and", "the end of the filter where a metric name"),
        ("sharpe > 1 ic > 0", "'ic' where 'and' or the end"),
        ("sharpe > 1; drop table models", "unexpected character ';' at position 11"),
        ("sharpe > nan", "'nan' where a number"),
    ],
)
def test_refusals_name_the_token_and_the_allowed_metrics(text: str, names: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_where([text])
    message = str(caught.value)
    assert names in message and ", ".join(LISTED_METRICS) in message


def test_too_many_conditions_are_refused() -> None:
    with pytest.raises(InvalidInputError, match=f"at most {MAX_CONDITIONS}"):
        parse_where(["r2 > 0"] * (MAX_CONDITIONS + 1))
