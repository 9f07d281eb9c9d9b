"""The ``gradcheck`` command line: a thin Typer shell over ``checks`` and ``views``.

Each command parses its options, makes one library call, renders the report and exits
with an :class:`ExitCode`.  Every :class:`~gradcheck_cli.errors.InputError` (and every
usage error Typer detects) becomes one line on stderr and exit 2, in :func:`main`.
Heavy modules (numpy, sympy, rich tables) are imported inside the commands, so
``gradcheck --help`` loads none of them.
"""

from __future__ import annotations

import os
import sys
from enum import IntEnum
from typing import Annotated, List, Optional

import typer

from .choices import Activation, Convention, Format, Loss, Method, Mode


class ExitCode(IntEnum):
    """Process exit codes of every command (the contract's table)."""

    OK = 0  #: every check passed (warn and unresolved allowed unless --strict)
    CHECK_FAILED = 1  #: at least one check failed (or warned / was unresolved under --strict)
    BAD_INPUT = 2  #: bad input: expression, option, file, domain, user code
    INTERNAL_ERROR = 3  #: a bug of ours: one line (GRADCHECK_DEBUG=1 shows the traceback)
    INTERRUPTED = 130  #: Ctrl-C


app = typer.Typer(
    name="gradcheck",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        from . import __version__

        sys.stdout.write(f"gradcheck {__version__}\n")
        raise typer.Exit(ExitCode.OK)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_show_version, help="Print the version and exit.")] = False,
) -> None:
    """Check hand-written gradients against finite differences.

    Statuses: pass (verified within --pass-tol), warn, fail, unresolved (the numbers
    cannot decide; counted like warn), kink.  Exit codes: 0 all checks pass (warn and
    unresolved allowed unless --strict), 1 a check failed, 2 bad input.
    """


class _Command(typer.core.TyperCommand):
    """A command whose usage line reads the conventional way: ``gradcheck func [OPTIONS]
    FILE.py:NAME`` (Typer writes a required argument in braces, ``{FILE.py:NAME}``)."""

    def collect_usage_pieces(self, ctx):
        pieces = super().collect_usage_pieces(ctx)
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in pieces]


