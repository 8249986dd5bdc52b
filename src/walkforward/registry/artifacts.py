"""Model artifact files: written atomically, verified by SHA-256 before they are ever unpickled.

Unpickling runs arbitrary code, so a file whose bytes do not match the digest recorded at save time
is refused without being loaded.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import socket
import tempfile
from pathlib import Path

from walkforward.diskfull import disk_full_error, is_disk_full
from walkforward.errors import InvalidInputError
from walkforward.registry.errors import ArtifactIntegrityError, ArtifactMissingError

logger = logging.getLogger(__name__)

ARTIFACT_SUFFIX = ".joblib"
#: Temporary files live next to their target (same filesystem, so the rename is atomic).
TEMP_PREFIX = ".tmp-"
MODEL_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")
_CHUNK = 1 << 20


def validate_model_id(model_id: str) -> str:
    """Return ``model_id`` or refuse it: it becomes a file name, so no separators or dots."""
    if not MODEL_ID_RE.fullmatch(model_id):
        raise InvalidInputError(f"invalid model id {model_id!r}: use 1-64 letters, digits, '_' or '-' (e.g. 3f2a9c...)")
    return model_id


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

    name = artifact_file_name(model_id)
    target = models_dir / name
    # The writer's pid and host in the name: a start-up sweep removes a dead writer's file at once.
    prefix = f"{TEMP_PREFIX}{os.getpid()}~{socket.gethostname()}~{model_id}-"
    tmp: Path | None = None
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=models_dir, prefix=prefix, suffix=".part")
        tmp = Path(tmp_name)
        with os.fdopen(fd, "wb") as fh:
            joblib.dump(obj, fh)
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
    logger.debug("saved artifact %s (sha256 %s)", target, sha)
    return target, sha


def load_artifact(path: Path, expected_sha256: str) -> object:
    """Load an artifact after checking its bytes against ``expected_sha256``.

    Raises
    ------
    ArtifactMissingError
        The file does not exist.
    ArtifactIntegrityError
        The bytes differ from what was saved (changed or truncated); the file is not unpickled.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ArtifactMissingError(
            f"model artifact {path} is missing: it was deleted or the models directory moved (check MODELS_DIR)"
        ) from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256.lower():
        raise ArtifactIntegrityError(
            f"model artifact {path} was changed or truncated since it was saved (sha256 {actual}, "
            f"expected {expected_sha256}); refusing to unpickle it: retrain the model or restore the file"
        )
    import joblib

    return joblib.load(io.BytesIO(data))
