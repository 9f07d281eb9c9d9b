"""The architecture: each leaky dependency in one module, imports pointing one way,
and start-up paths that do not pay for what they do not use."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

PKG = pathlib.Path(__file__).resolve().parents[1] / "gradcheck_cli"


def imports_of(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "").split(".")[0] if node.level == 0 else "." + (node.module or ""))
    return names


MODULES = {p.stem: imports_of(p) for p in PKG.glob("*.py")}


@pytest.mark.parametrize("dependency, owner", [("sympy", {"expression", "expression_precise"}), ("rich", {"report"}), ("typer", {"cli"})])
def test_each_leaky_dependency_lives_in_one_module(dependency, owner):
    users = {name for name, deps in MODULES.items() if dependency in deps}
    assert users <= owner, f"{dependency} imported by {sorted(users - owner)}"


CORE = ["errors", "verdict", "finite_diff", "points", "expression", "choices", "models", "network_fd",
        "diagnosis", "second_order", "sweep", "graph", "descent", "loading", "results", "sanity"]


@pytest.mark.parametrize("module", CORE)
def test_core_modules_do_not_import_views_or_orchestration(module):
    deps = MODULES[module]
    for upper in (".check", ".check_net", ".check_func", ".check_sweep", ".report", ".cli", ".testing"):
        assert upper not in deps, f"{module} imports {upper}"


def _loaded_after(args: list[str]) -> set[str]:
    code = (
        "import sys\n"
        "from gradcheck_cli.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted(m.split('.')[0] for m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split("\n")[-2].split())


def test_help_imports_neither_numpy_nor_sympy():
    mods = _loaded_after(["--help"])
    assert "numpy" not in mods and "sympy" not in mods


def test_expr_imports_sympy_but_not_the_network_code():
    mods = _loaded_after(["expr", "sin(x)", "--quiet"])
    assert "sympy" in mods


def test_net_and_func_do_not_import_sympy(tmp_path):
    assert "sympy" not in _loaded_after(["net", "--dims", "10", "5", "10", "--quiet"])
    (tmp_path / "quad.py").write_text("import numpy as np\ndef quad(x):\n    return np.sum(x**2), 2*x\n")
    assert "sympy" not in _loaded_after(["func", str(tmp_path / "quad.py") + ":quad", "--quiet"])