# ------------------------------------------------------------------ shared options
# Each option is defined once, here, and used by every command that has it.  Where the
# same option reads differently per command (--wrt names variables, inputs or keys;
# --mode's default), one function makes it, so its name, type and metavar stay one.
AtOpt = Annotated[Optional[List[str]], typer.Option("--at", metavar="POINT", help='Point to check, e.g. "x=1.5,y=pi/4" (repeatable; a bare "1.5" for one variable).')]
PointsOpt = Annotated[Optional[int], typer.Option("--points", min=1, metavar="N", help="Number of random points (default 3 when no --at).")]
MaxSecondsOpt = Annotated[Optional[float], typer.Option("--max-seconds", metavar="S", show_default=False, help="Stop the check of your code (net: with --impl or --mode adaptive) after S seconds: what was checked is reported, the rest is counted 'unchecked' (exit 0 only if nothing checked failed; 1 under --strict).")]
SeedOpt = Annotated[int, typer.Option("--seed", min=0, metavar="N", help="Seed for random points and data.")]
GradOpt = Annotated[Optional[List[str]], typer.Option("--grad", metavar="EXPR", help='Claimed derivative to check instead of sympy\'s: one per --wrt variable in order, or "x=EXPR" (repeatable).')]
MethodOpt = Annotated[Method, typer.Option("--method", case_sensitive=False, help="Finite-difference method.")]
EpsOpt = Annotated[Optional[float], typer.Option("--eps", metavar="H", help="Fixed finite-difference step (default: chosen per point or entry relative to |x|, eps**(1/3) max(|x_k|, 1) for your code).")]
FormatOpt = Annotated[Format, typer.Option("--format", case_sensitive=False, help="Output format.")]
PassTolOpt = Annotated[Optional[float], typer.Option("--pass-tol", metavar="TOL", show_default=False, help="Pass when the relative error is <= this for every value the true derivative can take (numeric ± its error bound); pass means verified.  [default: 1e-07; code that returns float32: 0.0005, what float32 can verify]")]
FailTolOpt = Annotated[float, typer.Option("--fail-tol", metavar="TOL", help="Fail when the relative error is > this for every value the true derivative can take; when the bound straddles a tolerance the row is unresolved.")]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Treat warn and unresolved as failures (exit 1).")]
FloorOpt = Annotated[Optional[float], typer.Option("--floor", metavar="VALUE", help="Fixed floor of the relative-error denominator (1 = CS224n's max(1, |a|, |n|)); default: none.")]
DimsOpt = Annotated[Optional[str], typer.Option("--dims", metavar="Dx H ... Dy", show_default=False, help="Network layer sizes: input, hidden..., output (e.g. --dims 10 5 10; two sizes: softmax regression).")]
SamplesOpt = Annotated[int, typer.Option("--samples", min=1, metavar="M", help="Number of samples M of the network.")]
ActivationOpt = Annotated[Activation, typer.Option("--activation", case_sensitive=False, help="Hidden-layer activation.")]
LossOpt = Annotated[Loss, typer.Option("--loss", case_sensitive=False, help="ce: softmax + cross-entropy; mse: sigmoid output + 0.5 sum (yhat-y)^2.")]
MeanOpt = Annotated[bool, typer.Option("--mean", help="Average the cost over the samples instead of summing it.")]
InjectBugOpt = Annotated[Optional[str], typer.Option("--inject-bug", metavar="NAME", help="Inject a classic mistake into the built-in backward pass; 'list' prints the catalogue.")]
TopOpt = Annotated[int, typer.Option("--top", min=0, metavar="K", help="Show the K worst entries (failing ones are always in the JSON).")]
HvpOpt = Annotated[int, typer.Option("--hvp", min=0, max=1000, metavar="K", help="Also check K random Hessian-vector products of the gradient for symmetry (u'Hv = v'Hu).")]
TaylorOpt = Annotated[bool, typer.Option("--taylor", help="Also run the Taylor test along a seeded random direction: the remainder shrinks like h^2 for a correct gradient, like h for a wrong one.")]
ConventionOpt = Annotated[Optional[Convention], typer.Option("--convention", case_sensitive=False, show_default=False, help="A course's tolerances: cs224n (floor 1, fail above 1e-5, as gradcheck_naive) or cs231n (rel_error's bands: pass <= 2e-7, fail > 2e-2 in our units); the rule applied is printed. Default: our rule.")]
IsolateOpt = Annotated[bool, typer.Option("--isolate", help="Run your code in a child process (for autograders): nothing it does can end or change gradcheck's own run, whose numbers are computed here. Without it your code runs inside gradcheck's process.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary line (and the worst entry when one did not pass).")]
ProgressOpt = Annotated[Optional[bool], typer.Option("--progress/--no-progress", show_default=False, help="Progress on stderr: default a bar on a terminal after 1 s and, off a terminal, a line every 10 s once a check has run 10 s; --progress from the start; --no-progress never.")]
ShapeOpt = Annotated[Optional[str], typer.Option("--shape", metavar="SHAPE", help="Shape of your function's x ~ N(0, 1) (func, sweep --func), e.g. 3,4 or 'scalar' (default 3,4).")]
XOpt = Annotated[Optional[str], typer.Option("--x", metavar="FILE.npy|NUMBERS", help='Your function\'s x itself (func, sweep --func): a .npy file, or numbers such as "1.0,2.0,3.0" (a single number is a scalar x).')]
InputOpt = Annotated[Optional[List[str]], typer.Option("--input", "-i", metavar="NAME=SPEC", help="An input, bound to the parameter NAME of your function (repeatable). SPEC: a shape 4,2,3 (float ~ N(0, 1), differentiated); uniform:LO..HI:SHAPE; int:C:SHAPE (0..C-1) or int:LO..HI:SHAPE (HI excluded); bool:SHAPE or bool:P:SHAPE; or FILE.npy. Integer and boolean inputs (labels, indices, masks) are never differentiated.")]
ParamOpt = Annotated[Optional[List[str]], typer.Option("--param", "-p", metavar="NAME=JSON", help='A keyword argument of the forward pass as JSON, e.g. \'conv_param={"stride": 1, "pad": 1}\' (repeatable); deep-copied afresh for every call.')]
OrderOpt = Annotated[int, typer.Option("--order", min=1, max=2, metavar="1|2", help="1: check first partials; 2: check second partials (the Hessian) against finite differences of the first.")]
HessianOpt = Annotated[Optional[List[str]], typer.Option("--hessian", metavar="A,B=EXPR", help='Claimed second partial d2f/dAdB to check (repeatable; implies --order 2, and only the claimed entries are checked), e.g. "x,y=2*x".')]
GraphOpt = Annotated[bool, typer.Option("--graph", help="Print the computation graph with each node's forward value and backward value df/dnode.")]
ShowStepsOpt = Annotated[bool, typer.Option("--show-steps", help="Print each derivative before and after simplification.")]
LatexOpt = Annotated[bool, typer.Option("--latex", help="Print each derivative as LaTeX.")]


def _wrt_option(help: str):
    """``--wrt NAMES``: what to differentiate; ``help`` says what the names are for a command."""
    return Annotated[Optional[str], typer.Option("--wrt", metavar="NAMES", help=help)]


def _mode_option(default: str):
    """``--mode``: how users' code is checked; ``default`` the mode a command uses unless told."""
    return Annotated[Optional[Mode], typer.Option("--mode", case_sensitive=False, show_default=False, help=(
        "full: every entry, 2 calls each (a layer's forward: 4, with the kink test); adaptive: random-sign "
        "sets of entries, split only where they disagree, every entry gets a verdict (directly or by "
        "exclusion); fast: the built-in network's structured directions per block (for your code the same "
        f"as adaptive). Default: {default}."))]


WrtOpt = _wrt_option("Variables to differentiate, e.g. x,y (default: all, sorted).")
LayerWrtOpt = _wrt_option("Inputs to differentiate, e.g. x,w (default: every float input); backward may still return a gradient for the others.")
ModelWrtOpt = _wrt_option("Keys of model.params to check, e.g. W1,b1 (default: every key, in the dict's order).")
SweepWrtOpt = _wrt_option("The one component to sweep: a variable (x); with --func an entry of x (7 or 1,2); with --dims a parameter entry (W1[3,2]); default: the worst one.")
NetModeOpt = _mode_option("full for the built-in network, adaptive with --impl")
FuncModeOpt = _mode_option("adaptive")
LayerModeOpt = _mode_option("adaptive when the differentiated inputs have more than 256 entries, else full")
ModelModeOpt = _mode_option("full up to 20000 entries, else adaptive")


