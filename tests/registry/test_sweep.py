"""The sweep of the models directory: only files older than the grace period and owned by no live job.

The rules are checked on generated cases (hypothesis), then on real files against a real registry
on each backend, with real processes as live and dead writers and real job rows as running jobs.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walkforward.registry import ModelStore, NewModel
from walkforward.registry.jobs import JobStatus, JobStore
from walkforward.registry.sweep import GRACE_SECONDS, removable, temp_writer

HOST = "web-1"

names = st.one_of(
    st.from_regex(r"[0-9a-f]{8}\.joblib", fullmatch=True),
    st.builds(
        lambda pid, host, mid: f".tmp-{pid}~{host}~{mid}-x1.part",
        st.integers(1, 60),
        st.sampled_from([HOST, "web-2"]),
        st.from_regex(r"[0-9a-f]{8}", fullmatch=True),
    ),
    st.sampled_from([".tmp-crashed-abc.part", "README.txt", "notes.joblib.bak", "metadata.db"]),
)


@given(
    name=names,
    age=st.floats(0, 3 * GRACE_SECONDS),
    referenced=st.sets(names, max_size=3),
    live=st.sets(st.tuples(st.integers(1, 60), st.sampled_from([HOST, "web-2"])), max_size=4),
    alive=st.sets(st.integers(1, 60), max_size=30),
)
def test_the_sweep_never_takes_what_a_row_or_a_live_writer_may_still_own(
    name: str, age: float, referenced: set[str], live: set[tuple[int, str]], alive: set[int]
) -> None:
    go = removable(name, age, referenced=referenced, live_jobs=live, host=HOST, alive=alive.__contains__)
    writer = temp_writer(name)
    if name in referenced or not (name.endswith(".joblib") or name.startswith(".tmp-")):
        assert not go  # a row's artifact, or a file that is not ours
    elif writer is not None and (writer in live or (writer[1] == HOST and writer[0] in alive)):
        assert not go  # its writer may still rename it
    elif writer is not None and writer[1] == HOST:
        assert go  # this host's writer is dead: nobody can finish the file
    else:
        assert go == (age >= GRACE_SECONDS)  # no known owner: only once old


def _age(path: Path, seconds: float = 2 * GRACE_SECONDS) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


@pytest.fixture()
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A live process of this host (a writer that may still finish its file)."""
    proc = subprocess.Popen(["sleep", "120"])
    yield proc
    proc.kill()
    proc.wait()


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_old_files_of_live_writers_stay_and_orphans_go(
    store: ModelStore, new_model: Callable[..., NewModel], sleeper: subprocess.Popen[bytes]
) -> None:
    host = socket.gethostname()
    kept = store.add(new_model(), {"coef": [1.0]})
    _age(Path(kept.artifact_path))
    d = store.models_dir
    files = {
        "old orphan": d / f"{uuid.uuid4().hex}.joblib",
        "young orphan": d / f"{uuid.uuid4().hex}.joblib",
        "old temp of a live writer": d / f".tmp-{sleeper.pid}~{host}~m1-abc.part",
        "young temp of a dead writer": d / f".tmp-{_dead_pid()}~{host}~m2-abc.part",
        "old temp of another host": d / f".tmp-{sleeper.pid}~elsewhere-{host}~m3-abc.part",
        "old unrelated file": d / "notes.txt",
    }
    for label, path in files.items():
        path.write_bytes(label.encode())
        if label.startswith("old"):
            _age(path)
    removed = {p.name for p in store.sweep_orphans()}
    assert removed == {
        files["old orphan"].name,
        files["young temp of a dead writer"].name,
        files["old temp of another host"].name,
    }
    assert {p.name for p in d.iterdir()} == {
        Path(kept.artifact_path).name,
        files["young orphan"].name,
        files["old temp of a live writer"].name,
        files["old unrelated file"].name,
    }
    assert store.load_artifact(kept.id) == {"coef": [1.0]}


def test_a_running_job_of_another_host_keeps_its_temporary_files(store: ModelStore) -> None:
    jobs = JobStore(store.database)
    job = jobs.create("search", {"train": {}})
    assert jobs.claim_next(host="worker-7") is not None
    jobs.attach_worker(job.id, 4242)  # a pid of another machine: its liveness cannot be checked here
    store.models_dir.mkdir(parents=True)
    owned = store.models_dir / ".tmp-4242~worker-7~m1-abc.part"
    owned.write_bytes(b"being written on worker-7")
    _age(owned)
    assert store.sweep_orphans() == []  # the job row says its writer is running
    jobs.finish(job.id, JobStatus.FAILED, error="stopped")
    assert store.sweep_orphans() == [owned]  # once the job ended, the old file has no owner
