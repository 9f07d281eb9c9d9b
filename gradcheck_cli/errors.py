"""Typed exceptions of gradcheck.

Every error that a user can cause is an :class:`InputError`; the CLI turns each into
one line on stderr and exit code 2 (see ``cli.py``), the Python API lets it propagate.
"""

from __future__ import annotations


class GradcheckError(Exception):
    """Base class of every error gradcheck raises on purpose."""


class InputError(GradcheckError):
    """Bad input from the user: the command exits 2 with this message."""

    def detail(self) -> str:
        """Extra lines shown under the message (a caret, a user traceback); may be empty."""
        return ""


class ParseError(InputError):
    """An expression that cannot be parsed or is not allowed; points at a column."""

    def __init__(self, message: str, text: str, column: int | None = None) -> None:
        self.text = text
        self.column = column  # 1-based, or None when the whole text is at fault
        where = f" at column {column}" if column is not None else ""
        super().__init__(f"{message}{where}")

    def detail(self) -> str:
        if self.column is None or len(self.text) > 200 or "\n" in self.text:
            return ""
        return f"  {self.text}\n  {' ' * (self.column - 1)}^"


class UnknownNameError(ParseError):
    """An unknown function or variable name."""


class DomainError(InputError):
    """A point where the function or its derivatives are not real and finite."""


class OptionError(InputError):
    """An option value that is malformed or inconsistent with the others."""


class LoadError(InputError):
    """A user file, module or function that cannot be found or loaded."""


class UserCodeError(InputError):
    """The user's own code raised, returned the wrong thing, or mutated its input."""

    def __init__(self, message: str, user_traceback: str = "") -> None:
        self.user_traceback = user_traceback
        super().__init__(message)

    def detail(self) -> str:
        return self.user_traceback.rstrip("\n")


class NonFiniteCostError(UserCodeError):
    """The user's function returned a NaN or infinite cost (often: x outside its domain)."""
