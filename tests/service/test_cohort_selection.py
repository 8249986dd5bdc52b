"""A cohort's selection statistics (PBO, DSR, SPA) by every road: the same numbers, never stale.

The cohort modal draws the siblings from ``GET /cohorts/{id}?selection=kept`` and the statistics
from ``GET /cohorts/{id}/explore?selection=true`` when they were not kept; the CLI and
``GET /cohorts/{id}`` compute them as before. All must give what
:func:`walkforward.training.evaluate.cohort_selection` gives on the same records, and the file a
search leaves (``MODELS_DIR/cohorts/{cohort}.selection.json``) must serve only the members it was
computed for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from walkforward import queries, selection_cache
from walkforward.cli import app as cli_app
from walkforward.features.store import FeatureStore
from walkforward.model_selection.executors import LocalExecutor
from walkforward.registry import ModelStore
from walkforward.registry.artifacts import cohort_explore_file, cohort_predictions_file, cohort_selection_file
from walkforward.search import SearchRequest, run_search
from walkforward.search.selection import load_matrix
from walkforward.service import Services
from walkforward.training.evaluate import cohort_selection


def _search(registry: ModelStore, store: FeatureStore) -> str:
    """A real 6-model elastic-net cohort (every model saved, predictions kept); its id."""
    req = SearchRequest(
        symbol="AAPL,QQQ",
        algorithm="elasticnet_regression",
        timeframe="5m",
        target_transform="log_return",
        embargo=12,
        p_value_threshold=1.0,
        search="grid",
        grids={"alpha_grid": [1e-4, 1e-3, 1e-2], "l1_ratio_grid": [0.2, 0.9]},
        save_all_grid_models=True,
        explain=False,
    )
    return run_search(req, store=store, registry=registry, executor=LocalExecutor(n_jobs=1)).cohort_id


def _direct(registry: ModelStore, cohort_id: str) -> dict[str, Any]:
    """The statistics as computed before they were kept anywhere: the function, on the records."""
    path = cohort_predictions_file(registry.models_dir, cohort_id)
    return cohort_selection(registry.cohort(cohort_id), registry.load_predictions, lambda n: load_matrix(path, n))


@pytest.fixture()
def searched(app_services: Services, service_store: Path) -> Iterator[str]:
    selection_cache.clear()
    cohort_id = _search(app_services.registry, FeatureStore(service_store))
    yield cohort_id
    selection_cache.clear()


def test_every_road_gives_the_statistics_of_the_records(
    searched: str, app_services: Services, make_app: Callable[..., Any], service_store: Path
) -> None:
    registry = app_services.registry
    expected = _direct(registry, searched)
    assert expected["n_tried"] == 6 and "dsr" in expected and "spa" in expected
    # The search kept them (and the explore view) beside the models, under the key of its members.
    assert cohort_selection_file(registry.models_dir, searched).exists()
    assert cohort_explore_file(registry.models_dir, searched).exists()
    selection_cache.clear()  # a freshly started server: nothing in memory
    client = TestClient(make_app())
    kept = client.get(f"/cohorts/{searched}", params={"selection": "kept"}).json()
    assert kept["selection"] == expected  # read from the file, no statistics computed
    bare = client.get(f"/cohorts/{searched}", params={"selection": "false"}).json()
    full = client.get(f"/cohorts/{searched}").json()
    assert bare["selection"] is None and full["selection"] == expected
    assert bare["models"] == full["models"] == kept["models"] and len(full["models"]) == 6
    assert [m["cohort_rank"] for m in full["models"]] == [1, 2, 3, 4, 5, 6]
    explored = client.get(f"/cohorts/{searched}/explore", params={"selection": "true"}).json()
    plain = client.get(f"/cohorts/{searched}/explore").json()
    assert explored.pop("selection") == expected and explored == plain and "selection" not in plain
    assert client.get(f"/cohorts/{searched}", params={"selection": "maybe"}).status_code == 422
    env = {
        "FEATURES_PARQUET_DIR": str(service_store),
        "MODELS_DIR": str(registry.models_dir),
        "METADATA_DB_PATH": str(app_services.settings.metadata_db_path),
    }
    res = CliRunner(env=env).invoke(cli_app, ["models", "cohort", searched, "--json"], catch_exceptions=False)
    assert res.exit_code == 0 and json.loads(res.stdout)["selection"] == expected


def test_a_kept_file_serves_only_the_members_it_was_computed_for(searched: str, app_services: Services) -> None:
    registry = app_services.registry
    file = cohort_selection_file(registry.models_dir, searched)
    kept = json.loads(file.read_text())
    # What the file holds is what is served (proof that it is read, not recomputed) ...
    file.write_text(json.dumps({"key": kept["key"], "value": {"n_tried": -1, "notes": ["from the file"]}}))
    selection_cache.clear()
    assert queries.cohort(registry, searched, selection="kept").selection == {"n_tried": -1, "notes": ["from the file"]}
    # ... but only for its members: one deleted, the key changes and the file is not used.
    last = registry.cohort(searched)[-1]
    registry.delete(last.id)
    selection_cache.clear()
    assert queries.cohort(registry, searched, selection="kept").selection is None
    expected = _direct(registry, searched)
    assert queries.cohort(registry, searched).selection == expected != {"n_tried": -1, "notes": ["from the file"]}
    assert json.loads(file.read_text())["key"] != kept["key"]  # recomputed and kept under the new key
    explored = queries.cohort_explore(registry, searched)  # the kept explore view is not served either
    assert sorted(t["model_id"] for t in explored["trials"]) == sorted(r.id for r in registry.cohort(searched))
    selection_cache.clear()
    assert queries.cohort(registry, searched, selection="kept").selection == expected
    # An unreadable file is ignored (recomputed), and the cohort's deletion removes it.
    file.write_text("{not json")
    selection_cache.clear()
    assert queries.cohort(registry, searched).selection == expected
    registry.delete_cohort(searched)
    assert not file.exists() and not cohort_explore_file(registry.models_dir, searched).exists()
