"""Built-in networks: activations, the reference MLP, its backward pass and a bug catalogue.

numpy only.  Nothing here prints.

Network (``NetworkSpec(dims=(D0, D1, ..., DL))``, ``L = len(dims) - 1`` layers)::

    a0 = X                                   (M, D0), one sample per row
    z_l = a_{l-1} W_l + b_l,  a_l = act(z_l)  l = 1 .. L-1   (W_l: (D_{l-1}, D_l), b_l: (1, D_l))
    z_L = a_{L-1} W_L + b_L
    loss "ce":  yhat = softmax(z_L) (row-wise, max subtracted),
                c_i = -sum_j y_ij log yhat_ij
    loss "mse": yhat = sigmoid(z_L),  c_i = 0.5 sum_j (yhat_ij - y_ij)**2
    cost = sum_i c_i        (or mean_i c_i with ``mean=True``)

``dims = (10, 5, 10)`` is the CS224n two-layer network h = sigmoid(X W1 + b1),
yhat = softmax(h W2 + b2); two sizes give softmax regression (W1, b1 only), more give a
deeper MLP.  ``act`` is sigmoid, tanh or relu.  Parameters are one flat vector, blocks
in the order W1, b1, W2, b2, ... each flattened row-major, so there are
``sum_l (D_{l-1} + 1) D_l`` of them ((Dx+1)H + (H+1)Dy for three sizes).

Backward pass (``cost_and_grad``), with ``s = 1/M`` for a mean cost and 1 otherwise::

    delta_L = s (yhat * sum_j y_j - y)                   ce (= s (yhat - y) for one-hot y)
    delta_L = s (yhat - y) yhat (1 - yhat)               mse
    dW_l = a_{l-1}^T delta_l,   db_l = sum_i delta_l[i]
    delta_{l-1} = (delta_l W_l^T) * act'(z_{l-1})        sigmoid' = a(1-a), tanh' = 1-a^2,
                                                         relu' = [a > 0]

the sums in ``np.longdouble`` (rounded to float64 once), each factor computed without cancellation (``activation_slope`` from z; ``p - 1`` as
``expm1(log p)``; ``yhat - 1`` as ``-sigmoid(-z)``), so that a saturated unit's tiny
gradient is right to a few ulps, as the extended-precision check can tell.

``BUGS`` lists classic mistakes that ``cost_and_grad(..., bug=NAME)`` injects into that
backward pass (the cost is unchanged except for the mean/sum bugs, see ``cost_spec``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..choices import Activation, Loss  # re-exported: the network's closed sets
from ..errors import OptionError
from .exact import affine

#: the largest network accepted, in parameters (a full check needs a few arrays of this size)
MAX_PARAMS = 10_000_000
#: the largest data set accepted, in numbers (samples x widest layer)
MAX_DATA = 50_000_000
#: up to this many numbers per layer (samples x widest layer) the reference pass and the
#: extended-precision re-estimates (``differences.settle``) run in longdouble
EXTENDED_ELEMENTS = 2_000_000


# ---------------------------------------------------------------------------- activations


def _real(x) -> np.ndarray:
    """``x`` as a float array, keeping ``np.longdouble`` (the backward pass's precision)."""
    x = np.asarray(x)
    return x if x.dtype == np.longdouble else x.astype(float)


def sigmoid(x):
    """``1 / (1 + exp(-x))`` elementwise, without overflow (exp of -|x| only)."""
    x = _real(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_grad(s):
    """Derivative of the sigmoid expressed in its value: ``s (1 - s)`` for ``s = sigmoid(x)``."""
    s = np.asarray(s, dtype=float)
    return s * (1.0 - s)


def softmax(x):
    """Row-wise softmax ``exp(x_j - max x) / sum_k exp(x_k - max x)``; a 1-D input is one row."""
    x = _real(x)
    z = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)


def log_softmax(x):
    """Row-wise ``log softmax(x)``, stable: ``x - max - log1p(sum_{k != argmax} exp(x_k - max))``
    (``log1p``: the largest entry's ``log p = -1e-52`` of a saturated softmax is not rounded to 0)."""
    x = _real(x)
    k = np.argmax(x, axis=-1)[..., None]
    z = x - np.take_along_axis(x, k, axis=-1)
    e = np.exp(z)
    np.put_along_axis(e, k, 0.0, axis=-1)
    return z - np.log1p(np.sum(e, axis=-1, keepdims=True))


def activate(kind: Activation | str, z):
    """``act(z)`` for a hidden layer."""
    kind = Activation(kind)
    if kind is Activation.SIGMOID:
        return sigmoid(z)
    if kind is Activation.TANH:
        return np.tanh(z)
    return np.maximum(z, 0.0)


def activation_slope(kind: Activation | str, z):
    """``act'(z)`` from the pre-activation z, without cancellation: ``sigmoid(z) sigmoid(-z)``,
    ``1 / cosh(z)**2``, ``[z > 0]``.  (``activation_grad(a)`` from the value loses the
    relative accuracy of a saturated unit: ``1 - a**2`` at ``|z| = 12`` is 2e-10, off by 1e-6.)"""
    kind = Activation(kind)
    z = _real(z)
    if kind is Activation.RELU:
        return (z > 0).astype(z.dtype)
    # e = exp(-k|z|):  sigmoid' = e / (1 + e)**2 (k = 1),  tanh' = 4 e / (1 + e)**2 (k = 2);
    # in place: two arrays of z's size, whatever the data set
    e = np.abs(z)
    e *= -1.0 if kind is Activation.SIGMOID else -2.0
    np.exp(e, out=e)
    d = e + 1.0
    d *= d
    e /= d
    if kind is Activation.TANH:
        e *= 4.0
    return e


def activation_grad(kind: Activation | str, a):
    """``act'`` expressed in the activation's value ``a``: a(1-a), 1-a^2 or [a > 0]."""
    kind = Activation(kind)
    if kind is Activation.SIGMOID:
        return sigmoid_grad(a)
    if kind is Activation.TANH:
        return 1.0 - a * a
    return (a > 0).astype(float)


# ---------------------------------------------------------------------------- the network


@dataclass(frozen=True)
class Block:
    """One parameter block (``W1``, ``b1``, ...) inside the flat parameter vector."""

    name: str
    shape: tuple[int, int]
    offset: int

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def slice(self) -> slice:
        """``params[block.slice]`` is the block, flattened row-major."""
        return slice(self.offset, self.offset + self.size)

    @property
    def layer(self) -> int:
        """The layer ``l`` of ``W_l`` / ``b_l`` (1-based)."""
        return int(self.name[1:])

    @property
    def is_bias(self) -> bool:
        return self.name.startswith("b")

    def take(self, flat: np.ndarray) -> np.ndarray:
        """The block's values from a flat vector, in the block's shape (a view)."""
        return np.asarray(flat)[self.slice].reshape(self.shape)

    def unravel(self, i: int) -> tuple[int, int]:
        """Index inside the block of its ``i``-th flat entry."""
        r, c = divmod(int(i), self.shape[1])
        return (r, c)


@dataclass(frozen=True)
class NetworkSpec:
    """Architecture of the built-in network (see the module docstring)."""

    dims: tuple[int, ...]
    activation: str = "sigmoid"
    loss: str = "ce"
    mean: bool = False

    def __post_init__(self) -> None:
        dims, act, loss = validate_spec(self.dims, self.activation, self.loss)
        object.__setattr__(self, "dims", dims)
        object.__setattr__(self, "activation", act)
        object.__setattr__(self, "loss", loss)
        object.__setattr__(self, "mean", bool(self.mean))

    @property
    def layers(self) -> int:
        return len(self.dims) - 1

    @property
    def param_count(self) -> int:
        return param_count(self.dims)

    @property
    def blocks(self) -> list[Block]:
        out, offset = [], 0
        for l in range(1, len(self.dims)):
            din, dout = self.dims[l - 1], self.dims[l]
            out.append(Block(f"W{l}", (din, dout), offset))
            offset += din * dout
            out.append(Block(f"b{l}", (1, dout), offset))
            offset += dout
        return out

    def block(self, name: str) -> Block:
        for b in self.blocks:
            if b.name == name:
                return b
        names = ", ".join(b.name for b in self.blocks)
        raise OptionError(f"no parameter block {name!r} in a {self.describe()} network (blocks: {names})")

    def unpack(self, params: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """``[(W1, b1), (W2, b2), ...]`` as views of the flat ``params``."""
        bl = self.blocks
        return [(bl[2 * k].take(params), bl[2 * k + 1].take(params)) for k in range(self.layers)]

    def describe(self) -> str:
        return "-".join(str(d) for d in self.dims)


def param_count(dims) -> int:
    """``sum_l (D_{l-1} + 1) D_l``."""
    return sum((dims[l - 1] + 1) * dims[l] for l in range(1, len(dims)))


def validate_spec(dims, activation, loss) -> tuple[tuple[int, ...], Activation, Loss]:
    """Clean ``(dims, activation, loss)`` or raise OptionError saying what is wrong."""
    try:
        dims = tuple(dims)
    except TypeError:
        raise OptionError(f"--dims must be a list of layer sizes, got {dims!r}") from None
    if len(dims) < 2:
        raise OptionError(
            f"--dims needs at least 2 sizes (input and output), got {len(dims)}: e.g. --dims 10 5 10"
        )
    clean = []
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
            if isinstance(d, (float, np.floating)) and float(d).is_integer():
                d = int(d)
            else:
                raise OptionError(f"--dims: layer sizes must be whole numbers, got {d!r}")
        if d < 1:
            raise OptionError(f"--dims: layer sizes must be positive, got {int(d)}")
        clean.append(int(d))
    dims = tuple(clean)
    n = param_count(dims)
    if n > MAX_PARAMS:
        raise OptionError(
            f"--dims {' '.join(map(str, dims))} has {n:,} parameters; at most {MAX_PARAMS:,} are supported"
        )
    try:
        activation = Activation(activation)
    except ValueError:
        raise OptionError(
            f"--activation must be one of {', '.join(a.value for a in Activation)}, got {activation!r}"
        ) from None
    try:
        loss = Loss(loss)
    except ValueError:
        raise OptionError(f"--loss must be one of {', '.join(x.value for x in Loss)}, got {loss!r}") from None
    if loss is Loss.CE and dims[-1] < 2:
        # softmax over one class is identically 1: the cost is 0 and so is every gradient,
        # whatever the parameters, so no mistake in a backward pass could ever show
        raise OptionError(
            f"--dims {' '.join(map(str, dims))}: a softmax over 1 output is always 1, so the "
            "cross-entropy cost and every gradient are 0 and no bug can show; use an output "
            "size Dy >= 2, or --loss mse for a single output"
        )
    return dims, activation, loss


def validate_samples(spec: NetworkSpec, samples) -> int:
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
        raise OptionError(f"--samples must be a positive whole number, got {samples!r}")
    if int(samples) * max(spec.dims) > MAX_DATA:
        raise OptionError(
            f"--samples {samples} with a layer of {max(spec.dims)} units needs more than "
            f"{MAX_DATA:,} numbers per layer; use fewer samples"
        )
    return int(samples)


def validate_inputs(spec: NetworkSpec, data, labels, params) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float arrays of shapes (M, D0), (M, DL), (P,), or OptionError."""
    data = np.asarray(data, dtype=float)
    labels = np.asarray(labels, dtype=float)
    params = np.asarray(params, dtype=float).reshape(-1)
    if data.ndim == 1:
        data = data[None, :]
    if data.ndim != 2 or data.shape[1] != spec.dims[0]:
        raise OptionError(f"data must have shape (samples, {spec.dims[0]}), got {data.shape}")
    if labels.ndim == 1:
        labels = labels[None, :]
    if labels.shape != (data.shape[0], spec.dims[-1]):
        raise OptionError(f"labels must have shape ({data.shape[0]}, {spec.dims[-1]}), got {labels.shape}")
    if params.size != spec.param_count:
        raise OptionError(
            f"a {spec.describe()} network has {spec.param_count} parameters, got {params.size}"
        )
    for name, arr in (("data", data), ("labels", labels), ("params", params)):
        if not np.all(np.isfinite(arr)):
            raise OptionError(f"{name} contains non-finite values")
    return data, labels, params


def make_problem(spec: NetworkSpec, samples: int = 20, seed: int = 0):
    """The CS224n sanity set-up: ``(data, labels, params)``.

    data ~ N(0, 1) of shape (M, D0); labels one-hot (M, DL) with a uniform random class per
    row; params ~ N(0, 1) of length P.  Seeded with ``numpy.random.default_rng(seed)``.
    """
    M = validate_samples(spec, samples)
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((M, spec.dims[0]))
    labels = np.zeros((M, spec.dims[-1]))
    labels[np.arange(M), rng.integers(0, spec.dims[-1], size=M)] = 1.0
    params = rng.standard_normal(spec.param_count)
    return data, labels, params


# ---------------------------------------------------------------------------- forward / backward


@dataclass(frozen=True)
class Forward:
    """Every intermediate of one forward pass.

    ``zs[l]`` and ``acts[l]`` are ``z_l`` and ``a_l`` for l = 0..L (``zs[0]`` is None,
    ``acts[0]`` is the data, ``acts[L]`` is yhat); ``costs`` the per-sample costs ``c_i``
    (before any mean).
    """

    zs: list
    acts: list
    costs: np.ndarray

    @property
    def yhat(self) -> np.ndarray:
        return self.acts[-1]


#: multiply-adds below which a longdouble product is a plain loop (faster than ``affine``'s pieces)
_SMALL_LD = 200_000


def _product(a, W, b) -> np.ndarray:
    """``a W + b`` in longdouble: ``exact.affine`` for a large product of float64 factors
    (sliced in float64, fast), else a plain longdouble product."""
    small = a.shape[0] * a.shape[1] * W.shape[1] <= _SMALL_LD
    if small or np.asarray(a).dtype == np.longdouble or np.asarray(W).dtype == np.longdouble:
        return a.astype(np.longdouble) @ np.asarray(W).astype(np.longdouble) + b
    return affine(a, W, b)[0]


def forward(spec: NetworkSpec, data, labels, params, dtype=float) -> Forward:
    """The forward pass of the module docstring, keeping every intermediate (in ``dtype``)."""
    extended = np.dtype(dtype) == np.longdouble
    data = np.asarray(data, dtype=float)  # float64 data is sliced exactly, and fast, by ``affine``
    zs, acts = [None], [data.astype(dtype)]
    a = data
    for l, (W, b) in enumerate(spec.unpack(params), start=1):
        # longdouble: the products exact in float64 BLAS pieces (``exact.affine``), not a slow loop
        z = _product(a, W, b) if extended else a @ W + b
        if l < spec.layers:
            a = activate(spec.activation, z)
        elif spec.loss is Loss.CE:
            a = softmax(z)
        else:
            a = sigmoid(z)
        zs.append(z)
        acts.append(a)
    if spec.loss is Loss.CE:
        costs = -np.sum(labels * log_softmax(zs[-1]), axis=1)
    else:
        costs = 0.5 * np.sum((acts[-1] - labels) ** 2, axis=1)
    return Forward(zs, acts, costs)


def per_sample_costs(spec: NetworkSpec, data, labels, params) -> np.ndarray:
    """``c_i`` for every sample (no mean)."""
    return forward(spec, data, labels, params).costs


def cost(spec: NetworkSpec, data, labels, params) -> float:
    """The cost: ``sum_i c_i``, or its mean with ``spec.mean``."""
    c = per_sample_costs(spec, data, labels, params)
    return float(np.mean(c) if spec.mean else np.sum(c))


#: name -> one-line description of each mistake ``cost_and_grad(bug=...)`` can inject
BUGS: dict[str, str] = {
    "missing-sigmoid-grad": "hidden layer: the activation derivative s(1-s) is left out of backprop",
    "one-minus-h": "hidden layer: (1-h) is used as the sigmoid derivative instead of h(1-h)",
    "sigmoid-grad-of-z": "hidden layer: sigmoid_grad is applied to the pre-activation z instead of h = sigmoid(z)",
    "sign-flip": "output error signal y - yhat instead of yhat - y",
    "mean-cost-summed-grad": "the cost is averaged over the samples but the gradient is summed",
    "summed-cost-mean-grad": "the cost is summed over the samples but the gradient is averaged",
    "b1-first-sample": "b1 gradient from the first sample only instead of summed over the batch",
    "b1-zero": "b1 gradient never assigned (left at zero)",
    "w2-transposed": "W2 gradient computed as delta2^T h (transposed), reshaped into W2's shape",
}

_HIDDEN_BUGS = ("missing-sigmoid-grad", "one-minus-h", "sigmoid-grad-of-z")


def validate_bug(spec: NetworkSpec, bug: str | None) -> str | None:
    """The bug name, or OptionError when unknown or meaningless for this network."""
    if bug is None:
        return None
    if bug not in BUGS:
        raise OptionError(f"--inject-bug: unknown bug {bug!r}; known: {', '.join(BUGS)}")
    if bug in _HIDDEN_BUGS and spec.layers < 2:
        raise OptionError(f"--inject-bug {bug} needs a hidden layer (at least 3 --dims)")
    if bug == "sigmoid-grad-of-z" and spec.activation is Activation.RELU:
        raise OptionError("--inject-bug sigmoid-grad-of-z changes nothing with --activation relu")
    if bug == "w2-transposed":
        if spec.layers < 2:
            raise OptionError("--inject-bug w2-transposed needs a W2 (at least 3 --dims)")
        if min(spec.dims[1], spec.dims[2]) == 1:
            raise OptionError("--inject-bug w2-transposed changes nothing when W2 is a vector")
    return bug


def bug_blocks(spec: NetworkSpec, bug: str) -> tuple[str, ...]:
    """The blocks whose gradient ``bug`` corrupts (the ones a check must fail)."""
    validate_bug(spec, bug)
    names = [b.name for b in spec.blocks]
    if bug in _HIDDEN_BUGS:
        return tuple(n for n in names if int(n[1:]) < spec.layers)
    if bug in ("b1-first-sample", "b1-zero"):
        return ("b1",)
    if bug == "w2-transposed":
        return ("W2",)
    return tuple(names)


def cost_spec(spec: NetworkSpec, bug: str | None = None) -> NetworkSpec:
    """The spec whose cost ``cost_and_grad(spec, ..., bug)`` returns.

    Only the mean/sum bugs change the returned cost (``mean-cost-summed-grad`` returns the
    mean, ``summed-cost-mean-grad`` the sum); a numeric check of an injected bug must
    differentiate this cost, as it would a user's implementation.
    """
    if bug == "mean-cost-summed-grad":
        return replace(spec, mean=True)
    if bug == "summed-cost-mean-grad":
        return replace(spec, mean=False)
    return spec


def cost_and_grad(spec: NetworkSpec, data, labels, params, bug: str | None = None) -> tuple[float, np.ndarray]:
    """Reference cost and its gradient (flat, length P), optionally with an injected bug."""
    data, labels, params = validate_inputs(spec, data, labels, params)
    bug = validate_bug(spec, bug)
    # our own network, so the whole pass in extended precision, rounded once at the end: a
    # small entry of a large summed cost (terms of 1, a sum of 1e-7) keeps its float64 digits
    # (float64 past EXTENDED_ELEMENTS numbers per layer: there longdouble costs seconds)
    wide = data.shape[0] * max(spec.dims) > EXTENDED_ELEMENTS
    ext = float if wide else np.longdouble
    fw = forward(spec, data, labels, params, dtype=ext)
    M = data.shape[0]
    cost_mean = cost_spec(spec, bug).mean
    grad_mean = {"mean-cost-summed-grad": False, "summed-cost-mean-grad": True}.get(bug, spec.mean)
    value = float(np.mean(fw.costs) if cost_mean else np.sum(fw.costs))

    yhat, zL = fw.yhat, fw.zs[-1]
    with np.errstate(under="ignore"):
        if spec.loss is Loss.CE:  # ysum p - y = (ysum - y) p + y (p - 1), with p - 1 = expm1(log p)
            lsm = log_softmax(zL)
            delta = (np.sum(labels, axis=1, keepdims=True) - labels) * yhat + labels * np.expm1(lsm)
        else:  # yhat - y = (1 - y) sigmoid(z) - y sigmoid(-z);  sigmoid' = sigmoid(z) sigmoid(-z)
            delta = ((1.0 - labels) * yhat - labels * sigmoid(-zL)) * activation_slope(Activation.SIGMOID, zL)
    if bug == "sign-flip":
        delta = -delta
    if grad_mean:
        delta = delta / M

    delta = delta.astype(ext)
    layers = spec.unpack(params)
    grads: list[np.ndarray] = [None] * (2 * spec.layers)  # type: ignore[list-item]
    for l in range(spec.layers, 0, -1):
        W, _ = layers[l - 1]
        W = W.astype(ext)
        a_prev = fw.acts[l - 1]
        gW = (a_prev.T @ delta if wide
              else _product(np.ascontiguousarray(a_prev.T), delta, np.zeros((1, delta.shape[1]), dtype=ext)))
        gb = np.sum(delta, axis=0)
        if l == 1 and bug == "b1-first-sample":
            gb = delta[0].copy()
        if l == 1 and bug == "b1-zero":
            gb = np.zeros_like(gb)
        if l == 2 and bug == "w2-transposed":
            gW = (delta.T @ a_prev).reshape(gW.shape)
        grads[2 * (l - 1)] = gW.ravel().astype(float)
        grads[2 * (l - 1) + 1] = gb.ravel().astype(float)
        if l > 1:
            back = delta @ W.T
            if bug == "missing-sigmoid-grad":
                deriv = 1.0
            elif bug == "one-minus-h":
                deriv = 1.0 - a_prev
            elif bug == "sigmoid-grad-of-z":
                deriv = activation_grad(spec.activation, fw.zs[l - 1])
            else:
                deriv = activation_slope(spec.activation, fw.zs[l - 1])
            delta = back * deriv
    return value, np.concatenate(grads)


def forward_backward_prop(data, labels, params, dimensions):
    """CS224n reference: cost and gradient of the sigmoid/softmax/cross-entropy network.

    ``dimensions = [Dx, H, Dy]``; ``params`` flat W1, b1, W2, b2; cost summed over the rows
    of ``data``.  Returns ``(cost, grad)`` with grad flat like ``params``.
    """
    dims = tuple(dimensions)
    if len(dims) != 3:
        raise OptionError(f"forward_backward_prop takes dimensions [Dx, H, Dy], got {list(dims)}")
    return cost_and_grad(NetworkSpec(dims), data, labels, params)


def parse_dims(dims) -> tuple[int, ...]:
    """``--dims``: ``"10,5,10"``, ``"10 5 10"`` or a sequence of ints -> ``(10, 5, 10)``."""
    if isinstance(dims, str):
        parts = dims.replace(",", " ").split()
    else:
        parts = list(dims)
    try:
        out = tuple(int(p) for p in parts)
    except (TypeError, ValueError):
        raise OptionError(f"--dims must be whole numbers, e.g. --dims 10 5 10; got {dims!r}") from None
    if len(out) < 2:
        raise OptionError(f"--dims needs at least 2 sizes (input and output), got {len(out)}")
    return out
