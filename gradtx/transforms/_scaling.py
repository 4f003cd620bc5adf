"""Scaling by constants, learning rates, schedules and signs."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from gradtx.core import (
    GradientTransformation,
    ScalarOrSchedule,
    Schedule,
    identity,
    init_empty_state,
    numerics,
    validate,
)

__all__ = [
    "ScaleByScheduleState",
    "scale",
    "scale_by_learning_rate",
    "scale_by_schedule",
    "scale_by_sign",
]


def scale(step_size: float) -> GradientTransformation:
    """Multiply every update by a constant.

    .. math:: u_t = \\alpha g_t

    Args:
      step_size: the factor :math:`\\alpha` (any finite number; negative means descent).

    Returns:
      A `GradientTransformation` with `EmptyState`.

    Raises:
      ValueError: if ``step_size`` is NaN or infinite.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale(-2.0)
      >>> tx.update(jnp.ones(2), tx.init(jnp.ones(2)))[0].tolist()
      [-2.0, -2.0]
    """
    validate.finite("scale", step_size=step_size)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        return jax.tree.map(lambda g: _mul(step_size, g), updates), state

    return GradientTransformation(init_empty_state, update_fn)


def _mul(factor, g):
    """``factor * g`` keeping ``g``'s dtype (a traced float32 factor must not promote bf16).

    An integer (or boolean) leaf is not trainable: it gets a zero update of its own dtype.
    """
    if not numerics.is_float(g):
        return jnp.zeros_like(g)
    if isinstance(factor, (int, float)):
        return factor * g
    return jnp.asarray(factor).astype(g.dtype) * g


class ScaleByScheduleState(NamedTuple):
    """State of `scale_by_schedule`: the number of updates so far (int32, saturating)."""

    count: jax.Array


def scale_by_schedule(step_size_fn: Schedule) -> GradientTransformation:
    """Multiply the updates by ``step_size_fn(count)`` where ``count`` counts updates.

    .. math:: u_t = \\alpha(t) g_t, \\quad t = 0, 1, \\dots

    Args:
      step_size_fn: a schedule ``int32 step -> scalar``.

    Returns:
      A `GradientTransformation` with `ScaleByScheduleState`.

    Raises:
      TypeError: if ``step_size_fn`` is not callable.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_schedule(lambda count: -1.0 / (count.astype(jnp.float32) + 1.0))
      >>> g = jnp.ones(2)
      >>> state = tx.init(g)
      >>> for _ in range(3):
      ...     updates, state = tx.update(g, state)
      ...     print(updates.round(3).tolist())
      [-1.0, -1.0]
      [-0.5, -0.5]
      [-0.333, -0.333]
      >>> int(state.count)
      3
    """
    if not callable(step_size_fn):
        raise TypeError(f"scale_by_schedule(step_size_fn={step_size_fn!r}): must be callable")

    def init_fn(params):
        del params
        return ScaleByScheduleState(count=numerics.zero_count())

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        step_size = step_size_fn(state.count)
        updates = jax.tree.map(lambda g: _mul(step_size, g), updates)
        return updates, ScaleByScheduleState(count=numerics.safe_increment(state.count))

    return GradientTransformation(init_fn, update_fn)


def scale_by_learning_rate(
    learning_rate: ScalarOrSchedule | None = None, *, flip_sign: bool = True
) -> GradientTransformation:
    """Multiply the updates by ``-learning_rate`` (a constant or a schedule of the step).

    .. math:: u_t = -\\eta(t) g_t

    As in Optax, a constant rate is `scale` (state `EmptyState`) and a schedule is
    `scale_by_schedule` (state `ScaleByScheduleState`, the step count). The rate an
    optimizer applies at any step is read with `gradtx.current_learning_rate`, which
    evaluates the schedule at that count; no extra state is kept.

    Args:
      learning_rate: a finite number, or a schedule ``step -> learning rate``;
        ``None`` (the default, as in Optax) means no scaling: `identity`.
      flip_sign: multiply by ``-learning_rate`` (descent) when true, by
        ``+learning_rate`` otherwise.

    Returns:
      A `GradientTransformation` with `EmptyState` (constant rate or ``None``) or
      `ScaleByScheduleState` (schedule).

    Raises:
      ValueError: if ``learning_rate`` is NaN or infinite.
      TypeError: if it is neither a number, an array nor a callable.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_learning_rate(0.1)
      >>> updates, state = tx.update(jnp.ones(2), tx.init(jnp.ones(2)))
      >>> updates.tolist(), state
      ([-0.1, -0.1], EmptyState())
      >>> tx = gradtx.scale_by_learning_rate(lambda c: 0.1 / (1.0 + c.astype(jnp.float32)))
      >>> updates, state = tx.update(jnp.ones(2), tx.init(jnp.ones(2)))
      >>> int(state.count)
      1
    """
    if learning_rate is None:
        return identity()
    validate.finite("scale_by_learning_rate", learning_rate=learning_rate)
    sign = -1.0 if flip_sign else 1.0
    if callable(learning_rate):
        return scale_by_schedule(lambda count: sign * jnp.asarray(learning_rate(count)))
    return scale(_signed(sign, learning_rate))


def _signed(sign: float, value):
    return sign * value if isinstance(value, (int, float)) else sign * jnp.asarray(value)


def scale_by_sign() -> GradientTransformation:
    """Replace every update by its sign (signSGD).

    .. math:: u_t = \\operatorname{sign}(g_t)

    Returns:
      A `GradientTransformation` with `EmptyState`.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_sign()
      >>> g = jnp.array([0.3, -2.0, 0.0])
      >>> tx.update(g, tx.init(g))[0].tolist()
      [1.0, -1.0, 0.0]

    References:
      Bernstein et al., "signSGD: Compressed Optimisation for Non-Convex Problems",
      ICML 2018, https://arxiv.org/abs/1802.04434
    """

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        return jax.tree.map(jnp.sign, updates), state

    return GradientTransformation(init_empty_state, update_fn)
