"""Artifacts: atomic writes, and tampered files refused before any byte is unpickled."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from walkforward.errors import InvalidInputError, WalkforwardError
from walkforward.registry import ArtifactIntegrityError, ArtifactMissingError, load_artifact, save_artifact


class Trap:
    """Unpickling this creates ``marker``: proof that a file was (or was not) unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def test_roundtrip(tmp_path: Path) -> None:
    models_dir = tmp_path / "not" / "yet" / "there"
    obj = {"coef": np.linspace(0, 1, 5), "name": "ridge"}
    path, sha = save_artifact(models_dir, "abc-123", obj)
    assert path == models_dir / "abc-123.joblib"
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [p.name for p in models_dir.iterdir()] == ["abc-123.joblib"]  # no temporary file left
    loaded = load_artifact(path, sha)
    assert isinstance(loaded, dict) and loaded["name"] == "ridge"
    np.testing.assert_array_equal(loaded["coef"], obj["coef"])


def test_trap_fires_when_untampered(tmp_path: Path) -> None:
    """Control for the tests below: an intact trap file does create its marker."""
    marker = tmp_path / "unpickled"
    path, sha = save_artifact(tmp_path, "trap", Trap(marker))
    load_artifact(path, sha)
    assert marker.exists()


@pytest.mark.parametrize("tamper", ["flip_byte", "truncate", "append"])
def test_tampered_file_is_refused_and_never_unpickled(tmp_path: Path, tamper: str) -> None:
    marker = tmp_path / "unpickled"
    path, sha = save_artifact(tmp_path / "models", "trap", Trap(marker))
    data = bytearray(path.read_bytes())
    if tamper == "flip_byte":
        data[len(data) // 2] ^= 0x01
    elif tamper == "truncate":
        del data[-3:]
    else:
        data += b"\x00"
    path.write_bytes(bytes(data))

    with pytest.raises(ArtifactIntegrityError, match="changed or truncated") as info:
        load_artifact(path, sha)
    assert str(path) in str(info.value)
    assert isinstance(info.value, WalkforwardError)
    assert not marker.exists()


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "models" / "gone.joblib"
    with pytest.raises(ArtifactMissingError) as info:
        load_artifact(path, "0" * 64)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ArtifactIntegrityError)


def test_save_replaces_atomically_and_refuses_bad_ids(tmp_path: Path) -> None:
    path, first = save_artifact(tmp_path, "m", [1])
    path, second = save_artifact(tmp_path, "m", [2])
    assert first != second and load_artifact(path, second) == [2]
    with pytest.raises(InvalidInputError):
        save_artifact(tmp_path, "../escape", [3])
    with pytest.raises(InvalidInputError):
        save_artifact(tmp_path, "a.b", [3])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.joblib"]


def test_failed_pickle_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(Exception):  # noqa: B017 - whatever pickle raises for a lambda
        save_artifact(tmp_path, "bad", lambda: None)
    assert list(tmp_path.iterdir()) == []
