"""Rendered charts of models, kept in memory: drawing one costs about 2 s of CPU, serving it again nothing.

A model's charts change only when its explanations do (``walkforward models explain`` may recompute
them, from another process), so an entry is keyed by (model id, kind) and holds a digest of the data
it was drawn from: a lookup with other data draws again. Deleting a model evicts its charts. The
cache holds at most ``max_bytes`` of PNG, least recently used out first. Drawing is one at a time
(:func:`chart_png` runs it on the service's heavy-work thread, a cached chart is served without
waiting there); a second request for a chart being drawn waits for it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool

from walkforward.service.capacity import run_heavy

if TYPE_CHECKING:
    from walkforward.registry import ModelStore

#: PNG bytes kept by default (a chart is 30-150 KB).
DEFAULT_MAX_BYTES = 32 * 1024 * 1024


def data_digest(data: Mapping[str, Any]) -> str:
    """A digest of the JSON-ready ``data`` a chart is drawn from."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


class PlotCache:
    """PNG charts by (model id, kind), checked against the data they were drawn from (thread-safe)."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, str], tuple[str, bytes]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self._drawing = threading.Lock()
        self.draws = 0

    def cached(self, model_id: str, kind: str, digest: str) -> bytes | None:
        """The chart drawn from data with ``digest``, if kept."""
        with self._lock:
            found = self._entries.get((model_id, kind))
            if found is None or found[0] != digest:
                return None
            self._entries.move_to_end((model_id, kind))
            return found[1]

    def get(self, model_id: str, kind: str, digest: str, draw: Callable[[], bytes]) -> bytes:
        """The chart drawn from data with ``digest``: from the cache, or ``draw()`` (then kept)."""
        key = (model_id, kind)
        found = self.cached(model_id, kind, digest)
        if found is not None:
            return found
        with self._drawing:
            found = self.cached(model_id, kind, digest)  # drawn while this request waited
            if found is not None:
                return found
            png = draw()
            self.draws += 1
        self._store(key, digest, png)
        return png

    def _store(self, key: tuple[str, str], digest: str, png: bytes) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= len(old[1])
            if len(png) > self.max_bytes:
                return
            self._entries[key] = (digest, png)
            self._size += len(png)
            while self._size > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._size -= len(evicted)

    def evict(self, model_id: str) -> None:
        """Forget every chart of ``model_id`` (it was deleted)."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == model_id]:
                self._size -= len(self._entries.pop(key)[1])

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def size(self) -> int:
        """PNG bytes held."""
        with self._lock:
            return self._size


def _source(registry: ModelStore, model_id: str, kind: str) -> tuple[Mapping[str, Any], str]:
    from walkforward.reports.plots import plot_data

    data = plot_data(registry.get(model_id), kind)
    return data, data_digest(data)


async def chart_png(registry: ModelStore, cache: PlotCache, model_id: str, kind: str) -> bytes:
    """A model's ``kind`` chart: read its data (a route thread), then the cache, else draw it (heavy thread).

    Raises as :func:`walkforward.reports.plots.plot_data` (unknown model, no explanations).
    """
    from walkforward.reports.plots import render_png

    data, digest = await run_in_threadpool(_source, registry, model_id, kind)
    found = cache.cached(model_id, kind, digest)
    if found is not None:
        return found
    return await run_heavy(lambda: cache.get(model_id, kind, digest, lambda: render_png(kind, data)))


__all__ = ["DEFAULT_MAX_BYTES", "PlotCache", "chart_png", "data_digest"]
