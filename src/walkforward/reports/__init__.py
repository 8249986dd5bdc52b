"""What a run, a model or a data set looks like to a reader: JSON payloads, tables and plots.

One job per module, so each edge imports only what it renders:

- :mod:`walkforward.reports.payloads`: plain JSON-ready dicts (``--json`` and the API); no rich.
- :mod:`walkforward.reports.tables`: rich tables for the terminal (the CLI only).
- :mod:`walkforward.reports.plots`: a registered model's importance charts as PNG bytes.

This package re-exports the payloads and :func:`plot_png`; import the tables from their module, so
that the service never loads rich.
"""

from __future__ import annotations

from typing import Any

from walkforward.reports.payloads import dataset_dict, model_dict, search_dict, summary_dict


def __getattr__(name: str) -> Any:
    # Plots load matplotlib and scikit-learn (3 s) when drawn; the module itself is light.
    if name in ("PLOT_KINDS", "plot_png"):
        from walkforward.reports import plots

        return getattr(plots, name)
    raise AttributeError(f"module 'walkforward.reports' has no attribute {name!r}")


__all__ = ["PLOT_KINDS", "dataset_dict", "model_dict", "plot_png", "search_dict", "summary_dict"]
