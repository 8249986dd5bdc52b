"""Model artifact and predictions files: written atomically, verified by SHA-256 before they are read.

Unpickling runs arbitrary code, so a file whose bytes do not match the digest recorded at save time
is refused without being loaded; a model's kept out-of-sample predictions (Parquet) are checked the
same way, so statistics are never computed from a changed file.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from walkforward.diskfull import disk_full_error, is_disk_full
from walkforward.errors import InvalidInputError
from walkforward.registry.errors import ArtifactIntegrityError, ArtifactMissingError

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

ARTIFACT_SUFFIX = ".joblib"
PREDICTIONS_SUFFIX = ".predictions.parquet"
#: Temporary files live next to their target (same filesystem, so the rename is atomic).
TEMP_PREFIX = ".tmp-"
MODEL_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")
_CHUNK = 1 << 20


def validate_model_id(model_id: str) -> str:
    """Return ``model_id`` or refuse it: it becomes a file name, so no separators or dots."""
    if not MODEL_ID_RE.fullmatch(model_id):
        raise InvalidInputError(f"invalid model id {model_id!r}: use 1-64 letters, digits, '_' or '-' (e.g. 3f2a9c...)")
    return model_id


def predictions_file_name(model_id: str) -> str:
    """The file of a model's out-of-sample predictions inside the models directory."""
    return f"{validate_model_id(model_id)}{PREDICTIONS_SUFFIX}"


def cohort_predictions_file(models_dir: Path, cohort_id: str) -> Path:
    """Where a search keeps the predictions of every combination it scored (see walkforward.search.selection)."""
    return models_dir / "cohorts" / f"{validate_model_id(cohort_id)}.oos.parquet"


def cohort_selection_file(models_dir: Path, cohort_id: str) -> Path:
    """Where a cohort's selection statistics are kept between runs (see walkforward.selection_cache)."""
    return models_dir / "cohorts" / f"{validate_model_id(cohort_id)}.selection.json"


def cohort_explore_file(models_dir: Path, cohort_id: str) -> Path:
    """Where a cohort's explore view (fANOVA importance) is kept between runs (see walkforward.selection_cache)."""
    return models_dir / "cohorts" / f"{validate_model_id(cohort_id)}.explore.json"


def model_files(artifact: Path) -> tuple[Path, Path]:
    """A model's artifact and (possibly absent) predictions file, from the artifact's path."""
    return artifact, artifact.with_name(artifact.name.removesuffix(ARTIFACT_SUFFIX) + PREDICTIONS_SUFFIX)


def artifact_file_name(model_id: str) -> str:
    """The artifact's file name inside the models directory."""
    return f"{validate_model_id(model_id)}{ARTIFACT_SUFFIX}"


def _sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not every platform lets a directory be opened.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_artifact(models_dir: Path, model_id: str, obj: object) -> tuple[Path, str]:
    """Pickle ``obj`` with joblib to ``models_dir/{model_id}.joblib`` atomically.

    The bytes go to a temporary file in the same directory, are fsynced, then renamed over the
    target, so a reader never sees a partial file and a crash leaves at most a stray temporary file.

    Returns
    -------
    tuple[Path, str]
        The artifact's path and the SHA-256 hex digest of its bytes.

    Raises
    ------
    DiskFullError
        No room for the file (ENOSPC, EDQUOT, EFBIG): one line naming ``MODELS_DIR/<id>.joblib``;
        the temporary file is gone and no artifact was written.

    Examples
    --------
    >>> path, sha = save_artifact(tmp_dir, "m1", {"coef": [1.0]})  # doctest: +SKIP
    >>> load_artifact(path, sha)  # doctest: +SKIP
    {'coef': [1.0]}
    """
    import joblib  # here, not at import: joblib loads numpy, which listing models does not need

    return _write_atomic(models_dir, artifact_file_name(model_id), model_id, lambda fh: joblib.dump(obj, fh))


def save_predictions(models_dir: Path, model_id: str, frame: pd.DataFrame) -> tuple[Path, str]:
    """Write a model's out-of-sample predictions to ``models_dir/{model_id}.predictions.parquet`` atomically.

    Same guarantees as :func:`save_artifact` (temporary file, fsync, rename; one line on a full disk).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    name = predictions_file_name(model_id)
    return _write_atomic(models_dir, name, model_id, lambda fh: pq.write_table(table, fh, compression="zstd"))


def _write_atomic(models_dir: Path, name: str, model_id: str, write: Callable[[BinaryIO], object]) -> tuple[Path, str]:
    target = models_dir / name
    # The writer's pid and host in the name: a start-up sweep removes a dead writer's file at once.
    prefix = f"{TEMP_PREFIX}{os.getpid()}~{socket.gethostname()}~{model_id}-"
    tmp: Path | None = None
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=models_dir, prefix=prefix, suffix=".part")
        tmp = Path(tmp_name)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        sha = _sha256_of_file(tmp)
        os.replace(tmp, target)
    except BaseException as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        if is_disk_full(exc):
            raise disk_full_error(getattr(exc, "errno", None), f"MODELS_DIR/{name}", "MODELS_DIR") from None
        raise
    _fsync_dir(models_dir)
    logger.debug("saved %s (sha256 %s)", target, sha)
    return target, sha


def _verified_bytes(path: Path, expected_sha256: str, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ArtifactMissingError(
            f"{what} {path} is missing: it was deleted or the models directory moved (check MODELS_DIR)"
        ) from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256.lower():
        raise ArtifactIntegrityError(
            f"{what} {path} was changed or truncated since it was saved (sha256 {actual}, "
            f"expected {expected_sha256}); refusing to read it: retrain the model or restore the file"
        )
    return data


def verified_bytes(path: Path, expected_sha256: str, what: str) -> bytes:
    """The bytes of a model's file (``what`` names it in errors) once they match ``expected_sha256``.

    Raises :class:`ArtifactMissingError` or :class:`ArtifactIntegrityError` as :func:`load_artifact` does.
    """
    return _verified_bytes(path, expected_sha256, what)


def load_predictions(path: Path, expected_sha256: str) -> pd.DataFrame:
    """A model's kept predictions after checking their bytes against ``expected_sha256``."""
    import pyarrow.parquet as pq

    data = _verified_bytes(path, expected_sha256, "predictions file")
    return pq.read_table(io.BytesIO(data)).to_pandas()


def load_artifact(path: Path, expected_sha256: str) -> object:
    """Load an artifact after checking its bytes against ``expected_sha256``.

    Raises
    ------
    ArtifactMissingError
        The file does not exist.
    ArtifactIntegrityError
        The bytes differ from what was saved (changed or truncated); the file is not unpickled.
    """
    data = _verified_bytes(path, expected_sha256, "model artifact")
    import joblib

    return joblib.load(io.BytesIO(data))
