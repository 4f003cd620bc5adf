"""Muon: momentum orthogonalized by Newton-Schulz iterations.

``scale_by_muon`` keeps a momentum, orthogonalizes it per matrix with a quintic
Newton-Schulz iteration and ``muon`` routes matrices to it (scaled by the shape, with
weight decay and the learning rate) and every other leaf to AdamW. Optax's numbers are
the default; ``bias_correction=False`` together with ``eps=1e-7`` gives the reference
algorithm of KellerJordan/Muon (``muon.py``), see `scale_by_muon`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import GradientTransformation, Updates, chain, init_empty_state, numerics, validate
from gradtx.transforms import add_decayed_weights, scale_by_adam, scale_by_learning_rate
from gradtx.wrappers import MaskedNode, partition

__all__ = ["MuonDimensionNumbers", "MuonState", "NorMuonState", "muon", "scale_by_muon"]

_STANDARD = (3.4445, -4.7750, 2.0315)
_DION = (
    (4.0848, -6.8946, 2.9270),
    (3.9505, -6.3029, 2.6377),
    (3.7418, -5.5913, 2.3037),
    (2.8769, -3.1427, 1.2046),
    (2.8366, -3.0525, 1.2012),
)
# Polar Express (Amsel et al. 2025, arXiv 2505.16932): the 5-step schedule for a safety
# factor of 2e-2 and cushion 2, as KellerJordan/modded-nanogpt's ``train_gpt.py``
# ``polar_express_coeffs`` (the paper's construction, rounded to float64 there).
_POLAR_EXPRESS = (
    (8.156554524902461, -22.48329292557795, 15.878769915207462),
    (4.042929935166739, -2.808917465908714, 0.5000178451051316),
    (3.8916678022926607, -2.772484153217685, 0.5060648178503393),
    (3.285753657755655, -2.3681294933425376, 0.46449024233003106),
    (2.3465413258596377, -1.7097828382687081, 0.42323551169305323),
)
_PRESETS = {"standard": _STANDARD, "dion": _DION, "polar_express": _POLAR_EXPRESS}
_SAFETY = {"polar_express": 2e-2}  # the norm's safety factor each preset was designed for
_PRECONDITIONINGS = ("frobenius", "spectral", "aol", "schatten")


class MuonDimensionNumbers(NamedTuple):
    """Which axes of a weight form the matrix that Muon orthogonalizes.

    A weight is read as ``x @ W = y``: ``reduction_axis`` are the input (fan-in) axes,
    ``output_axis`` the output (fan-out) axes; every other axis is a batch axis whose
    slices are orthogonalized independently (a stack of ``[L, in, out]`` layers is
    ``MuonDimensionNumbers(reduction_axis=1, output_axis=2)``).

    Attributes:
      reduction_axis: an axis or a sequence of axes (negative counts from the end).
        Default 0.
      output_axis: an axis or a sequence of axes. Default 1.

    Examples:
      >>> import gradtx
      >>> gradtx.contrib.MuonDimensionNumbers(reduction_axis=1, output_axis=2)
      MuonDimensionNumbers(reduction_axis=1, output_axis=2)
    """

    reduction_axis: Sequence[int] | int = 0
    output_axis: Sequence[int] | int = 1


class MuonState(NamedTuple):
    """State of `scale_by_muon`.

    Attributes:
      count: updates so far (int32, saturating).
      mu: momentum, dtype ``mu_dtype`` or the parameter's.
      ns_coeffs: the Newton-Schulz coefficients, shape ``(3,)`` or ``(ns_steps, 3)``
        (the default float dtype: float32, float64 under x64).
    """

    count: jax.Array
    mu: Updates
    ns_coeffs: jax.Array


class NorMuonState(NamedTuple):
    """State of ``scale_by_muon(normuon=True)``.

    Attributes:
      count: updates so far (int32, saturating).
      mu: momentum, dtype ``mu_dtype`` or the parameter's.
      nu: EMA of each output neuron's mean squared orthogonalized update: the
        parameter's shape with the reduction (fan-in) axes of size 1, its dtype.
      ns_coeffs: the Newton-Schulz coefficients, as in `MuonState`.
    """

    count: jax.Array
    mu: Updates
    nu: Updates
    ns_coeffs: jax.Array


def _is_dim_nums(x: Any) -> bool:
    return isinstance(x, MuonDimensionNumbers)


def _axes(x: jax.Array, dim_nums: MuonDimensionNumbers) -> tuple[tuple[int, ...], ...]:
    def norm(axes):
        axes = (axes,) if isinstance(axes, int) else tuple(axes)
        return tuple(a % x.ndim for a in axes)

    return norm(dim_nums.reduction_axis), norm(dim_nums.output_axis)


def _fans(x: jax.Array, dim_nums: MuonDimensionNumbers) -> tuple[int, int]:
    red, out = _axes(x, dim_nums)
    return math.prod(x.shape[a] for a in red), math.prod(x.shape[a] for a in out)


def _as_batched_matrices(x: jax.Array, dim_nums: MuonDimensionNumbers):
    """``x`` as ``[batch, fan_in, fan_out]`` and the function that undoes it."""
    if x.ndim < 2:
        raise ValueError(f"scale_by_muon: Muon parameters must have rank >= 2, got {x.shape}")
    red, out = _axes(x, dim_nums)
    if set(red) & set(out):
        raise ValueError(
            f"scale_by_muon: reduction axes {red} and output axes {out} must be disjoint "
            f"(dimension numbers {dim_nums}, shape {x.shape})"
        )
    batch = tuple(a for a in range(x.ndim) if a not in red + out)
    perm = batch + red + out
    moved_shape = tuple(x.shape[a] for a in perm)
    fan_in, fan_out = _fans(x, dim_nums)
    flat = (math.prod(x.shape[a] for a in batch), fan_in, fan_out)
    inverse = tuple(perm.index(a) for a in range(x.ndim))
    return x.transpose(perm).reshape(flat), lambda y: y.reshape(moved_shape).transpose(inverse)


def _matrix_batch(fn: str, x: Any, dim_nums: MuonDimensionNumbers) -> tuple[int, ...]:
    """The batch shape of ``x`` read through ``dim_nums`` (the axes that are neither
    reduction nor output), after checking the axes: in range, each named once."""
    ndim = jnp.ndim(x)
    if ndim < 2:
        raise ValueError(f"{fn}: dimension numbers need a leaf of rank >= 2, got {jnp.shape(x)}")
    red, out = (
        (axes,) if isinstance(axes, int) else tuple(axes)
        for axes in (dim_nums.reduction_axis, dim_nums.output_axis)
    )
    named = red + out
    if not red or not out or any(not -ndim <= a < ndim for a in named):
        raise ValueError(
            f"{fn}: dimension numbers {dim_nums} need at least one reduction and one output "
            f"axis, each in [-{ndim}, {ndim}) for shape {jnp.shape(x)}"
        )
    if len({a % ndim for a in named}) != len(named):
        raise ValueError(
            f"{fn}: dimension numbers {dim_nums} name an axis twice (shape {jnp.shape(x)})"
        )
    return tuple(d for a, d in enumerate(jnp.shape(x)) if a not in {b % ndim for b in named})


def _resolve_prefix(dim_nums: Any, tree: Any) -> Any:
    """``dim_nums`` (``None``, one spec, a prefix tree of specs and ``None``, or a
    callable ``tree -> such a prefix``) as one spec or ``None`` per leaf of ``tree``."""
    if callable(dim_nums) and not _is_dim_nums(dim_nums):
        dim_nums = dim_nums(tree)
    return jax.tree.map(
        lambda d, sub: jax.tree.map(lambda _: d, sub),
        dim_nums,
        tree,
        is_leaf=lambda x: x is None or _is_dim_nums(x),
    )


def _quintic(x: jax.Array, a: jax.Array, coeffs: jax.Array) -> jax.Array:
    """One Newton-Schulz step ``c0 X + (c1 A + c2 A^2) X`` with ``A = X X^H`` given."""
    b = coeffs[1] * a + coeffs[2] * (a @ a)
    return coeffs[0] * x + b @ x


def _first_step(x: jax.Array, coeffs: jax.Array, preconditioning: str, eps: Any):
    """The first step; AOL and Schatten-4 rescale ``X`` (and ``A``) inside it."""
    a = x @ x.T.conj()
    if preconditioning == "aol":
        rescale = jnp.maximum(jnp.abs(a).sum(axis=-1), eps.astype(a.real.dtype))
        s = jax.lax.rsqrt(rescale)[:, None].astype(x.dtype)
        x, a = x * s, a * s * s.T
    elif preconditioning == "schatten":
        rescale = jnp.maximum(jnp.linalg.norm(a, ord="fro"), eps.astype(a.real.dtype))
        s = jax.lax.rsqrt(rescale).astype(x.dtype)
        x, a = x * s, a * (s * s)
    return _quintic(x, a, coeffs)


def _orthogonalize(x, ns_coeffs, ns_steps, preconditioning, eps, dim_nums, safety=0.0):
    """Approximately ``U V^H`` of each ``[fan_in, fan_out]`` slice of ``x``."""
    if dim_nums is None:
        dim_nums = MuonDimensionNumbers()
    eps = jnp.asarray(eps)

    def one(m):
        transposed = m.shape[0] > m.shape[1]
        if transposed:
            m = m.T
        if preconditioning in ("frobenius", "spectral"):
            norm = jnp.linalg.norm(m, ord="fro" if preconditioning == "frobenius" else 2)
            if safety:
                norm = norm * (1 + safety)
            m = m / (norm + eps.astype(norm.dtype)).astype(m.dtype)
        coeffs = ns_coeffs.astype(m.dtype)
        per_step = coeffs if coeffs.ndim == 2 else jnp.broadcast_to(coeffs, (ns_steps, 3))
        m = _first_step(m, per_step[0], preconditioning, eps)
        for i in range(1, per_step.shape[0]):
            m = _quintic(m, m @ m.T.conj(), per_step[i])
        return m.T if transposed else m

    flat, unflatten = _as_batched_matrices(x, dim_nums)
    return unflatten(jax.vmap(one)(flat))


def _coefficients(fn: str, ns_coeffs: Any, ns_steps: int) -> jax.Array:
    coeffs = jnp.asarray(ns_coeffs, float)  # the default float dtype, as Optax
    if coeffs.ndim > 2 or coeffs.shape[-1] != 3:
        raise ValueError(f"{fn}(ns_coeffs=...): must have shape (3,) or (n, 3), got {coeffs.shape}")
    if coeffs.ndim == 2:
        if coeffs.shape[0] > ns_steps:
            raise ValueError(f"{fn}(ns_steps={ns_steps}): fewer steps than coefficient rows")
        coeffs = coeffs[-ns_steps:]
    return coeffs


def _reduction_axes(x: jax.Array, dim_nums: Any) -> tuple[int, ...]:
    return _axes(x, dim_nums if dim_nums is not None else MuonDimensionNumbers())[0]


def _neuron_moment_zeros(x: jax.Array, dim_nums: Any) -> jax.Array:
    red = _reduction_axes(x, dim_nums)
    return jnp.zeros(tuple(1 if a in red else n for a, n in enumerate(x.shape)), x.dtype)


def _neuron_moment(o: jax.Array, v: jax.Array, dim_nums: Any, b2: Any) -> jax.Array:
    """``b2 v + (1 - b2) mean(o^2 over the fan-in axes)``: NorMuon's second moment."""
    red = _reduction_axes(o, dim_nums)
    mean = jnp.mean(numerics.abs_sq(o), axis=red, keepdims=True)
    return numerics.update_moment(mean, v, b2, 1).astype(v.dtype)


