"""A symbol's manifest: which day file of each feature-set version is committed (pure; no I/O).

An ingest writes its day files under names of its own generation (``v1@<pid>-<tag>.parquet``),
which no reader opens, and commits them by replacing ``{SYMBOL}/_meta.json`` (``os.replace``)
with a version whose ``options[VERSION]["days"]`` maps each date to its file. Readers list only
those files, so a killed ingest leaves the previous state: its own files are unlisted leftovers,
swept by the next ingest of the symbol (:func:`leftovers`).

Stores written before manifests (``_meta.json`` without ``"manifest"``, files named
``{VERSION}.parquet``) are adopted on read: every plain-named day file counts as listed
(:func:`from_meta`). The next ingest of such a symbol writes a manifest that carries the adopted
files over, so the migration happens on the first write and nothing is rewritten.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: The ``_meta.json`` key that marks a manifest (its value is the format version).
MANIFEST_KEY = "manifest"
MANIFEST_FORMAT = 1
#: Unlisted files of a live writer are kept this long (pid reuse, or a writer on another host).
GRACE_SECONDS = 3600.0

_GENERATION = re.compile(r"^(?P<opt>[A-Za-z0-9][A-Za-z0-9_.\-]*)@(?P<pid>\d+)-(?P<tag>[0-9a-f]+)\.parquet$")
_TEMP = re.compile(r"^\.tmp-(?P<pid>\d+)-.*\.partial$")
_OLD_TEMP = re.compile(r"^\.tmp-[a-z0-9_]+\.partial$")  # a temporary file of the writer before manifests
_PLAIN = re.compile(r"^(?P<opt>[A-Za-z0-9][A-Za-z0-9_.\-]*)\.parquet$")


def day_file_name(options: str, token: str) -> str:
    """The file name of one day of ``options`` written by the generation ``token``."""
    return f"{options}@{token}.parquet"


def generation_token(pid: int, tag: str) -> str:
    """A writer's generation: its pid (so a sweep can tell a dead writer) and a random tag."""
    return f"{pid}-{tag}"


def temp_prefix(pid: int) -> str:
    """The prefix of a writer's temporary files (``.tmp-<pid>-``), which no reader opens."""
    return f".tmp-{pid}-"


def writer_pid(name: str) -> int | None:
    """The pid in a generation or temporary file name, or None for any other name."""
    m = _GENERATION.fullmatch(name) or _TEMP.fullmatch(name)
    return int(m["pid"]) if m else None


@dataclass(frozen=True)
class Manifest:
    """Committed day files: version -> {ISO date -> path relative to the symbol folder}."""

    versions: Mapping[str, Mapping[str, str]]
    legacy: bool = False  # adopted from a store written before manifests

    def listed(self) -> set[str]:
        """Every committed file (relative paths)."""
        return {p for days in self.versions.values() for p in days.values()}

    def dates(self) -> list[str]:
        """Dates with at least one committed file, sorted."""
        return sorted({d for days in self.versions.values() for d in days})


def _relative(day: str, name: str) -> str:
    return f"dt={day}/{name}"


def from_meta(meta: Mapping[str, Any], listing: Callable[[], Iterable[str]]) -> Manifest | None:
    """The manifest of a symbol's ``_meta.json`` contents, or None when nothing was ever committed.

    ``listing`` yields the symbol's ``dt=*/*.parquet`` files as relative paths; it is only called
    for a legacy meta (one without :data:`MANIFEST_KEY`), whose plain-named files are adopted.
    """
    if not meta:
        return None
    if MANIFEST_KEY not in meta:
        adopted: dict[str, dict[str, str]] = {}
        for rel in listing():
            folder, _, name = rel.partition("/")
            m = _PLAIN.fullmatch(name)
            if m and folder.startswith("dt="):
                adopted.setdefault(m["opt"], {})[folder[3:]] = rel
        return Manifest({k: dict(sorted(v.items())) for k, v in sorted(adopted.items())}, legacy=True)
    versions = {
        opt: {str(d): _relative(str(d), str(n)) for d, n in sorted(v.get("days", {}).items())}
        for opt, v in sorted(meta.get("options", {}).items())
    }
    return Manifest({k: v for k, v in versions.items() if v})


def commit(
    meta: Mapping[str, Any], current: Manifest | None, written: Mapping[str, Mapping[str, str]]
) -> tuple[dict[str, Any], list[str]]:
    """The next ``_meta.json`` contents after ``written`` ({version: {date: file name}}), and what it supersedes.

    Days not in ``written`` stay as they were; a legacy store's adopted files are recorded in the
    new manifest (the migration). The superseded files (relative paths) are the ones to delete
    once the new meta is in place.
    """
    new: dict[str, Any] = {k: v for k, v in meta.items() if k != "options"}
    new[MANIFEST_KEY] = MANIFEST_FORMAT
    versions = dict(current.versions) if current else {}
    new_options: dict[str, Any] = {}
    superseded: list[str] = []
    for opt in sorted(set(versions) | set(meta.get("options", {})) | set(written)):
        entry = dict(meta.get("options", {}).get(opt, {}))
        old = versions.get(opt, {})
        days = {d: rel.partition("/")[2] for d, rel in old.items()}
        for day, name in written.get(opt, {}).items():
            days[day] = name
            if day in old and old[day] != _relative(day, name):
                superseded.append(old[day])
        entry["days"] = dict(sorted(days.items()))
        if days:
            new_options[opt] = entry
    new["options"] = new_options
    return new, sorted(superseded)


def leftovers(
    files: Iterable[tuple[str, float]],
    manifest: Manifest | None,
    *,
    now: float,
    alive: Callable[[int], bool],
    grace: float = GRACE_SECONDS,
) -> list[str]:
    """Files of the symbol folder (relative path, mtime) that an interrupted ingest left behind.

    A generation or temporary file not in the manifest goes when its writer is dead or it is older
    than ``grace`` (so does an older writer's ``.tmp-*.partial``); a plain-named day file not in a
    (non-legacy) manifest is a superseded legacy file whose deletion was interrupted. Anything else
    is not ours and is left alone.
    """
    listed = manifest.listed() if manifest else set()
    out = []
    for rel, mtime in files:
        if rel in listed:
            continue
        name = rel.rpartition("/")[2]
        pid = writer_pid(name)
        if pid is not None:
            if not alive(pid) or now - mtime > grace:
                out.append(rel)
        elif manifest is not None and not manifest.legacy and rel.startswith("dt=") and _PLAIN.fullmatch(name):
            out.append(rel)
        elif _OLD_TEMP.fullmatch(name) and now - mtime > grace:
            out.append(rel)
    return sorted(out)


__all__ = [
    "GRACE_SECONDS",
    "MANIFEST_KEY",
    "Manifest",
    "commit",
    "day_file_name",
    "from_meta",
    "generation_token",
    "leftovers",
    "temp_prefix",
    "writer_pid",
]
