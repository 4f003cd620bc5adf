"""Joining schedules one after the other."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp

from gradtx.core import Schedule
from gradtx.schedules._basic import _check_steps

__all__ = ["join_schedules"]


def _where(cond: Any, a: Any, b: Any) -> Any:
    """``jnp.where`` with the two branches promoted explicitly (strict promotion)."""
    dtype = jnp.promote_types(jnp.result_type(a), jnp.result_type(b))
    return jnp.where(cond, jnp.asarray(a).astype(dtype), jnp.asarray(b).astype(dtype))


def _join(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    """`join_schedules` without checks."""
    schedules = tuple(schedules)
    boundaries = tuple(boundaries)

    def schedule(step):
        step = jnp.asarray(step)
        value = schedules[0](step)
        for boundary, later in zip(boundaries, schedules[1:], strict=True):
            value = _where(step < boundary, value, later(step - boundary))
        return value

    return schedule


def join_schedules(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    """Run ``schedules`` one after the other, switching at ``boundaries``.

    With boundaries :math:`b_1 < b_2 < \\dots < b_{n-1}` and :math:`b_0 = 0`, the
    :math:`k`-th schedule is used on :math:`[b_k, b_{k+1})` and sees the steps counted
    from its own start:

    .. math:: v(t) = s_k(t - b_k), \\quad b_k \\le t < b_{k+1}

    Args:
      schedules: a non-empty sequence of schedules (callables ``step -> value``).
      boundaries: ``len(schedules) - 1`` integer steps >= 0, strictly increasing.

    Returns:
      A schedule ``step -> value``.

    Raises:
      ValueError: for an empty ``schedules``, a wrong number of boundaries, or
        boundaries that are negative or not strictly increasing.
      TypeError: for a schedule that is not callable or a non-integer boundary.

    Examples:
      >>> import gradtx
      >>> warmup = gradtx.linear_schedule(0.0, 1.0, transition_steps=4)
      >>> decay = gradtx.exponential_decay(1.0, transition_steps=4, decay_rate=0.5)
      >>> sched = gradtx.join_schedules([warmup, decay], boundaries=[4])
      >>> [round(float(sched(t)), 4) for t in (0, 2, 4, 8, 12)]
      [0.0, 0.5, 1.0, 0.5, 0.25]
    """
    fn = "join_schedules"
    schedules = list(schedules)
    boundaries = list(boundaries)
    if not schedules:
        raise ValueError(f"{fn}(schedules=[]): schedules must hold at least one schedule")
    for i, s in enumerate(schedules):
        if not callable(s):
            raise TypeError(f"{fn}(schedules[{i}]={s!r}): every schedule must be callable")
    if len(boundaries) != len(schedules) - 1:
        raise ValueError(
            f"{fn}(boundaries={boundaries!r}): boundaries must hold len(schedules) - 1 = "
            f"{len(schedules) - 1} steps, got {len(boundaries)}"
        )
    boundaries = [_check_steps(fn, f"boundaries[{i}]", b, 0) for i, b in enumerate(boundaries)]
    for a, b in zip(boundaries[:-1], boundaries[1:], strict=True):
        if not b > a:
            raise ValueError(
                f"{fn}(boundaries={boundaries!r}): boundaries must be strictly increasing"
            )
    return _join(schedules, boundaries)
