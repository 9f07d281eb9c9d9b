"""Diagnosis: turn per-block analytic vs numeric gradients into a likely cause.

numpy only.  Nothing here prints.  Hints are sentences (the JSON ``hints`` are text), so
they are made here, in one place, from the numbers: ``diagnose`` (network blocks),
``ratio_hint`` (entries off by one factor), ``cost_hint`` (``net --impl``'s cost), ``diagnose_layer`` (``layer``) and the
Taylor-test sentences; the checks only pass them on.

Patterns, each tried on a FAILING block ``a`` (analytic) against ``n`` (numeric):

==============  ===============================================================================
all zero        ``max |a| <= 1e-12 max |n|`` while ``n`` is not zero
factor c        least squares ``c = (a . n) / (n . n)`` over the entries with
                ``|n| > 1e-3 max |n|`` (tiny entries are round-off), accepted when the fit
                explains the block: ``||a - c n||_2 <= 1e-3 ||a||_2`` and
                ``max |a - c n| <= 1e-2 max |a|``, with at least 2 such entries.
                ``c = -1``: sign flipped; ``c = M`` or ``1/M`` (M samples): a mean cost
                with a summed gradient or the reverse; ``c = 2`` or ``1/2``: a factor 2
transposed      2-D block of shape (r, c), r, c > 1, whose values are those of the numeric
                gradient's transpose laid into the block's shape,
                ``a ~ n.T.reshape(r, c)`` (same two tolerances); for a square block this is
                ``a ~ n.T``
==============  ===============================================================================

Then, across the blocks whose failure no pattern explains (blocks ``W_l``, ``b_l``,
l = 1..L, the last layer being the output):

* ``b_l`` wrong while ``W_l`` passes: the bias gradient is not summed over the batch;
* some hidden blocks (l < L) wrong while ``W_L`` and ``b_L`` pass: the error enters
  between the output and the hidden layer, i.e. the activation derivative;
* every block wrong: the output error signal (yhat - y) or the cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .verdict import Status

_SIGNIFICANT = 1e-3  # entries below this fraction of the block's largest numeric value are ignored
_FIT_RMS = 1e-3
_FIT_MAX = 1e-2
_ZERO = 1e-12

_DERIVATIVE = {
    "sigmoid": "sigmoid' = s(1-s)",
    "tanh": "tanh' = 1 - t^2",
    "relu": "relu' = 1 where z > 0, else 0",
}

#: the hint substring that each injected bug (``network.model.BUGS``) must produce
HINT_FOR_BUG: dict[str, str] = {
    "missing-sigmoid-grad": "check the derivative of the hidden activation",
    "one-minus-h": "check the derivative of the hidden activation",
    "sigmoid-grad-of-z": "check the derivative of the hidden activation",
    "sign-flip": "sign flipped (yhat - y vs y - yhat?)",
    "mean-cost-summed-grad": "a mean cost with a summed gradient (or the reverse)?",
    "summed-cost-mean-grad": "a mean cost with a summed gradient (or the reverse)?",
    "b1-first-sample": "b1 wrong while W1 is right",
    "b1-zero": "b1: gradient is all zero",
    "w2-transposed": "W2 looks transposed",
}


def expected_hint(bug: str) -> str:
    """The substring ``diagnose`` must produce for an injected ``bug`` (for tests)."""
    return HINT_FOR_BUG[bug]


def diagnose(
    blocks: Iterable[Sequence],
    samples: int | None = None,
    activation: str = "sigmoid",
) -> list[str]:
    """Hints for a network check: ``blocks`` is ``(name, analytic, numeric, status)`` per block.

    ``analytic`` and ``numeric`` are the block's values (any shape; 2-D for the
    transposed test), ``status`` its worst ``Status``.  ``samples`` (M) lets a factor M
    be named; ``activation`` picks the derivative formula quoted.  A correct network
    (no failing block) gets no hint.
    """
    items = []
    for name, a, n, status in blocks:
        items.append((str(name), np.asarray(a, dtype=float), np.asarray(n, dtype=float), Status(status)))
    failing = {name for name, _, _, s in items if s is Status.FAIL}
    if not failing:
        return []
    right = {name for name, _, _, s in items if s in (Status.PASS, Status.KINK)}

    hints: list[str] = []
    explained: set[str] = set()
    zero, factors, transposed, single = [], {}, [], []
    for name, a, n, status in items:
        if status is not Status.FAIL:
            continue
        bad = nonfinite_hint(name, a)
        if bad:
            hints.append(bad)
            explained.add(name)
            continue
        pattern = block_pattern(a, n)
        if pattern is None:
            one = single_wrong_entry(a, n)
            if one is not None and a.size > 1:
                hints.append(_single_hint(name, one, a, n))
                explained.add(name)
            else:
                single.append((name, a, n))
            continue
        explained.add(name)
        if pattern[0] == "zero":
            zero.append(name)
        elif pattern[0] == "transposed":
            transposed.append(name)
        else:
            key = _round_factor(pattern[1])
            factors.setdefault(key, []).append(name)
    # a block too small to fit a factor on its own (b2 of a 1-output network) joins a
    # factor that the other blocks share, so the hint names every block it concerns
    for name, a, n in single:
        ok = np.isfinite(n) & (n != 0)
        if not ok.any():
            continue
        ratios = a[ok] / n[ok]
        for key in factors:
            if np.all(np.abs(ratios - key) <= 1e-3 * abs(key)):
                factors[key].append(name)
                explained.add(name)
                break
    order = [name for name, *_ in items]
    for key, names in factors.items():
        names = sorted(names, key=order.index)
        hints.append(_factor_hint(_join(names, ", "), key, samples))
    hints += [f"{name}: gradient is all zero (never assigned, or overwritten?)" for name in zero]
    hints += [
        f"{name} looks transposed: its values are the numeric gradient's transpose laid into "
        f"{name}'s shape (grad.T, or a reshape in column-major order?)"
        for name in transposed
    ]
    hints += _structural(items, failing, right, explained, activation)
    return hints


def _label(name: str, index) -> str:
    return f"{name}[{', '.join(str(int(i)) for i in index)}]" if len(index) else name


def nonfinite_hint(name: str, a: np.ndarray, shown: int = 3) -> str:
    """``your gradient has NaN at W1[2, 3]`` when the analytic block has NaN or inf entries
    (the first ``shown`` of them named), else ''."""
    a = np.asarray(a, dtype=float)
    bad = np.argwhere(~np.isfinite(a))
    if not len(bad):
        return ""
    kinds = sorted({"NaN" if np.isnan(a[tuple(i)]) else "inf" for i in bad})
    where = ", ".join(_label(name, i) for i in bad[:shown])
    more = f" and {len(bad) - shown} more entries" if len(bad) > shown else ""
    return f"your gradient has {' and '.join(kinds)} at {where}{more} (a division by zero, log(0) or overflow?)"


def single_wrong_entry(a: np.ndarray, n: np.ndarray):
    """The index of the only entry where ``a`` and ``n`` disagree (beyond 1e-2 of the
    larger, with entries below 1e-3 of the block's scale counted as zero), or None."""
    a, n = np.asarray(a, dtype=float), np.asarray(n, dtype=float)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(n))):
        return None
    scale = _SIGNIFICANT * max(float(np.max(np.abs(n))), float(np.max(np.abs(a))), 0.0)
    wrong = np.abs(a - n) > 1e-2 * np.maximum(np.maximum(np.abs(a), np.abs(n)), scale)
    if np.count_nonzero(wrong) != 1:
        return None
    return tuple(int(i) for i in np.argwhere(wrong)[0])


