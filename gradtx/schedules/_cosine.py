"""Cosine decay, warmups, one-cycle and warm restarts (SGDR)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jax
import jax.numpy as jnp

from gradtx.core import Schedule, validate
from gradtx.schedules._basic import (
    _check_steps,
    _exponential,
    _float_step,
    _piecewise,
    _polynomial,
)
from gradtx.schedules._join import _join

__all__ = [
    "cosine_decay_schedule",
    "cosine_onecycle_schedule",
    "linear_onecycle_schedule",
    "sgdr_schedule",
    "warmup_constant_schedule",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
]


def _cosine_factor(count: Any, decay_steps: int, exponent: Any) -> jax.Array:
    """``(0.5 (1 + cos(pi min(t, T) / T)))**exponent``: 1 at t=0, 0 from t=T on."""
    if isinstance(decay_steps, int):
        decay_steps = float(decay_steps)  # int(1e10) steps must not overflow int32
    t = jnp.minimum(_float_step(count), decay_steps)
    return (0.5 * (1.0 + jnp.cos(jnp.pi * t / decay_steps))) ** exponent


def _warmup(init_value: Any, peak_value: Any, warmup_steps: int) -> Schedule:
    """Linear warmup (never used when ``warmup_steps == 0``: the join skips it)."""
    if warmup_steps == 0:
        return lambda count: peak_value + jnp.zeros_like(_float_step(count))
    return _polynomial(init_value, peak_value, 1, warmup_steps, 0)


def cosine_decay_schedule(
    init_value: jax.typing.ArrayLike,
    decay_steps: int,
    alpha: jax.typing.ArrayLike = 0.0,
    exponent: jax.typing.ArrayLike = 1.0,
) -> Schedule:
    """Cosine decay from ``init_value`` to ``alpha * init_value`` over ``decay_steps``.

    .. math::
        v(t) = I \\left[(1 - \\alpha) \\left(\\tfrac12 \\left(1 + \\cos\\frac{\\pi
               \\min(t, T)}{T}\\right)\\right)^{p} + \\alpha\\right]

    with :math:`T` = ``decay_steps`` and :math:`p` = ``exponent``; from step :math:`T`
    on the value stays :math:`\\alpha I`.

    Args:
      init_value: the value at step 0 (finite).
      decay_steps: length of the decay, an integer >= 1.
      alpha: the final value as a fraction of ``init_value``, in [0, 1]. Default 0.
      exponent: exponent :math:`p` of the cosine factor, > 0. Default 1.

    Returns:
      A schedule ``step -> value``.

    Raises:
      ValueError: for arguments outside the ranges above.
      TypeError: for a non-integer ``decay_steps``.

    Examples:
      >>> import gradtx
      >>> sched = gradtx.cosine_decay_schedule(1.0, decay_steps=10, alpha=0.1)
      >>> [round(float(sched(t)), 4) for t in (0, 5, 10, 20)]
      [1.0, 0.55, 0.1, 0.1]

    References:
      Loshchilov and Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts",
      ICLR 2017, https://arxiv.org/abs/1608.03983
    """
    fn = "cosine_decay_schedule"
    validate.finite(fn, init_value=init_value)
    decay_steps = _check_steps(fn, "decay_steps", decay_steps, 1)
    validate.unit(fn, alpha=alpha)
    validate.interval(fn, "exponent", exponent, 0.0, low_open=True)
    validate.finite(fn, exponent=exponent)

    def schedule(count):
        factor = _cosine_factor(count, decay_steps, exponent)
        return init_value * ((1.0 - alpha) * factor + alpha)

    return schedule


def warmup_constant_schedule(
    init_value: jax.typing.ArrayLike,
    peak_value: jax.typing.ArrayLike,
    warmup_steps: int,
) -> Schedule:
    """Linear warmup from ``init_value`` to ``peak_value``, then constant.

    .. math:: v(t) = I + (P - I) \\min(t / W, 1)

    ``warmup_steps=0`` means no warmup: ``peak_value`` from step 0, as in
    `warmup_cosine_decay_schedule` and `warmup_exponential_decay_schedule`. (Optax
    instead returns the constant ``init_value`` here, so ``warmup_constant_schedule(0.0,
    lr, 0)`` would never train; this is a documented difference.)

    Args:
      init_value: the value at step 0 (finite).
      peak_value: the value from step ``warmup_steps`` on (finite).
      warmup_steps: length of the warmup, an integer >= 0.

    Returns:
      A schedule ``step -> value``.

    Raises:
      ValueError: for arguments outside the ranges above.
      TypeError: for a non-integer ``warmup_steps``.

    Examples:
      >>> import gradtx
      >>> sched = gradtx.warmup_constant_schedule(0.0, 1.0, warmup_steps=4)
      >>> [round(float(sched(t)), 4) for t in (0, 1, 4, 100)]
      [0.0, 0.25, 1.0, 1.0]
    """
    fn = "warmup_constant_schedule"
    validate.finite(fn, init_value=init_value, peak_value=peak_value)
    warmup_steps = _check_steps(fn, "warmup_steps", warmup_steps, 0)
    return _warmup(init_value, peak_value, warmup_steps)


def warmup_cosine_decay_schedule(
    init_value: jax.typing.ArrayLike,
    peak_value: jax.typing.ArrayLike,
    warmup_steps: int,
    decay_steps: int,
    end_value: jax.typing.ArrayLike = 0.0,
    exponent: jax.typing.ArrayLike = 1.0,
) -> Schedule:
    """Linear warmup to ``peak_value``, then cosine decay to ``end_value``.

    With :math:`W` = ``warmup_steps`` and :math:`D` = ``decay_steps`` (which *includes*
    the warmup):

    .. math::
        v(t) = \\begin{cases} I + (P - I)\\, t / W & t < W \\\\
               E + (P - E) \\left(\\tfrac12\\left(1 + \\cos\\frac{\\pi \\min(t - W,
               D - W)}{D - W}\\right)\\right)^{p} & t \\ge W \\end{cases}

    ``warmup_steps=0`` starts the decay at ``peak_value`` on step 0. The decay is
    computed as Optax computes it, :math:`P((1 - \\alpha)c^p + \\alpha)` with
    :math:`\\alpha = E/P` (:math:`E + (P - E)c^p` above, up to rounding), and
    :math:`\\alpha = 0` when ``peak_value=0``: a zero peak stays zero after the warmup,
    whatever ``end_value`` is.

    Args:
      init_value: the value at step 0 (finite).
      peak_value: the value at the end of the warmup (finite).
      warmup_steps: length of the warmup, an integer >= 0.
      decay_steps: total length of warmup plus decay, an integer > ``warmup_steps``.
      end_value: the value from step ``decay_steps`` on (finite). Default 0.
      exponent: exponent :math:`p` of the cosine factor, > 0. Default 1.

    Returns:
      A schedule ``step -> value``.

    Raises:
      ValueError: for arguments outside the ranges above.
      TypeError: for non-integer step counts.

    Examples:
      >>> import gradtx
      >>> sched = gradtx.warmup_cosine_decay_schedule(0.0, 1.0, 2, 12, end_value=0.1)
      >>> [round(float(sched(t)), 4) for t in (0, 1, 2, 7, 12, 20)]
      [0.0, 0.5, 1.0, 0.55, 0.1, 0.1]

    References:
      Loshchilov and Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts",
      ICLR 2017, https://arxiv.org/abs/1608.03983;
      Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour",
      2017, https://arxiv.org/abs/1706.02677
    """
    fn = "warmup_cosine_decay_schedule"
    validate.finite(fn, init_value=init_value, peak_value=peak_value, end_value=end_value)
    warmup_steps = _check_steps(fn, "warmup_steps", warmup_steps, 0)
    decay_steps = _check_steps(fn, "decay_steps", decay_steps, 1)
    if not decay_steps > warmup_steps:
        raise ValueError(
            f"{fn}(decay_steps={decay_steps!r}): decay_steps must be > warmup_steps "
            f"(={warmup_steps!r}); decay_steps counts the warmup steps too"
        )
    validate.interval(fn, "exponent", exponent, 0.0, low_open=True)
    validate.finite(fn, exponent=exponent)
    cosine_steps = decay_steps - warmup_steps
    # As Optax: the cosine runs from peak_value to alpha * peak_value, alpha = end / peak,
    # and a zero peak stays zero whatever end_value is.
    if isinstance(peak_value, (int, float)):
        alpha = 0.0 if peak_value == 0 else end_value / peak_value
    else:
        peak = jnp.asarray(peak_value)
        alpha = jnp.where(peak == 0, 0.0, end_value / jnp.where(peak == 0, 1.0, peak))

    def decay(count):
        return peak_value * ((1 - alpha) * _cosine_factor(count, cosine_steps, exponent) + alpha)

    return _join([_warmup(init_value, peak_value, warmup_steps), decay], [warmup_steps])


def warmup_exponential_decay_schedule(
    init_value: jax.typing.ArrayLike,
    peak_value: jax.typing.ArrayLike,
    warmup_steps: int,
    transition_steps: int,
    decay_rate: jax.typing.ArrayLike,
    transition_begin: int = 0,
    staircase: bool = False,
    end_value: jax.typing.ArrayLike | None = None,
) -> Schedule:
    """Linear warmup to ``peak_value``, then `exponential_decay` from it.

    .. math::
        v(t) = \\begin{cases} I + (P - I)\\, t / W & t < W \\\\
               \\mathrm{exponential\\_decay}(P, T, r, B, \\dots)(t - W) & t \\ge W
               \\end{cases}

    Args:
      init_value: the value at step 0 (finite).
      peak_value: the value at the end of the warmup (finite).
      warmup_steps: length of the warmup, an integer >= 0 (0: start at the peak).
      transition_steps: time scale of the decay, an integer >= 1.
      decay_rate: factor per ``transition_steps``, finite and > 0.
      transition_begin: steps after the warmup before the decay starts, an integer
        >= 0. Default 0.
      staircase: decay in discrete jumps. Default False.
      end_value: optional bound on the value (see `exponential_decay`). Default None.

    Returns:
      A schedule ``step -> value``.

    Raises:
      ValueError: for arguments outside the ranges above.
      TypeError: for non-integer step counts.

    Examples:
      >>> import gradtx
      >>> sched = gradtx.warmup_exponential_decay_schedule(0.0, 1.0, 2, 10, 0.5)
      >>> [round(float(sched(t)), 4) for t in (0, 1, 2, 12, 22)]
      [0.0, 0.5, 1.0, 0.5, 0.25]
    """
    fn = "warmup_exponential_decay_schedule"
    validate.finite(fn, init_value=init_value, peak_value=peak_value, end_value=end_value)
    warmup_steps = _check_steps(fn, "warmup_steps", warmup_steps, 0)
    transition_steps = _check_steps(fn, "transition_steps", transition_steps, 1)
    transition_begin = _check_steps(fn, "transition_begin", transition_begin, 0)
    validate.interval(fn, "decay_rate", decay_rate, 0.0, low_open=True)
    validate.finite(fn, decay_rate=decay_rate)
    decay = _exponential(
        peak_value, transition_steps, decay_rate, transition_begin, staircase, end_value
    )
    return _join([_warmup(init_value, peak_value, warmup_steps), decay], [warmup_steps])


def _check_onecycle(fn, transition_steps, peak_value, pct_start, div_factor, final_div_factor):
    transition_steps = _check_steps(fn, "transition_steps", transition_steps, 1)
    validate.finite(fn, peak_value=peak_value)
    validate.unit(fn, pct_start=pct_start)
    validate.positive(fn, div_factor=div_factor, final_div_factor=final_div_factor)
    validate.finite(fn, div_factor=div_factor, final_div_factor=final_div_factor)


def linear_onecycle_schedule(
    transition_steps: int,
    peak_value: jax.typing.ArrayLike,
    pct_start: float = 0.3,
    pct_final: float = 0.85,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Schedule:
    """The one-cycle schedule with three linear phases.

    With :math:`T` = ``transition_steps``, :math:`P` = ``peak_value``,
    :math:`v_0 = P / d` (``div_factor``) and the knots
    :math:`s_1 = \\lfloor p_s T \\rfloor`, :math:`s_2 = \\lfloor p_f T \\rfloor`, the
    value goes linearly :math:`v_0 \\to P` on :math:`[0, s_1]`, :math:`P \\to v_0` on
    :math:`[s_1, s_2]`, :math:`v_0 \\to v_0 / f` (``final_div_factor``) on
    :math:`[s_2, T]`, and stays :math:`v_0 / f` after :math:`T`.

    Args:
      transition_steps: length of the cycle, an integer >= 1.
      peak_value: the maximum, reached at step ``int(pct_start * transition_steps)``.
      pct_start: fraction of the cycle spent increasing, in [0, 1]. Default 0.3.
      pct_final: fraction of the cycle at which the value is back to
        ``peak_value / div_factor``, in [``pct_start``, 1]. Default 0.85.
      div_factor: ``peak_value / div_factor`` is the initial value, > 0. Default 25.
      final_div_factor: the final value is the initial one divided by this, > 0.
        Default 1e4.

    Returns:
      A schedule ``step -> value``.

    Raises:
      ValueError: for arguments outside the ranges above.
      TypeError: for a non-integer ``transition_steps``.

    Examples:
      >>> import gradtx
      >>> sched = gradtx.linear_onecycle_schedule(10, 1.0, 0.3, 0.8, 10.0, 100.0)
      >>> [round(float(sched(t)), 4) for t in (0, 3, 8, 10)]
      [0.1, 1.0, 0.1, 0.001]

    References:
      Smith and Topin, "Super-Convergence: Very Fast Training of Neural Networks Using
      Large Learning Rates", 2017, https://arxiv.org/abs/1708.07120
    """
    fn = "linear_onecycle_schedule"
    _check_onecycle(fn, transition_steps, peak_value, pct_start, div_factor, final_div_factor)
    validate.interval(fn, "pct_final", pct_final, float(pct_start), 1.0)
    init = peak_value / div_factor
    knots = [
        (0, init),
        (int(pct_start * transition_steps), peak_value),
        (int(pct_final * transition_steps), init),
        (int(transition_steps), init / final_div_factor),
    ]
    return _piecewise("linear", knots)


def cosine_onecycle_schedule(
    transition_steps: int,
    peak_value: jax.typing.ArrayLike,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Schedule:
    """The one-cycle schedule with two half-cosine phases.

    With :math:`v_0 = P / d` and :math:`s_1 = \\lfloor p_s T \\rfloor`, the value goes
    :math:`v_0 \\to P` on :math:`[0, s_1]` and :math:`P \\to v_0 / f` on
    :math:`[s_1, T]`, each along a half cosine
    :math:`b + (a - b)(1 + \\cos \\pi x)/2`, and stays :math:`v_0 / f` after :math:`T`.

    Args:
      transition_steps: length of the cycle, an integer >= 1.
      peak_value: the maximum, reached at step ``int(pct_start * transition_steps)``.
      pct_start: fraction of the cycle spent increasing, in [0, 1]. Default 0.3.
      div_factor: ``peak_value / div_factor`` is the initial value, > 0. Default 25.
      final_div_factor: the final value is the initial one divided by this, > 0.
        Default 1e4.

    Returns:
      A schedule ``step -> value``.

    Raises:
      ValueError: for arguments outside the ranges above.
      TypeError: for a non-integer ``transition_steps``.

    Examples:
      >>> import gradtx
      >>> sched = gradtx.cosine_onecycle_schedule(10, 1.0, 0.2, 10.0, 100.0)
      >>> [round(float(sched(t)), 4) for t in (0, 1, 2, 6, 10)]
      [0.1, 0.55, 1.0, 0.5005, 0.001]

    References:
      Smith and Topin, "Super-Convergence: Very Fast Training of Neural Networks Using
      Large Learning Rates", 2017, https://arxiv.org/abs/1708.07120
    """
    fn = "cosine_onecycle_schedule"
    _check_onecycle(fn, transition_steps, peak_value, pct_start, div_factor, final_div_factor)
    init = peak_value / div_factor
    knots = [
        (0, init),
        (int(pct_start * transition_steps), peak_value),
        (int(transition_steps), init / final_div_factor),
    ]
    return _piecewise("cosine", knots)


def sgdr_schedule(cosine_kwargs: Iterable[dict[str, Any]]) -> Schedule:
    """Stochastic gradient descent with warm restarts: cosine cycles joined end to end.

    Each dict in ``cosine_kwargs`` holds the arguments of one
    `warmup_cosine_decay_schedule` cycle; cycle :math:`k` starts at the sum of the
    previous cycles' ``decay_steps`` and sees its steps counted from its own start.

    Args:
      cosine_kwargs: a non-empty iterable of keyword-argument dicts for
        `warmup_cosine_decay_schedule` (each needs ``decay_steps``).

    Returns:
      A schedule ``step -> value``.

    Raises:
      ValueError: for an empty ``cosine_kwargs`` or a cycle with invalid arguments
        (the message names the cycle).
      TypeError: for a cycle that is not a dict or lacks an argument.

    Examples:
      >>> import gradtx
      >>> cycle = dict(init_value=0.0, peak_value=1.0, warmup_steps=2, decay_steps=6)
      >>> sched = gradtx.sgdr_schedule([cycle, cycle])
      >>> [round(float(sched(t)), 4) for t in (0, 2, 4, 6, 7, 8)]
      [0.0, 1.0, 0.5, 0.0, 0.5, 1.0]

    References:
      Loshchilov and Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts",
      ICLR 2017, https://arxiv.org/abs/1608.03983
    """
    fn = "sgdr_schedule"
    cycles = list(cosine_kwargs)
    if not cycles:
        raise ValueError(f"{fn}(cosine_kwargs=[]): cosine_kwargs must hold at least one cycle")
    schedules, boundaries, start = [], [], 0
    for i, kwargs in enumerate(cycles):
        if not isinstance(kwargs, dict):
            raise TypeError(f"{fn}(cosine_kwargs[{i}]={kwargs!r}): every cycle must be a dict")
        try:
            schedules.append(warmup_cosine_decay_schedule(**kwargs))
        except (TypeError, ValueError) as err:
            raise type(err)(f"{fn}(cosine_kwargs[{i}]): {err}") from None
        start += int(kwargs["decay_steps"])
        boundaries.append(start)
    return _join(schedules, boundaries[:-1])
