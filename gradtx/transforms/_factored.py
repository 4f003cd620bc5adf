"""Adafactor's factored second-moment estimate (and its parameter-scale companion)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx.core import GradientTransformation, numerics, validate

__all__ = ["FactoredState", "scale_by_factored_rms"]


def _decay_rate_pow(step: jax.Array, exponent: Any = 0.8) -> jax.Array:
    """Adafactor's second-moment decay ``1 - (step + 1) ** -exponent`` (float32)."""
    # Add in float32: ``step + 1`` in int32 would wrap at a saturated counter.
    t = jnp.asarray(step).astype(jnp.float32) + 1.0
    if not isinstance(exponent, (int, float)):
        exponent = jnp.asarray(exponent).astype(jnp.float32)
    return 1.0 - t ** (-exponent)


def _factored_dims(
    shape: tuple[int, ...], factored: bool, min_dim_size_to_factor: int
) -> tuple[int, int] | None:
    """``(second largest axis, largest axis)`` when the leaf is factored, else ``None``.

    Ties keep the axis order (a stable sort), so a square matrix factors over (0, 1).
    """
    if not factored or len(shape) < 2:
        return None
    order = sorted(range(len(shape)), key=lambda i: shape[i])
    if shape[order[-2]] < min_dim_size_to_factor:
        return None
    return order[-2], order[-1]


class FactoredState(NamedTuple):
    """State of `scale_by_factored_rms`.

    Attributes:
      count: updates so far (int32, saturating).
      v_row: per factored leaf, the EMA of the squared gradient averaged over its
        largest axis (that axis removed); shape ``(1,)`` zeros for other leaves.
      v_col: per factored leaf, the EMA averaged over its second-largest axis; shape
        ``(1,)`` zeros for other leaves.
      v: per unfactored leaf, the full EMA of the squared gradient; shape ``(1,)``
        zeros for factored leaves.
    """

    count: jax.Array
    v_row: Any
    v_col: Any
    v: Any


