"""Absolute server paths out of what the API shows: error details, a job's error and log.

A path under a configured store becomes ``SETTING/relative/path`` (``MODELS_DIR/3f2a.joblib``), the
form a user can act on; any other absolute path of this machine becomes its file name. Route paths
in messages (``POST /jobs/ID/resume``) stay: only paths whose first folder exists at ``/`` count.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from walkforward.config import Settings

# An absolute path (or glob) of two or more parts that does not continue a longer token.
_ABSOLUTE = re.compile(r"(?<![\w.~-])/[\w.@+~*-]+(?:/[\w.@+~=*-]+)+/?")
# Where a spelling of a root ends: not in the middle of a longer name (``models`` vs ``models2``).
_END = r"(?![\w@+~=*-]|\.\w)"


def store_roots(settings: Settings) -> dict[str, Path]:
    """The stores' folders by setting name, as :func:`redact_paths` takes them."""
    return {
        "FEATURES_PARQUET_DIR": Path(settings.features_parquet_dir),
        "MODELS_DIR": Path(settings.models_dir),
        "METADATA_DB_PATH": Path(settings.metadata_db_path),
    }


def _spellings(root: Path) -> list[str]:
    found = {str(root.absolute()), str(root.resolve()), os.path.abspath(root)}
    return sorted((s.rstrip("/") for s in found if s not in ("", "/")), key=len, reverse=True)


@cache
def _top_level(name: str) -> bool:
    return os.path.isdir(os.path.join(os.sep, name))


def redact_paths(text: str, roots: Mapping[str, Path]) -> str:
    """``text`` with no absolute path of this machine left in it.

    >>> redact_paths("model artifact /srv/wf/models/3f.joblib is missing", {"MODELS_DIR": Path("/srv/wf/models")})
    'model artifact MODELS_DIR/3f.joblib is missing'
    >>> redact_paths("cannot read /usr/lib/x/y.parquet; POST /jobs/ab/resume", {})
    'cannot read y.parquet; POST /jobs/ab/resume'
    """
    pairs = sorted(((s, name) for name, root in roots.items() for s in _spellings(root)), key=lambda p: -len(p[0]))
    for spelling, name in pairs:
        text = re.sub(re.escape(spelling) + _END, name, text)

    def file_name(match: re.Match[str]) -> str:
        path = match.group(0)
        top = path.lstrip("/").split("/", 1)[0]
        return Path(path).name if _top_level(top) else path

    return _ABSOLUTE.sub(file_name, text)


__all__ = ["redact_paths", "store_roots"]
