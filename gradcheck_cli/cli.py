"""The ``gradcheck`` command line: a thin Typer shell over ``check`` and ``report``.

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

from .choices import Format, Method


class ExitCode(IntEnum):
    """Process exit codes of every command (the contract's table)."""

    OK = 0  #: every check passed (warn allowed unless --strict)
    CHECK_FAILED = 1  #: at least one check failed (or warned under --strict)
    BAD_INPUT = 2  #: bad input: expression, option, file, domain, user code


app = typer.Typer(
    name="gradcheck",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

@app.callback()
def _root() -> None:
    """Check hand-written gradients against finite differences.

    Exit codes: 0 all checks pass, 1 a check failed, 2 bad input.
    """


# ------------------------------------------------------------------ shared options
AtOpt = Annotated[Optional[List[str]], typer.Option("--at", help='Point to check, e.g. "x=1.5,y=pi/4" (repeatable; a bare "1.5" for one variable).')]
PointsOpt = Annotated[Optional[int], typer.Option("--points", min=1, help="Number of random points (default 3 when no --at).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed for random points and data.")]
GradOpt = Annotated[Optional[List[str]], typer.Option("--grad", help='Claimed derivative to check instead of sympy\'s: one per --wrt variable in order, or "x=EXPR" (repeatable).')]
WrtOpt = Annotated[Optional[str], typer.Option("--wrt", help="Variables to differentiate, e.g. x,y (default: all, sorted).")]
MethodOpt = Annotated[Method, typer.Option("--method", case_sensitive=False, help="Finite-difference method.")]
EpsOpt = Annotated[Optional[float], typer.Option("--eps", help="Fixed finite-difference step (default: chosen per point relative to |x|).")]
FormatOpt = Annotated[Format, typer.Option("--format", case_sensitive=False, help="Output format.")]
PassTolOpt = Annotated[float, typer.Option("--pass-tol", help="Pass when relative error <= this.")]
FailTolOpt = Annotated[float, typer.Option("--fail-tol", help="Fail when relative error > this.")]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Treat warn as a failure (exit 1).")]
FloorOpt = Annotated[Optional[float], typer.Option("--floor", help="Fixed floor of the relative-error denominator (1 = CS224n's max(1, |a|, |n|)); default: derived from the numeric noise.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary line.")]


def _junit_path(value: Optional[str]) -> Optional[str]:
    """Validate --junit FILE before any work is done (bad input must write nothing)."""
    if value is not None:
        from .junit import validate_path

        validate_path(value)
    return value


JunitOpt = Annotated[Optional[str], typer.Option("--junit", metavar="FILE", callback=_junit_path, help="Also write a JUnit XML report to FILE for CI (one test case per block, or per point and variable).")]


def _thresholds(pass_tol: float, fail_tol: float, strict: bool, floor: float | None):
    from .verdict import Thresholds

    return Thresholds(pass_tol=pass_tol, fail_tol=fail_tol, strict=strict, floor=floor)


def _finish(report, fmt: Format, quiet: bool = False, junit: str | None = None) -> None:
    """Write --junit FILE if asked, render a report on stdout and exit with its code."""
    from . import report as view

    if junit is not None:
        _write_junit(report, junit)
    if fmt is Format.JSON:
        sys.stdout.write(view.to_json(report) + "\n")
    else:
        view.render(report, view.make_console(), quiet=quiet)
    raise typer.Exit(ExitCode.OK if report.passed else ExitCode.CHECK_FAILED)


# ------------------------------------------------------------------ commands
@app.command("expr")
def expr_command(
    expression: Annotated[str, typer.Argument(help='Scalar function of named variables, e.g. "sin(x)-cos(x)".', show_default=False)],
    at: AtOpt = None,
    points: PointsOpt = None,
    seed: SeedOpt = 0,
    grad: GradOpt = None,
    wrt: WrtOpt = None,
    method: MethodOpt = Method.CENTRAL,
    eps: EpsOpt = None,
    format: FormatOpt = Format.TABLE,
    pass_tol: PassTolOpt = 1e-7,
    fail_tol: FailTolOpt = 1e-2,
    strict: StrictOpt = False,
    floor: FloorOpt = None,
    quiet: QuietOpt = False,
    junit: JunitOpt = None,
) -> None:
    """Check every partial derivative of EXPRESSION (sympy's, or yours with --grad).

    Example: gradcheck expr "sigmoid(x)" --grad "sigmoid(x)*(1-sigmoid(x))"
    """
    from .check import check_expression

    report = check_expression(
        expression, at=at or (), points=points, seed=seed, grads=grad or (), wrt=wrt,
        method=method, eps=eps, thresholds=_thresholds(pass_tol, fail_tol, strict, floor),
    )
    _finish(report, format, quiet, junit)


# ==== net (issue 3) ====================================================================


# ==== func and sanity (issue 4) =========================================================
def _write_junit(report, path: str) -> None:
    """Write the JUnit XML file; a write error is bad input (exit 2)."""
    from .errors import OptionError
    from .junit import write_junit

    try:
        write_junit(report, path)
    except OSError as exc:
        raise OptionError(f"--junit: cannot write '{path}': {exc.strerror or exc}") from None


@app.command("func")
def func_command(
    target: Annotated[str, typer.Argument(metavar="FILE.py:NAME", show_default=False, help="Your function NAME(x) -> (cost, grad), as FILE.py:NAME or module:NAME (with --grad: NAME(x) -> cost).")],
    grad: Annotated[Optional[str], typer.Option("--grad", metavar="[FILE.py:]NAME", help="Separate gradient function NAME(x) -> grad (then the checked function returns only its cost); without FILE.py: from the same file.")] = None,
    shape: Annotated[Optional[str], typer.Option("--shape", help="Shape of x ~ N(0, 1), e.g. 3,4 or 'scalar' (default 3,4).")] = None,
    x: Annotated[Optional[str], typer.Option("--x", metavar="FILE.npy|NUMBERS", help='x itself: a .npy file, or numbers such as "1.0,2.0,3.0" (a single number is a scalar x).')] = None,
    sample: Annotated[Optional[int], typer.Option("--sample", min=1, metavar="K", help="Check K random entries of x instead of all of them (for a large x).")] = None,
    seed: SeedOpt = 0,
    eps: Annotated[Optional[float], typer.Option("--eps", help="Fixed finite-difference step (default eps**(1/3) max(|x_k|, 1) per entry).")] = None,
    top: Annotated[int, typer.Option("--top", min=0, metavar="K", help="Show the K worst entries (failing ones are always shown).")] = 5,
    format: FormatOpt = Format.TABLE,
    pass_tol: PassTolOpt = 1e-7,
    fail_tol: FailTolOpt = 1e-2,
    strict: StrictOpt = False,
    floor: FloorOpt = None,
    quiet: QuietOpt = False,
    junit: JunitOpt = None,
) -> None:
    """Check your function's gradient at every entry of x (gradcheck_naive on the command line).

    The function gets a copy of x; random and numpy.random are reset before every call,
    and x must come back unchanged.

    Example: gradcheck func mycode.py:quad --shape 3,4
    """
    from .check import check_func
    from .report import DelayedProgress

    thresholds = _thresholds(pass_tol, fail_tol, strict, floor)
    with DelayedProgress("checking x") as progress:
        report = check_func(
            target, grad=grad, shape=shape, x=x, seed=seed, sample=sample, eps=eps,
            thresholds=thresholds, top=top, progress=progress,
        )
    _finish(report, format, quiet, junit)


@app.command("sanity")
def sanity_command(
    seed: SeedOpt = 0,
    format: FormatOpt = Format.TABLE,
    pass_tol: PassTolOpt = 1e-7,
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

    Example: gradcheck sanity --junit sanity.xml
    """
    from .check import check_sanity

    report = check_sanity(seed=seed, thresholds=_thresholds(pass_tol, fail_tol, strict, floor))
    _finish(report, format, quiet, junit)



# ==== second order, sweep, Taylor, graph, descent (issue 5) ============================


# ------------------------------------------------------------------ entry point
def _error_line(message: str, detail: str = "") -> None:
    sys.stderr.write(f"error: {message}\n")
    if detail:
        sys.stderr.write(detail + "\n")


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; map every error to the contract's exit codes in this one place."""
    from .errors import InputError

    args = sys.argv[1:] if argv is None else list(argv)
    try:
        code = app(args=args, prog_name="gradcheck", standalone_mode=False)
    except InputError as exc:
        _error_line(str(exc), exc.detail())
        code = ExitCode.BAD_INPUT
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        _error_line("aborted")
        code = ExitCode.BAD_INPUT
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:  # click usage errors (bad option value, missing argument)
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            _error_line(_usage_message(exc))
            code = ExitCode.BAD_INPUT
        else:
            if os.environ.get("GRADCHECK_DEBUG"):
                raise
            _error_line(f"internal error: {type(exc).__name__}: {exc} (set GRADCHECK_DEBUG=1 for a traceback)")
            code = 3
    sys.stdout.flush()
    raise SystemExit(int(code or 0))


def _usage_message(exc) -> str:
    msg = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and ctx.command_path:
        msg += f" (see '{ctx.command_path} --help')"
    return msg
