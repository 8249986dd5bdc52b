"""``/health`` answers while every route thread and more are stuck in list requests (real server, PostgreSQL).

Another connection locks the list table, so ``GET /models`` requests hang inside the database: they
fill the routes' thread pool and queue behind it (48 of them: more than AnyIO's default 40 threads
and SQLAlchemy's 15 pooled connections). Health checks run on threads and a connection of their own,
so ``/health`` still answers 200 before any list does, from a check made while they hang.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import sqlalchemy as sa

from walkforward.service.capacity import ROUTE_THREADS
from walkforward.service.health_check import MAX_AGE

STUCK = 48


def _lock_waiters(conn: sa.Connection) -> int:
    query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
    found = int(conn.execute(sa.text(query)).scalar_one())
    conn.commit()  # the statistics are a snapshot per transaction
    return found


def test_health_answers_while_lists_hang(
    pg_registry_url: str, server_env: Callable[..., dict[str, str]], start_server: Callable[..., Any]
) -> None:
    server = start_server(server_env(pg_registry_url))
    assert server.client.get("/models").status_code == 200  # migrated, tables there
    engine = sa.create_engine(pg_registry_url)
    try:
        with engine.connect() as locker, engine.connect() as watcher, ThreadPoolExecutor(STUCK) as pool:
            locker.execute(sa.text("LOCK TABLE model_summaries IN ACCESS EXCLUSIVE MODE"))
            locked_at = dt.datetime.now(dt.UTC)

            def list_models(_: int) -> int:
                with httpx.Client(base_url=server.url, timeout=120) as client:
                    return client.get("/models").status_code

            lists = [pool.submit(list_models, i) for i in range(STUCK)]
            deadline = time.monotonic() + 60
            while _lock_waiters(watcher) < ROUTE_THREADS and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _lock_waiters(watcher) == ROUTE_THREADS  # every route thread waits on the lock
            time.sleep(MAX_AGE + 0.5)  # the last report is too old to answer: this probe waits for a check
            health = httpx.get(f"{server.url}/health", timeout=120)
            assert not any(f.done() for f in lists)  # answered while every list still hangs
            assert health.status_code == 200 and health.json()["database"] == {"backend": "postgresql", "ok": True}
            assert dt.datetime.fromisoformat(health.json()["checked_at"]) > locked_at  # checked while they hang
            locker.rollback()  # releases the lock
            assert [f.result(timeout=120) for f in lists] == [200] * STUCK
    finally:
        engine.dispose()
