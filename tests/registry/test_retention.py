"""Retention (`models prune`): old cohorts keep their best and the ancestors of kept models; the rest goes.

The choice is checked as an invariant on generated registries (hypothesis), then on both backends
with real files, and through the real CLI (dry run first, ``--yes`` to delete).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from walkforward.cli import app
from walkforward.errors import InvalidInputError
from walkforward.registry import ModelRecord, ModelStore, NewModel
from walkforward.registry._schema import models
from walkforward.registry.retention import PruneRow, choose, parse_age

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@st.composite
def registries(draw: st.DrawFn) -> tuple[list[PruneRow], dict[str, str], set[str]]:
    """Candidates of old cohorts, parent links among all models, and the ids outside old cohorts."""
    n = draw(st.integers(1, 25))
    ids = [f"m{i}" for i in range(n)]
    candidates: list[PruneRow] = []
    others: set[str] = set()
    for i, model_id in enumerate(ids):
        cohort = draw(st.sampled_from(["c1", "c2", "c3", None]))
        if cohort is None:
            others.add(model_id)
            continue
        candidates.append(
            PruneRow(
                id=model_id,
                cohort_id=cohort,
                algorithm="ridge",
                symbol="AAPL",
                cv_score=draw(st.one_of(st.none(), st.floats(-1, 1))),
                cohort_rank=draw(st.one_of(st.none(), st.integers(1, 5))),
                created_at=T0 + dt.timedelta(minutes=i),
                artifact_path=f"{model_id}.joblib",
            )
        )
    parent_of = {child: draw(st.sampled_from(ids)) for child in ids if draw(st.booleans())}
    return candidates, parent_of, others


@given(registries())
def test_prune_keeps_each_best_and_every_ancestor_of_a_kept_model(
    case: tuple[list[PruneRow], dict[str, str], set[str]],
) -> None:
    candidates, parent_of, others = case
    delete, best, parents = choose(candidates, parent_of)
    deleted = {r.id for r in delete}
    all_ids = {r.id for r in candidates} | others
    kept = all_ids - deleted
    assert deleted <= {r.id for r in candidates}  # models outside old cohorts are never pruned
    for cohort in {r.cohort_id for r in candidates}:
        members = [r for r in candidates if r.cohort_id == cohort]
        assert len(set(best) & {r.id for r in members}) == 1  # each old cohort keeps exactly one best
    for child, parent in parent_of.items():
        if child in kept and parent in all_ids:
            assert parent in kept  # no kept model loses its lineage
    for r in candidates:  # and nothing more is kept than those two rules ask
        if r.id in kept and r.id not in best:
            assert any(parent_of.get(k) == r.id for k in kept - {r.id})
    assert set(parents).isdisjoint(deleted)


def _aged(store: ModelStore, ids: list[str], days: float) -> None:
    when = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    with store.database.transaction(write=True) as conn:
        conn.execute(sa.update(models).where(models.c.id.in_(ids)).values(created_at=when))


def _population(store: ModelStore, new_model: Callable[..., NewModel]) -> dict[str, ModelRecord]:
    """Cohort A (old, ranked), cohort B (new, child of A's third), cohort C (old, unranked), a lone old model."""
    p: dict[str, ModelRecord] = {}
    for i, name in enumerate(["a1", "a2", "a3", "a4"], start=1):
        p[name] = store.add(new_model(cohort_id="A", cohort_rank=i, cv_score=1.0 - i / 10), {"m": name})
    p["b1"] = store.add(new_model(cohort_id="B", cv_score=0.1, parent_model_id=p["a3"].id), {"m": "b1"})
    p["c1"] = store.add(new_model(cohort_id="C", cv_score=0.5), {"m": "c1"})
    p["c2"] = store.add(new_model(cohort_id="C", cv_score=0.7), {"m": "c2"})
    p["lone"] = store.add(new_model(cv_score=0.0), {"m": "lone"})
    # a4 is a2's parent: a2 goes, so nothing kept needs a4 either.
    with store.database.transaction(write=True) as conn:
        conn.execute(sa.update(models).where(models.c.id == p["a2"].id).values(parent_model_id=p["a4"].id))
    _aged(store, [p[n].id for n in ("a1", "a2", "a3", "a4", "c1", "c2", "lone")], days=45)
    return p


def _files(store: ModelStore) -> set[str]:
    return {path.name for path in store.models_dir.iterdir()}


def test_prune_lists_then_deletes_rows_and_files_together(
    store: ModelStore, new_model: Callable[..., NewModel]
) -> None:
    p = _population(store, new_model)
    before = _files(store)
    plan = store.prune(dt.timedelta(days=30))
    assert not plan.applied and sorted(plan.cohorts) == ["A", "C"]
    assert {r.id for r in plan.delete} == {p["a2"].id, p["a4"].id, p["c1"].id}
    assert set(plan.kept_best) == {p["a1"].id, p["c2"].id} and list(plan.kept_parents) == [p["a3"].id]
    assert _files(store) == before and store.list()[1] == 8  # a dry run deletes nothing

    done = store.prune(dt.timedelta(days=30), apply=True)
    assert {r.id for r in done.delete} == {r.id for r in plan.delete}
    gone = {p[n].id for n in ("a2", "a4", "c1")}
    left = {r.id for r in store.list(limit=100)[0]}
    assert left == {r.id for r in p.values()} - gone
    assert _files(store) == {f"{i}.joblib" for i in left}
    assert store.prune(dt.timedelta(days=30)).delete == ()  # nothing more to prune
    assert store.prune(dt.timedelta(days=60)).cohorts == ()  # no cohort is that old


def test_prune_through_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, new_model: Callable[..., NewModel]
) -> None:
    monkeypatch.setenv("MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("METADATA_DB_PATH", str(tmp_path / "meta.db"))
    monkeypatch.delenv("METADATA_DB_URL", raising=False)
    with ModelStore.open(f"sqlite:///{tmp_path / 'meta.db'}", tmp_path / "models") as store:
        p = _population(store, new_model)
    runner = CliRunner()
    listed = runner.invoke(
        app, ["models", "prune", "--older-than", "30d"], catch_exceptions=False, env={"COLUMNS": "200"}
    )
    assert listed.exit_code == 0, listed.output
    assert "Would delete 3 model(s) of 2 cohort(s) older than 30d" in listed.stdout
    assert "run again with --yes to delete" in listed.stdout
    dry = runner.invoke(app, ["models", "prune", "--older-than", "30d", "--json"], catch_exceptions=False)
    assert not json.loads(dry.stdout)["applied"]
    assert {m["id"] for m in json.loads(dry.stdout)["delete"]} == {p["a2"].id, p["a4"].id, p["c1"].id}
    assert len(list((tmp_path / "models").iterdir())) == 8
    done = runner.invoke(app, ["models", "prune", "--older-than", "30d", "--yes", "--json"], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    payload = json.loads(done.stdout)
    assert payload["applied"] and payload["deleted"] == 3 and payload["cohorts"] == 2
    assert {m["id"] for m in payload["delete"]} == {p["a2"].id, p["a4"].id, p["c1"].id}
    assert len(list((tmp_path / "models").iterdir())) == 5


@pytest.mark.parametrize("text", ["30", "thirty days", "-1d", "3y"])
def test_a_bad_age_is_refused_in_one_line(text: str) -> None:
    with pytest.raises(InvalidInputError, match=r"^invalid age .*: use a number and a unit s, m, h, d or w"):
        parse_age(text)
