"""A search's selection statistics (PBO, DSR, SPA) over every combination it has scored, across runs.

Each run adds the out-of-sample predictions of the combinations it scored to the cohort's matrix,
``MODELS_DIR/cohorts/{cohort_id}.oos.parquet`` (one float32 column per combination fingerprint, rows
in fold then time order), so a search run again, or a best-only search whose other combinations
were never registered, still has every configuration it tried in its statistics.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from walkforward.atomic import replace_file

if TYPE_CHECKING:
    from walkforward.search.run import SearchRun

log = logging.getLogger(__name__)


def load_matrix(path: Path, rows: int) -> dict[str, np.ndarray]:
    """The kept columns by fingerprint ({} if none, or kept for other rows: the data changed)."""
    import pyarrow.parquet as pq

    if not path.exists():
        return {}
    table = pq.read_table(path)
    if table.num_rows != rows:
        log.warning("%s holds %d rows, not %d: ignored", path.name, table.num_rows, rows)
        return {}
    return {name: table.column(name).to_numpy() for name in table.column_names}


def save_matrix(path: Path, columns: dict[str, np.ndarray]) -> None:
    """Write the matrix atomically (a temporary file renamed over the old one)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({k: columns[k] for k in sorted(columns)})
    replace_file(path, lambda fh: pq.write_table(table, fh, compression="zstd"))


def search_selection(run: SearchRun) -> dict[str, Any]:
    """PBO, DSR and SPA over the daily net returns of every combination of the search scored so far.

    The selected configuration is the best by cross-validated score (what the search picks).
    A failure to keep the matrix (e.g. a full disk) loses only the matrix: it is said in ``notes``.
    """
    from walkforward.registry.artifacts import cohort_predictions_file
    from walkforward.training.evaluate import selection_of
    from walkforward.training.oos import predictions_frame

    folds = run.data.plan.folds
    rows = predictions_frame(run.data, [np.zeros(f.test_index.size) for f in folds], classifier=False)
    path = cohort_predictions_file(run.registry.models_dir, run.cohort_id)
    kept = load_matrix(path, len(rows))
    fresh = {run.fps[i]: values for i, values in run.oos.items()}
    notes: list[str] = []
    if fresh:
        try:
            save_matrix(path, {**kept, **fresh})
        except OSError as exc:
            notes.append(f"the predictions of this run's combinations could not be kept ({exc.strerror})")
    columns = {**kept, **fresh}
    scored = [i for i in run.scores if run.fps[i] in columns]
    if not scored:
        return {"n_tried": 0, "notes": ["no combination's predictions are kept: no selection statistics"]}
    best = run.ranked()[0]
    order = sorted(scored)
    matrix = np.column_stack([columns[run.fps[i]] for i in order])
    stats = selection_of(run.sreq.training(), rows, matrix, selected=order.index(best) if best in order else None)
    stats["best_score"] = run.scores[best]
    stats["notes"] = notes + stats["notes"]
    if len(scored) < len(run.scores):
        stats["notes"].append(f"{len(run.scores) - len(scored)} scored combination(s) without kept predictions")
    return stats
