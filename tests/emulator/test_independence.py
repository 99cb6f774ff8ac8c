"""The emulator is the independent judge of the product: nothing under local/ imports it but the modules that
drive the product against it (the demo, the pipeline runner and the break-glass API's wiring, `python -m
local`)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LOCAL = Path(__file__).resolve().parents[2] / "local"
# The drivers run the product against the local AWS; they are the modules allowed to import it (the local AWS
# itself never does).
ALLOWED = {
    LOCAL / name
    for name in ("demo.py", "runner.py", "breakglass_api.py", "__main__.py", "baseline_key.py", "deployed.py")
}
EMULATOR_MODULES = sorted(p for p in LOCAL.rglob("*.py") if p not in ALLOWED)


def imported_modules(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", EMULATOR_MODULES, ids=lambda p: str(p.relative_to(LOCAL)))
def test_no_emulator_module_imports_the_product(path: Path) -> None:
    source = path.read_text()
    imported = imported_modules(source)
    assert not {m for m in imported if m == "access_guard" or m.startswith("access_guard.")}
    # nor reaches it by name at run time (importlib, __import__)
    assert "access_guard" not in source


def test_the_check_sees_an_import_of_the_product() -> None:
    assert "access_guard.policies" in imported_modules("from access_guard.policies import ADMIN_POLICY_ARN")
    assert "access_guard" in imported_modules("import access_guard")
