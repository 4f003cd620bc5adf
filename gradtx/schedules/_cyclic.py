"""Schedules beyond Optax: the Transformer's inverse-square-root warmup and cyclical rates."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gradtx.core import Schedule, validate
from gradtx.schedules._basic import _check_steps, _float_step

__all__ = ["cyclic_schedule", "inverse_sqrt_schedule"]


def inverse_sqrt_schedule(
    peak_value: jax.typing.ArrayLike,
    warmup_steps: int,
    init_value: jax.typing.ArrayLike = 0.0,
) -> Schedule:
    """Linear warmup to ``peak_value``, then decay as the inverse square root of the step.

    .. math::
        v(t) = \\begin{cases} I + (P - I)\\, t / W & t < W \\\\
               P \\sqrt{W / t} & t \\ge W \\end{cases}

    This is the Transformer's schedule: Vaswani et al. use
    :math:`d^{-1/2} \\min(s^{-1/2}, s W^{-3/2})` with :math:`s` counted from 1, which is
    this schedule with ``init_value=0``, ``peak_value = (d * W) ** -0.5`` evaluated at
    :math:`t = s` (so ``lambda count: schedule(count + 1)`` reproduces it exactly).

    Args:
      peak_value: the value at the end of the warmup (finite).
      warmup_steps: length of the warmup, an integer >= 1.
      init_value: the value at step 0 (finite). Default 0.

    Returns:
      A schedule ``step -> value``.

    Raises:
      ValueError: for arguments outside the ranges above.
      TypeError: for a non-integer ``warmup_steps``.

    Examples:
      >>> import gradtx
      >>> sched = gradtx.inverse_sqrt_schedule(1.0, warmup_steps=4)
      >>> [round(float(sched(t)), 4) for t in (0, 2, 4, 16, 64)]
      [0.0, 0.5, 1.0, 0.5, 0.25]

    References:
      Vaswani et al., "Attention Is All You Need", NeurIPS 2017,
      https://arxiv.org/abs/1706.03762
    """
    fn = "inverse_sqrt_schedule"
    validate.finite(fn, peak_value=peak_value, init_value=init_value)
    warmup_steps = _check_steps(fn, "warmup_steps", warmup_steps, 1)

    def schedule(count):
        t = jnp.maximum(_float_step(count), 0.0)
        warm = init_value + (peak_value - init_value) * (t / warmup_steps)
        decay = peak_value * jnp.sqrt(warmup_steps / jnp.maximum(t, warmup_steps))
        return jnp.where(t < warmup_steps, warm, decay)

    return schedule


def cyclic_schedule(
    base_value: jax.typing.ArrayLike,
    max_value: jax.typing.ArrayLike,
    step_size: int,
    mode: str = "triangular",
    gamma: float = 1.0,
) -> Schedule:
    """Cyclical values between ``base_value`` and ``max_value`` (Smith's CLR policies).

    A cycle lasts ``2 * step_size`` steps: up for ``step_size`` steps, down for
    ``step_size`` steps. With :math:`c = \\lfloor 1 + t / (2 S) \\rfloor` the cycle
    number (from 1) and :math:`x = |t / S - 2c + 1|`:

    .. math:: v(t) = b + (m - b) \\max(0, 1 - x)\\, a(t)

    where the amplitude factor :math:`a` is 1 (``"triangular"``),
    :math:`2^{-(c - 1)}` (``"triangular2"``: halved every cycle) or :math:`\\gamma^t`
    (``"exp_range"``: decays with every step).

    Args:
      base_value: the value at the start of each cycle (finite).
      max_value: the value at the top of the first cycle (finite; a value below
        ``base_value`` gives an inverted cycle, e.g. for cyclical momentum).
      step_size: half the cycle length :math:`S`, an integer >= 1 (Smith suggests 2-10
        epochs' worth of steps).
      mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``. Default
        ``"triangular"``.
      gamma: decay per step of the amplitude in ``"exp_range"`` mode, in (0, 1].
        Default 1.

    Returns:
      A schedule ``step -> value``.

    Raises:
      ValueError: for arguments outside the ranges above or an unknown ``mode``.
      TypeError: for a non-integer ``step_size``.

    Examples:
      >>> import gradtx
      >>> sched = gradtx.cyclic_schedule(1.0, 3.0, step_size=2, mode="triangular2")
      >>> [round(float(sched(t)), 4) for t in range(9)]
      [1.0, 2.0, 3.0, 2.0, 1.0, 1.5, 2.0, 1.5, 1.0]

    References:
      Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
      https://arxiv.org/abs/1506.01186
    """
    fn = "cyclic_schedule"
    validate.finite(fn, base_value=base_value, max_value=max_value)
    step_size = _check_steps(fn, "step_size", step_size, 1)
    validate.one_of(fn, "mode", mode, ("triangular", "triangular2", "exp_range"))
    validate.interval(fn, "gamma", gamma, 0.0, 1.0, low_open=True)

    def schedule(count):
        t = _float_step(count)
        cycle = jnp.floor(1.0 + t / (2 * step_size))
        x = jnp.abs(t / step_size - 2.0 * cycle + 1.0)
        amplitude = (max_value - base_value) * jnp.maximum(0.0, 1.0 - x)
        if mode == "triangular2":
            amplitude = amplitude * 2.0 ** (1.0 - cycle)
        elif mode == "exp_range":
            amplitude = amplitude * jnp.power(gamma, t)
        return base_value + amplitude

    return schedule
