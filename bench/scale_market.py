"""The search-at-scale bench market (issue 9): the demo generator's AAPL, QQQ and VIX, 120 days of
1-minute bars, 40:10 blocks, one store per market seed under ``bench/out/scale-{seed}``.

Searches on it use ``SCALE_REQUEST``: AAPL with QQQ and VIX as context, resampled to 5m, embargo 12.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Any

from walkforward.features.pipeline import write_demo_market
from walkforward.features.store import FeatureStore

OUT = Path(__file__).resolve().parent / "out"
SYMBOLS = ("AAPL", "QQQ", "VIX")
DAYS = 120
SEEDS = (7, 8, 9)
SPLIT = "40:10"
#: The request fields every issue-9 search on this market shares.
SCALE_REQUEST: dict[str, Any] = {"symbol": "AAPL,QQQ,VIX", "timeframe": "5m", "embargo": 12}


def store_root(seed: int) -> Path:
    return OUT / f"scale-{seed}"


def ensure_market(seed: int) -> FeatureStore:
    """The bench market of ``seed`` (built once, ~20 s per seed; reused when complete)."""
    root = store_root(seed)
    store = FeatureStore(root)
    try:
        if all(store.describe(s).days == DAYS for s in SYMBOLS):
            return store
    except FileNotFoundError:
        pass
    if root.exists():
        shutil.rmtree(root)
    t0 = time.perf_counter()
    write_demo_market(store, days=DAYS, symbols=SYMBOLS, seed=seed, split_scheme=SPLIT)
    print(f"built market seed {seed} in {root} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return store
