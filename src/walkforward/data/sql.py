"""The SQL that joins a primary symbol with its context symbols on time and resamples them (DuckDB).

Stored ``ts`` are UTC instants (TIMESTAMPTZ), so the join matches the same instant across exchanges;
buckets are cut on the primary's local clock (``time_bucket`` with its zone: a daily bucket is one
local trading day even where the session crosses UTC midnight) and returned as naive UTC.
Every identifier is validated before it is quoted; every value is a parameter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from walkforward.domain import BAR_COLUMNS, Timeframe
from walkforward.errors import DataNotFoundError, InvalidInputError

if TYPE_CHECKING:
    from walkforward.data.calendar import Window
    from walkforward.data.loader import LoadRequest

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SUM_COLUMNS = ("volume", "trade_count")


@dataclass(frozen=True)
class _Source:
    symbol: str
    files: tuple[str, ...]
    legacy_filter: bool  # rows with NULL/empty options only (the reference's legacy fallback)
    union_by_name: bool  # day files disagree on their columns
    columns: tuple[str, ...]
    features: dict[str, dict[str, Any]]
    bar_seconds: int
    bars_per_day: int
    timezone: str  # the exchange zone of the symbol (IANA name, from the store's metadata)


def _q(name: str) -> str:
    if not _IDENT.fullmatch(name):  # never reached for validated names; belt and braces
        raise InvalidInputError(f"invalid column name {name!r}")
    return f'"{name}"'


def _agg(base: str, out: str) -> str:
    """The reference's aggregation table for output column ``out`` made from stored column ``base``."""
    col = _q(out)
    if base == "open":
        return f"arg_min({col}, ts) AS {_q(out)}"
    if base == "high":
        return f"max({col}) AS {_q(out)}"
    if base == "low":
        return f"min({col}) AS {_q(out)}"
    if base in SUM_COLUMNS:
        return f"sum({col})::DOUBLE AS {_q(out)}"
    return f"arg_max({col}, ts) AS {_q(out)}"  # close, vwap and every indicator: the last value


def build_query(
    sources: Sequence[_Source], req: LoadRequest, window: Window = (None, None)
) -> tuple[str, dict[str, Any], list[str]]:
    """SQL + parameters joining ``sources`` (primary first) and resampling to ``req.timeframe``.

    ``window`` bounds the instants read (``[lo, hi)``, UTC; ``None``: open). Returns the query, its
    parameters and the feature column names in output order.
    """
    params: dict[str, Any] = {}
    conditions = []
    for name, value, op in (("lo", window[0], ">="), ("hi", window[1], "<")):
        if value is not None:
            params[name] = value
            conditions.append(f"ts {op} ${name}")
    ctes = []
    select = ["s0.ts AS ts"]
    split_terms = []
    feature_cols: list[str] = []
    out_cols: list[str] = []
    bases: list[str] = []
    for i, src in enumerate(sources):
        params[f"f{i}"] = list(src.files)
        terms = [*conditions, "(options IS NULL OR options = '')"] if src.legacy_filter else conditions
        where = f"WHERE {' AND '.join(terms)}" if terms else ""
        union = "true" if src.union_by_name else "false"
        ctes.append(
            f"s{i} AS (SELECT * FROM read_parquet($f{i}, hive_partitioning = false, union_by_name = {union}) {where})"
        )
        suffix = "" if i == 0 else f"_{src.symbol.replace('.', '_').replace('-', '_')}"
        if "data_split" in src.columns:
            split_terms.append(f"s{i}.data_split = 'test'")
        if i == 0:
            for c in BAR_COLUMNS:
                if c in src.columns and c not in src.features:
                    select.append(f"s0.{_q(c)} AS {_q(c)}")
                    out_cols.append(c)
                    bases.append(c)
        for c in src.features:
            name = f"{c}{suffix}"
            select.append(f"s{i}.{_q(c)} AS {_q(name)}")
            out_cols.append(name)
            bases.append(c)
            feature_cols.append(name)
    if req.target_col not in out_cols:
        raise DataNotFoundError(f"{sources[0].symbol} has no {req.target_col!r} column: choose another target_col")
    split_expr = " OR ".join(split_terms) if split_terms else "FALSE"
    select.insert(1, f"CASE WHEN {split_expr} THEN 'test' ELSE 'train' END AS data_split")
    joins = " ".join(f"JOIN s{i} ON s{i}.ts = s0.ts" for i in range(1, len(sources)))
    joined = f"SELECT {', '.join(select)} FROM s0 {joins}"
    with_ = "WITH " + ", ".join(ctes)
    if req.timeframe.seconds == min(s.bar_seconds for s in sources):
        return f"{with_} SELECT * REPLACE (timezone('UTC', ts) AS ts) FROM ({joined}) ORDER BY ts", params, feature_cols
    aggs = [_agg(b, c) for b, c in zip(bases, out_cols, strict=True)]
    if "vwap" in out_cols and "volume" in out_cols:  # volume-weighted, not the last minute's vwap
        aggs[out_cols.index("vwap")] = (
            'coalesce(sum("vwap" * "volume") / nullif(sum("volume"), 0), arg_max("vwap", ts)) AS "vwap"'
        )
    params["tz"] = sources[0].timezone
    width = "1 day" if req.timeframe is Timeframe.D1 else f"{req.timeframe.seconds} seconds"
    sql = (
        f"{with_}, j AS ({joined}) SELECT timezone('UTC', time_bucket(INTERVAL '{width}', ts, $tz)) AS ts, "
        "CASE WHEN bool_or(data_split = 'test') THEN 'test' ELSE 'train' END AS data_split, "
        f"{', '.join(aggs)} FROM j GROUP BY 1 ORDER BY 1"
    )
    return sql, params, feature_cols