def _single_hint(name: str, index, a: np.ndarray, n: np.ndarray) -> str:
    av, nv = float(a[index]), float(n[index])
    ratio = f", {av / nv:.3g}x" if nv != 0 and np.isfinite(av / nv) else ""
    return (f"{name}: only {_label(name, index)} is wrong (analytic {av:.6g}, numeric {nv:.6g}{ratio}); "
            "every other entry is right: an indexing mistake (a wrong or off-by-one index) "
            "rather than a wrong formula?")


def block_pattern(a: np.ndarray, n: np.ndarray):
    """``("zero",)``, ``("factor", c)``, ``("transposed",)`` or None (see module docstring)."""
    ok = np.isfinite(a) & np.isfinite(n)
    if not np.all(np.isfinite(a)) or not np.any(ok):
        return None
    af, nf = a[ok], n[ok]
    nmax = float(np.max(np.abs(nf)))
    amax = float(np.max(np.abs(af)))
    if nmax == 0.0:
        return None
    if amax <= _ZERO * nmax:
        return ("zero",)
    c = _fit_factor(af, nf)
    if c is not None and abs(c - 1.0) > 1e-3:
        return ("factor", c)
    if a.ndim == 2 and min(a.shape) > 1 and a.shape == n.shape and np.all(ok):
        t = n.T.reshape(a.shape)
        if _explains(a, t) and not _explains(a, n):
            return ("transposed",)
    return None


