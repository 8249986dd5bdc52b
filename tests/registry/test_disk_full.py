"""A full disk while writing an artifact or the SQLite registry: one line, nothing half-written.

The disks are real: small tmpfs filesystems filled to the last byte (skipped where mounting is not
allowed), and a process whose file-size limit (RLIMIT_FSIZE) makes ``write`` fail with EFBIG.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from walkforward.errors import DiskFullError
from walkforward.registry import ModelStore, NewModel, save_artifact


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_a_full_disk_while_saving_an_artifact_leaves_no_file(small_disk: Any) -> None:
    disk = small_disk.mount("256k")
    models = disk / "models"
    models.mkdir()
    filler = small_disk.fill(disk)
    with pytest.raises(DiskFullError) as caught:
        save_artifact(models, "m1", os.urandom(200_000))
    message = str(caught.value)
    assert message == (
        "no space left on device writing MODELS_DIR/m1.joblib: free space or set MODELS_DIR to a directory on a "
        "larger disk"
    )
    assert "\n" not in message and str(disk) not in message
    assert _files(models) == []  # the temporary file went with the failure
    filler.unlink()
    path, _ = save_artifact(models, "m1", os.urandom(1000))  # with room again, the same write works
    assert _files(models) == [path.name]


def test_a_full_models_disk_registers_nothing(
    small_disk: Any, tmp_path: Path, new_model: Callable[..., NewModel]
) -> None:
    disk = small_disk.mount("256k")
    store = ModelStore.open(f"sqlite:///{tmp_path / 'metadata.db'}", disk / "models")
    try:
        (disk / "models").mkdir()
        small_disk.fill(disk)
        with pytest.raises(DiskFullError, match=r"^no space left on device writing MODELS_DIR/[0-9a-f]+\.joblib: "):
            store.add(new_model(), os.urandom(100_000))
        assert store.list()[1] == 0
        assert _files(disk / "models") == []
    finally:
        store.dispose()


def test_a_full_disk_under_the_sqlite_registry_rolls_back_and_says_so(
    small_disk: Any, tmp_path: Path, new_model: Callable[..., NewModel]
) -> None:
    disk = small_disk.mount("1m")
    store = ModelStore.open(f"sqlite:///{disk / 'metadata.db'}", tmp_path / "models")
    try:
        filler = small_disk.fill(disk)
        big = new_model(metrics={"r2": 0.1, "padding": "x" * 200_000})  # more than the WAL holds already
        with pytest.raises(DiskFullError) as caught:
            store.add(big, {"coef": [1.0]})
        assert str(caught.value) == (
            "no space left on device writing the registry database metadata.db: free space or set "
            "METADATA_DB_PATH to a directory on a larger disk"
        )
        assert _files(tmp_path / "models") == []  # the artifact written first was removed with the refusal
        filler.unlink()
        assert store.list()[1] == 0  # nothing half-written: the transaction was rolled back
        record = store.add(new_model(), {"coef": [1.0]})
        assert store.list()[1] == 1 and store.load_artifact(record.id) == {"coef": [1.0]}
    finally:
        store.dispose()


_EFBIG_CHILD = textwrap.dedent(
    """
    import os, resource, signal, sys
    from pathlib import Path
    from walkforward.errors import DiskFullError
    from walkforward.registry import save_artifact

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel ends the process instead of failing write()
    resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
    try:
        save_artifact(Path(sys.argv[1]), "m1", os.urandom(300_000))
    except DiskFullError as exc:
        print(exc)
    """
)


def test_a_file_size_limit_is_reported_like_a_full_disk(tmp_path: Path) -> None:
    models = tmp_path / "models"
    res = subprocess.run(
        [sys.executable, "-c", _EFBIG_CHILD, str(models)], capture_output=True, text=True, timeout=120, check=True
    )
    assert res.stdout.strip() == (
        "file size limit exceeded writing MODELS_DIR/m1.joblib: raise the limit (ulimit -f) or free space or set "
        "MODELS_DIR to a directory on a larger disk"
    ), res.stderr
    assert _files(models) == []
