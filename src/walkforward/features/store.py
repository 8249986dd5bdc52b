"""The feature store on disk: ``{root}/{SYMBOL}/dt=YYYY-MM-DD/{options}@{generation}.parquet`` + ``_meta.json``.

One file per (symbol, day, feature-set version). An ingest of a symbol is committed as a whole:
its day files are written under names of its own generation, which no reader opens, then the
symbol's ``_meta.json`` (bar size, feature lookbacks and the manifest of committed day files, see
:mod:`walkforward.features.manifest`) is replaced atomically (``os.replace``). Readers use only
the files the manifest lists, so a killed ingest leaves the previous state, and a re-ingest keeps
the old days readable until its manifest lands. Reading the data is the loader's job (DuckDB);
this module writes and describes what is committed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from walkforward.domain import validate_options, validate_symbol
from walkforward.errors import InvalidInputError
from walkforward.features import _files
from walkforward.features import manifest as mf

log = logging.getLogger(__name__)

META_FILE = "_meta.json"


@dataclass(frozen=True)
class SymbolInfo:
    """What the store holds for one symbol."""

    symbol: str
    first_date: str
    last_date: str
    days: int
    options: tuple[str, ...]
    bar_seconds: int
    features: int
    adjustment: str | None  # the column applied at ingest (adj_factor, adj_close), "mixed" across versions


class FeatureStore:
    """Writes and describes the date-partitioned Parquet feature store rooted at ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def symbol_dir(self, symbol: str) -> Path:
        return self.root / validate_symbol(symbol)

    def read_meta(self, symbol: str) -> dict[str, Any]:
        """The symbol's committed ``_meta.json`` ({} when nothing was ever committed)."""
        path = self.symbol_dir(symbol) / META_FILE
        try:
            meta: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            return {}
        return meta

    def manifest(self, symbol: str, meta: dict[str, Any] | None = None) -> mf.Manifest | None:
        """The committed day files of ``symbol`` (from ``meta`` when given), or None when none were committed."""
        base = self.symbol_dir(symbol)
        return mf.from_meta(self.read_meta(symbol) if meta is None else meta, lambda: _day_listing(base))

    def unfinished(self, symbol: str) -> bool:
        """True when the symbol's folder exists but no ingest of it ever committed (a killed first ingest)."""
        return self.symbol_dir(symbol).is_dir() and not self.manifest(symbol)

    def stamp(self, symbol: str) -> tuple[int, int] | None:
        """Changes whenever an ingest of ``symbol`` commits (its ``_meta.json`` inode and mtime)."""
        try:
            st = (self.symbol_dir(symbol) / META_FILE).stat()
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns

    def day_files(
        self,
        symbol: str,
        options: str | None = None,
        *,
        start: dt.date | None = None,
        end: dt.date | None = None,
        meta: dict[str, Any] | None = None,
    ) -> dict[str, list[Path]]:
        """Committed files per feature-set version (one version if ``options``), by date, within ``start``..``end``.

        Pass the ``meta`` already read to get the files of that same commit.
        """
        base = self.symbol_dir(symbol)
        man = self.manifest(symbol, meta)
        out: dict[str, list[Path]] = {}
        for opt, days in man.versions.items() if man else ():
            if options and opt != options:
                continue
            for day, rel in days.items():
                try:
                    date = dt.date.fromisoformat(day)
                except ValueError:
                    continue
                if (start and date < start) or (end and date > end):
                    continue
                out.setdefault(opt, []).append(base / rel)
        return out

    def feature_names(self, symbol: str, options: str | None = None) -> set[str]:
        """Feature names recorded for ``symbol`` (one feature-set version, or all), from its metadata only."""
        versions = self.read_meta(symbol).get("options", {})
        chosen = [versions.get(options, {})] if options else list(versions.values())
        return {name for v in chosen for name in v.get("features", {})}

    def write_days(
        self,
        symbol: str,
        frame: pd.DataFrame,
        *,
        options: str,
        bar_seconds: int,
        bars_per_day: int,
        features: dict[str, dict[str, Any]],
        split_scheme: str | None,
        adjustment: str | None = None,
    ) -> int:
        """Write ``frame`` (ts, bars, features, options, data_split) one file per day and commit; return days written.

        The days replace the same days of the same ``options`` and become visible together, when the
        new ``_meta.json`` lands; other days and versions are kept. Before writing, what an
        interrupted ingest of this symbol left is swept; after the commit, the superseded files go.
        ``adjustment`` records the column a split adjustment came from (``adj_factor``, ``adj_close``).
        """
        sym = validate_symbol(symbol)
        opt = validate_options(options)
        base = self.root / sym
        new_folder = not base.is_dir()
        base.mkdir(parents=True, exist_ok=True)
        if new_folder:
            _files.fsync_dir(self.root)
        with _files.symbol_lock(base):
            meta = self.read_meta(sym)
            current = self.manifest(sym, meta)
            self._sweep(base, current)
            token = mf.generation_token(os.getpid(), secrets.token_hex(4))
            written: dict[str, str] = {}
            committed = fresh = False
            try:
                for day, part in frame.groupby(frame["ts"].dt.strftime("%Y-%m-%d"), sort=True):
                    day_dir = base / f"dt={day}"
                    fresh = fresh or not day_dir.is_dir()
                    day_dir.mkdir(exist_ok=True)
                    name = mf.day_file_name(opt, token)
                    written[str(day)] = name
                    _files.write_table(
                        day_dir / name, pa.Table.from_pandas(part.reset_index(drop=True), preserve_index=False)
                    )
                    _files.fsync_dir(day_dir)
                if fresh:  # the new dt= folders' names, before the manifest that needs them
                    _files.fsync_dir(base)
                old_bar = meta.get("bar_seconds")
                if old_bar is not None and old_bar != bar_seconds:
                    log.warning("%s: bar size changed from %ss to %ss", sym, old_bar, bar_seconds)
                meta.update({"symbol": sym, "bar_seconds": bar_seconds, "bars_per_day": bars_per_day})
                entry = {"features": features, "split_scheme": split_scheme, "adjustment": adjustment}
                meta.setdefault("options", {})[opt] = entry
                new_meta, superseded = mf.commit(meta, current, opt, written)
                data = json.dumps(new_meta, indent=1, sort_keys=True).encode()
                _files.replace_bytes(base / META_FILE, data, prefix=mf.temp_prefix(os.getpid()))
                committed = True
            finally:
                if not committed:  # an error or Ctrl-C: take back what this generation wrote
                    for day, name in written.items():
                        (base / f"dt={day}" / name).unlink(missing_ok=True)
            _files.fsync_dir(base)
            for rel in superseded:
                (base / rel).unlink(missing_ok=True)
        log.info("%s: committed %d day(s) of %s", sym, len(written), opt)
        return len(written)

    def _sweep(self, base: Path, current: mf.Manifest | None) -> list[str]:
        """Delete what interrupted ingests of this symbol left (the caller holds its lock); return it."""
        files = []
        for p in _walk(base):
            try:
                files.append((p.relative_to(base).as_posix(), p.stat().st_mtime))
            except FileNotFoundError:
                continue
        gone = mf.leftovers(files, current, now=time.time(), alive=_files.pid_alive)
        for rel in gone:
            (base / rel).unlink(missing_ok=True)
        for day_dir in base.glob("dt=*"):
            if day_dir.is_dir() and not any(day_dir.iterdir()):
                day_dir.rmdir()
        if gone:
            log.info("%s: swept %d file(s) left by an interrupted ingest", base.name, len(gone))
        return gone

    def sweep(self, symbol: str) -> list[str]:
        """Delete what interrupted ingests of ``symbol`` left behind, under its lock; return the paths removed."""
        base = self.symbol_dir(symbol)
        if not base.is_dir():
            return []
        with _files.symbol_lock(base):
            return self._sweep(base, self.manifest(symbol))

    def symbols(self) -> list[str]:
        """Symbols with at least one committed day, sorted (a killed first ingest is not one)."""
        if not self.root.exists():
            return []
        out = []
        for p in sorted(self.root.iterdir()):
            if not p.is_dir() or p.name.startswith("."):
                continue
            try:
                man = self.manifest(p.name)
            except InvalidInputError:  # a folder that is not a symbol (lost+found, ...)
                continue
            if man and man.dates():
                out.append(p.name)
        return out

    def describe(self, symbol: str) -> SymbolInfo:
        """Days, date range, versions and feature count for one stored symbol (from its manifest)."""
        meta = self.read_meta(symbol)
        man = self.manifest(symbol, meta)
        dates = man.dates() if man else []
        if not man or not dates:
            raise FileNotFoundError(symbol)
        versions = meta.get("options", {})
        n_feat = max((len(v.get("features", {})) for v in versions.values()), default=0)
        adjustments = {versions.get(o, {}).get("adjustment") for o in man.versions}
        return SymbolInfo(
            symbol=self.symbol_dir(symbol).name,
            first_date=dates[0],
            last_date=dates[-1],
            days=len(dates),
            options=tuple(sorted(man.versions)),
            bar_seconds=int(meta.get("bar_seconds", 0)),
            features=n_feat,
            adjustment=adjustments.pop() if len(adjustments) == 1 else "mixed",
        )


def _day_listing(base: Path) -> Iterator[str]:
    """The symbol's ``dt=*/*.parquet`` files as relative paths (for adopting a legacy store)."""
    for f in sorted(base.glob("dt=*/*.parquet")):
        yield f"{f.parent.name}/{f.name}"


def _walk(base: Path) -> Iterator[Path]:
    """Every file of a symbol folder and of its ``dt=`` folders."""
    for p in base.iterdir():
        if p.is_file():
            yield p
        elif p.is_dir() and p.name.startswith("dt="):
            yield from (f for f in p.iterdir() if f.is_file())
