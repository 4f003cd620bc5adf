"""Elementary schedules: constant, polynomial/linear, exponential, piecewise.

A schedule is a pure function ``step -> value``. Every schedule here is built from
``jax.numpy`` operations on the step, so it can be called with a Python int, an int32
array (the optimizer's counter, possibly traced under ``jit``) or a vector of steps,
and changing the step never recompiles a jitted caller.

Arguments are checked once, when the schedule is built, and a ``ValueError`` names the
schedule, the argument, its value and the rule, e.g.
``polynomial_schedule(transition_steps=-5): transition_steps must be an integer >= 0``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradtx.core import Schedule, validate

__all__ = [
    "constant_schedule",
    "exponential_decay",
    "linear_schedule",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "polynomial_schedule",
]


# --- shared private helpers (also used by the other schedule modules) --------------


def _check_steps(fn: str, name: str, value: Any, minimum: int | None) -> Any:
    """``value`` is an integer ``>= minimum`` (a step count); returned as a Python int.

    Tracers are returned unchecked; ``minimum=None`` checks the kind only.

    Accepts Python/NumPy integers, integer-valued floats and concrete 0-d integer
    arrays (``validate.integer`` rejects the latter, which ``inject_hyperparams``
    produces when it builds a transform outside ``jit``).
    """
    if isinstance(value, jax.core.Tracer):
        return value
    v = value
    if isinstance(v, (np.ndarray, np.generic, jax.Array)) and np.ndim(v) == 0:
        v = np.asarray(v).item()
    ok_kind = not isinstance(v, bool) and (
        isinstance(v, numbers.Integral)
        or (isinstance(v, numbers.Real) and math.isfinite(v) and float(v).is_integer())
    )
    if not ok_kind:
        bound = "" if minimum is None else f" >= {minimum}"
        raise TypeError(f"{fn}({name}={value!r}): {name} must be an integer{bound}")
    if minimum is not None and v < minimum:
        raise ValueError(f"{fn}({name}={value!r}): {name} must be an integer >= {minimum}")
    return int(v)


def _float_step(count: Any) -> jax.Array:
    """The step as an array of JAX's default float dtype (float64 under x64).

    A Python int goes through ``float`` first, so a step beyond int32 does not overflow.
    """
    if isinstance(count, int) and not isinstance(count, bool):
        count = float(count)
    return jnp.asarray(count).astype(jnp.result_type(float))


def _check_boundaries(fn: str, name: str, boundaries_and_scales: Any) -> list[tuple[int, Any]]:
    """A ``{step: scale}`` mapping with integer steps >= 0 and finite scales >= 0, sorted."""
    if boundaries_and_scales is None:
        return []
    if not isinstance(boundaries_and_scales, Mapping):
        raise TypeError(
            f"{fn}({name}={boundaries_and_scales!r}): {name} must be a dict "
            f"{{step: scale}} or None, got {type(boundaries_and_scales).__name__}"
        )
    items = []
    for step, scale in boundaries_and_scales.items():
        try:
            _check_steps(fn, "boundary", step, 0)
        except (TypeError, ValueError) as err:
            raise type(err)(
                f"{fn}({name}={boundaries_and_scales!r}): every boundary must be an "
                f"integer >= 0, got {step!r}"
            ) from None
        if isinstance(scale, jax.core.Tracer):
            items.append((int(step), scale))
            continue
        validate.check_kind(fn, name, scale, allow_callable=False)
        x = float(np.asarray(scale))
        if not (math.isfinite(x) and x >= 0):
            raise ValueError(
                f"{fn}({name}={boundaries_and_scales!r}): every scale must be finite "
                f"and >= 0, got {scale!r} at step {step!r}"
            )
        items.append((int(step), scale))
    return sorted(items, key=lambda item: item[0])


def _interpolate(kind: str, start: Any, end: Any, pct: jax.Array) -> jax.Array:
    """Linear or half-cosine interpolation from ``start`` (pct=0) to ``end`` (pct=1)."""
    if kind == "linear":
        return (end - start) * pct + start
    return end + (start - end) / 2.0 * (jnp.cos(jnp.pi * pct) + 1.0)


def _piecewise(kind: str, knots: list[tuple[int, Any]]) -> Schedule:
    """Interpolate between ``(step, value)`` knots (steps non-decreasing, the first 0).

    Between consecutive knots the value is interpolated; after the last knot it is
    held. Zero-length segments are skipped (the later knot wins).
    """

    def schedule(count):
        t = jnp.maximum(_float_step(count), 0.0)
        out = knots[-1][1] + jnp.zeros_like(t)
        for (b0, v0), (b1, v1) in reversed(list(zip(knots[:-1], knots[1:], strict=True))):
            if b1 <= b0:
                continue
            pct = (t - b0) / (b1 - b0)
            out = jnp.where(t < b1, _interpolate(kind, v0, v1, pct), out)
        return out

    return schedule


def _polynomial(init_value, end_value, power, transition_steps, transition_begin) -> Schedule:
    """The polynomial transition without checks (``transition_steps > 0``)."""

    def schedule(count):
        t = jnp.clip(_float_step(count) - transition_begin, 0.0, transition_steps)
        # Clamped: under jit XLA may turn t / T into t * (1 / T), slightly above 1 at t = T.
        frac = jnp.maximum(1.0 - t / transition_steps, 0.0)
        return (init_value - end_value) * frac**power + end_value

    return schedule


def _exponential(
    init_value, transition_steps, decay_rate, transition_begin, staircase, end_value
) -> Schedule:
    """The exponential decay without checks."""

    def schedule(count):
        elapsed = _float_step(count) - transition_begin
        p = elapsed / transition_steps
        if staircase:
            p = jnp.floor(p)
        value = jnp.where(elapsed <= 0, init_value, init_value * jnp.power(decay_rate, p))
        if end_value is not None:
            value = jnp.where(
                decay_rate < 1.0, jnp.maximum(value, end_value), jnp.minimum(value, end_value)
            )
        return value

    return schedule


# --- public schedules ---------------------------------------------------------------


def constant_schedule(value: jax.typing.ArrayLike) -> Schedule:
    """The schedule that always returns ``value``.

    .. math:: v(t) = v

    Args:
      value: the value (a finite number or array).

    Returns:
      A schedule ``step -> value`` (``value`` itself, unchanged).

    Raises:
      ValueError: if ``value`` is NaN or infinite.

    Examples:
      >>> import gradtx
      >>> sched = gradtx.constant_schedule(0.5)
      >>> sched(0), sched(1000)
      (0.5, 0.5)
    """
    validate.finite("constant_schedule", value=value)
    return lambda count: value


def polynomial_schedule(
    init_value: jax.typing.ArrayLike,
    end_value: jax.typing.ArrayLike,
    power: jax.typing.ArrayLike,
    transition_steps: int,
    transition_begin: int = 0,
) -> Schedule:
    """A polynomial transition from ``init_value`` to ``end_value``.

    With :math:`I` = ``init_value``, :math:`E` = ``end_value``, :math:`p` = ``power``,
    :math:`B` = ``transition_begin`` and :math:`T` = ``transition_steps``:

    .. math::
        v(t) = (I - E) \\left(1 - \\frac{\\min(\\max(t - B, 0), T)}{T}\\right)^{p} + E

    so :math:`v = I` up to step :math:`B` and :math:`v = E` from step :math:`B + T` on.

    ``transition_steps <= 0`` disables the transition: the schedule is the constant
    ``init_value`` (Optax's documented behaviour). A negative ``transition_begin``
    raises (Optax's docs say it must be positive; Optax itself falls back to 0).

    Args:
      init_value: value up to ``transition_begin`` (finite).
      end_value: value from ``transition_begin + transition_steps`` on (finite).
      power: exponent :math:`p` of the transition, > 0.
      transition_steps: length of the transition, an integer (<= 0: constant).
      transition_begin: steps before the transition starts, an integer >= 0. Default 0.

    Returns:
      A schedule ``step -> value``.

    Raises:
      ValueError: for arguments outside the ranges above.
      TypeError: for non-integer step counts.

    Examples:
      >>> import gradtx
      >>> sched = gradtx.polynomial_schedule(1.0, 0.0, power=2, transition_steps=10)
      >>> [round(float(sched(t)), 4) for t in (0, 5, 10, 20)]
      [1.0, 0.25, 0.0, 0.0]
    """
    fn = "polynomial_schedule"
    validate.finite(fn, init_value=init_value, end_value=end_value)
    validate.interval(fn, "power", power, 0.0, low_open=True)
    validate.finite(fn, power=power)
    transition_steps = _check_steps(fn, "transition_steps", transition_steps, None)
    transition_begin = _check_steps(fn, "transition_begin", transition_begin, 0)
    if not isinstance(transition_steps, jax.core.Tracer) and transition_steps <= 0:
        return lambda count: init_value
    return _polynomial(init_value, end_value, power, transition_steps, transition_begin)


def linear_schedule(
    init_value: jax.typing.ArrayLike,
    end_value: jax.typing.ArrayLike,
    transition_steps: int,
    transition_begin: int = 0,
) -> Schedule:
    """A linear transition from ``init_value`` to ``end_value``.

    `polynomial_schedule` with ``power=1``:

    .. math::
        v(t) = I + (E - I) \\frac{\\min(\\max(t - B, 0), T)}{T}

    Args:
      init_value: value up to ``transition_begin`` (finite).
      end_value: value from ``transition_begin + transition_steps`` on (finite).
      transition_steps: length of the transition, an integer (<= 0 disables it:
        the constant ``init_value``, as in Optax).
      transition_begin: steps before the transition starts, an integer >= 0. Default 0.

    Returns:
      A schedule ``step -> value``.

    Raises:
      ValueError: for arguments outside the ranges above.
      TypeError: for non-integer step counts.

    Examples:
      >>> import gradtx
      >>> sched = gradtx.linear_schedule(1.0, 0.1, transition_steps=9, transition_begin=1)
      >>> [round(float(sched(t)), 4) for t in (0, 1, 4, 10, 50)]
      [1.0, 1.0, 0.7, 0.1, 0.1]
    """
    fn = "linear_schedule"
    validate.finite(fn, init_value=init_value, end_value=end_value)
    transition_steps = _check_steps(fn, "transition_steps", transition_steps, None)
    transition_begin = _check_steps(fn, "transition_begin", transition_begin, 0)
    if not isinstance(transition_steps, jax.core.Tracer) and transition_steps <= 0:
        return lambda count: init_value
    return _polynomial(init_value, end_value, 1, transition_steps, transition_begin)


def exponential_decay(
    init_value: jax.typing.ArrayLike,
    transition_steps: int,
    decay_rate: float,
    transition_begin: int = 0,
    staircase: bool = False,
    end_value: jax.typing.ArrayLike | None = None,
) -> Schedule:
    """Exponential decay (or growth) of ``init_value``.

    With :math:`r` = ``decay_rate``, :math:`T` = ``transition_steps`` and :math:`B` =
    ``transition_begin``:

    .. math::
        v(t) = \\begin{cases} I & t \\le B \\\\
               I\\, r^{(t - B)/T} & t > B \\end{cases}

    With ``staircase=True`` the exponent is :math:`\\lfloor (t - B)/T \\rfloor`. When
    ``end_value`` is given it bounds the value: from below when :math:`r < 1`, from
    above when :math:`r > 1`.

    Optax returns a constant schedule for ``transition_steps <= 0`` or
    ``decay_rate == 0`` and treats a negative ``transition_begin`` as 0; its docstring
    says they must be positive / non-zero, so here they raise ``ValueError``.

    Args:
      init_value: the initial value (finite).
      transition_steps: the time scale :math:`T` of the decay, an integer >= 1.
      decay_rate: the factor :math:`r` per ``transition_steps``, finite and > 0
        (< 1 decays, > 1 grows).
      transition_begin: steps before the decay starts, an integer >= 0. Default 0.
      staircase: decay in discrete jumps every ``transition_steps``. Default False.
      end_value: optional bound on the value (finite), see above. Default None.

    Returns:
      A schedule ``step -> value``.

    Raises:
      ValueError: for arguments outside the ranges above.
      TypeError: for non-integer step counts.

    Examples:
      >>> import gradtx
      >>> sched = gradtx.exponential_decay(1.0, transition_steps=10, decay_rate=0.5)
      >>> [round(float(sched(t)), 4) for t in (0, 5, 10, 20)]
      [1.0, 0.7071, 0.5, 0.25]
      >>> stairs = gradtx.exponential_decay(1.0, 10, 0.5, staircase=True, end_value=0.3)
      >>> [round(float(stairs(t)), 4) for t in (0, 9, 10, 25)]
      [1.0, 1.0, 0.5, 0.3]
    """
    fn = "exponential_decay"
    validate.finite(fn, init_value=init_value, end_value=end_value)
    transition_steps = _check_steps(fn, "transition_steps", transition_steps, 1)
    transition_begin = _check_steps(fn, "transition_begin", transition_begin, 0)
    validate.interval(fn, "decay_rate", decay_rate, 0.0, low_open=True)
    validate.finite(fn, decay_rate=decay_rate)
    return _exponential(
        init_value, transition_steps, decay_rate, transition_begin, staircase, end_value
    )


def piecewise_constant_schedule(
    init_value: jax.typing.ArrayLike,
    boundaries_and_scales: dict[int, float] | None = None,
) -> Schedule:
    """A piecewise-constant schedule that is multiplied by a factor at given steps.

    .. math:: v(t) = I \\prod_{i:\\, b_i \\le t} s_i

    for the entries :math:`(b_i, s_i)` of ``boundaries_and_scales``: from step
    :math:`b_i` on, the value is scaled by :math:`s_i`.

    Args:
      init_value: the value before the first boundary (finite).
      boundaries_and_scales: ``{step: scale}`` with integer steps >= 0 and finite
        scales >= 0, or None (a constant schedule). Default None.

    Returns:
      A schedule ``step -> value``.

    Raises:
      ValueError: for a negative or non-finite scale, or a negative boundary.
      TypeError: for a non-integer boundary, or a non-dict argument.

    Examples:
      >>> import gradtx
      >>> sched = gradtx.piecewise_constant_schedule(1.0, {10: 0.1, 20: 0.5})
      >>> [round(float(sched(t)), 4) for t in (0, 9, 10, 19, 20, 100)]
      [1.0, 1.0, 0.1, 0.1, 0.05, 0.05]
    """
    fn = "piecewise_constant_schedule"
    validate.finite(fn, init_value=init_value)
    items = _check_boundaries(fn, "boundaries_and_scales", boundaries_and_scales)

    def schedule(count):
        t = _float_step(count)
        value = init_value
        for boundary, scale in items:
            value = jnp.where(t >= boundary, value * scale, value)
        return value

    return schedule


def piecewise_interpolate_schedule(
    interpolate_type: str,
    init_value: jax.typing.ArrayLike,
    boundaries_and_scales: dict[int, float] | None = None,
) -> Schedule:
    """Interpolate (linearly or with a half cosine) between scaled values at boundaries.

    The value at boundary :math:`b_k` is :math:`v_k = I \\prod_{i \\le k} s_i` (the
    scales accumulate, as in `piecewise_constant_schedule`); with :math:`b_0 = 0` and
    :math:`v_0 = I`, between two boundaries

    .. math::
        v(t) = \\mathrm{interp}\\left(v_{k-1}, v_k,
               \\frac{t - b_{k-1}}{b_k - b_{k-1}}\\right), \\quad b_{k-1} \\le t < b_k

    where ``linear`` is :math:`a + (b - a) x` and ``cosine`` is
    :math:`b + (a - b)(1 + \\cos \\pi x)/2`. After the last boundary the value is held.

    Args:
      interpolate_type: ``"linear"`` or ``"cosine"``.
      init_value: the value at step 0 (finite).
      boundaries_and_scales: ``{step: scale}`` with integer steps >= 0 and finite
        scales >= 0, or None (a constant schedule). Default None.

    Returns:
      A schedule ``step -> value``.

    Raises:
      ValueError: for an unknown ``interpolate_type``, a negative or non-finite scale,
        or a negative boundary.
      TypeError: for a non-integer boundary, or a non-dict argument.

    Examples:
      >>> import gradtx
      >>> sched = gradtx.piecewise_interpolate_schedule("linear", 1.0, {4: 0.1, 8: 0.01})
      >>> [round(float(sched(t)), 6) for t in (0, 2, 4, 6, 8, 10)]
      [1.0, 0.55, 0.1, 0.0505, 0.001, 0.001]
    """
    fn = "piecewise_interpolate_schedule"
    validate.one_of(fn, "interpolate_type", interpolate_type, ("linear", "cosine"))
    validate.finite(fn, init_value=init_value)
    items = _check_boundaries(fn, "boundaries_and_scales", boundaries_and_scales)
    knots: list[tuple[int, Any]] = [(0, init_value)]
    for boundary, scale in items:
        knots.append((boundary, knots[-1][1] * scale))
    if len(knots) == 1:
        return lambda count: init_value + jnp.zeros_like(_float_step(count))
    return _piecewise(interpolate_type, knots)
