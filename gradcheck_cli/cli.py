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


def _thresholds(pass_tol: float, fail_tol: float, strict: bool, floor: float | None):
    from .verdict import Thresholds

    return Thresholds(pass_tol=pass_tol, fail_tol=fail_tol, strict=strict, floor=floor)


def _finish(report, fmt: Format, quiet: bool = False) -> None:
    """Render a report on stdout and exit with its code."""
    from . import report as view

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
) -> None:
    """Check every partial derivative of EXPRESSION (sympy's, or yours with --grad).

    Example: gradcheck expr "sigmoid(x)" --grad "sigmoid(x)*(1-sigmoid(x))"
    """
    from .check import check_expression

    report = check_expression(
        expression, at=at or (), points=points, seed=seed, grads=grad or (), wrt=wrt,
        method=method, eps=eps, thresholds=_thresholds(pass_tol, fail_tol, strict, floor),
    )
    _finish(report, format, quiet)


# ==== net (issue 3) ====================================================================


# ==== func and sanity (issue 4) =========================================================


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
