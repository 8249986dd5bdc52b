"""The layout rules of CONVENTIONS.md that a test can hold: rooms with one job."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

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
            r"\s*(p_value_threshold|feature_whitelist|use_default_grid|save_all_grid_models|n_trials)\s*:", line
        )
    ]
    assert declared == []


@pytest.mark.slow
def test_cli_help_does_not_import_heavy_libraries() -> None:
    """`walkforward --help` loads no booster, SHAP, SQLAlchemy or FastAPI (start-up is paid by every command)."""
    code = (
        "import sys\n"
        "from walkforward.cli import app\n"
        "heavy = [m for m in ('lightgbm', 'xgboost', 'shap', 'sqlalchemy', 'fastapi', 'alembic') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == ""
