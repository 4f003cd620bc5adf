"""Skipping non-finite (or too large) updates: `apply_if_finite` and `MultiSteps` skip tests."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from gradtx import tree as tree_lib
from gradtx.core import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    Params,
    Updates,
    numerics,
    validate,
)
from gradtx.wrappers._util import all_finite, count_true

__all__ = [
    "ApplyIfFiniteState",
    "apply_if_finite",
    "skip_large_updates",
    "skip_not_finite",
]


class ApplyIfFiniteState(NamedTuple):
    """State of `apply_if_finite` (Optax's field names).

    Attributes:
      notfinite_count: consecutive non-finite updates so far (int32; reset to 0 by a
        finite one).
      last_finite: whether the last update was finite (bool).
      total_notfinite: non-finite updates since ``init`` (int32, saturating, never reset):
        the number of skipped steps, plus any accepted after ``max_consecutive_errors``.
      inner_state: the wrapped transform's state (untouched by a skipped step).
    """

    notfinite_count: jax.Array
    last_finite: jax.Array
    total_notfinite: jax.Array
    inner_state: Any


def apply_if_finite(
    inner: GradientTransformation, max_consecutive_errors: int
) -> GradientTransformation:
    """Skip updates that contain a NaN or an infinity, unless they keep coming.

    If any element of the incoming updates is not finite, the step is skipped: the
    returned updates are zero and ``inner``'s state is left as it was. After more than
    ``max_consecutive_errors`` non-finite steps in a row, the wrapper gives up and lets
    the update through (so a run that is truly diverging fails visibly).

    .. math::
        c_t = [\\lnot \\mathrm{finite}(g_t)] (c_{t-1} + 1), \\qquad
        u_t = \\begin{cases} \\mathrm{inner}(g_t) & \\mathrm{finite}(g_t) \\lor
        c_t > N \\\\ 0 & \\text{otherwise} \\end{cases}

    Args:
      inner: the transform to protect.
      max_consecutive_errors: :math:`N`, an integer >= 0.

    Returns:
      A `GradientTransformation` with `ApplyIfFiniteState`.

    Raises:
      TypeError: if ``inner`` is not a transform or ``max_consecutive_errors`` is not an
        integer.
      ValueError: if ``max_consecutive_errors < 0``.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.apply_if_finite(gradtx.scale(-1.0), max_consecutive_errors=2)
      >>> state = tx.init(jnp.zeros(2))
      >>> u, state = tx.update(jnp.array([1.0, jnp.nan]), state)
      >>> u.tolist(), int(state.total_notfinite)
      ([0.0, 0.0], 1)
    """
    fn = "apply_if_finite"
    inner = validate.transform(fn, "inner", inner)
    validate.integer(fn, "max_consecutive_errors", max_consecutive_errors, 0)

    def init_fn(params):
        return ApplyIfFiniteState(
            notfinite_count=numerics.zero_count(),
            last_finite=jnp.asarray(True),
            total_notfinite=numerics.zero_count(),
            inner_state=inner.init(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        finite = all_finite(updates)
        notfinite_count = jnp.where(
            finite,
            jnp.zeros_like(state.notfinite_count),
            numerics.safe_increment(state.notfinite_count),
        )

        def step(_):
            new_updates, inner_state = inner.update(
                updates, state.inner_state, params, **extra_args
            )
            return new_updates, tree_lib.cast_like(inner_state, state.inner_state)

        out_shape = jax.eval_shape(step, None)[0]

        def skip(_):
            zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), out_shape)
            return zeros, state.inner_state

        new_updates, inner_state = lax.cond(
            jnp.logical_or(finite, notfinite_count > max_consecutive_errors), step, skip, None
        )
        new_state = ApplyIfFiniteState(
            notfinite_count=notfinite_count,
            last_finite=finite,
            total_notfinite=jnp.where(
                finite, state.total_notfinite, numerics.safe_increment(state.total_notfinite)
            ),
            inner_state=inner_state,
        )
        return new_updates, new_state

    return GradientTransformationExtraArgs(init_fn, update_fn)


def skip_not_finite(
    updates: Updates, gradient_step: jax.Array, params: Params | None
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """A ``should_skip_update_fn`` for `MultiSteps`: skip micro-batches with a NaN or an inf.

    Args:
      updates: the micro-batch's gradients.
      gradient_step: `MultiStepsState.gradient_step` (unused).
      params: the parameters (unused).

    Returns:
      ``(should_skip, {"should_skip": should_skip, "num_not_finite": n})`` where
      ``should_skip`` is a boolean scalar and ``n`` the int32 number of non-finite
      elements.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> skip, info = gradtx.skip_not_finite({"w": jnp.array([1.0, jnp.inf])}, 0, None)
      >>> bool(skip), int(info["num_not_finite"])
      (True, 1)
    """
    del gradient_step, params
    num_not_finite = count_true([~jnp.isfinite(x) for x in jax.tree.leaves(updates)])
    should_skip = num_not_finite > 0
    return should_skip, {"should_skip": should_skip, "num_not_finite": num_not_finite}


def skip_large_updates(
    updates: Updates, gradient_step: jax.Array, params: Params | None, max_squared_norm: Any
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """A ``should_skip_update_fn`` for `MultiSteps`: skip when ``||g||^2 >= max_squared_norm``.

    Bind the threshold with ``functools.partial(skip_large_updates, max_squared_norm=...)``.
    A NaN norm is skipped too.

    Args:
      updates: the micro-batch's gradients.
      gradient_step: `MultiStepsState.gradient_step` (unused).
      params: the parameters (unused).
      max_squared_norm: the largest accepted squared global norm (> 0).

    Returns:
      ``(should_skip, {"should_skip": should_skip, "norm_squared": ||g||^2})``.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> skip, info = gradtx.skip_large_updates(jnp.array([3.0, 4.0]), 0, None, 10.0)
      >>> bool(skip), float(info["norm_squared"])
      (True, 25.0)
    """
    del gradient_step, params
    norm_sq = tree_lib.sum_of_squares(updates)
    should_skip = jnp.logical_not(norm_sq < max_squared_norm)
    return should_skip, {"should_skip": should_skip, "norm_squared": norm_sq}