def _junit_path(value: Optional[str]) -> Optional[str]:
    """Validate --junit FILE before any work is done (bad input must write nothing)."""
    if value is not None:
        from .views.junit import validate_path

        validate_path(value)
        value = os.path.abspath(value)  # where it was asked for, whatever the code checked does to the cwd
    return value


JunitOpt = Annotated[Optional[str], typer.Option("--junit", metavar="FILE", callback=_junit_path, help="Also write a JUnit XML report to FILE for CI (one test case per block, or per point and variable).")]


def _thresholds(pass_tol: float | None, fail_tol: float, strict: bool, floor: float | None, convention=None):
    """The verdict's tolerances: the options, or a course's preset (``--convention``).
    ``pass_tol`` None: not given (1e-7; float32 code gets float32's default)."""
    from .verdict import Thresholds

    given = pass_tol is not None
    pass_tol = 1e-7 if pass_tol is None else pass_tol
    if convention is not None:
        from .conventions import preset
        from .errors import OptionError

        if given or fail_tol != 1e-2 or floor is not None:
            raise OptionError(f"--convention {convention.value} sets --pass-tol, --fail-tol and --floor: give one or the other")
        pass_tol, fail_tol, floor = preset(convention)
        given = True
    return Thresholds(pass_tol=pass_tol, fail_tol=fail_tol, strict=strict, floor=floor, pass_tol_given=given)


def _finish(report, fmt: Format, quiet: bool = False, junit: str | None = None, show=None, to_json=None,
            convention=None) -> None:
    """Write --junit FILE if asked, render a result on stdout and exit with its code.

    Every command ends here.  ``show(result, console)`` replaces the standard table view
    (sweep chart, graph, descent ...), ``to_json(result)`` the report's JSON document;
    ``convention`` (``--convention``) is recorded in the report, which then states its rule.
    """
    from .views import table as view

    if convention is not None:
        from dataclasses import replace

        report = replace(report, convention=convention)

    if junit is not None:
        _write_junit(report, junit)
    code = ExitCode.OK if report.passed else ExitCode.CHECK_FAILED
    # a closed or full stdout never changes the code: see streams.GuardedStdout
    if fmt is Format.JSON:
        sys.stdout.write((to_json or view.to_json)(report) + "\n")
    elif show is None:
        view.render(report, view.make_console(), quiet=quiet)
    else:
        show(report, view.make_console())
    sys.stdout.flush()
    raise typer.Exit(code)


# ------------------------------------------------------------------ commands
@app.command("expr", cls=_Command, short_help="Check the partial derivatives of an expression (sympy's or yours).")
def expr_command(
    expression: Annotated[str, typer.Argument(metavar="EXPRESSION", help='Scalar function of named variables, e.g. "sin(x)-cos(x)", or a vector "[f1, f2, ...]" (its Jacobian).', show_default=False)],
    at: AtOpt = None,
    points: PointsOpt = None,
    seed: SeedOpt = 0,
    grad: GradOpt = None,
    wrt: WrtOpt = None,
    method: MethodOpt = Method.CENTRAL,
    eps: EpsOpt = None,
    format: FormatOpt = Format.TABLE,
    pass_tol: PassTolOpt = None,
    fail_tol: FailTolOpt = 1e-2,
    strict: StrictOpt = False,
    floor: FloorOpt = None,
    quiet: QuietOpt = False,
    junit: JunitOpt = None,
    order: OrderOpt = 1,
    hessian: HessianOpt = None,
    taylor: TaylorOpt = False,
    graph: GraphOpt = False,
    show_steps: ShowStepsOpt = False,
    latex: LatexOpt = False,
    prove: Annotated[bool, typer.Option("--prove", help="Also try to prove each --grad claim identical to the derivative (simplify, sympy's equals, then a counterexample search): proved / disproved / not proved. The numeric verdict stays the verdict.")] = False,
) -> None:
    """Check every partial derivative of EXPRESSION (sympy's, or yours with --grad).

    Rows the fast float64 check cannot decide (unresolved, overflow, a stencil across a
    pole or a kink, a formula that loses digits in float64) are re-judged exactly with
    mpmath at rising precision (up to 4096 digits, 10 s), marked * in the table.
    Decimal constants are exact (0.1 is 1/10). A failing --grad claim gets a diagnosis
    (the derivative, the difference, the classic mistake); --prove adds a symbolic proof.
    A vector "[f1, f2]" is checked as a Jacobian, --grad "[[df1/dx, df1/dy], [...]]".

    \b
    Examples:
      gradcheck expr "sigmoid(x)" --grad "sigmoid(x)*(1-sigmoid(x))"
      gradcheck expr "x*y**2" --at "x=1,y=2" --grad "x=y**2" --grad "y=2*x*y"
    """
    from .checks.expr import check_expression
    from .views import graph as view

    report = check_expression(
        expression, at=at or (), points=points, seed=seed, grads=grad or (), wrt=wrt,
        method=method, eps=eps, thresholds=_thresholds(pass_tol, fail_tol, strict, floor),
        order=order, hessian=hessian or (), taylor=taylor, graph=graph, derivation=show_steps or latex,
        prove=prove,
    )
    show = None
    if (graph or show_steps or latex) and not quiet:
        show = lambda r, console: view.render_expression_plus(r, console, show_steps=show_steps, latex=latex)  # noqa: E731
    _finish(report, format, quiet, junit, show=show)


