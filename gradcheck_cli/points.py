"""Where to check: ``--at`` points and seeded random points inside the domain.

Random points are drawn coordinate by coordinate from a fixed mixture (half N(0, 1),
a quarter N(0, 10**2), a quarter ``±10**U(-3, 2)``), in batches of ``BATCH``
candidates evaluated in one vectorised call; a candidate is kept when ``f`` and every
partial derivative are real and finite there (so ``log(x)`` gets ``x > 0``).  The first
``n`` valid candidates in draw order are used, so a seed fixes the points.
"""

from __future__ import annotations

import re
from typing import Callable, Sequence

import numpy as np

from .errors import DomainError, OptionError

BATCH = 4096
MAX_BATCHES = 5
_NAME = re.compile(r"^[^\W\d]\w*$")


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split at ``sep`` outside parentheses (``x=atan2(1, 2),y=3`` -> two items)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def split_assignment(item: str) -> tuple[str | None, str]:
    """``"x = pi/4"`` -> ``("x", "pi/4")``; an item without ``name=`` -> ``(None, item)``."""
    head, eq, tail = item.partition("=")
    if eq and _NAME.match(head.strip()) and not tail.startswith("="):
        return head.strip(), tail.strip()
    return None, item.strip()


def parse_names(text: str, option: str) -> list[str]:
    """A comma-separated list of variable names (``--wrt x,y``)."""
    names = [n.strip() for n in text.split(",")]
    for n in names:
        if not _NAME.match(n):
            raise OptionError(f"{option}: {n!r} is not a variable name")
    if len(set(names)) != len(names):
        raise OptionError(f"{option}: a variable is named twice in {text!r}")
    return names


#: one ``--at`` value split once: its text and its ``(name or None, value text)`` items
AtSpec = tuple


def split_at(spec: str) -> AtSpec:
    """``"x=1.5,y=pi/4"`` -> ``("x=1.5,y=pi/4", (("x", "1.5"), ("y", "pi/4")))``; done once per ``--at``."""
    return spec, tuple(split_assignment(item) for item in split_top_level(spec))


def at_names(specs: Sequence[str | AtSpec]) -> set[str]:
    """The variable names that ``--at`` specs assign (for the set of known names)."""
    split = [s if isinstance(s, tuple) else split_at(s) for s in specs]
    return {n for _, items in split for n, _ in items if n}


def parse_at(spec: str | AtSpec, names: Sequence[str], to_float: Callable[[str], float]) -> np.ndarray:
    """One ``--at`` value (text, or already split by ``split_at``) as a point ordered like ``names``.

    ``spec`` is ``"x=1.5,y=-2"`` (values may be constant expressions, turned into
    floats by ``to_float``) or, when there is exactly one variable, a bare ``"1.5"``.
    """
    spec, items = spec if isinstance(spec, tuple) else split_at(spec)
    values: dict[str, float] = {}
    for name, value in items:
        if name is None:
            if len(names) == 1 and len(items) == 1:
                name = names[0]
            else:
                raise OptionError(
                    f"--at {spec!r}: write name=value for each variable ({', '.join(names)})"
                )
        if name not in names:
            raise OptionError(f"--at {spec!r}: unknown variable '{name}' (variables: {', '.join(names)})")
        if name in values:
            raise OptionError(f"--at {spec!r}: '{name}' is given twice")
        if not value:
            raise OptionError(f"--at {spec!r}: no value for '{name}'")
        values[name] = to_float(value)
    missing = [n for n in names if n not in values]
    if missing:
        raise OptionError(f"--at {spec!r}: no value for {', '.join(missing)}")
    return np.array([values[n] for n in names], dtype=float)


def _candidates(rng: np.random.Generator, n_vars: int) -> np.ndarray:
    kind = rng.integers(0, 4, size=(BATCH, n_vars))
    normal = rng.standard_normal((BATCH, n_vars))
    wide = 10.0 * rng.standard_normal((BATCH, n_vars))
    logu = rng.choice([-1.0, 1.0], size=(BATCH, n_vars)) * 10.0 ** rng.uniform(-3, 2, (BATCH, n_vars))
    return np.select([kind < 2, kind == 2], [normal, wide], logu)


def random_points(
    valid: Callable[[np.ndarray], np.ndarray], n_vars: int, count: int, seed: int
) -> np.ndarray:
    """``count`` seeded random points of shape ``(count, n_vars)`` where ``valid`` holds.

    ``valid`` maps candidates ``(K, n_vars)`` to a boolean mask ``(K,)``.
    Raises DomainError after ``MAX_BATCHES * BATCH`` draws without enough valid points.
    """
    rng = np.random.default_rng(seed)
    found: list[np.ndarray] = []
    have = 0
    for _ in range(MAX_BATCHES):
        cand = _candidates(rng, n_vars)
        ok = cand[np.asarray(valid(cand), dtype=bool)]
        found.append(ok)
        have += len(ok)
        if have >= count:
            return np.concatenate(found)[:count]
    raise DomainError(
        f"found {have} of {count} random points where f and its derivatives are real and "
        f"finite in {MAX_BATCHES * BATCH} draws (coordinates within ±100); "
        "give a point inside the domain with --at"
    )
