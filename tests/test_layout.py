"""The layout rules of CONVENTIONS.md that a test can hold: rooms with one job."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from walkforward.features.store import FeatureStore
from walkforward.registry import ModelStore

SRC = Path(__file__).resolve().parents[1] / "src" / "walkforward"
MAX_LINES = 400


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: p.relative_to(SRC).as_posix())
def test_no_module_over_400_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(SRC)} has {lines} lines: split it by purpose"


def test_no_private_reach_into_another_class() -> None:
    """The registry's private helpers stay private (JobStore and ModelStore share a public Database)."""
    reach = re.compile(r"\b(?!self\b|cls\b)\w+\._(engine|transaction|to_json|validate_params)\b")
    offenders = [
        f"{p.relative_to(SRC)}:{n}: {line.strip()}"
        for p in SRC.rglob("*.py")
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if reach.search(line)
    ]
    assert offenders == []


def test_request_fields_are_declared_once() -> None:
    """Only walkforward.request declares the training request's fields (the CLI and API derive from it)."""
    declared = [
        f"{p.relative_to(SRC)}:{n}"
        for p in SRC.rglob("*.py")
        if p.name != "request.py"
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if re.match(
            r"\s*(p_value_threshold|feature_whitelist|use_default_grid|save_all_grid_models|n_trials|early_stopping_rounds)\s*:",
            line,
        )
    ]
    assert declared == []


#: What a command must not pay for unless it uses it (measured: 4-5 s of imports before this rule).
HEAVY = ("numpy", "pandas", "pyarrow", "duckdb", "scipy", "sklearn", "joblib", "talib")
HEAVY += ("sqlalchemy", "alembic", "lightgbm", "xgboost", "shap", "fastapi", "pydantic_settings")


def _imported_by(argv: list[str], env: dict[str, str] | None = None, extra: tuple[str, ...] = ()) -> set[str]:
    """The HEAVY (and ``extra``) modules loaded by running the CLI with ``argv`` in a fresh interpreter."""
    code = (
        "import sys\n"
        f"sys.argv = ['walkforward', *{argv!r}]\n"
        "from walkforward.cli import main\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        f"    print('loaded:' + ','.join(m for m in {HEAVY + extra!r} if m in sys.modules), file=sys.stderr)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    loaded = run.stderr.strip().splitlines()[-1].removeprefix("loaded:")
    return set(filter(None, loaded.split(",")))


@pytest.mark.slow
def test_cli_help_does_not_import_heavy_libraries() -> None:
    """`walkforward --help` loads none of the data, modelling, ORM or service stacks (every command pays it)."""
    assert _imported_by(["--help"]) == set()
    # A command's --help runs the settings callback first (pydantic-settings), and nothing heavier.
    assert _imported_by(["train", "--help"]) <= {"pydantic_settings"}


@pytest.mark.slow
def test_models_list_imports_the_orm_only(tmp_path: Path) -> None:
    """`models list` loads SQLAlchemy and pydantic-settings, but no Alembic or numpy: a new registry is
    built from the declared schema, an up-to-date one is only read."""
    env = {
        **os.environ,
        "METADATA_DB_PATH": str(tmp_path / "metadata.db"),
        "MODELS_DIR": str(tmp_path / "models"),
        "FEATURES_PARQUET_DIR": str(tmp_path / "features"),
    }
    assert _imported_by(["models", "list"], env) == {"sqlalchemy", "pydantic_settings"}  # a new registry
    assert (tmp_path / "metadata.db").exists()
    assert _imported_by(["models", "list"], env) == {"sqlalchemy", "pydantic_settings"}


@pytest.mark.slow
def test_a_search_with_its_selection_statistics_does_not_import_arch(demo_store: FeatureStore, tmp_path: Path) -> None:
    """Every search ends with PBO, DSR and SPA; the SPA is ours, so `arch` (and its 1.2 s of
    statsmodels and matplotlib pieces) stays out of the command (issue 9's 3-second command)."""
    env = {
        **os.environ,
        "METADATA_DB_PATH": str(tmp_path / "metadata.db"),
        "MODELS_DIR": str(tmp_path / "models"),
        "FEATURES_PARQUET_DIR": str(demo_store.root),
    }
    argv = ["search", "AAPL,QQQ", "--algorithm", "elasticnet_regression", "--search", "grid", "--no-explain"]
    loaded = _imported_by([*argv, "--grid", "alpha_grid=[0.01,0.1,1.0]"], env, extra=("arch", "matplotlib"))
    assert "sklearn" in loaded and not loaded & {"arch", "matplotlib"}
    with ModelStore.open(f"sqlite:///{tmp_path / 'metadata.db'}", tmp_path / "models") as registry:
        rows, total = registry.list()
    assert total == 1 and rows[0].cohort_id  # the search ran to its end: its best is registered


def test_head_revisions_read_from_the_files_are_alembics_heads() -> None:
    """The registry skips Alembic when the version table names these heads: they must be Alembic's own."""
    from alembic.script import ScriptDirectory

    from walkforward.registry.database import _head_revisions, alembic_config

    assert _head_revisions() == frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())
