"""Constraints on the updates: centring, NaN removal, non-negative parameters."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx.core import GradientTransformation, init_empty_state, numerics, validate
from gradtx.core.structure import is_none

__all__ = [
    "ZeroNansState",
    "centralize",
    "keep_params_nonnegative",
    "zero_nans",
]


def centralize() -> GradientTransformation:
    """Subtract from each leaf of rank >= 2 its mean over all axes but the first.

    .. math:: u_{i,\\cdot} = g_{i,\\cdot} - \\operatorname{mean}(g_{i,\\cdot})

    for every index :math:`i` of the leading axis; scalars and vectors pass through.

    Returns:
      A `GradientTransformation` with `EmptyState`.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.centralize()
      >>> g = jnp.array([[1.0, 2.0, 3.0], [4.0, 5.0, 9.0]])
      >>> tx.update(g, tx.init(g))[0].tolist()
      [[-1.0, 0.0, 1.0], [-2.0, -1.0, 3.0]]

    References:
      Yong et al., "Gradient Centralization: A New Optimization Technique for Deep
      Neural Networks", ECCV 2020, https://arxiv.org/abs/2004.01461
    """

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args

        def one(g):
            if g.ndim < 2:
                return g
            return g - jnp.mean(g, axis=tuple(range(1, g.ndim)), keepdims=True)

        return jax.tree.map(one, updates), state

    return GradientTransformation(init_empty_state, update_fn)


class ZeroNansState(NamedTuple):
    """State of `zero_nans`.

    Attributes:
      found_nan: a tree shaped like the params with one boolean scalar per leaf, true
        when the last update of that leaf contained a NaN.
    """

    found_nan: Any


def zero_nans() -> GradientTransformation:
    """Replace NaNs in the updates by zeros, and record per leaf whether there were any.

    .. math:: u_i = \\begin{cases} 0 & g_i \\text{ is NaN} \\\\ g_i & \\text{otherwise}
        \\end{cases}

    Infinities are kept (see ``apply_if_finite`` to skip such steps).

    Returns:
      A `GradientTransformation` with `ZeroNansState`.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.zero_nans()
      >>> u, state = tx.update(jnp.array([1.0, jnp.nan]), tx.init(jnp.zeros(2)))
      >>> u.tolist(), bool(state.found_nan)
      ([1.0, 0.0], True)
    """

    def init_fn(params):
        return ZeroNansState(found_nan=jax.tree.map(lambda _: jnp.zeros([], jnp.bool_), params))

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match("zero_nans", updates, state.found_nan, shapes=False)
        found_nan = jax.tree.map(lambda g: jnp.any(jnp.isnan(g)), updates)
        new_updates = jax.tree.map(lambda g: jnp.where(jnp.isnan(g), jnp.zeros_like(g), g), updates)
        return new_updates, ZeroNansState(found_nan=found_nan)

    return GradientTransformation(init_fn, update_fn)


def keep_params_nonnegative() -> GradientTransformation:
    """Shorten updates that would make a parameter negative so that it lands on zero.

    .. math:: u_i = \\begin{cases} -\\theta_i & \\theta_i + g_i < 0 \\\\
        g_i & \\text{otherwise} \\end{cases}

    Put it last in a chain (after the learning rate), so that it sees the final step.
    A parameter that is already negative is moved to zero.

    Returns:
      A `GradientTransformation` with `EmptyState`. ``update`` needs ``params``.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.keep_params_nonnegative()
      >>> params = jnp.array([1.0, 2.0])
      >>> u, _ = tx.update(jnp.array([-3.0, -1.0]), tx.init(params), params)
      >>> u.tolist()
      [-1.0, -1.0]
    """

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        validate.require_params("keep_params_nonnegative", params)

        def one(g, p):
            if g is None:
                return None
            g_, p_ = (x.astype(numerics.common_dtype(g.dtype, p.dtype)) for x in (g, p))
            return jnp.where(p_ + g_ < 0, -p_, g_).astype(g.dtype)

        return jax.tree.map(one, updates, params, is_leaf=is_none), state

    return GradientTransformation(init_empty_state, update_fn)
