"""Shared helpers of the ``usercode`` tests: write a user's file, and the error a load or
a call of users' code raises."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gradcheck_cli.errors import LoadError, UserCodeError
from gradcheck_cli.usercode import load_callable


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


def load_error(spec: str, **kwargs) -> str:
    with pytest.raises(LoadError) as info:
        load_callable(spec, **kwargs)
    return str(info.value)


def user_error(fn, *args, **kwargs) -> UserCodeError:
    with pytest.raises(UserCodeError) as info:
        fn(*args, **kwargs)
    return info.value