# ------------------------------------------------------------------ net
@app.command("net", cls=_Command, short_help="Check a network's gradient block by block, built in or yours.")
def net_command(
    dims: DimsOpt = None,
    samples: SamplesOpt = 20,
    seed: SeedOpt = 0,
    activation: ActivationOpt = Activation.SIGMOID,
    loss: LossOpt = Loss.CE,
    mean: MeanOpt = False,
    impl: Annotated[Optional[str], typer.Option("--impl", metavar="FILE.py:NAME", help="Your NAME(data, labels, params, dimensions) -> (cost, grad) (CS224n forward_backward_prop), as FILE.py:NAME or module:NAME.")] = None,
    cost_check: Annotated[bool, typer.Option("--cost-check/--no-cost-check", help="With --impl: compare your cost with the reference cost (turn off for minibatch or dropout implementations).")] = True,
    max_seconds: MaxSecondsOpt = None,
    isolate: IsolateOpt = False,
    inject_bug: InjectBugOpt = None,
    mode: NetModeOpt = None,
    top: TopOpt = 5,
    hvp: HvpOpt = 0,
    taylor: TaylorOpt = False,
    format: FormatOpt = Format.TABLE,
    pass_tol: PassTolOpt = None,
    fail_tol: FailTolOpt = 1e-2,
    strict: StrictOpt = False,
    floor: FloorOpt = None,
    convention: ConventionOpt = None,
    quiet: QuietOpt = False,
    junit: JunitOpt = None,
    progress_: ProgressOpt = None,
) -> None:
    """Gradient-check a two-layer network (or deeper), built in or yours, block by block.

    h = sigmoid(X W1 + b1), yhat = softmax(h W2 + b2), cross-entropy summed over M
    samples; params flattened W1, b1, W2, b2.

    \b
    Examples:
      gradcheck net --dims 10 5 10 --inject-bug missing-sigmoid-grad
      gradcheck net --dims 10 5 10 --impl q2_neural.py:forward_backward_prop
    """
    if inject_bug == "list":
        from .network.model import BUGS

        if format is Format.JSON:
            import json

            bugs = [{"name": name, "description": text} for name, text in BUGS.items()]
            sys.stdout.write(json.dumps({"command": "net", "bugs": bugs}, indent=2) + "\n")
        else:
            from .views import table as view

            for line in view.bug_list_lines(BUGS, view.make_console().width):
                sys.stdout.write(line + "\n")
        raise typer.Exit(ExitCode.OK)
    if dims is None:
        from .errors import OptionError

        raise OptionError("Missing option '--dims' (e.g. --dims 10 5 10)")
    from .checks.net import check_network
    from .views.progress import DelayedProgress

    with DelayedProgress("checking parameters", show=progress_) as progress:
        report = check_network(
            dims, samples=samples, seed=seed, activation=activation, loss=loss, mean=mean,
            impl=impl, bug=inject_bug, mode=mode, top=top, hvp=hvp, taylor=taylor, cost_check=cost_check, isolate=isolate,
            thresholds=_thresholds(pass_tol, fail_tol, strict, floor, convention), progress=progress,
            max_seconds=max_seconds,
        )
    _finish(report, format, quiet, junit, convention=convention)


def _join_dims(args: list[str]) -> list[str]:
    """Let ``--dims 10 5 10`` take several numbers (Typer options take one value)."""
    out, i = [], 0
    while i < len(args):
        out.append(args[i])
        if args[i] == "--dims":
            j = i + 1
            # every word up to the next option is a size: "--dims 10 x 10" is one (bad) value
            while j < len(args) and not _is_option(args[j]):
                j += 1
            if j > i + 1:
                out.append(" ".join(args[i + 1 : j]))
                i = j
                continue
        i += 1
    return out


def _is_option(word: str) -> bool:
    """``--top``, ``-q``: an option; ``-5``, ``-log(x)``: a value."""
    return word.startswith("--") or (len(word) == 2 and word[0] == "-" and word[1].isalpha())


# ------------------------------------------------------------------ func and sanity
def _write_junit(report, path: str) -> None:
    """Write the JUnit XML file; a write error is bad input (exit 2)."""
    from .errors import OptionError
    from .views.junit import write_junit

    try:
        write_junit(report, path)
    except OSError as exc:
        raise OptionError(f"--junit: cannot write '{path}': {exc.strerror or exc}") from None


