"""Reduce the learning rate when the loss stops improving (a transform driven by ``value=``)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gradtx.core import GradientTransformation, numerics, validate
from gradtx.schedules._basic import _check_steps

__all__ = ["ReduceLROnPlateauState", "reduce_on_plateau"]


class ReduceLROnPlateauState(NamedTuple):
    """State of `reduce_on_plateau` (Optax's field names and order).

    Attributes:
      scale: the factor the updates are multiplied by (starts at 1), float32 (float64
        for float64 params).
      best_value: the best (lowest) accumulated value seen so far (starts at +inf).
      plateau_count: consecutive accumulated values without improvement (int32).
      cooldown_count: steps left in the cooldown after a reduction (int32).
      count: values accumulated since the last decision (int32).
      avg_value: running mean of the values accumulated since the last decision.
    """

    scale: jax.Array
    best_value: jax.Array
    plateau_count: jax.Array
    cooldown_count: jax.Array
    count: jax.Array
    avg_value: jax.Array


def _is_zero(x: Any) -> bool:
    if isinstance(x, jax.core.Tracer) or callable(x):
        return False
    return bool(np.asarray(x) == 0)


def _array_in(x: Any, dtype: Any) -> jax.Array:
    """``x`` as a strongly typed array of ``dtype`` (a Python number too, unlike
    ``numerics.as_dtype``): the state's scalars keep fixed dtypes."""
    return jnp.asarray(x).astype(dtype)


def reduce_on_plateau(
    factor: float = 0.1,
    patience: int = 10,
    rtol: float = 1e-4,
    atol: float = 0.0,
    cooldown: int = 0,
    accumulation_size: int = 1,
    min_scale: float = 0.0,
) -> GradientTransformation:
    """Multiply the updates by a scale that drops by ``factor`` when the loss plateaus.

    Every ``update`` must receive the monitored value (typically the loss) as
    ``value=``. Values are averaged over ``accumulation_size`` calls; then, with
    :math:`\\bar v` the average and :math:`v^*` the best average so far, the average
    *improves* when

    .. math:: \\bar v < v^* - r_{tol} |v^*| - a_{tol}.

    After ``patience`` consecutive averages without improvement (and outside a
    cooldown) the scale becomes :math:`\\max(s \\cdot \\text{factor}, s_{min})`, and the
    next ``cooldown`` averages are ignored. The updates are :math:`u_t = s_t g_t`.

    Put it at the end of a chain to scale the learning rate of any optimizer, schedule
    included: ``chain(scale_by_adam(), scale_by_learning_rate(schedule),
    reduce_on_plateau())``. The current scale is ``gradtx.tree.get(state, "scale")``.

    The semantics, defaults and state fields are Optax's
    (``optax.contrib.reduce_on_plateau``). Differences: the scale is kept in float32 (at
    least) rather than in the lowest parameter dtype, and the running values in at least
    float32, so bfloat16 parameters do not round the scale or the loss; and the relative
    threshold is :math:`r_{tol} |v^*|`, so a negative monitored value (a log-likelihood, a
    negated reward) also plateaus. Optax's :math:`(1 - r_{tol}) v^*` equals it for positive
    :math:`v^*`, but for a negative one it accepts a worse value as an improvement and never
    reduces (optax PR #1767).

    Args:
      factor: multiplier applied to the scale on a plateau, in (0, 1). Default 0.1.
      patience: averages without improvement before a reduction, an integer >= 1.
        Default 10.
      rtol: relative improvement required, in [0, 1]. Default 1e-4.
      atol: absolute improvement required, >= 0 (``rtol`` and ``atol`` not both 0).
        Default 0.
      cooldown: averages ignored after a reduction, an integer >= 0. Default 0.
      accumulation_size: values averaged per decision, an integer >= 1 (use > 1 when
        ``value`` is a noisy minibatch loss). Default 1.
      min_scale: the scale never drops below this, in [0, 1]. Default 0.

    Returns:
      A `GradientTransformation` with `ReduceLROnPlateauState`; its ``update`` needs
      ``value=``.

    Raises:
      ValueError: for arguments outside the ranges above, and from ``update`` when
        ``value`` is missing or not a scalar.
      TypeError: for non-integer counts.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.reduce_on_plateau(factor=0.5, patience=2)
      >>> g = jnp.ones(2)
      >>> state = tx.init(g)
      >>> for loss in [1.0, 0.5, 0.5, 0.5, 0.5, 0.5]:
      ...     u, state = tx.update(g, state, value=loss)
      >>> float(state.scale), u.tolist()
      (0.25, [0.25, 0.25])

    References:
      The ``ReduceLROnPlateau`` callback of Keras and PyTorch;
      Optax, ``optax.contrib.reduce_on_plateau``.
    """
    fn = "reduce_on_plateau"
    validate.interval(fn, "factor", factor, 0.0, 1.0, low_open=True, high_open=True)
    patience = _check_steps(fn, "patience", patience, 1)
    validate.unit(fn, rtol=rtol)
    validate.non_negative(fn, atol=atol)
    validate.finite(fn, atol=atol)
    if _is_zero(rtol) and _is_zero(atol):
        raise ValueError(f"{fn}(rtol={rtol!r}, atol={atol!r}): rtol and atol must not both be 0")
    cooldown = _check_steps(fn, "cooldown", cooldown, 0)
    accumulation_size = _check_steps(fn, "accumulation_size", accumulation_size, 1)
    validate.unit(fn, min_scale=min_scale)

    def init_fn(params):
        scale_dtype = numerics.compute_dtype(numerics.lowest_float_dtype(params))
        value_dtype = numerics.widest_float_dtype(params, real=True)
        return ReduceLROnPlateauState(
            scale=jnp.ones([], scale_dtype),
            best_value=jnp.full([], jnp.inf, value_dtype),
            plateau_count=numerics.zero_count(),
            cooldown_count=numerics.zero_count(),
            count=numerics.zero_count(),
            avg_value=jnp.zeros([], value_dtype),
        )

    def decide(state: ReduceLROnPlateauState) -> ReduceLROnPlateauState:
        dtype = state.best_value.dtype
        avg = state.avg_value
        best_so_far = state.best_value  # +inf before the first average
        margin = jnp.where(
            jnp.isfinite(best_so_far), _array_in(rtol, dtype) * jnp.abs(best_so_far), 0
        )
        improved = avg < best_so_far - margin.astype(dtype) - _array_in(atol, dtype)
        best = jnp.where(improved, avg, state.best_value)
        plateau = jnp.where(improved, 0, numerics.safe_increment(state.plateau_count))
        reduce = plateau == _array_in(patience, jnp.int32)
        s_dtype = state.scale.dtype
        reduced = jnp.where(reduce, state.scale * _array_in(factor, s_dtype), state.scale)
        active_scale = jnp.maximum(reduced, _array_in(min_scale, s_dtype))
        in_cooldown = state.cooldown_count > 0
        return ReduceLROnPlateauState(
            scale=jnp.where(in_cooldown, state.scale, active_scale),
            best_value=best,
            plateau_count=jnp.where(in_cooldown | reduce, 0, plateau).astype(jnp.int32),
            cooldown_count=jnp.where(
                in_cooldown,
                state.cooldown_count - 1,
                jnp.where(reduce, _array_in(cooldown, jnp.int32), 0),
            ).astype(jnp.int32),
            count=numerics.zero_count(),
            avg_value=jnp.zeros_like(avg),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params
        value = validate.require_extra_arg(fn, extra_args, "value")
        if jnp.ndim(value) != 0:
            raise ValueError(f"{fn}: value= must be a scalar, got shape {jnp.shape(value)}")
        dtype = state.avg_value.dtype
        count = numerics.safe_increment(state.count)
        avg = (
            _array_in(state.count, dtype) * state.avg_value + _array_in(value, dtype)
        ) / _array_in(count, dtype)
        state = state._replace(count=count, avg_value=avg)
        decided = decide(state)
        ready = count == _array_in(accumulation_size, jnp.int32)
        state = jax.tree.map(lambda a, b: jnp.where(ready, a, b), decided, state)
        scale = state.scale
        updates = jax.tree.map(lambda g: g * scale.astype(g.dtype), updates)
        return updates, state

    return GradientTransformation(init_fn, update_fn)
