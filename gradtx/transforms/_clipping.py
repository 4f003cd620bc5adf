"""Clipping: elementwise, by global norm, by block RMS, adaptive (unit-wise), per example."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import GradientTransformation, init_empty_state, numerics, validate

__all__ = [
    "adaptive_grad_clip",
    "clip",
    "clip_by_block_rms",
    "clip_by_global_norm",
    "per_example_global_norm_clip",
]


def clip(max_delta: float) -> GradientTransformation:
    """Clip every update element to ``[-max_delta, max_delta]``.

    .. math:: u_i = \\min(\\max(g_i, -\\delta), \\delta)

    Args:
      max_delta: the bound :math:`\\delta`, >= 0.

    Returns:
      A `GradientTransformation` with `EmptyState`.

    Raises:
      ValueError: if ``max_delta`` is negative or NaN.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.clip(1.0)
      >>> tx.update(jnp.array([-3.0, 0.5, 2.0]), tx.init(None))[0].tolist()
      [-1.0, 0.5, 1.0]
    """
    validate.non_negative("clip", max_delta=max_delta)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args

        def one(g):
            if not numerics.is_float(g):
                # Integer leaves: clip in their own dtype (a float bound would not promote).
                if not jnp.issubdtype(jnp.result_type(g), jnp.signedinteger):
                    return g
                bound = jnp.asarray(max_delta).astype(jnp.result_type(g))
                return jnp.clip(g, -bound, bound)
            bound = numerics.as_dtype(max_delta, g.dtype)
            return jnp.clip(g, -bound, bound)

        return jax.tree.map(one, updates), state

    return GradientTransformation(init_empty_state, update_fn)


def clip_by_global_norm(max_norm: float) -> GradientTransformation:
    """Rescale the whole update tree so that its global norm is at most ``max_norm``.

    .. math::
        \\|g\\| = \\sqrt{\\textstyle\\sum_{\\text{leaves } i} \\|g_i\\|_2^2}, \\qquad
        u = \\begin{cases} g & \\|g\\| < c \\\\ g\\, c / \\|g\\| & \\text{otherwise}
        \\end{cases}

    The norm is `gradtx.tree.global_norm` (accumulated in float32 or wider, so
    bfloat16 trees do not overflow or lose precision); every leaf keeps its dtype.

    Args:
      max_norm: the bound :math:`c`, > 0.

    Returns:
      A `GradientTransformation` with `EmptyState`.

    Raises:
      ValueError: if ``max_norm`` is not positive.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.clip_by_global_norm(1.0)
      >>> g = {"a": jnp.array([3.0]), "b": jnp.array([4.0])}  # global norm 5
      >>> u, _ = tx.update(g, tx.init(g))
      >>> round(float(u["a"][0]), 4), round(float(u["b"][0]), 4)
      (0.6, 0.8)

    References:
      Pascanu et al., "On the difficulty of training Recurrent Neural Networks",
      ICML 2013, https://arxiv.org/abs/1211.5063
    """
    validate.positive("clip_by_global_norm", max_norm=max_norm)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        norm = tree_lib.global_norm(updates)
        keep = norm < numerics.as_dtype(max_norm, norm.dtype)
        # One scalar factor times each leaf: a multiply by a scalar is cheap enough for XLA
        # to fuse into every kernel that reads the clipped leaf (a per-element divide is
        # not, and would be written out as an extra gradient-sized buffer).
        factor = jnp.where(keep, jnp.ones([], norm.dtype), numerics.scalar_mul(max_norm, 1 / norm))

        def one(g):
            dtype = numerics.common_dtype(numerics.compute_dtype(g.dtype), norm.dtype)
            return (g.astype(dtype) * factor.astype(dtype)).astype(g.dtype)

        return jax.tree.map(one, updates), state

    return GradientTransformation(init_empty_state, update_fn)


def clip_by_block_rms(threshold: float) -> GradientTransformation:
    """Rescale each leaf so that its root mean square is at most ``threshold``.

    .. math::
        u_i = \\frac{g_i}{\\max\\left(1, \\operatorname{rms}(g_i) / \\tau\\right)},
        \\qquad \\operatorname{rms}(x) = \\sqrt{\\operatorname{mean}(|x|^2)}

    A "block" is one leaf (a weight matrix, a bias vector ...).

    Args:
      threshold: the bound :math:`\\tau`, > 0.

    Returns:
      A `GradientTransformation` with `EmptyState`.

    Raises:
      ValueError: if ``threshold`` is not positive.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.clip_by_block_rms(1.0)
      >>> tx.update(jnp.array([2.0, -2.0]), tx.init(None))[0].tolist()  # rms 2
      [1.0, -1.0]

    References:
      Shazeer and Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory
      Cost", ICML 2018, https://arxiv.org/abs/1804.04235
    """
    validate.positive("clip_by_block_rms", threshold=threshold)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args

        def one(g):
            dtype = numerics.compute_dtype(g.dtype)
            g_ = g.astype(dtype)
            rms = jnp.sqrt(jnp.mean(numerics.abs_sq(g_)))
            denom = jnp.maximum(1.0, rms / numerics.as_dtype(threshold, rms.dtype))
            return (g_ / denom.astype(dtype)).astype(g.dtype)

        return jax.tree.map(one, updates), state

    return GradientTransformation(init_empty_state, update_fn)


def _unitwise_norm(x: jax.Array, axis: Any) -> jax.Array:
    """The L2 norm of each unit of ``x``, broadcast back to ``x``'s shape."""
    sq = numerics.abs_sq(x)
    if axis is not None:
        norm_sq = jnp.sum(sq, axis=axis, keepdims=True)
    elif jnp.squeeze(x).ndim <= 1:  # scalars and vectors: the whole leaf
        norm_sq = jnp.sum(sq, keepdims=True)
    elif x.ndim in (2, 3):  # dense (in, out) and multi-head dense kernels
        norm_sq = jnp.sum(sq, axis=0, keepdims=True)
    elif x.ndim == 4:  # conv kernels HWIO
        norm_sq = jnp.sum(sq, axis=(0, 1, 2), keepdims=True)
    elif x.ndim == 5:  # 3-d conv kernels DHWIO
        norm_sq = jnp.sum(sq, axis=(0, 1, 2, 3), keepdims=True)
    else:
        raise ValueError(
            f"adaptive_grad_clip: a leaf of shape {x.shape} has no default unit; "
            "pass axis=... to say which axes form a unit."
        )
    return jnp.broadcast_to(jnp.sqrt(norm_sq), x.shape)


