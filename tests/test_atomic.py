"""replace_file: the target is the old file or the new one, never part of one, and no temporary file stays."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import BinaryIO

import pytest

from walkforward.atomic import replace_file


def test_replaces_the_file_private_to_its_owner(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "stats.json"  # the folder is made
    replace_file(target, lambda fh: fh.write(b"old"))
    replace_file(target, lambda fh: fh.write(b"new"))
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["stats.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "matrix.parquet"
    target.write_bytes(b"old")

    def half_then_fail(fh: BinaryIO) -> None:
        fh.write(b"half of the new")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        replace_file(target, half_then_fail, prefix=".tmp-", suffix=".part")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["matrix.parquet"]


def test_the_temporary_name_is_the_callers(tmp_path: Path) -> None:
    seen: list[str] = []

    def spy(fh: BinaryIO) -> None:
        seen.extend(p.name for p in tmp_path.iterdir())  # the temporary file exists while it is written
        fh.write(b"x")

    replace_file(tmp_path / "chart.png", spy, prefix=".chart.png.", suffix=".tmp")
    assert len(seen) == 1 and seen[0].startswith(".chart.png.") and seen[0].endswith(".tmp")