def _neuron_normalize(o: jax.Array, dim_nums: Any, v: jax.Array) -> jax.Array:
    """``o / (sqrt(v) + 1e-10)`` rescaled to ``o``'s Frobenius norm (per matrix)."""
    d = dim_nums if dim_nums is not None else MuonDimensionNumbers()
    red, out = _axes(o, d)
    dtype = numerics.compute_dtype(o.real.dtype)
    o32 = o.astype(numerics.common_dtype(o.dtype, dtype))
    scaled = o32 / (jnp.sqrt(v.astype(dtype)) + 1e-10)

    def norm(x):
        return jnp.sqrt(jnp.sum(numerics.abs_sq(x), axis=red + out, keepdims=True))

    return (scaled * (norm(o32) / (norm(scaled) + 1e-10))).astype(o.dtype)


def _resolve(dim_nums: Any, updates: Any) -> Any:
    return dim_nums(updates) if callable(dim_nums) and not _is_dim_nums(dim_nums) else dim_nums


def _map_matrices(f: Callable, tree: Any, dim_nums: Any, *rest: Any) -> Any:
    """``f(leaf, dim_nums, *rest_leaves)`` over ``tree``; ``dim_nums`` is ``None``, one
    spec or a tree."""
    if dim_nums is None or _is_dim_nums(dim_nums):
        return jax.tree.map(lambda x, *r: f(x, dim_nums, *r), tree, *rest)
    return jax.tree.map(lambda d, x, *r: f(x, d, *r), dim_nums, tree, *rest, is_leaf=_is_dim_nums)


