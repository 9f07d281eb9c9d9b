"""The text of a ``model`` report: what was checked (header) and the notes under the tables.

Made here from the typed ``results.ModelSubject``; ``views.table`` prints them.
"""

from __future__ import annotations

import json
import math

from ..results import ModelSubject


def _shape(shape) -> str:
    return " x ".join(map(str, shape)) or "scalar"


def header_lines(model: ModelSubject, seed: int | None) -> list[str]:
    """``model fc_net.py:FullyConnectedNet(hidden_dims=[20, 30], ...)``, the data, the params."""
    init = ", ".join(f"{k}={json.dumps(v)}" for k, v in model.init.items())
    args = ", ".join(i.name for i in model.inputs)
    lines = [f"model {model.model}({init}); loss({args}) -> (loss, grads)"]
    if model.inputs:
        lines.append(f"data (seed {seed}): " + "; ".join(f"{i.name} {_shape(i.shape)} {i.source}" for i in model.inputs))
    total = sum(math.prod(s) for _, s in model.params)
    checked = sum(math.prod(s) for k, s in model.params if k in model.checked)
    params = ", ".join(f"{k} {_shape(s)}" for k, s in model.params)
    lines.append(f"params ({total} entries): {params}")
    if tuple(model.checked) != tuple(k for k, _ in model.params):
        lines.append(f"checked: {', '.join(model.checked)} ({checked} entries; --wrt)")
    lines.append(f"loss at these params = {model.loss:.10g}")
    return lines


def note_lines(model: ModelSubject) -> list[str]:
    """Params checked in float64 although the model holds another float type."""
    if not model.converted:
        return []
    return [f"{', '.join(model.converted)} held in another float type: checked in float64 "
            "(pass dtype float64 to the model to check what it computes in its own precision)"]