@app.command("func", cls=_Command, short_help="Check your f(x) -> (cost, grad) at every entry of x.")
def func_command(
    target: Annotated[str, typer.Argument(metavar="FILE.py:NAME", show_default=False, help="Your function NAME(x) -> (cost, grad), as FILE.py:NAME or module:NAME (with --grad: NAME(x) -> cost).")],
    grad: Annotated[Optional[str], typer.Option("--grad", metavar="[FILE.py:]NAME", help="Separate gradient function NAME(x) -> grad (then the checked function returns only its cost); without FILE.py: from the same file.")] = None,
    shape: ShapeOpt = None,
    value_range: Annotated[Optional[str], typer.Option("--range", metavar="LO,HI", help="Draw x from U(LO, HI) instead of N(0, 1), e.g. --range 0.5,2 for a function of x > 0 such as log.")] = None,
    x: XOpt = None,
    sample: Annotated[Optional[int], typer.Option("--sample", min=1, metavar="K", help="Check K random entries of x instead of all of them (for a large x).")] = None,
    isolate: IsolateOpt = False,
    mode: FuncModeOpt = None,
    max_seconds: MaxSecondsOpt = None,
    seed: SeedOpt = 0,
    eps: EpsOpt = None,
    top: TopOpt = 5,
    hvp: HvpOpt = 0,
    taylor: TaylorOpt = False,
    format: FormatOpt = Format.TABLE,
    pass_tol: PassTolOpt = None,
    fail_tol: FailTolOpt = 1e-2,
    strict: StrictOpt = False,
    floor: FloorOpt = None,
    convention: ConventionOpt = None,
    quiet: QuietOpt = False,
    junit: JunitOpt = None,
    progress_: ProgressOpt = None,
) -> None:
    """Check your function's gradient at every entry of x (gradcheck_naive on the command line).

    The function gets a copy of x; random and numpy.random are reset before every call,
    and x must come back unchanged.

    \b
    Example:
      gradcheck func mycode.py:quad --shape 3,4
    """
    from .checks.func import check_func
    from .views.progress import DelayedProgress

    thresholds = _thresholds(pass_tol, fail_tol, strict, floor, convention)
    with DelayedProgress("checking x", show=progress_) as progress:
        report = check_func(
            target, grad=grad, shape=shape, x=x, seed=seed, sample=sample, eps=eps,
            thresholds=thresholds, top=top, progress=progress, hvp=hvp, taylor=taylor, mode=mode or Mode.ADAPTIVE,
            value_range=value_range, isolate=isolate, max_seconds=max_seconds,
        )
    _finish(report, format, quiet, junit, convention=convention)




@app.command("layer", cls=_Command, short_help="Check a layer's backward pass (CS231n), a loss of several arrays.")
def layer_command(
    target: Annotated[Optional[str], typer.Argument(metavar="FILE.py:NAME", show_default=False, help="Your layer: NAME_forward(*inputs, **params) -> (out, cache) and NAME_backward(dout, cache) -> (dx, dw, ...) in FILE.py (or module), or CS231n's X_forward_Y / X_backward_Y for NAME = X_Y (conv_naive finds conv_forward_naive); or a loss layer NAME(*inputs) -> (loss, dx, ...). Not needed with --forward FILE.py:F --backward FILE.py:B.")] = None,
    input: InputOpt = None,
    param: ParamOpt = None,
    wrt: LayerWrtOpt = None,
    forward: Annotated[Optional[str], typer.Option("--forward", metavar="[FILE.py:]F", help="The forward function, instead of NAME_forward.")] = None,
    backward: Annotated[Optional[str], typer.Option("--backward", metavar="[FILE.py:]B", help="The backward function, instead of NAME_backward.")] = None,
    torch: Annotated[bool, typer.Option("--torch", help="NAME is a torch.autograd.Function subclass: its forward and backward checked in float64 as a layer, with torch.autograd.gradcheck's own verdict beside ours (needs the torch extra).")] = False,
    isolate: IsolateOpt = False,
    mode: LayerModeOpt = None,
    max_seconds: MaxSecondsOpt = None,
    seed: SeedOpt = 0,
    top: TopOpt = 5,
    format: FormatOpt = Format.TABLE,
    pass_tol: PassTolOpt = None,
    fail_tol: FailTolOpt = 1e-2,
    strict: StrictOpt = False,
    floor: FloorOpt = None,
    convention: ConventionOpt = None,
    quiet: QuietOpt = False,
    junit: JunitOpt = None,
    progress_: ProgressOpt = None,
) -> None:
    """Check a layer's backward pass (CS231n style) against the numeric vector-Jacobian product.

    dout ~ N(0, 1) of out's shape (one per output) is drawn with the seed; every entry of
    every differentiated input is checked against central differences of sum(out * dout)
    (of the loss, for a loss layer).  One block per input; random and numpy.random are
    reset before every call, params are copied afresh, inputs must come back unchanged.

    \b
    Examples:
      gradcheck layer layers.py:affine --input x=4,2,3 --input w=6,5 --input b=5
      gradcheck layer layers.py:softmax_loss --input x=5,10 --input y=int:10:5
      gradcheck layer layers.py:conv_naive --input x=2,3,8,8 --input w=4,3,3,3 \\
          --input b=4 --param 'conv_param={"stride": 1, "pad": 1}'
      gradcheck layer word2vec.py:naiveSoftmaxLossAndGradient \\
          --input centerWordVec=3 --param outsideWordIdx=2 \\
          --input outsideVectors=5,3 --param dataset=null
    """
    from .checks.layer import check_layer_command
    from .views.progress import DelayedProgress

    thresholds = _thresholds(pass_tol, fail_tol, strict, floor, convention)
    with DelayedProgress("checking the layer", show=progress_) as progress:
        report = check_layer_command(
            target, inputs=input or (), params=param or (), wrt=wrt, forward=forward, backward=backward,
            seed=seed, mode=mode, thresholds=thresholds, top=top, progress=progress, torch=torch, isolate=isolate,
            max_seconds=max_seconds,
        )
    _finish(report, format, quiet, junit, convention=convention)


