"""The package's imports run one way, down the data path (see docs/architecture.md).

The units are the top-level modules and the folders (config/, api/, jobs/, parsing/, output/):
a unit imports only units on later lines. Inside a folder, modules import each other freely
(Python itself refuses a cycle at import time); across folders, only downward.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "tap_voucherify_exports"

LAYERS = [
    {"tap"},
    {"cli"},
    {"probe"},
    {"streams"},
    {"export_stream", "list_stream"},
    {"routing"},
    {"session"},
    {"output"},
    {"parsing"},
    {"jobs"},
    {"api"},
    {"schemas"},
    {"config"},
    {"errors"},
    {"fields", "redaction"},
]
RANK = {unit: rank for rank, layer in enumerate(LAYERS) for unit in layer}


def _unit(path: Path) -> str:
    """The folder a module is in, or the module itself at the top level."""
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _modules() -> list[Path]:
    return sorted(
        path
        for path in PACKAGE.rglob("*.py")
        if path.name not in {"__main__.py"}
        and not (path.parent == PACKAGE and path.stem == "__init__")
    )


def _own_imports(path: Path) -> set[str]:
    """The units of this package that `path` imports (by absolute import; relative ones fail)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import; import by the package's name"
            names = [node.module or ""]
            if node.module == "tap_voucherify_exports":
                names = [f"tap_voucherify_exports.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            if name.startswith("tap_voucherify_exports."):
                found.add(name.split(".")[1])
    return found


def test_every_module_and_folder_has_a_place_in_the_layers() -> None:
    units = {_unit(path) for path in _modules()}
    assert units <= set(RANK), f"place these in LAYERS: {sorted(units - set(RANK))}"


@pytest.mark.parametrize("path", _modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_a_module_imports_only_units_below_its_own(path: Path) -> None:
    unit = _unit(path)
    upward = {
        name for name in _own_imports(path) - {unit} if RANK.get(name, len(LAYERS)) <= RANK[unit]
    }
    assert not upward, f"{path.name} ({unit}) imports {sorted(upward)}, which sit at or above it"


def test_no_module_is_imported_under_another_name() -> None:
    renamed = [
        f"{path.relative_to(PACKAGE)}: {alias.name} as {alias.asname}"
        for path in _modules()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tap_voucherify")
        for alias in node.names
        if alias.asname
    ]
    assert not renamed


def test_the_test_fails_on_an_arrow_that_runs_back_up(tmp_path: Path) -> None:
    module = tmp_path / "probe.py"
    module.write_text("from tap_voucherify_exports.tap import TapVoucherifyExports\n")
    assert _own_imports(module) == {"tap"}
    assert RANK["tap"] <= RANK["probe"]


def test_every_folder_is_a_regular_package_so_the_wheel_holds_it() -> None:
    # setuptools' package discovery (pyproject.toml) skips a folder without __init__.py: an
    # editable install would still work, a built wheel would lack the folder.
    folders = {path.parent for path in PACKAGE.rglob("*.py")} - {PACKAGE}
    missing = sorted(
        str(f.relative_to(PACKAGE)) for f in folders if not (f / "__init__.py").exists()
    )
    assert not missing, f"add __init__.py to {missing}"
