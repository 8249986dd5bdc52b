"""What a process of ours does once its work is done, before the interpreter shuts down."""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Collect the garbage now, then freeze the heap, so the interpreter's shutdown does not walk it
    again: with scikit-learn, SciPy and pandas loaded, the collections Python runs while it tears
    the modules down took 0.25-0.45 s of every command (``gc.freeze`` is the standard library's
    way to take objects out of later collections). Objects still die by reference counting, and
    atexit handlers still run, after this. Call it last, in a process that is about to exit."""
    gc.collect()
    gc.freeze()


__all__ = ["settle_heap"]
