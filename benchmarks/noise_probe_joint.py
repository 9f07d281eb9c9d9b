"""Would one noise probe per layer do instead of one per input (10 calls each)?

    python benchmarks/noise_probe_joint.py

``layer`` measures the noise sigma of ``L = sum(out * dout)`` once per differentiated input
(``layer_numerics.noise_along``: ``stencils.noise_probe`` along a +-1 direction through that
input, spacing ``NOISE_SPACING max(max |z|, 1)``).  A single probe through every input at
once would save 10 calls per input beyond the first (20 of batchnorm 64x100 full's 13,561).
This prints, for batchnorm 64x100 (train mode) at several relative scales of x, gamma and
beta, the per-input sigmas beside a joint probe's (one direction through all three, the
spacing set by the largest entry of all).  Measured (float64): at equal scales the
joint sigma is 2.5x the largest input's; with x * 1e3 it is 0.63 of beta's (it would
understate that input's noise); with gamma, beta * 1e3 it is 45x above, and with
x * 1e-3, beta * 1e4 some 4e9 times above (the spacing made for beta's scale puts the
other inputs' curvature into the fourth differences): one probe does not bound every
input's noise, so the probe stays per input.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import subjects  # noqa: E402
from gradcheck_cli import layer_numerics  # noqa: E402
from gradcheck_cli.blackbox.stencils import noise_probe  # noqa: E402
from gradcheck_cli.checks.layer import check_layer  # noqa: E402
from gradcheck_cli.inputs import make_inputs  # noqa: E402

SEEN: dict = {}
_real = layer_numerics.noise_along


def _joint(layer, arrays, seed: int) -> float:
    """The noise of L along one +-1 direction through every differentiated input."""
    diff = [k for k, i in enumerate(layer.inputs) if i.differentiated]
    flats = [arrays[k].reshape(-1) for k in diff]
    base = [f.copy() for f in flats]
    x = np.concatenate(base)
    u = np.random.default_rng((seed, 4, len(arrays))).choice([-1.0, 1.0], size=x.size)
    cuts = np.cumsum([0] + [f.size for f in flats])

    def cost(z):
        for f, a, b in zip(flats, cuts[:-1], cuts[1:]):
            f[:] = z[a:b]
        return layer.objective(arrays)[0]

    try:
        return noise_probe(cost, x, u)
    finally:
        for f, b in zip(flats, base):
            f[:] = b


def _spy(layer, arrays, which, seed):
    sigma = _real(layer, arrays, which, seed)
    SEEN.setdefault("per", {})[which] = sigma
    if "joint" not in SEEN:
        SEEN["joint"] = _joint(layer, arrays, seed)
    return sigma


def main() -> None:
    layer_numerics.noise_along = _spy
    cases = [("equal scales", (1, 1, 1)), ("x * 1e3", (1e3, 1, 1)), ("gamma, beta * 1e3", (1, 1e3, 1e3)),
             ("x * 1e-3, beta * 1e4", (1e-3, 1, 1e4))]
    print(f"{'batchnorm 64x100':24s} {'sigma x':>10s} {'gamma':>10s} {'beta':>10s} {'joint':>10s}  joint / max")
    for name, scales in cases:
        SEEN.clear()
        inputs = make_inputs(["x=64,100", "gamma=100", "beta=100"])
        for i, s in zip(inputs, scales):
            i.value[...] *= s
        check_layer(subjects._layers.batchnorm_forward, subjects._layers.batchnorm_backward, inputs,
                    {"bn_param": {"mode": "train"}}, mode="full")
        per = [SEEN["per"][k] for k in sorted(SEEN["per"])]
        print(f"{name:24s} " + " ".join(f"{s:10.2e}" for s in per) + f" {SEEN['joint']:10.2e}  {SEEN['joint'] / max(per):.3g}")


if __name__ == "__main__":
    main()
