"""The package's imports run one way, down the data path (see the style guide)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "tap_voucherify_exports"

# Each module may import only modules on later lines (the ground floor imports nothing of ours).
LAYERS = [
    {"tap"},
    {"probe"},
    {"stream_types"},
    {"streams"},
    {"record_paths"},
    {"session", "batch"},
    {"fastpath"},
    {"parallel"},
    {"pipeline", "polling"},
    {"exports"},
    {"client", "records", "refused"},
    {"converters", "singer_lines", "memory"},
    {"auth", "output", "schemas", "columns", "ratelimit"},
    {"settings", "windows", "fields", "progress"},
    {"setting_values"},
    {"errors"},
    {"redaction"},
]
RANK = {module: rank for rank, layer in enumerate(LAYERS) for module in layer}


def _own_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            if name.startswith("tap_voucherify_exports."):
                found.add(name.split(".")[1])
    return found


def test_every_module_has_a_place_in_the_layers() -> None:
    modules = {path.stem for path in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    assert modules <= set(RANK), f"place these in LAYERS: {sorted(modules - set(RANK))}"


@pytest.mark.parametrize("module", sorted(RANK))
def test_a_module_imports_only_modules_below_it(module: str) -> None:
    path = PACKAGE / f"{module}.py"
    if not path.exists():
        pytest.skip(f"{module}.py does not exist")
    upward = {name for name in _own_imports(path) if RANK.get(name, len(LAYERS)) <= RANK[module]}
    assert not upward, f"{module} imports {sorted(upward)}, which sit at or above it"
