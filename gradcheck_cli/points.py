"""Where to check: ``--at`` points and seeded random points inside the domain.

Random points are drawn coordinate by coordinate from a fixed mixture (half N(0, 1),
a quarter N(0, 10**2), a quarter ``±10**U(-3, 2)``), in batches of ``BATCH``
candidates evaluated in one vectorised call; a candidate is kept when ``f`` and every
partial derivative are real and finite there (so ``log(x)`` gets ``x > 0``).  The first
``n`` valid candidates in draw order are used, so a seed fixes the points.  Each
coordinate is rounded to 6 significant digits (and the point checked again), so the
label shown for a point is short and reads back as exactly that point.
"""

from __future__ import annotations

import re
from typing import Callable, Sequence

import numpy as np

from .errors import DomainError, InputError, OptionError, UnknownNameError

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


_TEXT_NAME = re.compile(r"(?<![\w.])[^\W\d]\w*")


def text_names(text: str) -> set[str]:
    """Every name written in an expression's text, even one that cancels (``0*y``, ``y - y``).

    Function names and constants are included; digits' exponents (``1e5``) are not.
    """
    return set(_TEXT_NAME.findall(text))


def parse_sizes(text: str, option: str, example: str, *, times: bool = False) -> tuple[int, ...]:
    """Sizes such as ``--shape 3,4`` or ``--dims "10 5 10"``: whole numbers >= 1.

    Separators are commas and spaces (and ``x`` between two numbers when ``times``:
    ``3x4``); surrounding brackets and one trailing comma (``(3,)``) are ignored.
    Anything else (``3,x``, ``5.5``, ``3,,4``) raises ``OptionError`` naming ``option``.
    """
    raw = text.strip().strip("()[]").strip()
    if raw.endswith(","):
        raw = raw[:-1].rstrip()
    separator = r"\s*,\s*|\s+" + (r"|(?<=\d)\s*[x×]\s*(?=\d)" if times else "")
    parts = re.split(separator, raw) if raw else [""]
    bad = next((p for p in parts if not p.isascii() or not p.isdigit()), None)
    if bad is not None:
        what = "an empty size" if bad == "" else f"{bad!r} is not a whole number"
        raise OptionError(f"{option} must be whole numbers, e.g. {example}; {what} in {text!r}")
    sizes = tuple(int(p) for p in parts)
    if min(sizes) < 1:
        raise OptionError(f"{option}: every size must be at least 1, got {text!r}")
    return sizes


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


def parse_at(
    spec: str | AtSpec, names: Sequence[str], to_float: Callable[[str], float], option: str = "--at"
) -> np.ndarray:
    """One ``--at`` value (text, or already split by ``split_at``) as a point ordered like ``names``.

    ``spec`` is ``"x=1.5,y=-2"`` (values may be constant expressions, turned into
    floats by ``to_float``) or, when there is exactly one variable, a bare ``"1.5"``.
    ``option`` (``--at``, ``--x0``) names the option in error messages.
    """
    spec, items = spec if isinstance(spec, tuple) else split_at(spec)
    option = f"{option} {spec!r}"
    values: dict[str, float] = {}
    for name, value in items:
        if name is None:
            if len(names) == 1 and len(items) == 1:
                name = names[0]
            else:
                raise OptionError(
                    f"{option}: write name=value for each variable ({', '.join(names)})"
                )
        if name not in names:
            raise OptionError(f"{option}: unknown variable '{name}' (variables: {', '.join(names)})")
        if name in values:
            raise OptionError(f"{option}: '{name}' is given twice")
        if not value:
            raise OptionError(f"{option}: no value for '{name}'")
        values[name] = _value(option, name, value, to_float)
    missing = [n for n in names if n not in values]
    if missing:
        raise OptionError(f"{option}: no value for {', '.join(missing)}")
    return np.array([values[n] for n in names], dtype=float)


def _value(option: str, name: str, value: str, to_float: Callable[[str], float]) -> float:
    """``to_float(value)``; its errors become one OptionError about this option's value."""
    try:
        return to_float(value)
    except UnknownNameError as exc:
        found = _TEXT_NAME.match(value, (exc.column or 1) - 1)
        token = found.group() if found else value
        reason = f"'{token}' is not a constant (use a number, pi or e, e.g. {name}=pi/4)"
    except InputError as exc:
        reason = re.sub(r" at column \d+$", "", str(exc))
    raise OptionError(
        f"{option}: the value of '{name}' is not a number or a constant expression: {reason}"
    )


def _candidates(rng: np.random.Generator, n_vars: int) -> np.ndarray:
    kind = rng.integers(0, 4, size=(BATCH, n_vars))
    normal = rng.standard_normal((BATCH, n_vars))
    wide = 10.0 * rng.standard_normal((BATCH, n_vars))
    logu = rng.choice([-1.0, 1.0], size=(BATCH, n_vars)) * 10.0 ** rng.uniform(-3, 2, (BATCH, n_vars))
    return np.select([kind < 2, kind == 2], [normal, wide], logu)


def short_numbers(values: np.ndarray, digits: int = 6) -> np.ndarray:
    """``values`` rounded to ``digits`` significant digits, each the float nearest to its
    decimal text, so that a random point reads back exactly from its label (``x=-0.00804226``)."""
    flat = [float(f"{v:.{digits}g}") for v in np.asarray(values, dtype=float).ravel()]
    return np.array(flat, dtype=float).reshape(np.shape(values))


def random_points(
    valid: Callable[[np.ndarray], np.ndarray], n_vars: int, count: int, seed: int
) -> np.ndarray:
    """``count`` seeded random points of shape ``(count, n_vars)`` where ``valid`` holds.

    ``valid`` maps candidates ``(K, n_vars)`` to a boolean mask ``(K,)``.
    At most ``MAX_BATCHES * BATCH`` candidates are drawn: asking for more points than
    that raises OptionError; finding fewer valid ones raises DomainError.
    """
    draws = MAX_BATCHES * BATCH
    if count > draws:
        raise OptionError(
            f"--points {count}: at most {draws} random points (gradcheck draws {draws} "
            "candidates); give more points with --at"
        )
    rng = np.random.default_rng(seed)
    found: list[np.ndarray] = []
    have = 0
    for _ in range(MAX_BATCHES):
        cand = _candidates(rng, n_vars)
        ok = cand[np.asarray(valid(cand), dtype=bool)]
        start = 0
        while have < count and start < len(ok):
            take = short_numbers(ok[start : start + count - have])
            start += len(take)
            take = take[np.asarray(valid(take), dtype=bool)]  # rounding can reach a boundary
            found.append(take)
            have += len(take)
        if have >= count:
            return np.concatenate(found)[:count]
    where = "where f and its derivatives are real and finite"
    if have == 0:
        raise DomainError(
            f"found 0 of {count} random points {where} in {draws} draws "
            "(coordinates within ±100); give a point inside the domain with --at"
        )
    raise DomainError(
        f"found {have} of {count} random points {where} in {draws} draws "
        f"(coordinates within ±100); ask for at most --points {have}, or give points with --at"
    )