def _fit_factor(a: np.ndarray, n: np.ndarray) -> float | None:
    sig = np.abs(n) > _SIGNIFICANT * np.max(np.abs(n))
    if np.count_nonzero(sig) < 2:
        return None
    c = float(np.dot(a[sig], n[sig]) / np.dot(n[sig], n[sig]))
    if not np.isfinite(c) or c == 0.0:
        return None
    return c if _explains(a, c * n) else None


def _explains(a: np.ndarray, model: np.ndarray) -> bool:
    """``model`` reproduces ``a`` up to the fit tolerances."""
    r = np.abs(a - model)
    na = float(np.linalg.norm(a))
    return bool(na > 0 and np.linalg.norm(r) <= _FIT_RMS * na and np.max(r) <= _FIT_MAX * np.max(np.abs(a)))


def _round_factor(c: float) -> float:
    """``c`` to 4 significant digits, so blocks sharing a factor are reported together."""
    return float(f"{c:.4g}")


def _fmt(c: float) -> str:
    if abs(c) >= 1 and abs(c - round(c)) <= 1e-3 * abs(c):
        return f"{round(c):.1f}"
    return f"{c:.4g}"


def _near(c: float, target: float) -> bool:
    return abs(c - target) <= 1e-3 * abs(target)


def _factor_hint(names: str, c: float, samples: int | None) -> str:
    if _near(c, -1.0):
        return f"{names}: sign flipped (yhat - y vs y - yhat?)"
    head = f"{names}: every entry is {_fmt(c)}x the numeric value"
    m = abs(c) if abs(c) >= 1 else 1 / abs(c)
    if c < 0:
        return f"{head}: the sign is flipped and a constant factor {_fmt(-c)} is missing or extra"
    batch = (samples is not None and samples > 1 and _near(m, samples)) or (
        samples is None and m >= 3 and _near(m, round(m))
    )
    if batch:
        inverse = f" (1/{round(m)})" if c < 1 else ""
        return f"{head}{inverse}: a mean cost with a summed gradient (or the reverse)?"
    if _near(m, 2.0):
        return f"{head}: a factor of 2 (a missing or extra 1/2 as in 0.5*sum(...)**2, or a term counted twice?)"
    return f"{head}: a constant factor is missing or extra (a scale, a temperature, the batch size?)"


def _join(names: list[str], last: str = " and ") -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + last + names[-1]


def _layer(name: str) -> int | None:
    if len(name) >= 2 and name[0] in "Wb" and name[1:].isdigit():
        return int(name[1:])
    return None