def adaptive_grad_clip(
    clipping: float,
    eps: float = 1e-3,
    axis: int | tuple[int, ...] | None = None,
) -> GradientTransformation:
    """Clip each unit's update to ``clipping`` times its parameter norm (AGC).

    .. math::
        u_i = \\begin{cases} g_i & \\|g_i\\| < \\lambda \\max(\\|\\theta_i\\|, \\epsilon) \\\\
        g_i\\, \\dfrac{\\lambda \\max(\\|\\theta_i\\|, \\epsilon)}{\\max(\\|g_i\\|, 10^{-6})}
        & \\text{otherwise} \\end{cases}

    A unit :math:`i` is a slice of a leaf: with ``axis=None`` the whole leaf for
    scalars and vectors, a column (reduced over axis 0) for 2-d and 3-d kernels, an
    output channel for 4-d (HWIO) and 5-d (DHWIO) convolution kernels.

    Args:
      clipping: the ratio :math:`\\lambda`, > 0.
      eps: floor :math:`\\epsilon` on the parameter norm, >= 0 (so zero-initialised
        parameters still move). Default 1e-3.
      axis: the axes forming a unit, or ``None`` for the defaults above.

    Returns:
      A `GradientTransformation` with `EmptyState`. ``update`` needs ``params``.

    Raises:
      ValueError: for hyperparameters outside the ranges above; at trace time, for a
        leaf of rank above 5 with ``axis=None``.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.adaptive_grad_clip(0.1)
      >>> params = jnp.array([3.0, 4.0])  # norm 5: updates are clipped to norm 0.5
      >>> u, _ = tx.update(jnp.array([0.0, 2.0]), tx.init(params), params)
      >>> u.round(4).tolist()
      [0.0, 0.5]

    References:
      Brock et al., "High-Performance Large-Scale Image Recognition Without
      Normalization", ICML 2021, https://arxiv.org/abs/2102.06171
    """
    fn = "adaptive_grad_clip"
    validate.positive(fn, clipping=clipping)
    validate.non_negative(fn, eps=eps)

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        validate.require_params(fn, params)

        def one(g, p):
            if g is None:
                return None
            dtype = numerics.compute_dtype(numerics.common_dtype(g.dtype, p.dtype))
            g_, p_ = g.astype(dtype), p.astype(dtype)
            g_norm = _unitwise_norm(g_, axis)
            p_norm = _unitwise_norm(p_, axis)
            max_norm = numerics.as_dtype(clipping, dtype) * jnp.maximum(
                p_norm, numerics.as_dtype(eps, dtype)
            )
            clipped = g_ * (max_norm / jnp.maximum(g_norm, 1e-6))
            return jnp.where(g_norm < max_norm, g_, clipped).astype(g.dtype)

        return jax.tree.map(one, updates, params, is_leaf=lambda x: x is None), state

    return GradientTransformation(init_empty_state, update_fn)


