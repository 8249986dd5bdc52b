"""Filters on listed metrics such as ``sharpe > 1 and ic > 0``: a small strict parser, no SQL.

The grammar is ``condition ("and" condition)*`` with ``condition = metric op number``, ``metric`` one
of :data:`~walkforward.model_summary.LISTED_METRICS` in any case (``Sharpe`` is ``sharpe``; conditions
hold the stored name) and ``op`` one of ``< <= > >= =``. Anything else
is refused with an :class:`~walkforward.errors.InvalidInputError` naming the offending token and what
was expected, so the UI can show the message under the box as is. The registry turns the conditions
into SQL on ``model_metrics`` (:mod:`walkforward.registry._page`).

Hand-written rather than a parsing library: the grammar is one line, and the error messages (which
token, what is allowed) matter more than generality; ``ast``/``eval`` would accept far too much.

Examples
--------
>>> parse_where(["Sharpe > 1 and ic>=0"])
(MetricCondition(name='sharpe', op='>', value=1.0), MetricCondition(name='ic', op='>=', value=0.0))
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from walkforward.errors import InvalidInputError
from walkforward.model_summary import LISTED_METRICS

#: The comparison operators a condition may use.
OPERATORS: tuple[str, ...] = ("<", "<=", ">", ">=", "=")
#: Most conditions one filter may hold (each is one indexed subquery).
MAX_CONDITIONS = 10
#: Longest filter text accepted (a URL parameter).
MAX_LENGTH = 500

#: Metric names by their lower case: ``Sharpe``, ``IC`` or ``Net_Annual_Return`` name the stored metric.
_CANONICAL = {name.lower(): name for name in LISTED_METRICS}

_TOKEN = re.compile(
    r"\s*(?:(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?P<op><=|>=|<|>|=)|(?P<word>[A-Za-z_][A-Za-z0-9_]*))"
)


@dataclass(frozen=True)
class MetricCondition:
    """``name op value`` on a model's numeric metric (models without the metric never match)."""

    name: str
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.name} {self.op} {self.value:g}"


def _allowed() -> str:
    return f"metrics: {', '.join(LISTED_METRICS)}; operators: {' '.join(OPERATORS)}; join conditions with 'and'"


def _refuse(text: str, token: str, expected: str) -> InvalidInputError:
    return InvalidInputError(
        f"invalid filter {text!r}: {token} where {expected} was expected ({_allowed()}; e.g. 'sharpe > 1 and ic > 0')"
    )


def _tokens(text: str) -> list[tuple[str, str]]:
    """``(kind, text)`` pairs of ``text``; an unknown character is refused where it stands."""
    out: list[tuple[str, str]] = []
    pos = 0
    stripped = text.rstrip()
    while pos < len(stripped):
        match = _TOKEN.match(stripped, pos)
        if match is None or match.end() == pos:
            at = len(stripped) - len(stripped[pos:].lstrip())
            raise _refuse(
                text, f"unexpected character {stripped[at]!r} at position {at + 1}", "a metric, an operator or a number"
            )
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def parse_condition_text(text: str) -> tuple[MetricCondition, ...]:
    """The conditions of one filter text (``"sharpe > 1 and ic > 0"``); see the module for the grammar."""
    if len(text) > MAX_LENGTH:
        raise InvalidInputError(f"invalid filter: {len(text)} characters, at most {MAX_LENGTH}")
    tokens = _tokens(text)
    if not tokens:
        return ()
    conditions: list[MetricCondition] = []
    expected = ("word", "op", "number")
    i = 0
    while True:
        parts: list[str] = []
        for want, what in zip(expected, ("a metric name", "an operator", "a number"), strict=True):
            if i >= len(tokens):
                raise _refuse(text, "the end of the filter", what)
            kind, value = tokens[i]
            if kind != want:
                raise _refuse(text, f"{value!r}", what)
            if want == "word":
                value = _CANONICAL.get(value.lower(), "")
                if not value:
                    raise _refuse(text, f"unknown metric {tokens[i][1]!r}", "a metric name")
            parts.append(value)
            i += 1
        number = float(parts[2])
        if not math.isfinite(number):
            raise _refuse(text, f"{parts[2]!r}", "a finite number")
        conditions.append(MetricCondition(parts[0], parts[1], number))
        if i == len(tokens):
            return tuple(conditions)
        kind, value = tokens[i]
        if kind != "word" or value.lower() != "and":
            raise _refuse(text, f"{value!r}", "'and' or the end of the filter")
        i += 1


def parse_where(texts: Iterable[str]) -> tuple[MetricCondition, ...]:
    """The conditions of every filter text (all must hold); empty texts are skipped.

    Raises :class:`~walkforward.errors.InvalidInputError` naming the bad token and the allowed
    metric names, or when there are more than :data:`MAX_CONDITIONS` conditions.
    """
    conditions = tuple(c for text in texts if text.strip() for c in parse_condition_text(text))
    if len(conditions) > MAX_CONDITIONS:
        raise InvalidInputError(f"invalid filter: {len(conditions)} conditions, at most {MAX_CONDITIONS}")
    return conditions


__all__ = ["MAX_CONDITIONS", "OPERATORS", "MetricCondition", "parse_condition_text", "parse_where"]