def scale_by_muon(
    ns_coeffs: Any = _STANDARD,
    ns_steps: int = 5,
    beta: float = 0.95,
    eps: float = 1e-8,
    mu_dtype: Any = None,
    *,
    nesterov: bool = True,
    adaptive: bool = False,
    preconditioning: str = "frobenius",
    weight_dimension_numbers: Any = None,
    bias_correction: bool = True,
    normuon: bool = False,
    normuon_b2: float = 0.95,
    safety_factor: float | None = None,
) -> GradientTransformation:
    r"""Rescale updates by Muon: orthogonalize the (Nesterov) momentum of each matrix.

    .. math::
        m_t = \beta m_{t-1} + (1-\beta) g_t, \qquad
        \hat m_t = \beta\,\frac{m_t}{1-\beta^{t+1}} + (1-\beta)\,\frac{g_t}{1-\beta^t}
        \ \text{(Nesterov; else } m_t/(1-\beta^t)) \\
        X_0 = \hat m_t / (\|\hat m_t\|_F + \epsilon), \qquad
        X_{k+1} = a X_k + (b A_k + c A_k^2) X_k, \quad A_k = X_k X_k^\top \\
        u_t = X_K \quad (\approx U V^\top \text{ for } \hat m_t = U \Sigma V^\top)

    with :math:`(a, b, c) = (3.4445, -4.7750, 2.0315)` and :math:`K = 5` by default; a
    wide matrix is iterated as given, a tall one transposed. ``adaptive`` multiplies
    :math:`u_t` by :math:`\langle \hat m_t, u_t \rangle`.

    **Optax vs the reference.** Optax bias-corrects the momentum and uses ``eps=1e-8``;
    the reference implementation (github.com/KellerJordan/Muon, ``muon.py``,
    ``muon_update`` and ``zeropower_via_newtonschulz5``) does not bias-correct, uses
    :math:`\hat m_t = \beta m_t + (1-\beta) g_t` and ``eps=1e-7``:
    ``scale_by_muon(eps=1e-7, bias_correction=False)`` is that algorithm (computed in
    the gradient's dtype, where the reference casts to bfloat16).

    **Polar Express** (Amsel et al. 2025): ``ns_coeffs="polar_express"`` iterates with the
    paper's five per-step coefficient triples (those of KellerJordan/modded-nanogpt,
    ``train_gpt.py``, ``polar_express``), which converge to :math:`U V^\top` much faster
    than the fixed triple; with that preset :math:`X_0 = \hat m_t / ((1 + 0.02)
    \|\hat m_t\|_F + \epsilon)` (the safety factor it was designed for; the reference
    uses ``eps=1e-6``).

    **NorMuon** (Li et al. 2025, ``normuon=True``): each output neuron (a column
    :math:`j` of the ``[fan_in, fan_out]`` matrix) is normalized by an EMA of its mean
    squared orthogonalized update, and the result is rescaled to the norm of
    :math:`O_t = X_K`:

    .. math::
        v_t = \beta_2 v_{t-1} + (1-\beta_2)\, \operatorname{mean}_i O_{t,ij}^2, \qquad
        \tilde O_t = O_t / (\sqrt{v_t} + 10^{-10}), \qquad
        u_t = \tilde O_t\, \|O_t\|_F / (\|\tilde O_t\|_F + 10^{-10})

    with no bias correction of :math:`v` (the reference, github.com/zichongli5/NorMuon,
    ``normuon.py``, ``normuon_update``, where rows of PyTorch's ``(out, in)`` weights are
    our columns). The state is then a `NorMuonState`.

    Args:
      ns_coeffs: Newton-Schulz coefficients ``(a, b, c)``, or one triple per step
        (shape ``(n, 3)``, ``n <= ns_steps``; the last ``ns_steps`` rows are used), or a
        preset name (``"standard"``, ``"dion"``, ``"polar_express"``).
      ns_steps: Newton-Schulz iterations, an integer >= 1. Default 5.
      beta: momentum decay, in [0, 1). Default 0.95.
      eps: added to the norm before dividing, >= 0. Default 1e-8.
      mu_dtype: storage dtype of the momentum (default: the parameter's).
      nesterov: use Nesterov momentum. Default True.
      adaptive: scale by the dual norm of the momentum (Bernstein and Newhouse 2024).
      preconditioning: the rescaling before the iteration: ``"frobenius"`` (default),
        ``"spectral"``, ``"aol"`` or ``"schatten"``.
      weight_dimension_numbers: ``None`` (every leaf a 2-D ``[in, out]`` matrix), a
        `MuonDimensionNumbers`, a tree of them with the structure of the params, or a
        callable ``updates -> such a tree``.
      bias_correction: divide the momentum by :math:`1-\beta^t` (Optax). ``False``
        gives the reference algorithm (see above). Default True.
      normuon: NorMuon's neuron-wise normalization (see above). Default False.
      normuon_b2: NorMuon's decay :math:`\beta_2`, in [0, 1). Default 0.95 (the
        reference's).
      safety_factor: the factor :math:`s` of :math:`X_0 = \hat m_t / ((1 + s)
        \|\hat m_t\| + \epsilon)`, >= 0 (``"frobenius"`` and ``"spectral"`` only).
        Default ``None``: 0.02 for ``"polar_express"``, else 0.

    Returns:
      A `GradientTransformation` with `MuonState` (`NorMuonState` with ``normuon``).

    Raises:
      ValueError: for hyperparameters outside the ranges above, an unknown
        ``preconditioning``, or ``ns_coeffs`` of the wrong shape (at ``init``);
        ``update`` raises on leaves of rank < 2.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.scale_by_muon()
      >>> g = jnp.array([[3.0, 0.0], [0.0, 1.0]])
      >>> u, _ = tx.update(g, tx.init(g))
      >>> bool(jnp.abs(u - jnp.diag(jnp.diag(u))).max() < 1e-6)  # orthogonal: diagonal
      True

    References:
      Jordan et al., "Muon: An optimizer for hidden layers in neural networks", 2024,
      https://kellerjordan.github.io/posts/muon/ (code: github.com/KellerJordan/Muon);
      Bernstein and Newhouse, "Old Optimizer, New Norm: An Anthology", 2024,
      https://arxiv.org/abs/2409.20325;
      Liu et al., "Muon is Scalable for LLM Training", 2025, https://arxiv.org/abs/2502.16982
    """
    fn = "scale_by_muon"
    validate.integer(fn, "ns_steps", ns_steps, 1)
    validate.decay(fn, beta=beta, normuon_b2=normuon_b2)
    validate.non_negative(fn, eps=eps)
    validate.one_of(fn, "preconditioning", preconditioning, _PRECONDITIONINGS)
    if isinstance(ns_coeffs, str):
        validate.one_of(fn, "ns_coeffs", ns_coeffs, tuple(_PRESETS))
        if safety_factor is None:
            safety_factor = _SAFETY.get(ns_coeffs, 0.0)
        ns_coeffs = _PRESETS[ns_coeffs]
    if safety_factor is None:
        safety_factor = 0.0
    validate.non_negative(fn, safety_factor=safety_factor)
    mu_dtype = numerics.canonicalize_dtype(mu_dtype)

    def init_fn(params):
        count = numerics.zero_count()
        mu = tree_lib.zeros_like(params, dtype=mu_dtype)
        coeffs = _coefficients(fn, ns_coeffs, ns_steps)
        if not normuon:
            return MuonState(count=count, mu=mu, ns_coeffs=coeffs)
        dim_nums = _resolve(weight_dimension_numbers, params)
        nu = _map_matrices(_neuron_moment_zeros, params, dim_nums)
        return NorMuonState(count=count, mu=mu, nu=nu, ns_coeffs=coeffs)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        dim_nums = _resolve(weight_dimension_numbers, updates)
        mu = numerics.update_moment(updates, state.mu, beta, 1)
        count = numerics.safe_increment(state.count)
        if bias_correction:
            later = numerics.bias_correction(mu, beta, numerics.safe_increment(count))
            now = numerics.bias_correction(updates, beta, count)
            mu_hat = numerics.bias_correction(mu, beta, count)
        else:
            later, now, mu_hat = mu, updates, mu
        if nesterov:
            mu_hat = jax.tree.map(
                lambda m, g: numerics.promote_add(
                    numerics.scalar_mul(beta, m), numerics.scalar_mul(1 - beta, g)
                ),
                later,
                now,
            )
        mu_hat = jax.tree.map(lambda m, g: m.astype(g.dtype), mu_hat, updates)
        new = _map_matrices(
            lambda x, d: _orthogonalize(
                x, state.ns_coeffs, ns_steps, preconditioning, eps, d, safety_factor
            ),
            mu_hat,
            dim_nums,
        )
        if normuon:
            nu = _map_matrices(
                lambda o, d, v: _neuron_moment(o, v, d, normuon_b2), new, dim_nums, state.nu
            )
            new = _map_matrices(_neuron_normalize, new, dim_nums, nu)
        if adaptive:
            new = jax.tree.map(lambda m, o: jnp.sum(m.conj() * o) * o, mu_hat, new)
        mu = tree_lib.cast_like(mu, state.mu)
        if normuon:
            return new, NorMuonState(count=count, mu=mu, nu=nu, ns_coeffs=state.ns_coeffs)
        return new, MuonState(count=count, mu=mu, ns_coeffs=state.ns_coeffs)

    return GradientTransformation(init_fn, update_fn)