def _structural(items, failing, right, explained, activation) -> list[str]:
    names = [name for name, *_ in items]
    layers = {n: _layer(n) for n in names}
    if any(v is None for v in layers.values()):
        return []
    L = max(layers.values())
    wrong = [n for n in names if n in failing and n not in explained]
    hints = []
    for n in names:
        l = layers[n]
        if n.startswith("b") and n in wrong and f"W{l}" in right:
            hints.append(
                f"{n} wrong while W{l} is right: check the bias gradient is summed over the batch "
                f"(sum over the rows of delta{l}, not one row)"
            )
    hidden_wrong = [n for n in wrong if layers[n] < L and n.startswith("W")]
    output = [n for n in names if layers[n] == L]
    if hidden_wrong and all(n in right for n in output):
        bad = [n for n in names if n in failing]
        good = [n for n in names if n in right]
        formula = _DERIVATIVE.get(str(getattr(activation, "value", activation)))
        if formula is None:  # a model of the user's: its hidden layers may be more than an activation
            hints.append(
                f"{_join(bad)} wrong, {_join(good)} right: the mistake is in the backward pass of a "
                "hidden layer: its activation's derivative, batchnorm's, or a dropout mask that must "
                "be the one the forward pass drew"
            )
        else:
            hints.append(
                f"{_join(bad)} wrong, {_join(good)} right: check the derivative of the hidden "
                f"activation ({formula})"
            )
    elif len(names) > 1 and set(wrong) == set(names):
        hints.append(
            "every block is wrong: check the output error signal (yhat - y for softmax with "
            "cross-entropy) and that the gradient is of the cost returned"
        )
    return hints


def ratio_hint(analytic: np.ndarray, numeric: np.ndarray, failing: np.ndarray) -> tuple[str, ...]:
    """A hint when every failing entry is off by the same factor k (-1, 2, 1/2, ...).

    One failing entry gets a hint only for the classic factors (-1, 0, 2, 1/2, -2, -1/2).
    """
    a, n = analytic[failing], numeric[failing]
    usable = np.isfinite(a) & np.isfinite(n) & (n != 0)
    count = int(usable.sum())
    if count < 1 or count < failing.sum():
        return ()
    ratio = a[usable] / n[usable]
    k = float(np.median(ratio))
    if not np.all(np.abs(ratio - k) <= 1e-3 * max(abs(k), 1e-3)) or abs(k - 1) < 1e-2:
        return ()
    near = lambda v: abs(k - v) <= 1e-3 * max(abs(v), 1.0)  # noqa: E731
    classic = any(near(v) for v in (-1.0, 0.0, 2.0, 0.5, -2.0, -0.5))
    if count == 1 and not classic:
        return ()
    where = "the failing entry" if count == 1 else f"all {count} failing entries"
    if near(-1.0):
        return (f"analytic = -numeric on {where}: a sign error?",)
    if near(0.0):
        return (f"analytic is ~0 where numeric is not, on {where}: a missing term?",)
    why = "a missing or extra factor 2" if near(2.0) or near(0.5) else "a constant factor"
    if near(-2.0) or near(-0.5):
        why = "a sign error and a factor 2"
    return (f"analytic / numeric = {k:.4g} on {where}: {why}?",)


#: the Taylor test (net, func) disagrees with entries that all passed
TAYLOR_DISAGREES = ("the Taylor test says the gradient is wrong along a random direction, although no "
                    "entry failed: check with a tighter --fail-tol or --hvp")
#: the Taylor test (expr) disagrees with checks that all passed
TAYLOR_NEAR_KINK = ("the Taylor test disagrees with the finite-difference checks: a kink (abs, max, relu) "
                    "within 0.1 of the point along the test direction gives order 1 for a correct gradient")