@app.command("model", cls=_Command, short_help="Check a model's loss(X, y) -> (loss, grads) per parameter (CS231n).")
def model_command(
    target: Annotated[str, typer.Argument(metavar="FILE.py:CLASS", show_default=False, help="Your model class (or a function returning a model), as FILE.py:CLASS or module:CLASS: self.params a dict of arrays, loss(X, y) -> (loss, grads) with grads keyed like params.")],
    init: Annotated[Optional[str], typer.Option("--init", metavar="JSON", help='Keyword arguments of CLASS as a JSON object, e.g. \'{"hidden_dims": [20, 30], "reg": 0.1, "dtype": "float64"}\'.')] = None,
    input: InputOpt = None,
    wrt: ModelWrtOpt = None,
    isolate: IsolateOpt = False,
    mode: ModelModeOpt = None,
    max_seconds: MaxSecondsOpt = None,
    seed: SeedOpt = 0,
    top: TopOpt = 5,
    format: FormatOpt = Format.TABLE,
    pass_tol: PassTolOpt = None,
    fail_tol: FailTolOpt = 1e-2,
    strict: StrictOpt = False,
    floor: FloorOpt = None,
    convention: ConventionOpt = None,
    quiet: QuietOpt = False,
    junit: JunitOpt = None,
    progress_: ProgressOpt = None,
) -> None:
    """Check a CS231n-style model's loss(X, y) -> (loss, grads), one block per key of model.params.

    The model is made with --init (random and numpy.random seeded), its data drawn with
    the seed; every entry of every parameter is checked against central differences of
    the loss.  model.params is restored after every call; grads must have the keys and
    shapes of params.

    \b
    Example:
      gradcheck model fc_net.py:FullyConnectedNet --input X=2,15 \\
          --input y=int:10:2 --init '{"hidden_dims": [20, 30], "input_dim": 15,
          "num_classes": 10, "reg": 0.1, "dtype": "float64"}'
    """
    from .checks.model import check_model_command
    from .views.progress import DelayedProgress

    with DelayedProgress("checking the model", show=progress_) as progress:
        report = check_model_command(
            target, init=init, inputs=input or (), wrt=wrt, seed=seed, mode=mode,
            thresholds=_thresholds(pass_tol, fail_tol, strict, floor, convention), top=top, progress=progress,
            max_seconds=max_seconds, isolate=isolate,
        )
    _finish(report, format, quiet, junit, convention=convention)


@app.command("sanity", cls=_Command, short_help="Run the built-in sanity suite (CS224n assignment 1).")
def sanity_command(
    seed: SeedOpt = 0,
    format: FormatOpt = Format.TABLE,
    pass_tol: PassTolOpt = None,
    fail_tol: FailTolOpt = 1e-2,
    strict: StrictOpt = False,
    floor: FloorOpt = None,
    quiet: QuietOpt = False,
    junit: JunitOpt = None,
) -> None:
    """Run the built-in sanity suite (the CS224n assignment 1 sanity checks).

    sigmoid and its gradient on [[1, 2], [-1, -2]], softmax, gradient checks of
    sum(x**2) on a scalar, 1-D and 2-D x, of ln(x), sin(x)-cos(x) and exp(x), and of
    the two-layer network at dims 10 5 10.

    \b
    Example:
      gradcheck sanity --junit sanity.xml
    """
    from .checks.sanity import check_sanity

    report = check_sanity(seed=seed, thresholds=_thresholds(pass_tol, fail_tol, strict, floor))
    _finish(report, format, quiet, junit)


