"""The architecture: folders are layers, imports point one way, no cycles, each leaky
dependency in one place, and start-up paths that do not pay for what they do not use.

Layers, lowest first: the core (every top-level module but ``cli``, ``testing`` and the
package files, plus the ``blackbox`` and ``expression`` packages), then ``checks`` and
``views`` side by side, then ``cli`` and ``testing`` which join them.  Inside the core,
imports point one way: (blackbox, network, usercode, expression, referee) -> (verdict,
finite_diff) -> (errors, choices); ``blackbox/`` and the network code take callables and
never import users' code handling or the expression package; no module imports another's
``_private`` name.  Every import counts, including those inside functions (relative ones
resolved: ``from . import x``, ``from ..x import y``).
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

PKG = pathlib.Path(__file__).resolve().parents[1] / "gradcheck_cli"


def module_name(path: pathlib.Path) -> str:
    """``checks/net.py`` -> ``checks.net``; ``expression/__init__.py`` -> ``expression``."""
    parts = list(path.relative_to(PKG).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(current: str, is_package: bool, level: int, target: str | None) -> str:
    base = current.split(".") if current else []
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, *(target.split(".") if target else [])])


def imports_of(path: pathlib.Path) -> tuple[set[str], set[str]]:
    """(modules of this package it imports, top-level external packages it imports)."""
    name, is_package = module_name(path), path.name == "__init__.py"
    internal, external = set(), set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for a in node.names:
                top = a.name.split(".")[0]
                if top == "gradcheck_cli":
                    internal.add(a.name.removeprefix("gradcheck_cli").lstrip("."))
                else:
                    external.add(top)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                top = (node.module or "").split(".")[0]
                if top == "gradcheck_cli":
                    base = (node.module or "").removeprefix("gradcheck_cli").lstrip(".")
                    internal |= {".".join(p for p in (base, a.name) if p) for a in node.names}
                else:
                    external.add(top)
            else:
                base = _resolve(name, is_package, node.level, node.module)
                # `from . import x` names a module x; `from .m import f` names module m
                for a in node.names:
                    internal.add(".".join(p for p in (base, a.name) if p) if node.module is None else base)
    return internal, external


FILES = {module_name(p): p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts}
NAMES = set(FILES)
IMPORTS = {}
EXTERNAL = {}
for _name, _path in FILES.items():
    _internal, EXTERNAL[_name] = imports_of(_path)
    # an imported name that is not a module (a function) stands for its module
    IMPORTS[_name] = {n if n in NAMES else n.rpartition(".")[0] for n in _internal} - {"", _name}


def layer(name: str) -> str:
    top = name.split(".")[0]
    if top in ("checks", "views"):
        return top
    if top in ("cli", "testing", "__main__", ""):
        return "shell"
    return "core"


CORE = sorted(n for n in NAMES if layer(n) == "core")
ALLOWED = {"core": {"core"}, "checks": {"core", "checks"}, "views": {"core", "views"},
           "shell": {"core", "checks", "views", "shell"}}


def test_the_map_is_read():
    # the reader resolves relative imports: these arrows exist today
    assert "checks.common" in IMPORTS["checks.net"]
    assert "results" in IMPORTS["views.table"]
    assert "expression" in IMPORTS["checks.expr"]
    assert {"verdict", "finite_diff", "network.model", "expression", "usercode.function"} <= set(CORE)


@pytest.mark.parametrize("dependency, owner", [("sympy", "expression"), ("rich", "views"), ("typer", "cli"),
                                               ("torch", "torch_layer")])
def test_each_leaky_dependency_lives_in_one_place(dependency, owner):
    users = {n for n, deps in EXTERNAL.items() if dependency in deps}
    assert users, f"nobody imports {dependency}: the test reads nothing"
    assert all(n.split(".")[0] == owner for n in users), f"{dependency} imported by {sorted(users)}"


@pytest.mark.parametrize("module", sorted(NAMES))
def test_imports_point_down(module):
    upward = {d for d in IMPORTS[module] if layer(d) not in ALLOWED[layer(module)]}
    assert not upward, f"{module} ({layer(module)}) imports {sorted(upward)} from a layer above or beside it"


NETWORK = sorted(n for n in NAMES if n == "network" or n.startswith("network."))


def test_the_network_package_is_read():
    assert {"network.model", "network.kernels", "network.dense", "network.series", "network.exact", "network.precise",
            "network.differences", "network.directions"} <= set(NETWORK)
    assert "network.kernels" in IMPORTS["network.series"]


@pytest.mark.parametrize("module", NETWORK)
def test_the_network_never_imports_user_code_or_expressions(module):
    bad = {d for d in IMPORTS[module]
           if d.split(".")[0] in ("loading", "usercode", "expression", "checks", "views", "cli")}
    assert not bad, f"{module} imports {sorted(bad)}"


def test_the_network_model_imports_nothing_of_the_differences():
    # the old models.kink_mask -> network_fd cycle: the model is the bottom of the package,
    # above only the exact products (a leaf)
    assert {d for d in IMPORTS["network.model"] if d.startswith("network.")} <= {"network.exact"}
    assert not {d for d in IMPORTS["network.exact"] if d.startswith("network")}


@pytest.mark.parametrize("module", NETWORK)
def test_the_network_imports_no_private_name(module):
    tree = ast.parse(FILES[module].read_text())
    private = [a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
               for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
    assert not private, f"{module} imports private names {private}"


#: command modules that use another's public library call: sanity runs ``check_gradient``
#: (``checks.func``) as a user would
COMMAND_USES = {("checks.sanity", "checks.func")}


def test_no_command_module_imports_another():
    commands = [n for n in NAMES if n.startswith("checks.") and n not in ("checks.common",)]
    for n in commands:
        others = {d for d in IMPORTS[n] if d.startswith("checks.") and d != "checks.common" and (n, d) not in COMMAND_USES}
        assert not others, f"{n} imports the command module(s) {sorted(others)}"


# ------------------------------------------------------------------ the order inside the core
def group(name: str) -> str | None:
    """The core's named rooms (today's single modules stand for the packages they become)."""
    top = name.split(".")[0]
    if top in ("blackbox", "network", "models", "network_fd"):
        return "network" if top != "blackbox" else "blackbox"
    if top in ("usercode", "loading"):
        return "usercode"
    if top in ("expression", "referee"):
        return top
    return top if top in ("verdict", "finite_diff", "errors", "choices") else None


#: rank of each room: a module imports only rooms of a lower rank (or its own room)
RANK = {"blackbox": 3, "network": 3, "usercode": 3, "expression": 3, "referee": 3,
        "verdict": 1, "finite_diff": 1, "errors": 0, "choices": 0}


@pytest.mark.parametrize("module", sorted(n for n in NAMES if group(n) in RANK))
def test_the_core_is_ordered(module):
    mine = RANK[group(module)]
    above = {d for d in IMPORTS[module] if group(d) in RANK and group(d) != group(module) and RANK[group(d)] >= mine}
    assert not above, f"{module} imports {sorted(above)}, which is not below it"
    if mine <= 1:  # the verdict core imports nothing but the rooms below it
        assert all(group(d) in RANK and RANK[group(d)] < mine for d in IMPORTS[module]), sorted(IMPORTS[module])


#: what the black box may use: the verdict core, the per-block verdict and the result types
BLACKBOX_USES = {"errors", "choices", "verdict", "finite_diff", "blocks", "results"}


@pytest.mark.parametrize("module", sorted(n for n in NAMES if group(n) in ("blackbox", "network")))
def test_blackbox_and_network_take_callables_not_users_code(module):
    forbidden = {d for d in IMPORTS[module] if group(d) in ("usercode", "expression")}
    assert not forbidden, f"{module} imports {sorted(forbidden)}"
    allowed = {"numpy", "__future__", "math", "time", "dataclasses", "enum", "typing",
               "functools", "itertools", "collections", "contextlib", "warnings", "os", "threadpoolctl"}
    if module == "network.refine":  # the few entries longdouble cannot settle: samples in mpmath (issue 16)
        allowed = allowed | {"mpmath"}
    assert EXTERNAL[module] <= allowed
    if group(module) == "blackbox":
        assert {d for d in IMPORTS[module] if not d.startswith("blackbox")} <= BLACKBOX_USES, sorted(IMPORTS[module])


def private_imports(name: str, source: str, is_package: bool = False) -> set[tuple[str, str]]:
    """``(module, name)`` of every ``_private`` name that module ``name`` imports from another."""
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            base = (_resolve(name, is_package, node.level, node.module) if node.level
                    else (node.module or "").removeprefix("gradcheck_cli").lstrip("."))
            if node.level == 0 and not (node.module or "").startswith("gradcheck_cli"):
                continue
            for a in node.names:
                if a.name.startswith("_") and not a.name.startswith("__") and base != name:
                    out.add((base, a.name))
    return out


#: exceptions to the rule (none: return validation moved to usercode/protocols.py)
PRIVATE_ALLOWED: set = set()


@pytest.mark.parametrize("module", sorted(NAMES))
def test_no_module_imports_another_modules_private_names(module):
    path = FILES[module]
    found = {(module, p) for p in private_imports(module, path.read_text(), path.name == "__init__.py")}
    found -= PRIVATE_ALLOWED
    assert not found, f"{module} imports private names {sorted(p for _, p in found)}"


def test_the_private_import_check_can_fail():
    source = "from .common import _helper, public\nfrom ..verdict import _rel\nfrom . import _x\nfrom .layer import __all__\n"
    assert private_imports("checks.net", source) == {("checks.common", "_helper"), ("verdict", "_rel"), ("checks", "_x")}
    assert private_imports("checks.common", "from .common import _helper\n") == set()  # its own names


def test_no_import_cycle():
    graph = {n: {d for d in IMPORTS[n] if d in NAMES and d != ""} for n in NAMES}
    # a package's __init__ re-exporting its modules is not a cycle through them
    graph = {n: {d for d in deps if not (n.startswith(d + ".") )} for n, deps in graph.items()}
    state: dict[str, int] = {}

    def visit(n: str, path: list[str]) -> None:
        state[n] = 1
        for d in sorted(graph[n]):
            if state.get(d) == 1:
                cycle = path[path.index(d):] + [d] if d in path else [n, d]
                raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
            if d not in state:
                visit(d, path + [d])
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n, [n])


def test_the_cycle_check_can_fail(monkeypatch):
    monkeypatch.setitem(IMPORTS, "verdict", IMPORTS["verdict"] | {"results"})
    with pytest.raises(AssertionError, match="import cycle"):
        test_no_import_cycle()


def _loaded_after(args: list[str]) -> set[str]:
    code = (
        "import sys\n"
        "from gradcheck_cli.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split("\n")[-2].split())


def _tops(mods: set[str]) -> set[str]:
    return {m.split(".")[0] for m in mods}


@pytest.mark.slow
def test_help_imports_neither_numpy_nor_sympy():
    mods = _tops(_loaded_after(["--help"]))
    assert "numpy" not in mods and "sympy" not in mods


@pytest.mark.slow
def test_expr_imports_sympy_but_not_the_network_code():
    mods = _loaded_after(["expr", "sin(x)", "--quiet"])
    assert "sympy" in _tops(mods)
    assert not {"gradcheck_cli.network.model", "gradcheck_cli.network.differences", "gradcheck_cli.usercode"} & mods


@pytest.mark.slow
def test_net_and_func_do_not_import_sympy(tmp_path):
    assert "sympy" not in _tops(_loaded_after(["net", "--dims", "10", "5", "10", "--quiet"]))
    (tmp_path / "quad.py").write_text("import numpy as np\ndef quad(x):\n    return np.sum(x**2), 2*x\n")
    assert "sympy" not in _tops(_loaded_after(["func", str(tmp_path / "quad.py") + ":quad", "--quiet"]))


#: the adaptive search's modules, lowest first: each imports only those before it
SEARCH_MODULES = ["blackbox.outcome", "blackbox.engine", "blackbox.block", "blackbox.collective", "blackbox.search"]


@pytest.mark.parametrize("k", range(len(SEARCH_MODULES)))
def test_the_search_modules_import_downward(k):
    module = SEARCH_MODULES[k]
    assert module in NAMES
    above = {d for d in IMPORTS[module] if d in SEARCH_MODULES[k:]}
    assert not above, f"{module} imports {sorted(above)}, which is not below it"


def test_the_search_order_check_can_fail(monkeypatch):
    monkeypatch.setitem(IMPORTS, "blackbox.outcome", IMPORTS["blackbox.outcome"] | {"blackbox.engine"})
    with pytest.raises(AssertionError, match="not below it"):
        test_the_search_modules_import_downward(0)