def cost_hint(ratio: float, samples: int, mean: bool) -> str:
    """``net --impl``: the user's cost is ``ratio`` x the reference; name 1/M, M or -1."""
    why = {1 / samples: ": averaged over the samples instead of summed?",
           float(samples): ": summed over the samples instead of averaged?",
           -1.0: ": a sign error (log-likelihood instead of its negative)?"}
    guess = next((w for r, w in why.items() if abs(ratio - r) <= 1e-6 * abs(r)), "")
    return (f"cost: yours is {ratio:.6g}x the reference cost (cross-entropy "
            f"{'averaged' if mean else 'summed'} over the {samples} samples){guess}")


# --------------------------------------------------------------------------- layers
# ``gradcheck layer``: the checks pass the numbers of each input (``LayerBlock``); the
# sentences are made here.  Patterns, tried in order on each failing input z:
#   swapped     dz matches the numeric gradient of another input of z's shape: wrong order
#   dout        dz equals a dout: the local gradient is missing
#   zero / factor / transposed   as ``block_pattern``; a factor 1/N or N (N the batch size)
#               is named, as is a factor equal to a numeric param (dropout's p)
#   repeated    failing rows are exactly the indices repeated in an integer input:
#               dW[idx] += dout (buffered) instead of np.add.at
#   routing     nonzero where the numeric gradient is zero and zero where it is not: an
#               index or stride error; only the former: a missing mask
#   varying     the failing entries' ratios vary: an elementwise factor
#   alias       failures no pattern explains while the cache shares memory with out


@dataclass(frozen=True)
class LayerBlock:
    """One checked input of a layer: values shaped like it (NaN where not computed), failing mask."""

    name: str
    analytic: np.ndarray
    numeric: np.ndarray
    noise: np.ndarray
    failing: np.ndarray
    complete: bool  # every entry has a numeric value (not fast mode's group-verified ones)


def _fmt_factor(c: float) -> str:
    return f"{round(c):d}" if abs(c) >= 1 and abs(c - round(c)) <= 1e-3 * abs(c) else f"{c:.4g}"


def _numbers(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, float]]:
    found = []
    for key, value in params.items():
        label = f"{prefix}{key}"
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            found.append((label, float(value)))
        elif isinstance(value, dict):
            found += _numbers(value, label + ".")
    return found


def layer_factor_hint(name: str, c: float, batch: int | None, params: Mapping[str, Any]) -> str:
    """``dz: every entry is c x the numeric value`` and the likely reason."""
    near = lambda v: abs(c - v) <= 1e-3 * abs(v)  # noqa: E731
    head = f"d{name}: every entry is {_fmt_factor(c)} x the numeric value"
    if near(-1.0):
        return f"d{name} has the wrong sign: every entry is -1 x the numeric value"
    if batch and batch > 1 and near(1 / batch):
        return (f"{head} (1/N with N = {batch}, the batch size): averaged over the batch where it should "
                f"be summed (np.sum(dout, axis=0), not np.mean)?")
    if batch and batch > 1 and near(float(batch)):
        return (f"{head} (N = {batch}, the batch size): the loss is averaged over the batch but the "
                f"gradient is not divided by N?")
    for label, v in _numbers(params):
        if v not in (0.0, 1.0) and (near(v) or near(1 / v)):
            which = label if near(v) else f"1/{label}"
            return f"{head}, which is {which} ({label} = {v:g}): a missing or extra factor of {label}?"
    if near(2.0) or near(0.5):
        return f"{head}: a missing or extra factor 2?"
    return f"{head}: a constant factor is missing or extra"