# ------------------------------------------------------------------ sweep, descend
@app.command("sweep", cls=_Command, short_help="Why does a check fail? The error over steps h, the Taylor test.")
def sweep_command(
    expression: Annotated[Optional[str], typer.Argument(metavar="EXPRESSION", help="Scalar function of named variables (or use --func or --dims).", show_default=False)] = None,
    func: Annotated[Optional[str], typer.Option("--func", metavar="FILE.py:NAME", help="Sweep your function NAME(x) -> (cost, grad) instead of an expression.")] = None,
    dims: DimsOpt = None,
    samples: SamplesOpt = 20,
    activation: ActivationOpt = Activation.SIGMOID,
    loss: LossOpt = Loss.CE,
    mean: MeanOpt = False,
    inject_bug: InjectBugOpt = None,
    at: AtOpt = None,
    wrt: SweepWrtOpt = None,
    grad: GradOpt = None,
    shape: ShapeOpt = None,
    x: XOpt = None,
    seed: SeedOpt = 0,
    plot: Annotated[Optional[str], typer.Option("--plot", metavar="FILE.png", help="Also write the chart as an image (needs matplotlib: pip install 'gradcheck-cli[plot]').")] = None,
    format: FormatOpt = Format.TABLE,
    pass_tol: PassTolOpt = None,
    fail_tol: FailTolOpt = 1e-2,
    strict: StrictOpt = False,
    floor: FloorOpt = None,
    quiet: QuietOpt = False,
    progress_: ProgressOpt = None,
) -> None:
    """Why does a check fail? Relative error over steps h = 1e-1 ... 1e-12, and the Taylor test.

    A correct derivative draws a V (truncation ~ h^2 on the right, round-off ~ 1/h on
    the left); a wrong one a flat line.  The Taylor remainder |f(x+hv) - f(x) - h g.v|
    shrinks like h^2 for a correct gradient and like h for a wrong one.  Exit code as
    for expr: the verdict of the swept component.

    \b
    Examples:
      gradcheck sweep "sin(x)*y" --at "x=1,y=2" --grad "x=cos(x)*y" \\
          --grad "y=2*sin(x)"
      gradcheck sweep --func mycode.py:quad --wrt 1,2
      gradcheck sweep --dims 10 5 10 --inject-bug missing-sigmoid-grad
    """
    from .checks.sweep import check_sweep
    from .views import sweep as view

    if plot is not None:
        view.require_matplotlib()
    from .views.progress import DelayedProgress

    with DelayedProgress("finding the worst entry", show=progress_) as progress:
        report = check_sweep(
            expression, func=func, dims=dims, samples=samples, activation=activation, loss=loss,
            mean=mean, bug=inject_bug, at=at or (), wrt=wrt, grads=grad or (), shape=shape, x=x, seed=seed,
            thresholds=_thresholds(pass_tol, fail_tol, strict, floor), progress=progress,
        )
    if plot is not None:
        view.write_sweep_plot(report.sweep.to_dict(), plot, title=view.sweep_title(report), pass_tol=report.thresholds.pass_tol)
    _finish(report, format, quiet, show=None if quiet else view.render_sweep)


@app.command("descend", cls=_Command, short_help="Gradient descent with sympy's gradient.")
def descend_command(
    expression: Annotated[str, typer.Argument(metavar="EXPRESSION", help='Function to minimise, e.g. "x**4 - 3*x**3".', show_default=False)],
    x0: Annotated[str, typer.Option("--x0", metavar="POINT", help='Start, e.g. 6 or "x=1,y=2".', show_default=False)],
    lr: Annotated[float, typer.Option("--lr", metavar="RATE", help="Learning rate: x <- x - lr * grad f(x).")] = 0.01,
    tol: Annotated[float, typer.Option("--tol", metavar="TOL", help="Stop when the gradient norm |grad f| < tol.")] = 1e-5,
    max_iter: Annotated[int, typer.Option("--max-iter", min=1, metavar="N", help="Stop after this many steps (at most 100000).")] = 10_000,
    format: FormatOpt = Format.TABLE,
    quiet: QuietOpt = False,
    progress_: ProgressOpt = None,
) -> None:
    """Gradient descent with sympy's gradient, the course way.

    Exit codes: 0 converged (|grad f| < tol); 1 diverged (non-finite values, |x| without
    bound, or f rising with growing steps) or --max-iter reached first; 2 bad input.

    \b
    Example:
      gradcheck descend "x**4 - 3*x**3" --x0 6 --lr 0.01 --tol 1e-5
    """
    from .checks.descend import run_descent
    from .views import descent as view
    from .views.progress import DelayedProgress

    with DelayedProgress("descending", show=progress_) as bar:
        result = run_descent(expression, x0=x0, lr=lr, tol=tol, max_iter=max_iter,
                             progress=lambda k, f, step: bar(k, max_iter))
    _finish(result, format, quiet, show=lambda r, console: view.render_descent(r, console, quiet=quiet),
            to_json=view.descent_json)


# ------------------------------------------------------------------ entry point
def _error_line(message: str, detail: str = "") -> None:
    sys.stderr.write(f"error: {message}\n")
    if detail:
        sys.stderr.write(detail + "\n")


def _command_app(args: list[str]) -> typer.Typer:
    """``app`` with only the command being run registered.

    Typer builds a click command for every registered command on each run (about 3 ms
    each); a run needs one.  Usage lines and errors are the same, since the group and
    its callback stay.  Help, unknown commands and no command get the whole app.
    """
    import copy

    name = args[0] if args else None
    chosen = [c for c in app.registered_commands if c.name == name]
    if not chosen:
        return app
    lean = copy.copy(app)
    lean.registered_commands = chosen
    return lean


def _dash_values(command, args: list[str]) -> list[str]:
    """Let values that start with '-' through: ``expr "-log(x)"``, ``--at -2``, ``--grad "-sin(x)"``.

    click reads any word that starts with '-' as an option.  A value option followed by
    such a word becomes ``--opt=WORD``; any other '-' word that is not an option of the
    command (``-log(x)``, ``-x**2``) is a positional argument and moves after ``--``.
    Words that start with ``--`` are never moved, so a misspelt option is still an error.
    """
    names = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
    names |= {"-h", "--help"}
    valued = {o for p in command.params if getattr(p, "is_flag", True) is False and not getattr(p, "count", False)
              for o in p.opts}
    out: list[str] = []
    moved: list[str] = []
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            out.extend(args[i:])
            break
        if word in valued and i + 1 < len(args) and args[i + 1].startswith("-") and args[i + 1] not in names:
            out.append(f"{word}={args[i + 1]}")
            i += 2
            continue
        if word.startswith("-") and not word.startswith("--") and len(word) > 1 and word not in names:
            moved.append(word)
        else:
            out.append(word)
        i += 1
    if moved:
        out = out + moved if "--" in out else out + ["--", *moved]
    return out