def _scale_by_shape(dim_nums: Any, consistent_rms: Any) -> GradientTransformation:
    """Multiply each matrix update by ``sqrt(max(1, fan_out/fan_in))`` (width transfer)
    or, with ``consistent_rms``, by ``sqrt(max(fan_in, fan_out)) * consistent_rms``."""

    def scale(x, d):
        fan_in, fan_out = _fans(x, d if d is not None else MuonDimensionNumbers())
        if consistent_rms is None:
            return numerics.scalar_mul(math.sqrt(max(1.0, fan_out / fan_in)), x)
        factor = math.sqrt(max(fan_in, fan_out))
        return numerics.scalar_mul(consistent_rms, factor * x).astype(x.dtype)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        return _map_matrices(scale, updates, _resolve(dim_nums, updates)), state

    return GradientTransformation(init_empty_state, update_fn)


def muon(
    learning_rate: Any,
    ns_coeffs: Any = _STANDARD,
    ns_steps: int = 5,
    beta: float = 0.95,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    weight_decay_mask: Any = None,
    mu_dtype: Any = None,
    *,
    nesterov: bool = True,
    adaptive: bool = False,
    preconditioning: str = "frobenius",
    adam_b1: float = 0.9,
    adam_b2: float = 0.999,
    adam_eps_root: float = 0.0,
    adam_weight_decay: float = 0.0,
    adam_learning_rate: Any = None,
    muon_weight_dimension_numbers: Any = None,
    consistent_rms: Any = None,
    bias_correction: bool = True,
    normuon: bool = False,
    normuon_b2: float = 0.95,
    safety_factor: float | None = None,
) -> GradientTransformation:
    r"""Muon for the matrices, AdamW for every other leaf.

    The matrix leaves (by default every 2-D leaf; else those whose entry of
    ``muon_weight_dimension_numbers`` is not ``None``) get::

        chain(scale_by_muon(...), <shape scaling>, add_decayed_weights(weight_decay,
              weight_decay_mask), scale_by_learning_rate(learning_rate))

    where the shape scaling multiplies by :math:`\sqrt{\max(1, \text{fan\_out} /
    \text{fan\_in})}` (or :math:`\sqrt{\max(\text{fan\_in}, \text{fan\_out})}\cdot`
    ``consistent_rms``); the others get ``adamw(adam_learning_rate or learning_rate,
    adam_b1, adam_b2, eps, adam_eps_root, adam_weight_decay, nesterov=nesterov)``. The
    state is a `gradtx.wrappers.PartitionState` with groups ``"muon"`` and ``"adam"``,
    as in Optax. See `scale_by_muon` for the equations and for the reference algorithm
    (``eps=1e-7, bias_correction=False``).

    Args:
      learning_rate: a number or a schedule.
      ns_coeffs: Newton-Schulz coefficients, a triple, one per step, or a preset name
        (``"standard"``, ``"dion"``, ``"polar_express"``).
      ns_steps: Newton-Schulz iterations, >= 1. Default 5.
      beta: momentum decay, in [0, 1). Default 0.95.
      eps: Muon's (and Adam's) epsilon, >= 0. Default 1e-8.
      weight_decay: decoupled weight decay of the matrices, >= 0. Default 0.
      weight_decay_mask: mask of `add_decayed_weights` for the matrices.
      mu_dtype: storage dtype of the momenta.
      nesterov: Nesterov momentum (Muon and Adam). Default True.
      adaptive: see `scale_by_muon`.
      preconditioning: see `scale_by_muon`.
      adam_b1: Adam's first-moment decay. Default 0.9.
      adam_b2: Adam's second-moment decay. Default 0.999.
      adam_eps_root: Adam's ``eps_root``. Default 0.
      adam_weight_decay: Adam's weight decay. Default 0.
      adam_learning_rate: Adam's learning rate (default: ``learning_rate``).
      muon_weight_dimension_numbers: ``None`` (Muon on every 2-D leaf), a
        `MuonDimensionNumbers` or a tree of them (``None`` entries go to Adam), or a
        callable ``params -> such a tree``.
      consistent_rms: ``None`` (width scaling) or the target RMS factor (0.2 matches
        AdamW, Liu et al. 2025).
      bias_correction: see `scale_by_muon`. Default True.
      normuon: NorMuon (see `scale_by_muon`); with the shape scaling and decoupled
        weight decay here it is the reference's ``NorMuon`` step. Default False.
      normuon_b2: NorMuon's decay, in [0, 1). Default 0.95.
      safety_factor: see `scale_by_muon`. Default ``None``.

    Returns:
      A `GradientTransformation` with `gradtx.wrappers.PartitionState`.

    Raises:
      ValueError: for an unknown ``ns_coeffs`` preset and the errors of `scale_by_muon`.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.muon(0.1)
      >>> params = {"w": jnp.eye(2), "b": jnp.zeros(2)}
      >>> u, _ = tx.update({"w": jnp.eye(2), "b": jnp.ones(2)}, tx.init(params), params)
      >>> u["b"].round(3).tolist()  # Adam's first step: -lr * sign(g)
      [-0.1, -0.1]

    References:
      Jordan et al., "Muon: An optimizer for hidden layers in neural networks", 2024,
      https://kellerjordan.github.io/posts/muon/
    """
    if isinstance(ns_coeffs, str):
        validate.one_of("muon", "ns_coeffs", ns_coeffs, tuple(_PRESETS))
    if adam_learning_rate is None:
        adam_learning_rate = learning_rate
    spec = muon_weight_dimension_numbers

    def resolved(params):
        if spec is None:
            return jax.tree.map(lambda x: MuonDimensionNumbers() if x.ndim == 2 else None, params)
        return spec(params) if callable(spec) and not _is_dim_nums(spec) else spec

    def labels(params):
        return jax.tree.map(
            lambda d, x: jax.tree.map(lambda _: "adam" if d is None else "muon", x),
            resolved(params),
            params,
            is_leaf=lambda x: x is None or _is_dim_nums(x),
        )

    def muon_dim_nums(updates):
        # Inside the "muon" group the others are MaskedNode; the specs must match.
        def one(d, x):
            return jax.tree.map(
                lambda leaf: MaskedNode() if d is None or isinstance(leaf, MaskedNode) else d,
                x,
                is_leaf=lambda y: isinstance(y, MaskedNode),
            )

        return jax.tree.map(
            one,
            resolved(updates),
            updates,
            is_leaf=lambda x: x is None or _is_dim_nums(x) or isinstance(x, MaskedNode),
        )

    return partition(
        {
            "muon": chain(
                scale_by_muon(
                    ns_coeffs,
                    ns_steps,
                    beta,
                    eps,
                    mu_dtype,
                    nesterov=nesterov,
                    adaptive=adaptive,
                    preconditioning=preconditioning,
                    weight_dimension_numbers=muon_dim_nums,
                    bias_correction=bias_correction,
                    normuon=normuon,
                    normuon_b2=normuon_b2,
                    safety_factor=safety_factor,
                ),
                _scale_by_shape(muon_dim_nums, consistent_rms),
                add_decayed_weights(weight_decay, weight_decay_mask),
                scale_by_learning_rate(learning_rate),
            ),
            "adam": chain(
                scale_by_adam(adam_b1, adam_b2, eps, adam_eps_root, mu_dtype, nesterov=nesterov),
                add_decayed_weights(adam_weight_decay),
                scale_by_learning_rate(adam_learning_rate),
            ),
        },
        labels,
    )
