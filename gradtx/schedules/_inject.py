"""Hyperparameters as runtime values: ``inject_hyperparams``.

The wrapped factory is called again inside every ``update`` with the current
hyperparameters as (traced) arrays, so changing one between steps, by a schedule or
by hand through ``state.hyperparams``, never recompiles. gradtx factories skip their
construction checks for traced values, which is what makes this work.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gradtx.core import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    OptState,
    numerics,
    with_extra_args_support,
)
from gradtx.transforms import ScaleByScheduleState

__all__ = [
    "InjectHyperparamsState",
    "InjectStatefulHyperparamsState",
    "WrappedScheduleState",
    "current_learning_rate",
    "inject_hyperparams",
    "inject_stateful_hyperparams",
]


class InjectHyperparamsState(NamedTuple):
    """The state class Optax kept before 0.2.8 (no stateful schedules); exported for code
    that names it. `inject_hyperparams` builds an `InjectStatefulHyperparamsState`.

    Attributes:
      count: updates so far (int32, saturating); schedules are evaluated at it.
      hyperparams: ``{name: array}``, the numeric hyperparameters used by the last
        update (before any update: the ones the first will use). Assign a new value to
        a key between steps to change it; scheduled keys are overwritten each step.
      inner_state: the state of the wrapped transform.
    """

    count: jax.Array
    hyperparams: dict[str, jax.Array]
    inner_state: OptState


class InjectStatefulHyperparamsState(NamedTuple):
    """State of a transform built by `inject_hyperparams` (Optax 0.2.8's class).

    Attributes:
      count: updates so far (int32, saturating).
      hyperparams: ``{name: array}``, the numeric hyperparameters used by the last
        update (before any update: the ones the first will use). Assign a new value to
        a key between steps to change it; scheduled keys are overwritten each step.
      hyperparams_states: ``{name: schedule state}`` for each scheduled hyperparameter:
        a `WrappedScheduleState` (its step count) for a plain schedule, the schedule's
        own state for a stateful one.
      inner_state: the state of the wrapped transform.
    """

    count: jax.Array
    hyperparams: dict[str, jax.Array]
    hyperparams_states: dict[str, Any]
    inner_state: OptState


class WrappedScheduleState(NamedTuple):
    """State of a plain schedule inside `inject_hyperparams`: the step it is evaluated at.

    Attributes:
      count: updates so far (int32, saturating).
    """

    count: jax.Array


class _WrappedSchedule:
    """A plain schedule ``step -> value`` seen as a stateful schedule over its count."""

    def __init__(self, schedule: Callable[[jax.Array], Any]):
        self.schedule = schedule

    def init(self) -> WrappedScheduleState:
        return WrappedScheduleState(count=numerics.zero_count())

    def update(self, state: WrappedScheduleState, **extra_args: Any) -> WrappedScheduleState:
        del extra_args
        return WrappedScheduleState(count=numerics.safe_increment(state.count))

    def __call__(self, state: WrappedScheduleState, **extra_args: Any) -> Any:
        del extra_args
        return self.schedule(state.count)


def _is_stateful_schedule(value: Any) -> bool:
    """An object with ``init()``, ``update(state, **extra)`` and ``__call__(state, **extra)``."""
    return (
        callable(value)
        and callable(getattr(value, "init", None))
        and callable(getattr(value, "update", None))
    )


def _is_numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    if isinstance(value, (np.ndarray, np.generic, jax.Array)):
        dtype = jnp.result_type(value)
        return jnp.issubdtype(dtype, jnp.number)
    return False


def _runtime(value: Any, dtype: Any, *, keep_arrays: bool = False) -> jax.Array:
    """A hyperparameter as a strongly typed array; floats in ``dtype`` (or >= float32).

    With ``keep_arrays``, a strongly typed JAX array keeps its dtype (as in Optax): an
    explicit ``jnp.asarray(x, jnp.bfloat16)`` is the caller's choice.
    """
    if keep_arrays and isinstance(value, jax.Array) and not jax.typeof(value).weak_type:
        return value
    arr = jnp.asarray(value)
    if jnp.issubdtype(arr.dtype, jnp.floating):
        return arr.astype(dtype if dtype is not None else numerics.compute_dtype(arr.dtype))
    return arr.astype(arr.dtype)


def _build(
    fn: str,
    inner_factory: Callable[..., GradientTransformation],
    static_args: str | Iterable[str],
    hyperparam_dtype: Any,
) -> Callable[..., GradientTransformation]:
    if not callable(inner_factory):
        raise TypeError(f"{fn}(inner_factory={inner_factory!r}): inner_factory must be callable")
    static = {static_args} if isinstance(static_args, str) else set(static_args)
    signature = inspect.signature(inner_factory)
    unknown = static - set(signature.parameters)
    if unknown:
        raise ValueError(
            f"{fn}(static_args={sorted(static)!r}): static_args must name parameters of "
            f"inner_factory; unknown: {sorted(unknown)}, known: {list(signature.parameters)}"
        )
    hyperparam_dtype = numerics.canonicalize_dtype(hyperparam_dtype)

    def target_dtype(params):
        if hyperparam_dtype is not None or params is None:
            return hyperparam_dtype
        return numerics.widest_float_dtype(params, real=True)

    @functools.wraps(inner_factory)
    def wrapped(*args: Any, **kwargs: Any) -> GradientTransformation:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments: dict[str, Any] = {}
        for name, value in bound.arguments.items():
            kind = signature.parameters[name].kind
            if kind is inspect.Parameter.VAR_KEYWORD:
                arguments.update(value)
            elif kind is inspect.Parameter.VAR_POSITIONAL:
                if value:
                    raise TypeError(f"{fn}: positional *{name} of inner_factory cannot be injected")
            else:
                arguments[name] = value

        fixed, numeric, scheduled, stateful = {}, {}, {}, {}
        for name, value in arguments.items():
            if name in static or isinstance(value, bool):
                fixed[name] = value
            elif _is_stateful_schedule(value):
                stateful[name] = value
            elif callable(value):
                scheduled[name] = value
            elif _is_numeric(value):
                numeric[name] = value
            else:
                fixed[name] = value
        dynamic = [*numeric, *scheduled, *stateful]

        # Check the hyperparameters now, with concrete values (schedules at step 0).
        if not stateful:
            first = {k: f(numerics.zero_count()) for k, f in scheduled.items()}
            inner_factory(**fixed, **numeric, **first)
        # Every schedule is driven as a stateful one; a plain one keeps its count.
        schedules = {k: _WrappedSchedule(f) for k, f in scheduled.items()}
        schedules.update(stateful)

        def init_fn(params):
            dtype = target_dtype(params)
            hyperparams = {k: _runtime(v, dtype, keep_arrays=True) for k, v in numeric.items()}
            schedule_states = {k: f.init() for k, f in schedules.items()}
            hyperparams.update(
                {k: _runtime(f(schedule_states[k]), dtype) for k, f in schedules.items()}
            )
            # Python numbers reach the inner init as given: they were checked at
            # construction, integer checks (counts, sizes, seeds) still accept them, and a
            # float's cast may round onto a bound the check excludes (b2=0.999 is 1.0 in
            # bfloat16).
            call = {
                k: (numeric[k] if isinstance(numeric.get(k), (int, float)) else v)
                for k, v in hyperparams.items()
            }
            return InjectStatefulHyperparamsState(
                count=numerics.zero_count(),
                hyperparams=hyperparams,
                hyperparams_states=schedule_states,
                inner_state=inner_factory(**fixed, **call).init(params),
            )

        def update_fn(updates, state, params=None, **extra_args):
            dtype = target_dtype(params)
            hyperparams = {
                k: _runtime(v, dtype, keep_arrays=True) for k, v in state.hyperparams.items()
            }
            new_schedule_states = {}
            for k, f in schedules.items():
                s = state.hyperparams_states[k]
                hyperparams[k] = _runtime(f(s, **extra_args), dtype)
                new_schedule_states[k] = f.update(s, **extra_args)
            inner = with_extra_args_support(
                inner_factory(**fixed, **{k: hyperparams[k] for k in dynamic})
            )
            updates, inner_state = inner.update(updates, state.inner_state, params, **extra_args)
            return updates, InjectStatefulHyperparamsState(
                count=numerics.safe_increment(state.count),
                hyperparams=hyperparams,
                hyperparams_states=new_schedule_states,
                inner_state=inner_state,
            )

        return GradientTransformationExtraArgs(init_fn, update_fn)

    return wrapped


def inject_hyperparams(
    inner_factory: Callable[..., GradientTransformation],
    static_args: str | Iterable[str] = (),
    hyperparam_dtype: Any = None,
) -> Callable[..., GradientTransformation]:
    """Make the numeric hyperparameters of a transform factory runtime values in its state.

    ``inject_hyperparams(factory)(**hparams)`` builds a transform that behaves like
    ``factory(**hparams)``, but every numeric hyperparameter lives in
    ``state.hyperparams`` as an array and ``factory`` is called again inside each
    ``update`` with those arrays. So:

    * a hyperparameter given as a **schedule** (any callable ``step -> value``) is
      evaluated at its own count, ``state.hyperparams_states[name].count`` (a
      `WrappedScheduleState`, as in Optax), on each update, :math:`h_t = h(t)`;
    * a numeric hyperparameter can be **changed between steps** by assigning
      ``state.hyperparams["learning_rate"] = jnp.asarray(x, jnp.float32)``; a jitted
      update does not recompile (assigning a Python float works too but, being weakly
      typed, costs one recompilation);
    * ``gradtx.tree.get(state, "learning_rate")`` reads the value used last.

    Booleans, strings, ``None``, pytrees (masks) and the names in ``static_args`` stay
    fixed Python values. Integers become int32 arrays; pass structural integers (sizes
    used as shapes) through ``static_args``. A *stateful* schedule (an object with
    ``init()``, ``update(state, **extra_args)`` and ``__call__(state, **extra_args)``) is
    also accepted; its state then lives in ``hyperparams_states``. The transform's
    state is always Optax 0.2.8's `InjectStatefulHyperparamsState`.

    Floating hyperparameters are stored in ``hyperparam_dtype``, by default in the
    widest floating dtype of the parameters **but at least float32**: with bfloat16
    parameters, ``b2=0.999`` stays 0.999 instead of rounding to 1 (Optax stores them in
    the parameters' dtype). A hyperparameter given as a strongly typed JAX array
    (``jnp.asarray(0.9, jnp.bfloat16)``) keeps its dtype, as in Optax. The numbers are
    otherwise Optax's.

    The hyperparameters are checked once at construction (schedules at step 0); the
    re-calls inside ``update`` see traced values, which gradtx's checks skip.

    Args:
      inner_factory: a function returning a `GradientTransformation`, e.g.
        ``gradtx.adam`` or ``gradtx.scale_by_adam``.
      static_args: name or names of ``inner_factory`` parameters to keep static even
        when they are numbers or callables (e.g. a callable mask). Default ``()``.
      hyperparam_dtype: dtype of the floating hyperparameters (default: see above).

    Returns:
      A function with ``inner_factory``'s signature returning a `GradientTransformation`
      whose state is an `InjectStatefulHyperparamsState`.

    Raises:
      ValueError: if ``static_args`` names an unknown parameter, or (from the returned
        function) if ``inner_factory`` rejects the hyperparameters.
      TypeError: if ``inner_factory`` is not callable.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> def sgd(learning_rate):
      ...     return gradtx.scale_by_learning_rate(learning_rate)
      >>> tx = gradtx.inject_hyperparams(sgd)(learning_rate=0.1)
      >>> params = jnp.ones(2)
      >>> state = tx.init(params)
      >>> update = jax.jit(tx.update)
      >>> u, state = update(jnp.ones(2), state)
      >>> state.hyperparams["learning_rate"] = jnp.asarray(0.01, jnp.float32)
      >>> u, state = update(jnp.ones(2), state)
      >>> [round(x, 4) for x in u.tolist()]
      [-0.01, -0.01]
    """
    return _build("inject_hyperparams", inner_factory, static_args, hyperparam_dtype)


def inject_stateful_hyperparams(
    inner_factory: Callable[..., GradientTransformation],
    static_args: str | Iterable[str] = (),
    hyperparam_dtype: Any = None,
) -> Callable[..., GradientTransformation]:
    """`inject_hyperparams` under its older Optax name (the same transform).

    Kept for code written against Optax's name (which Optax now deprecates in favour of
    `inject_hyperparams`, as both accept stateful schedules).

    Args:
      inner_factory: a function returning a `GradientTransformation`.
      static_args: parameter names to keep static. Default ``()``.
      hyperparam_dtype: dtype of the floating hyperparameters (default: the widest
        floating parameter dtype, at least float32).

    Returns:
      A function with ``inner_factory``'s signature returning a `GradientTransformation`
      with `InjectStatefulHyperparamsState`.

    Raises:
      ValueError: if ``static_args`` names an unknown parameter.
      TypeError: if ``inner_factory`` is not callable.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.inject_stateful_hyperparams(gradtx.scale)(step_size=-0.5)
      >>> state = tx.init(jnp.ones(2))
      >>> sorted(state.hyperparams), state.hyperparams_states
      (['step_size'], {})
    """
    return _build(
        "inject_stateful_hyperparams",
        inner_factory,
        static_args,
        hyperparam_dtype,
    )


def _find(state: Any, cls: type) -> list[Any]:
    return [
        x
        for x in jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, cls))
        if isinstance(x, cls)
    ]


def current_learning_rate(learning_rate: Any, state: OptState) -> jax.Array:
    """The learning rate the next ``update`` of an optimizer applies, read from its state.

    gradtx states are Optax's, so they keep no learning rate: a constant rate leaves
    `EmptyState`, a schedule leaves ``ScaleByScheduleState(count)``. This function
    gives the rate from what the state does hold, without rebuilding the optimizer:

    * if the state is (or contains) an `inject_hyperparams` state with a
      ``"learning_rate"`` hyperparameter, that value (the one used last; a scheduled
      one is re-evaluated at the next update);
    * else, for a schedule, ``learning_rate(count)`` at the count of the state's
      ``ScaleByScheduleState`` (the rate the next update applies; the one applied last
      is ``learning_rate(count - 1)``);
    * else the constant ``learning_rate`` itself.

    Args:
      learning_rate: what the optimizer was built with: a number, an array, a schedule
        ``step -> rate``, or ``None`` when the state is an injected one.
      state: the optimizer's state (any nesting: ``chain``, ``MultiSteps``, ...).

    Returns:
      The learning rate, a float32 scalar (wider if the schedule returns wider).

    Raises:
      ValueError: if ``learning_rate`` is a schedule and the state holds no single
        ``ScaleByScheduleState`` to count with, or it is ``None`` and the state has no
        injected ``"learning_rate"``.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> schedule = gradtx.linear_schedule(1.0, 0.0, transition_steps=10)
      >>> opt = gradtx.adam(schedule)
      >>> state = opt.init(jnp.zeros(2))
      >>> for _ in range(3):
      ...     _, state = opt.update(jnp.ones(2), state)
      >>> round(float(gradtx.current_learning_rate(schedule, state)), 4)
      0.7
      >>> round(float(gradtx.current_learning_rate(0.1, gradtx.sgd(0.1).init(jnp.zeros(2)))), 4)
      0.1
      >>> opt = gradtx.inject_hyperparams(gradtx.sgd)(learning_rate=0.5)
      >>> float(gradtx.current_learning_rate(None, opt.init(jnp.zeros(2))))
      0.5
    """
    fn = "current_learning_rate"
    for injected in _find(state, InjectStatefulHyperparamsState) + _find(
        state, InjectHyperparamsState
    ):
        if "learning_rate" in injected.hyperparams:
            return jnp.asarray(injected.hyperparams["learning_rate"])
    if learning_rate is None:
        raise ValueError(f"{fn}(learning_rate=None): the state has no injected learning_rate")
    if not callable(learning_rate):
        return jnp.asarray(learning_rate, jnp.result_type(float))
    counters = _find(state, ScaleByScheduleState)
    if len(counters) != 1:
        raise ValueError(
            f"{fn}(learning_rate={learning_rate!r}): the state must hold exactly one "
            f"ScaleByScheduleState (the schedule's count), found {len(counters)}"
        )
    return jnp.asarray(learning_rate(counters[0].count))
