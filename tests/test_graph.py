"""Computation graph (`graph.py`, `expr --graph`) and derivations (`--show-steps`, `--latex`)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gradcheck_cli import expression as ex
from gradcheck_cli import graph as graph_module
from gradcheck_cli.checks.expr import check_expression
from gradcheck_cli.errors import DomainError, OptionError
from gradcheck_cli.graph import build_graph
from gradcheck_cli.cli import ExitCode


def node(g, label):
    (n,) = [n for n in g.nodes if n.label == label]
    return n


def test_the_course_circuit():
    # (x + y) * z at x=-2, y=5, z=-4: q = 3, f = -12, df/dz = 3, df/dq = -4, df/dx = df/dy = -4
    g = build_graph(ex.parse("(x+y)*z").expr, ["x", "y", "z"], [-2, 5, -4])
    root = g.nodes[g.root]
    assert (root.value, root.grad, root.kind) == (-12.0, 1.0, "mul")
    q = node(g, "x + y")
    assert (q.value, q.grad, q.kind) == (3.0, -4.0, "add")
    assert g.variable_grads == {"x": -4.0, "y": -4.0, "z": 3.0}
    assert node(g, "z").value == -4.0
    assert sorted(g.nodes[c].label for c in root.children) == ["x + y", "z"]


TEXT = "sin(x)*cos(x) + sin(x) + x/y - sigmoid(x*y) + max(x, y) + 2**x + sqrt(2)*x + log(x*y, 3) + atan2(y, x)"


@pytest.mark.parametrize("point", [(0.3, 1.7), (1.9, 0.4), (-0.5, -2.5)])
def test_backward_values_of_variables_equal_sympys_partials(point):
    e = ex.parse(TEXT).expr
    g = build_graph(e, ["x", "y"], point)
    partials = ex.compile_many([ex.partial(e, "x"), ex.partial(e, "y")], ["x", "y"])(np.array(point)[:, None])[:, 0]
    got = g.variable_grads
    assert got["x"] == pytest.approx(partials[0], rel=1e-12)
    assert got["y"] == pytest.approx(partials[1], rel=1e-12)
    assert g.nodes[g.root].value == pytest.approx(float(ex.compile_one(e, ["x", "y"])(np.array(point)[:, None])[0]))


def test_a_shared_node_adds_its_backward_shares():
    # sin(x) feeds sin(x)*cos(x) and the sum: df/dsin = cos(x) + 1
    g = build_graph(ex.parse("sin(x)*cos(x) + sin(x)").expr, ["x"], [0.4])
    s = node(g, "sin(x)")
    assert s.grad == pytest.approx(np.cos(0.4) + 1)
    assert g.variable_grads["x"] == pytest.approx(np.cos(0.8) + np.cos(0.4))
    assert len([n for n in g.nodes if n.label == "sin(x)"]) == 1


def test_constants_have_no_backward_value():
    g = build_graph(ex.parse("3*x + sqrt(2)").expr, ["x"], [1.0])
    assert node(g, "3").grad is None and node(g, "3").kind == "const"
    assert node(g, "sqrt(2)").value == pytest.approx(2**0.5) and node(g, "sqrt(2)").kind == "const"
    assert g.variable_grads == {"x": 3.0}


def test_graph_outside_the_domain():
    with pytest.raises(DomainError, match="outside the domain"):
        build_graph(ex.parse("log(x)").expr, ["x"], [-1.0])


def test_graph_size_limit(monkeypatch):
    monkeypatch.setattr(graph_module, "MAX_GRAPH_NODES", 5)
    with pytest.raises(OptionError, match="--graph"):
        build_graph(ex.parse("sin(x) + cos(y) + exp(x*y)").expr, ["x", "y"], [1.0, 2.0])


def test_graph_to_dict_is_json_ready():
    d = build_graph(ex.parse("(x+y)*z").expr, ["x", "y", "z"], [-2, 5, -4]).to_dict()
    json.dumps(d, allow_nan=False)
    assert d["nodes"][d["root"]]["value"] == -12.0 and d["point"] == {"x": -2.0, "y": 5.0, "z": -4.0}


# ------------------------------------------------------------------ derivations
def test_sigmoid_derivation_before_and_after_simplification():
    d = ex.derivation(ex.parse("sigmoid(x)").expr, "x")
    assert d.raw == "exp(-x)/(1 + exp(-x))**2"
    assert d.simplified == "(1 - sigmoid(x))*sigmoid(x)"
    assert "operatorname{sigmoid}" in d.latex and d.note == ""


def test_simplification_shortens_a_derivative():
    d = ex.derivation(ex.parse("(x**2 - 1)/(x - 1)").expr, "x")
    assert d.simplified == "1"


def test_simplification_is_bounded_by_size():
    e = ex.parse("sin(x)*exp(x*y)/(1+x**2)").expr
    result, note = ex.bounded_simplify(ex.partial(e, "x"), max_ops=5)
    assert result is None and "not simplified" in note and "limit 5" in note


def test_simplification_is_bounded_by_time():
    e = ex.parse("log(1+exp(sigmoid(x)*tanh(y)))*atan2(x,y)+sqrt(x**2+y**2+z**2)").expr
    result, note = ex.bounded_simplify(ex.partial(e, "x"), max_ops=1000, seconds=0.05)
    assert result is None and "took more than 0.05 s" in note


# ------------------------------------------------------------------ CLI
def test_cli_graph_prints_the_circuit(cli):
    run = cli("expr", "(x+y)*z", "--at", "x=-2,y=5,z=-4", "--graph")
    assert run.code == ExitCode.OK, run.err
    lines = run.out.splitlines()
    assert any("z*(x + y)" in ln and "value -12" in ln and "grad 1" in ln for ln in lines)
    assert any("x + y" in ln and "value 3" in ln and "grad -4" in ln for ln in lines)
    assert any(ln.strip().startswith(("├── z", "└── z")) and "grad 3" in ln for ln in lines)
    assert "computation graph at x=-2, y=5, z=-4" in run.out
    assert "3 checks: 3 pass" in run.out


def test_cli_graph_marks_a_node_used_twice(cli):
    run = cli("expr", "exp(x*y) + sin(exp(x*y))", "--at", "x=0.1,y=0.2", "--graph")
    assert run.code == ExitCode.OK
    assert run.out.count("used again") == 1


def test_cli_graph_json(cli):
    run = cli("expr", "(x+y)*z", "--at", "x=-2,y=5,z=-4", "--graph", "--format", "json")
    doc = json.loads(run.out)
    (g,) = doc["graph"]
    grads = {n["expr"]: n["grad"] for n in g["nodes"]}
    assert grads == {"x": -4.0, "y": -4.0, "z": 3.0, "x + y": -4.0, "z*(x + y)": 1.0}


def test_cli_show_steps_and_latex(cli):
    run = cli("expr", "sigmoid(x)", "--at", "0.5", "--show-steps", "--latex")
    assert run.code == ExitCode.OK, run.err
    assert "before simplification: exp(-x)/(1 + exp(-x))**2" in run.out
    assert "after simplification:  (1 - sigmoid(x))*sigmoid(x)" in run.out
    latex = [ln for ln in run.out.splitlines() if ln.startswith("\\frac")]
    assert latex == [r"\frac{\partial f}{\partial x} = \left(1 - \operatorname{sigmoid}{\left(x \right)}\right) "
                     r"\operatorname{sigmoid}{\left(x \right)}"]


def test_cli_latex_only_and_json(cli):
    run = cli("expr", "x**2*y", "--at", "x=1,y=2", "--latex")
    assert "\\frac{\\partial f}{\\partial x} = 2 x y" in run.out
    assert "before simplification" not in run.out
    doc = json.loads(cli("expr", "x**2*y", "--at", "x=1,y=2", "--show-steps", "--format", "json").out)
    assert [d["wrt"] for d in doc["derivation"]] == ["x", "y"]
    assert doc["derivation"][0]["simplified"] == "2*x*y"


def test_extras_use_the_same_points_as_the_checks():
    report = check_expression("exp(x) + x*y", points=2, seed=4, graph=True)
    points = [c.point for c in report.checks[::2]]
    assert [g["point"] for g in report.to_dict()["graph"]] == points


def test_cli_graph_outside_the_domain_is_exit_2(cli):
    run = cli("expr", "log(x)", "--at", "-1", "--graph")
    assert run.code == ExitCode.BAD_INPUT and "outside the domain" in run.err and run.out == ""


@pytest.mark.parametrize("module", ["graph", "second_order", "sweep", "descent"])
def test_issue5_core_modules_import_no_leaky_dependency(module):
    import ast
    import pathlib

    path = pathlib.Path(graph_module.__file__).with_name(f"{module}.py")
    tree = ast.parse(path.read_text())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0}
    assert not names & {"sympy", "rich", "typer", "matplotlib"}, names


def test_derivations_share_one_time_budget_smallest_first():
    e = ex.parse("log(1+exp(sigmoid(x)*tanh(y)))*atan2(x,y)+sqrt(x**2+y**2+z**2)").expr
    steps = ex.derivations(e, ["x", "y", "z"], seconds=0.3)
    assert [d.wrt for d in steps] == ["x", "y", "z"]
    assert steps[2].simplified == "z/sqrt(x**2 + y**2 + z**2)"  # the small one is done first
    assert steps[0].simplified is None and steps[0].note.startswith("not simplified")