def diagnose_layer(
    blocks: Sequence[LayerBlock],
    *,
    who: str,
    grads: Sequence[str],
    douts: Sequence[np.ndarray] = (),
    data_inputs: Mapping[str, np.ndarray] | None = None,
    params: Mapping[str, Any] | None = None,
    batch: int | None = None,
    cache_aliases: Sequence[str] = (),
    cache_changed: bool = False,
) -> list[str]:
    """Hints for a ``layer`` check (patterns above); ``who`` names the backward function,
    ``grads`` the differentiated inputs in order, ``data_inputs`` the integer inputs."""
    hints: list[str] = []
    if cache_changed:
        hints.append(f"{who} gave a different result when called again on the same cache after another "
                     "forward pass: the cache holds arrays that later calls change (a buffer shared between "
                     "calls, or an in-place update in backward); cache copies")
    failing = [b for b in blocks if b.failing.any()]
    if not failing:
        return hints
    complete = {b.name: b for b in blocks if b.complete}
    explained: set[str] = set()

    swapped = [(b.name, o.name) for b in failing if b.name in complete
               for o in complete.values() if o.name != b.name and o.analytic.shape == b.analytic.shape
               and _explains(b.analytic, o.numeric)]
    if swapped:
        pairs = "; ".join(f"the gradient returned for {a} is the numeric gradient of {o}" for a, o in swapped)
        hints.append(f"{who} returns its gradients in the wrong order: {pairs} (expected the order "
                     f"{', '.join(f'd{g}' for g in grads)})")
        explained |= {a for a, _ in swapped}

    # the other patterns read the entries that have a numeric value (all of them, or fast
    # mode's direct checks: NaN elsewhere never matches)
    for b in failing:
        if b.name in explained:
            continue
        a, n, bad = b.analytic, b.numeric, b.failing
        if any(d.shape == a.shape and _explains(a, d) for d in douts):
            hints.append(f"d{b.name} equals dout: the local gradient d out / d {b.name} is missing "
                         f"(d{b.name} = dout * local gradient)")
            explained.add(b.name)
            continue
        pattern = block_pattern(a, n)
        if pattern is not None:
            explained.add(b.name)
            if pattern[0] == "zero":
                hints.append(f"d{b.name} is all zero (never assigned, or overwritten?)")
            elif pattern[0] == "transposed":
                hints.append(f"d{b.name} looks transposed: its values are the numeric gradient's transpose "
                             f"laid into {b.name}'s shape (dout.T @ x reshaped, instead of x.T @ dout?)")
            else:
                hints.append(layer_factor_hint(b.name, pattern[1], batch, params or {}))
            continue
        if a.ndim >= 1:
            rows = set(np.nonzero(bad.reshape(a.shape[0], -1).any(axis=1))[0].tolist())
            for label, values in (data_inputs or {}).items():
                uniq, counts = np.unique(values, return_counts=True)
                if rows and rows <= set(uniq[counts > 1].tolist()):
                    hints.append(
                        f"d{b.name} is wrong exactly at the rows whose index appears more than once in "
                        f"{label}: repeated indices are not accumulated (use np.add.at(d{b.name}, {label}, "
                        f"dout), not d{b.name}[{label}] += dout)")
                    explained.add(b.name)
                    break
        if b.name in explained:
            continue
        num_zero, ana_zero = np.abs(n) <= b.noise, np.abs(a) <= b.noise
        extra = int(np.count_nonzero(bad & num_zero & ~ana_zero))
        missing = int(np.count_nonzero(bad & ana_zero & ~num_zero))
        if extra and missing:
            hints.append(f"d{b.name} puts gradient on {extra} entries where the numeric gradient is zero and "
                         f"none on {missing} where it is not: it is routed to the wrong entries (an index, "
                         f"stride or offset error?)")
            explained.add(b.name)
        elif extra and extra == int(np.count_nonzero(bad)):
            hints.append(f"d{b.name} is nonzero at {extra} entries where the numeric gradient is zero (where "
                         f"{b.name} does not reach the loss: relu's x <= 0, a masked step): a missing mask or "
                         f"local gradient?")
            explained.add(b.name)
    for b in failing:
        if b.name in explained:
            continue
        with np.errstate(all="ignore"):
            ratio = b.analytic[b.failing] / b.numeric[b.failing]
        ratio = ratio[np.isfinite(ratio)]
        if len(ratio) < 2 or not np.all(ratio > 0):
            continue
        k = int(b.failing.sum())
        if ratio.max() <= ratio.min() * (1 + 1e-3):
            hints.append(f"d{b.name}: its {k} failing entries are {_fmt_factor(float(np.median(ratio)))} x "
                         f"the numeric value, the others agree")
        else:
            counts = np.rint(1 / ratio)
            if np.all((counts >= 2) & (counts <= 64)) and np.allclose(ratio * counts, 1, rtol=0, atol=1e-6):
                # each failing entry is 1/m of the numeric value, m a whole number: m equal terms, one counted
                shown = ", ".join(str(int(m)) for m in np.unique(counts)[:4])
                hints.append(f"d{b.name}: {k} of {b.analytic.size} entries fail, each exactly 1/m of the numeric "
                             f"value (m = {shown}): an index repeated m times adds m terms to the gradient and one "
                             f"was counted (d{b.name}[idx] += v counts a repeated idx once; np.add.at counts "
                             f"each)")
                continue
            hints.append(f"d{b.name}: {k} of {b.analytic.size} entries fail, by a factor that varies from "
                         f"{ratio.min():.3g} to {ratio.max():.3g}: an elementwise factor (a local gradient "
                         f"such as a gate's) is missing or wrong")
    # caching out itself is fine (sigmoid caches it): a suspect only when no pattern explains a failure
    if cache_aliases and any(b.name not in explained for b in failing):
        hints.append(f"{cache_aliases[0]} shares memory with out: if forward changed out in place after caching "
                     f"it (out = xhat; out *= gamma), the cached array changed too; cache a copy")
    return hints


