"""``walkforward store migrate``: bring a store written before time zones were recorded to format 2.

A format-1 symbol (no ``timezone`` in its ``_meta.json``) holds naive timestamps that mean local
exchange time, partitioned by that local date. Migrating reads them in the zone given, rewrites
each committed day file with UTC instants (same ``dt=`` folder: the local date does not change),
and commits the new files with the zone and ``format_version`` at once (one ``_meta.json``
replace per symbol, see :meth:`FeatureStore.rewrite_days`; a pre-manifest store gets its manifest
then). Every file of every symbol is checked before anything is written (a local time the zone
cannot place, at a DST change, refuses the whole migration naming the file and row). It is
idempotent: a symbol with a zone is left alone, and a file already holding instants (from a run of
the earlier, file-by-file migration that was interrupted) is not converted twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from walkforward.domain import validate_symbol, validate_timezone
from walkforward.errors import DataNotFoundError, StoreFormatError
from walkforward.features.store import FeatureStore
from walkforward.features.zones import STORE_FORMAT, dst_problem, localize

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MigrationResult:
    """What ``migrate_store`` did to one symbol."""

    symbol: str
    timezone: str
    status: str  # "migrated" or "current" (already recorded a zone: left alone)
    files: int  # day files rewritten


def _naive(schema: pa.Schema) -> bool:
    field = schema.field("ts")
    return not (pa.types.is_timestamp(field.type) and field.type.tz)


def _legacy_files(store: FeatureStore, symbol: str) -> list[Path]:
    """Committed day files of a symbol whose ``ts`` is still naive (files holding instants are done)."""
    files = sorted(f for fs in store.day_files(symbol).values() for f in fs)
    return [f for f in files if _naive(pq.read_schema(f))]


def _check(f: Path, zone: str) -> None:
    naive = pq.read_table(f, columns=["ts"]).column("ts").to_pandas()
    problem = dst_problem(naive, zone)
    if problem is not None:
        raise StoreFormatError(
            f"{f}: row {problem.position + 1}: {problem.describe(zone)}, so these bars were not recorded in "
            f"{zone}: pass the zone they were recorded in (--timezone), or re-ingest the symbol from files "
            "with UTC offsets; nothing was migrated"
        )


def migrate_store(
    store: FeatureStore,
    timezone: str,
    *,
    symbols: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[MigrationResult]:
    """Migrate the format-1 symbols of ``store`` (or only ``symbols``), reading their times in ``timezone``.

    Examples
    --------
    >>> migrate_store(FeatureStore("data/features_parquet"), "America/New_York")  # doctest: +SKIP
    [MigrationResult(symbol='AAPL', timezone='America/New_York', status='migrated', files=150), ...]
    """
    zone = validate_timezone(timezone, "--timezone")
    held = store.symbols()
    chosen = [validate_symbol(s) for s in symbols] if symbols else held
    missing = [s for s in chosen if s not in held]
    if missing:
        raise DataNotFoundError(f"not in the store: {', '.join(missing)} (it holds: {', '.join(held) or 'nothing'})")
    todo: dict[str, list[Path]] = {}
    results: dict[str, MigrationResult] = {}
    for sym in chosen:
        stored = store.read_meta(sym).get("timezone")
        if stored:
            results[sym] = MigrationResult(sym, str(stored), "current", 0)
            continue
        todo[sym] = _legacy_files(store, sym)
        for f in todo[sym]:  # every file of every symbol is checked before anything is written
            _check(f, zone)

    def convert(table: pa.Table, path: Path) -> pa.Table | None:
        if not _naive(table.schema):
            return None
        i = table.schema.get_field_index("ts")
        return table.set_column(i, "ts", pa.Array.from_pandas(localize(table.column("ts").to_pandas(), zone)))

    for sym in todo:
        n = store.rewrite_days(sym, convert, {"timezone": zone, "format_version": STORE_FORMAT})
        log.info("%s: migrated %d file(s), times read in %s", sym, n, zone)
        results[sym] = MigrationResult(sym, zone, "migrated", n)
        if progress:
            progress(f"migrated {sym}")
    return [results[s] for s in chosen]


def result_dict(r: MigrationResult) -> dict[str, object]:
    return asdict(r)
