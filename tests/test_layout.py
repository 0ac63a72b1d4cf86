"""The architecture as a test: which of our packages may import which."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"contracts", "policies", "connectors", "hub"}
ALLOWED = {
    "contracts": set(),
    "policies": {"contracts"},
    "connectors": {"contracts"},
    "hub": {"contracts", "policies", "connectors"},
}
ONLY_IN_HUB = {"fastapi", "starlette", "sqlalchemy", "uvicorn"}
READS_A_SOURCE_DATABASE = {Path("connectors/police_db.py")}
"""A connector may use SQLAlchemy to read its source system, never the hub's store."""


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_run_one_way(package: str) -> None:
    offenders = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _modules(package)
        for name in _imports(path) & OURS
        if name != package and name not in ALLOWED[package]
    }
    assert not offenders


@pytest.mark.parametrize("package", ["contracts", "policies", "connectors"])
def test_only_the_hub_knows_the_web_framework_and_the_database(package: str) -> None:
    offenders = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _modules(package)
        for name in _imports(path) & ONLY_IN_HUB
        if not (name == "sqlalchemy" and path.relative_to(ROOT) in READS_A_SOURCE_DATABASE)
    }
    assert not offenders


def test_the_rule_checker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from hub.store import Store\nimport contracts.codes\n")
    assert _imports(bad) == {"hub", "contracts"}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_public_names_exist(package: str) -> None:
    module = importlib.import_module(package)
    for name in getattr(module, "__all__", []):
        assert hasattr(module, name), f"{package}.__all__ names missing {name}"
    for info in pkgutil.walk_packages(module.__path__, prefix=f"{package}."):
        importlib.import_module(info.name)