def per_example_global_norm_clip(grads: Any, l2_norm_clip: float) -> tuple[Any, jax.Array]:
    """Clip each example's gradient to a global norm, then sum over the examples.

    .. math::
        \\bar g = \\sum_{b} g^{(b)} \\min\\left(1, \\frac{C}{\\|g^{(b)}\\|}\\right)

    where :math:`g^{(b)}` is the gradient tree of example :math:`b` (the slice at
    index :math:`b` of axis 0 of every leaf) and :math:`\\|\\cdot\\|` its global norm.
    This is the clipping step of DP-SGD. A zero gradient counts as unclipped.

    Args:
      grads: a tree whose leaves all have the batch on axis 0 (same size everywhere).
      l2_norm_clip: the bound :math:`C`, >= 0 (``inf`` disables clipping).

    Returns:
      ``(clipped_sum, num_clipped)``: the sum over the batch of the clipped
      per-example gradients (each leaf without its batch axis, in its dtype; an
      integer leaf gives a float32 (float64) sum, as in Optax), and the
      number of examples that were clipped (int32).

    Raises:
      ValueError: if ``l2_norm_clip`` is negative, or the leaves do not share a batch
        axis.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> grads = [jnp.array([[0.0, 0.0], [3.0, 4.0], [0.6, 0.8]])]
      >>> total, n = gradtx.per_example_global_norm_clip(grads, 1.0)
      >>> total[0].round(4).tolist(), int(n)  # (3, 4) is clipped to (0.6, 0.8)
      ([1.2, 1.6], 1)

    References:
      Abadi et al., "Deep Learning with Differential Privacy", CCS 2016,
      https://arxiv.org/abs/1607.00133
    """
    fn = "per_example_global_norm_clip"
    validate.non_negative(fn, l2_norm_clip=l2_norm_clip)
    leaves = jax.tree.leaves(grads)
    if not leaves or any(jnp.ndim(x) < 1 for x in leaves):
        raise ValueError(f"{fn}: every leaf of grads needs a batch axis 0.")
    batch = jnp.shape(leaves[0])[0]
    if any(jnp.shape(x)[0] != batch for x in leaves):
        shapes = [jnp.shape(x) for x in leaves]
        raise ValueError(f"{fn}: the leaves' axis 0 (the batch) differ: {shapes}")
    norms = jax.vmap(tree_lib.global_norm)(grads)
    bound = numerics.as_dtype(l2_norm_clip, norms.dtype)
    multipliers = jnp.nan_to_num(jnp.minimum(bound / norms, 1.0), nan=1.0)
    num_clipped = jnp.sum(multipliers < 1.0).astype(jnp.int32)

    def one(g):
        dtype = numerics.common_dtype(numerics.compute_dtype(g.dtype), multipliers.dtype)
        total = jnp.tensordot(multipliers.astype(dtype), g.astype(dtype), axes=1)
        # a floating leaf keeps its dtype; an integer one becomes float (as in Optax),
        # never a truncated integer
        return total.astype(g.dtype) if numerics.is_float(g) else total

    return jax.tree.map(one, grads), num_clipped