def scale_by_factored_rms(
    factored: bool = True,
    decay_rate: float = 0.8,
    step_offset: int = 0,
    min_dim_size_to_factor: int = 128,
    epsilon: float = 1e-30,
    decay_rate_fn: Callable[[jax.Array, Any], jax.Array] = _decay_rate_pow,
) -> GradientTransformation:
    """Divide the updates by Adafactor's factored estimate of their root mean square.

    For a leaf whose two largest axes both have at least ``min_dim_size_to_factor``
    elements, only a row and a column statistic are kept (memory :math:`n + m` instead
    of :math:`nm`). With :math:`G = g_t^2 + \\epsilon_1` and the increasing decay
    :math:`\\hat\\beta_t = 1 - (t+1)^{-c}` (:math:`t = 0, 1, \\dots` counted from
    ``step_offset``):

    .. math::
        R_t = \\hat\\beta_t R_{t-1} + (1-\\hat\\beta_t)\\, \\operatorname{mean}_{j}(G), \\qquad
        C_t = \\hat\\beta_t C_{t-1} + (1-\\hat\\beta_t)\\, \\operatorname{mean}_{i}(G) \\\\
        \\hat V_t = \\frac{R_t C_t^\\top}{\\operatorname{mean}(R_t)}, \\qquad
        u_t = g_t / \\sqrt{\\hat V_t}

    where :math:`j` runs over the largest axis and :math:`i` over the second largest.
    Other leaves keep the full :math:`V_t = \\hat\\beta_t V_{t-1} + (1-\\hat\\beta_t) G`
    and get :math:`u_t = g_t / \\sqrt{V_t}`. The statistics live in the parameters'
    dtype; the arithmetic runs in float32 or wider.

    Args:
      factored: factor leaves of rank >= 2 when their sizes allow. Default True.
      decay_rate: the exponent :math:`c` of the decay schedule, >= 0. Default 0.8.
      step_offset: subtracted from the step count before the schedule (the first
        step of a fine-tuning phase), >= 0. Default 0.
      min_dim_size_to_factor: factor only when the two largest axes have at least
        this many elements, an integer >= 1. Default 128.
      epsilon: :math:`\\epsilon_1`, added to the squared gradient, >= 0. Default 1e-30.
      decay_rate_fn: ``(step, decay_rate) -> decay`` giving :math:`\\hat\\beta_t`;
        the default is Adafactor's :math:`1 - (t+1)^{-c}`.

    Returns:
      A `GradientTransformation` with `FactoredState`.

    Raises:
      ValueError: for hyperparameters outside the ranges above.
      TypeError: if ``decay_rate_fn`` is not callable or ``min_dim_size_to_factor``
        is not an integer.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_factored_rms(min_dim_size_to_factor=2)
      >>> g = jnp.array([[1.0, 2.0], [3.0, 4.0]])
      >>> u, state = tx.update(g, tx.init(g))
      >>> state.v_row.shape, state.v_col.shape, state.v.shape
      ((2,), (2,), (1,))
      >>> [[round(x, 3) for x in row] for row in u.tolist()]
      [[0.775, 1.095], [1.039, 0.98]]

    References:
      Shazeer and Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory
      Cost", ICML 2018, https://arxiv.org/abs/1804.04235;
      Zhai et al., "Scaling Vision Transformers", CVPR 2022,
      https://arxiv.org/abs/2106.04560
    """
    fn = "scale_by_factored_rms"
    validate.non_negative(fn, decay_rate=decay_rate, step_offset=step_offset, epsilon=epsilon)
    validate.finite(fn, decay_rate=decay_rate, step_offset=step_offset)
    validate.integer(fn, "min_dim_size_to_factor", min_dim_size_to_factor, 1)
    if not callable(decay_rate_fn):
        raise TypeError(f"{fn}(decay_rate_fn={decay_rate_fn!r}): decay_rate_fn must be callable")
    min_dim = int(min_dim_size_to_factor)

    def init_leaf(x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        shape, dtype = jnp.shape(x), jnp.result_type(x)
        dims = _factored_dims(shape, factored, min_dim)
        # A fresh array per leaf (a donated state must not hold one buffer twice), and
        # the full second moment via zeros_like so that it keeps the parameter's sharding.
        if dims is None:
            return jnp.zeros((1,), dtype), jnp.zeros((1,), dtype), jnp.zeros_like(x, dtype)
        d1, d0 = dims
        row_shape = tuple(n for i, n in enumerate(shape) if i != d0)
        col_shape = tuple(n for i, n in enumerate(shape) if i != d1)
        return jnp.zeros(row_shape, dtype), jnp.zeros(col_shape, dtype), jnp.zeros((1,), dtype)

    def init_fn(params):
        leaves, treedef = jax.tree.flatten(params)
        rows, cols, vs = zip(*(init_leaf(x) for x in leaves), strict=True) if leaves else ((),) * 3
        return FactoredState(
            count=numerics.zero_count(),
            v_row=treedef.unflatten(rows),
            v_col=treedef.unflatten(cols),
            v=treedef.unflatten(vs),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match(fn, updates, state.v, shapes=False)
        expected = jax.eval_shape(init_fn, updates)
        validate.tree_match(
            fn,
            (state.v_row, state.v_col, state.v),
            (expected.v_row, expected.v_col, expected.v),
            what="factored statistics",
        )
        step = state.count - _as_int32(step_offset)
        rho = decay_rate_fn(step, decay_rate)

        leaves, treedef = jax.tree.flatten(updates)
        rows = treedef.flatten_up_to(state.v_row)
        cols = treedef.flatten_up_to(state.v_col)
        vs = treedef.flatten_up_to(state.v)
        out, new_rows, new_cols, new_vs = [], [], [], []
        for g, row, col, v in zip(leaves, rows, cols, vs, strict=True):
            u, row, col, v = _update_leaf(g, row, col, v, rho, epsilon, factored, min_dim)
            out.append(u)
            new_rows.append(row)
            new_cols.append(col)
            new_vs.append(v)
        new_state = FactoredState(
            count=numerics.safe_increment(state.count),
            v_row=treedef.unflatten(new_rows),
            v_col=treedef.unflatten(new_cols),
            v=treedef.unflatten(new_vs),
        )
        return treedef.unflatten(out), new_state

    return GradientTransformation(init_fn, update_fn)


def _as_int32(value: Any) -> Any:
    if isinstance(value, int):
        return value
    return jnp.asarray(value).astype(jnp.int32)


def _update_leaf(g, row, col, v, rho, epsilon, factored, min_dim):
    """One leaf of `scale_by_factored_rms`: ``(update, v_row, v_col, v)``."""
    dtype = numerics.compute_dtype(numerics.common_dtype(g.dtype, v.dtype))
    rho = jnp.asarray(rho).astype(dtype)
    g_ = g.astype(dtype)
    sq = numerics.abs_sq(g_) + epsilon
    dims = _factored_dims(g.shape, factored, min_dim)
    if dims is None:
        new_v = rho * v.astype(dtype) + (1 - rho) * sq
        update = g_ * new_v**-0.5
        return update.astype(g.dtype), row, col, new_v.astype(v.dtype)
    d1, d0 = dims
    new_row = rho * row.astype(dtype) + (1 - rho) * jnp.mean(sq, axis=d0)
    new_col = rho * col.astype(dtype) + (1 - rho) * jnp.mean(sq, axis=d1)
    # new_row lost axis d0, so d1 moved down by one when it came after d0.
    row_axis = d1 - 1 if d1 > d0 else d1
    row_factor = (new_row / jnp.mean(new_row, axis=row_axis, keepdims=True)) ** -0.5
    col_factor = new_col**-0.5
    update = g_ * jnp.expand_dims(row_factor, d0) * jnp.expand_dims(col_factor, d1)
    return update.astype(g.dtype), new_row.astype(row.dtype), new_col.astype(col.dtype), v
