"""The layers are a contract: `lint-imports` checks the [tool.importlinter]
contracts of pyproject.toml (web and cli -> services -> workflow, policy,
domain -> models; no import cycles, function-local imports included)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    found = str(exe) if exe.exists() else shutil.which("lint-imports")
    assert found, "lint-imports is missing: pip install -e '.[test]' (import-linter is in the test extra)"
    command = [found]
    return subprocess.run(command + ["--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(cwd)})


def test_the_layer_contract_holds():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "supervise", tmp_path / "supervise", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_an_import_up_a_floor_inside_a_function_breaks_it(tmp_path):
    root = _copy(tmp_path)
    with open(root / "supervise" / "domain" / "lights.py", "a", encoding="utf-8") as f:
        f.write("\n\ndef _shortcut():\n    from ..services import plans  # noqa: F401\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "supervise.domain.lights -> supervise.services.plans" in result.stdout


def test_a_cycle_between_two_pages_breaks_it(tmp_path):
    root = _copy(tmp_path)
    with open(root / "supervise" / "web" / "reports.py", "a", encoding="utf-8") as f:
        f.write("\n\ndef _shortcut():\n    from .tasks import bp  # noqa: F401\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "No cycles are allowed in supervise.web" in result.stdout


def test_the_domain_floor_writing_the_audit_trail_breaks_it(tmp_path):
    root = _copy(tmp_path)
    with open(root / "supervise" / "domain" / "obligations.py", "a", encoding="utf-8") as f:
        f.write("\n\ndef _shortcut():\n    from ..audit import record  # noqa: F401\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "supervise.domain is not allowed to import supervise.audit" in result.stdout