def regularisation_hint(name: str, a: np.ndarray, n: np.ndarray, w: np.ndarray, reg: float | None) -> str:
    """A hint when a failing block's error is a multiple of the parameter itself:
    ``a - n = c * w`` (least squares over the block, accepted with ``_explains``'s
    tolerances), the mark of an L2 term ``0.5 * reg * sum(w**2)`` (gradient ``reg * w``)
    missing, counted twice, or with its ``0.5`` dropped.  ``c`` is named in units of
    ``reg`` when the model has one; '' when the error is no multiple of ``w``."""
    a, n, w = (np.asarray(v, dtype=float).ravel() for v in (a, n, w))
    ok = np.isfinite(a) & np.isfinite(n)
    if np.count_nonzero(ok) < 2 or not np.all(np.isfinite(a)):
        return ""
    d, w = a[ok] - n[ok], w[ok]
    ww = float(np.dot(w, w))
    if ww == 0.0 or not np.any(d):
        return ""
    c = float(np.dot(d, w) / ww)
    if c == 0.0 or not _explains(d, c * w):
        return ""
    if reg is None or reg == 0:
        return (f"{name}: analytic - numeric = {c:.4g} * {name} on every entry: a regularisation term "
                f"(reg = {abs(c):.4g}?) missing from the gradient or counted twice?")
    k = c / reg
    head = f"{name}: analytic - numeric = {_fmt_multiple(k)}reg * {name} (reg = {reg:g})"
    if _near(k, 1.0):
        return (f"{head}: the regularisation gradient is counted twice (2 * reg * {name}), or the "
                f"loss lacks the reg term that the gradient has")
    if _near(k, -1.0):
        return (f"{head}: the regularisation gradient reg * {name} is missing, or the loss has "
                f"reg * sum({name}**2) without the 0.5 (its gradient is 2 * reg * {name})")
    if _near(abs(k), 2.0) or _near(abs(k), 0.5):
        return f"{head}: a factor 2 in the regularisation (0.5 * reg * sum({name}**2) has the gradient reg * {name})"
    return f"{head}: the regularisation term of {name} in the gradient does not match the loss's"


def _fmt_multiple(k: float) -> str:
    if _near(k, 1.0):
        return ""
    if _near(k, -1.0):
        return "-"
    return f"{_fmt(k) if abs(k) >= 1 else f'{k:.4g}'} * "
