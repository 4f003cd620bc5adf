"""The stateful-schedule protocol, and a plain schedule wrapped as one."""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol, runtime_checkable

import jax

from gradtx.core import Schedule, numerics

__all__ = ["Schedule", "StatefulSchedule", "WrappedSchedule"]


@runtime_checkable
class StatefulSchedule(Protocol):
    """A schedule with state: ``init() -> state``, ``update(state, **extra) -> state``,
    ``__call__(state, **extra) -> value``.

    `inject_stateful_hyperparams` accepts such objects as hyperparameters (for example a
    value driven by the loss passed as an extra argument).

    Args:
      state: (of ``update`` and ``__call__``) the schedule's state.
      **extra_args: the update's extra keyword arguments.

    Returns:
      ``init``: the first state; ``update``: the next state; ``__call__``: the value.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> sched = gradtx.schedules.WrappedSchedule(lambda count: 0.1 * count.astype(float))
      >>> isinstance(sched, gradtx.schedules.StatefulSchedule)
      True
    """

    def init(self) -> Any: ...

    def update(self, state: Any, **extra_args: Any) -> Any: ...

    def __call__(self, state: Any, **extra_args: Any) -> Any: ...


class WrappedScheduleState(NamedTuple):
    """State of a `WrappedSchedule`: the step count (int32, saturating)."""

    count: jax.Array


class WrappedSchedule:
    """A plain schedule ``step -> value`` as a `StatefulSchedule` counting its own steps.

    Args:
      schedule_fn: the schedule.

    Returns:
      The stateful schedule (``init``, ``update``, ``__call__``).

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> sched = gradtx.schedules.WrappedSchedule(lambda count: 2.0 * count.astype(float))
      >>> state = sched.update(sched.update(sched.init()))
      >>> float(sched(state))
      4.0
    """

    def __init__(self, schedule_fn: Schedule):
        self.schedule_fn = schedule_fn

    def init(self) -> WrappedScheduleState:
        """The first state: count 0.

        Returns:
          A `WrappedScheduleState`.
        """
        return WrappedScheduleState(count=numerics.zero_count())

    def update(self, state: WrappedScheduleState, **extra_args: Any) -> WrappedScheduleState:
        """Advance the count by one.

        Args:
          state: the current state.
          **extra_args: ignored.

        Returns:
          The next state.
        """
        del extra_args
        return WrappedScheduleState(count=numerics.safe_increment(state.count))

    def __call__(self, state: WrappedScheduleState, **extra_args: Any) -> Any:
        """The schedule at the current count.

        Args:
          state: the current state.
          **extra_args: ignored.

        Returns:
          ``schedule_fn(state.count)``.
        """
        del extra_args
        return self.schedule_fn(state.count)
