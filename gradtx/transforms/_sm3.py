"""SM3: adaptive scaling with one accumulator per row/column instead of per element."""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import GradientTransformation, Updates, numerics, validate

__all__ = ["ScaleBySM3State", "scale_by_sm3"]


class ScaleBySM3State(NamedTuple):
    """State of `scale_by_sm3`.

    Attributes:
      mu: per leaf, a list with one accumulator vector per axis (shape ``(n_i,)`` for
        axis ``i``; an empty list for a scalar leaf, as in Optax), in the leaf's dtype.
      nu: the momentum of the preconditioned updates, shaped like the parameters.
    """

    mu: Updates
    nu: Updates


def _axis_accumulators(p: jax.Array) -> list[jax.Array]:
    if p.ndim == 1:  # the full accumulator: shaped, so sharded, like the parameter
        return [tree_lib.zeros_like(p)]
    return [jnp.zeros((p.shape[i],), p.dtype) for i in range(p.ndim)]


def _broadcast_min(
    shape: tuple[int, ...], accumulators: list[jax.Array], dtype: jnp.dtype
) -> jax.Array:
    """:math:`\\min_i \\mu_i` over the covers containing each element, shaped ``shape``
    (zero for a scalar, which has no accumulator)."""
    if not shape:
        return jnp.zeros(shape, dtype)
    if len(shape) == 1:
        return accumulators[0]
    rank = len(shape)
    expanded = [
        jnp.reshape(a, [1] * i + [shape[i]] + [1] * (rank - i - 1))
        for i, a in enumerate(accumulators)
    ]
    return functools.reduce(jnp.minimum, expanded)


def _reduce_max(nu: jax.Array) -> list[jax.Array]:
    if nu.ndim == 0:
        return []
    if nu.ndim == 1:
        return [nu]
    return [jnp.max(nu, axis=tuple(j for j in range(nu.ndim) if j != i)) for i in range(nu.ndim)]


def scale_by_sm3(b1: float = 0.9, b2: float = 1.0, eps: float = 1e-8) -> GradientTransformation:
    """Scale by SM3's cover-set accumulators (memory linear in the sum of the dimensions).

    A leaf of shape :math:`(n_1, \\dots, n_k)` keeps one accumulator :math:`\\mu_i`
    of length :math:`n_i` per axis (a 1-D leaf keeps a full accumulator; a scalar keeps
    none, as in Optax's state, so its :math:`\\mu_{t-1}` is 0 and
    :math:`\\nu_t = c\\, g_t^2`; Optax's update fails on a scalar leaf).
    For each element :math:`j`:

    .. math::
        \\nu_t(j) = c\\, g_t(j)^2 + \\beta_2 \\min_{i} \\mu_{i, t-1}(j_i), \\qquad
        \\mu_{i,t}(r) = \\max_{j : j_i = r} \\nu_t(j), \\\\
        m_t = (1 - \\beta_1)\\, \\frac{g_t}{\\sqrt{\\nu_t + \\epsilon}} + \\beta_1 m_{t-1},
        \\qquad u_t = m_t

    with :math:`c = 1 - \\beta_2`, or :math:`c = 1` when :math:`\\beta_2 = 1` (the
    paper's sum of squares); elements with :math:`\\nu_t = 0` get a zero update.

    Args:
      b1: :math:`\\beta_1`, the momentum of the scaled updates, in [0, 1]. Default 0.9.
      b2: :math:`\\beta_2`, the decay of the accumulators, in [0, 1]. Default 1 (no
        decay, as in the paper).
      eps: :math:`\\epsilon`, added under the square root, >= 0. Default 1e-8.

    Returns:
      A `GradientTransformation` with `ScaleBySM3State`.

    Raises:
      ValueError: for a hyperparameter outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_sm3(b1=0.0)
      >>> g = jnp.array([[3.0, 0.0], [0.0, 4.0]])
      >>> state = tx.init(g)
      >>> [m.shape for m in state.mu]
      [(2,), (2,)]
      >>> updates, state = tx.update(g, state)
      >>> updates.round(3).tolist()
      [[1.0, 0.0], [0.0, 1.0]]

    References:
      Anil et al., "Memory-Efficient Adaptive Optimization", NeurIPS 2019,
      https://arxiv.org/abs/1901.11150
    """
    fn = "scale_by_sm3"
    validate.unit(fn, b1=b1, b2=b2)
    validate.non_negative(fn, eps=eps)

    def init_fn(params):
        for p in jax.tree.leaves(params):
            if jnp.iscomplexobj(p):
                raise ValueError(f"{fn}: complex parameters are not supported")
        mu = jax.tree.map(_axis_accumulators, params)
        return ScaleBySM3State(mu=mu, nu=tree_lib.zeros_like(params))

    def gain(x):
        if isinstance(b2, (int, float)):
            return (1.0 - b2) if b2 != 1.0 else 1.0
        b = jnp.asarray(b2).astype(x.dtype)
        return jnp.where(b == 1, jnp.ones_like(b), 1 - b)

    def one(g, accumulators, nu):
        g2 = numerics.abs_sq(g).astype(nu.dtype)
        prev = _broadcast_min(g.shape, accumulators, g2.dtype)
        accum = numerics.promote_add(
            numerics.scalar_mul(gain(g2), g2), numerics.scalar_mul(b2, prev)
        ).astype(g2.dtype)
        inv = jnp.where(accum > 0, jax.lax.rsqrt(accum + numerics.as_dtype(eps, accum.dtype)), 0.0)
        scaled = (g * inv.astype(g.dtype)).astype(g.dtype)
        new_nu = numerics.promote_add(
            numerics.scalar_mul(1 - b1, scaled), numerics.scalar_mul(b1, nu)
        ).astype(nu.dtype)
        return new_nu, _reduce_max(accum)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match(fn, updates, state.nu)
        treedef = jax.tree.structure(updates)
        pairs = [
            one(g, m, n)
            for g, m, n in zip(
                treedef.flatten_up_to(updates),
                treedef.flatten_up_to(state.mu),
                treedef.flatten_up_to(state.nu),
                strict=True,
            )
        ]
        nu = treedef.unflatten([p[0] for p in pairs])
        mu = treedef.unflatten([p[1] for p in pairs])
        out = jax.tree.map(lambda n, g: n.astype(g.dtype), nu, updates)
        return out, ScaleBySM3State(mu=mu, nu=nu)

    return GradientTransformation(init_fn, update_fn)
