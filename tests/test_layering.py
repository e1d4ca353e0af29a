"""Project-wide rules that a grep can check: layering (DESIGN.md) and no fastmath anywhere."""

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: Each package may import only the ones above it.
ALLOWED = {
    "precision": set(),
    "simulator": {"precision"},
    "models": {"precision", "simulator"},
    "lowbit": {"precision", "simulator", "models"},
    "explorer_app": {"precision", "simulator", "models", "lowbit"},
}


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_packages_import_only_the_layers_above(package):
    """precision -> simulator -> models -> lowbit -> explorer_app, never upward."""
    offenders = {}
    for path in sorted((REPO / package).rglob("*.py")):
        bad = _imported_packages(path) - ALLOWED[package] - {package}
        if bad:
            offenders[str(path.relative_to(REPO))] = sorted(bad)
    assert offenders == {}


def test_no_fastmath_in_the_library():
    """contract/reassoc change rounding: no kernel may turn fastmath on."""
    pattern = re.compile(r"fastmath\s*=\s*(True|\{|\[|\"|')")
    hits = [str(p.relative_to(REPO)) for pkg in ALLOWED for p in (REPO / pkg).rglob("*.py")
            if pattern.search(p.read_text())]
    assert hits == []