def _refuse_repeats(command, args: list[str]) -> None:
    """An option that takes one value given twice (``--junit a --junit b``) is bad input:
    click would silently keep the last one."""
    from .errors import OptionError

    options = [p for p in command.params if getattr(p, "param_type_name", "") == "option"]
    valued = [p for p in options if not getattr(p, "is_flag", False) and not getattr(p, "count", False)]
    single = {opt: p.opts[0] for p in valued if not getattr(p, "multiple", False)
              for opt in (*p.opts, *p.secondary_opts)}
    takes_value = {opt for p in valued for opt in p.opts}
    seen: set[str] = set()
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            break
        name = word.split("=", 1)[0] if word.startswith("--") else word
        if name in single:
            if single[name] in seen:
                raise OptionError(f"option '{single[name]}' given more than once (it takes one value)")
            seen.add(single[name])
        i += 2 if word in takes_value else 1


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; map every error to the contract's exit codes in this one place.

    stdout is guarded for the run (``streams``): a closed, cut or full stdout keeps the
    verdict's exit code, and a closed one prints nothing on stderr.  On exit 2 or 3 under
    ``--format json`` stdout carries one JSON error document as well as the stderr line.
    """
    from .streams import guarded_streams

    args = _join_dims(sys.argv[1:] if argv is None else list(argv))
    with guarded_streams() as out:
        code, message = _run_mapped(args)
        if code in (ExitCode.BAD_INPUT, ExitCode.INTERNAL_ERROR) and _wants_json(args):
            import json

            doc = {"command": _command_name(args), "status": "error", "error": message}
            out.write(json.dumps(doc, indent=2) + "\n")
        out.flush()
        if out.lost is not None and not out.closed_pipe:
            sys.stderr.write(f"error: cannot write the report to stdout: {out.lost} "
                             "(the exit code is still the verdict's)\n")
    _exit(int(code or 0), whole_process=argv is None)


def _exit(code: int, whole_process: bool = True) -> None:
    """Exit with ``code``, even when users' code left a (non-daemon) thread running (in
    a process of our own: ``main()`` called with ``argv`` by a program or a test only
    raises ``SystemExit``)."""
    import threading

    if whole_process and any(t.is_alive() and not t.daemon for t in threading.enumerate()
                             if t is not threading.main_thread()):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):
                pass
        os._exit(code)
    raise SystemExit(code)


def _run_mapped(args: list[str]) -> tuple[int, str]:
    """Run the app; (exit code, the error message written to stderr, or "")."""
    from .errors import InputError

    message = ""
    try:
        code = _run(args)
    except InputError as exc:
        message = str(exc)
        _error_line(message, exc.detail())
        code = ExitCode.BAD_INPUT
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        message = "aborted"
        _error_line(message)
        code = ExitCode.BAD_INPUT
    except KeyboardInterrupt:
        code = ExitCode.INTERRUPTED
    except Exception as exc:  # click usage errors (bad option value, missing argument)
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            message = _usage_message(exc)
            _error_line(message)
            code = ExitCode.BAD_INPUT
        else:
            message = f"internal error: {type(exc).__name__}: {exc}"
            if _debug():
                import traceback

                sys.stderr.write(traceback.format_exc())
            else:
                message += " (set GRADCHECK_DEBUG=1 for a traceback)"
            _error_line(message)
            code = ExitCode.INTERNAL_ERROR
    return code, message


def _debug() -> bool:
    """``GRADCHECK_DEBUG`` set to anything but empty, 0, false, no or off."""
    value = os.environ.get("GRADCHECK_DEBUG", "").strip().lower()
    return value not in ("", "0", "false", "no", "off")


def _wants_json(args: list[str]) -> bool:
    """Whether the command line asks for ``--format json`` (read from the words, since
    the error may have stopped the parse before the option was read)."""
    for k, word in enumerate(args):
        if word == "--":
            break
        if word == "--format" and k + 1 < len(args) and args[k + 1].lower() == "json":
            return True
        if word.lower() == "--format=json":
            return True
    return False


def _command_name(args: list[str]) -> str | None:
    names = {c.name for c in app.registered_commands}
    return args[0] if args and args[0] in names else None


def _run(args: list[str]):
    """Run the app on ``args`` (no arguments: the help) with our RuntimeWarnings off.

    Overflow at extreme points (|x| near 1e308) is expected and handled where it
    happens; this keeps any that slips through off stderr.  The user's own code's
    warnings still show.
    """
    import warnings

    group = typer.main.get_command(_command_app(args))  # the click group, built once
    if not args:
        args = ["--help"]
    elif args[0] in getattr(group, "commands", {}):
        args = args[:1] + _dash_values(group.commands[args[0]], args[1:])
        _refuse_repeats(group.commands[args[0]], args[1:])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"gradcheck_cli(\.|$)")
        return group(args=args, prog_name="gradcheck", standalone_mode=False)


def _usage_message(exc) -> str:
    msg = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and ctx.command_path:
        msg += f" (see '{ctx.command_path} --help')"
    return msg
