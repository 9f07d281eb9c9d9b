"""The text of a ``layer`` report: what was checked (header) and the notes under the tables.

Made here from the typed ``results.LayerSubject``; ``views.table`` prints them.
"""

from __future__ import annotations

import json
import math

from ..results import LayerSubject, Report

#: relative noise of sum(out * dout) above which the report says so (float64 gives ~1e-16)
NOISY = 1e-11


def _shape(shape) -> str:
    return " x ".join(map(str, shape)) or "scalar"


def header_lines(layer: LayerSubject, seed: int | None) -> list[str]:
    """``forward F(x, w, b) -> (out, cache); backward B(dout, cache) -> (dx, dw, db)``, the inputs,
    the params and what is compared."""
    args = ", ".join(layer.arguments or [i.name for i in layer.inputs])
    grads = ", ".join(f"d{i.name}" for i in layer.inputs if i.differentiated)
    if layer.is_loss:
        lines = [f"loss layer {layer.forward}({args}) -> (loss, {grads})"]
    else:
        m = len(layer.outputs)
        outs = "out" if m == 1 else ", ".join(f"out{k + 1}" for k in range(m))
        douts = "dout" if m == 1 else ", ".join(f"dout{k + 1}" for k in range(m))
        lines = [f"forward {layer.forward}({args}) -> ({outs}, cache)",
                 f"backward {layer.backward}({douts}, cache) -> ({grads})"]
    parts = []
    for i in layer.inputs:
        tag = "" if i.differentiated else ", not differentiated"
        parts.append(f"{i.name} {_shape(i.shape)} {i.source}{tag}")
    lines.append(f"inputs (seed {seed}): " + "; ".join(parts))
    if layer.params:
        text = ", ".join(f"{k}={json.dumps(v)}" for k, v in layer.params.items())
        lines.append(f"params (a fresh copy for every call): {text}")
    if layer.is_loss:
        lines.append("checked: the numeric gradient of the loss (dout = 1)")
    else:
        shapes = ", ".join(_shape(s) for s in layer.outputs)
        lines.append(f"checked: the numeric gradient of sum(out * dout), dout ~ N(0, 1) of shape {shapes} "
                     f"(seed {seed})")
    return lines


def note_lines(report: Report) -> list[str]:
    """Params that forward updates, a cache that changed, a noisy L, kinks (the effort line is
    ``table.effort_lines``)."""
    layer = report.layer
    if layer is None:
        return []
    lines = []
    if layer.updated_params:
        lines.append(f"forward updates its params ({', '.join(layer.updated_params)}): every call got a fresh copy")
    if layer.cache_changed:
        lines.append("backward's result changed when called again on the first cache (see the hint)")
    if layer.relative_noise > NOISY:
        r = layer.relative_noise
        best = r ** (2 / 3)
        tol = 10.0 ** math.ceil(math.log10(100 * best))  # small entries carry the noise of the large ones
        lines.append(f"sum(out * dout) is noisy: relative noise {r:.1e} (float64 round-off is ~1e-16: float32 "
                     f"arithmetic?); the steps were enlarged to match, and the numeric gradient is good to about "
                     f"{best:.0e} of its largest entries (--pass-tol {tol:g} accepts that)")
    if layer.torch_gradcheck is not None:
        lines.append(f"torch.autograd.gradcheck (float64; its eps 1e-6, atol 1e-5, rtol 1e-3): "
                     f"{'passed' if layer.torch_gradcheck else 'failed'}")
    kinks = report.counts.get("kink", 0)
    if kinks:
        lines.append(f"{kinks} entr{'y' if kinks == 1 else 'ies'} at a kink: the one-sided slopes of the numeric "
                     "gradient differ there and the analytic value lies between them (not a failure)")
    return lines
