"""Run an inner transform only on the steps a condition selects; freeze by a mask."""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    OptState,
    numerics,
    set_to_zero,
    validate,
)
from gradtx.wrappers._masking import partition

__all__ = [
    "ConditionFn",
    "ConditionallyMaskState",
    "ConditionallyTransformState",
    "conditionally_mask",
    "conditionally_transform",
    "selective_transform",
]


class ConditionFn(Protocol):
    """The type of a step condition: ``fn(step, **extra_args) -> bool scalar``.

    Args:
      step: the number of updates so far (an int32 scalar).
      **extra_args: the update's extra arguments (only with ``forward_extra_args``).

    Returns:
      A boolean scalar: whether the inner transform runs at this step.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> every_other: gradtx.transforms.ConditionFn = lambda step, **_: step % 2 == 0
      >>> bool(every_other(jnp.array(4)))
      True
    """

    def __call__(self, step: jax.Array, **extra_args: Any) -> jax.Array: ...


class ConditionallyTransformState(NamedTuple):
    """State of `conditionally_transform`.

    Attributes:
      inner_state: the inner transform's state.
      step: updates so far (int32, saturating).
    """

    inner_state: OptState
    step: jax.Array


class ConditionallyMaskState(NamedTuple):
    """State of `conditionally_mask`.

    Attributes:
      step: updates so far (int32, saturating).
      inner_state: the inner transform's state.
    """

    step: jax.Array
    inner_state: OptState


def _conditional(fn, inner, should_transform_fn, forward_extra_args, on_skip):
    inner = validate.transform(fn, "inner", inner)
    if not callable(should_transform_fn):
        raise TypeError(
            f"{fn}(should_transform_fn={should_transform_fn!r}): should_transform_fn must be "
            "callable step -> bool"
        )

    def run(updates, inner_state, step, params, extra_args):
        condition_kwargs = extra_args if forward_extra_args else {}
        condition = jnp.asarray(should_transform_fn(step, **condition_kwargs), bool)

        def do(_):
            new_updates, new_state = inner.update(updates, inner_state, params, **extra_args)
            return tree_lib.cast_like(new_updates, updates), tree_lib.cast_like(
                new_state, inner_state
            )

        def skip(_):
            return on_skip(updates), inner_state

        return jax.lax.cond(condition, do, skip, None)

    return inner, run


def conditionally_transform(
    inner: GradientTransformation,
    should_transform_fn: ConditionFn,
    forward_extra_args: bool = False,
) -> GradientTransformationExtraArgs:
    """Apply ``inner`` on the steps where a condition holds; pass updates through otherwise.

    .. math:: u_t = \\begin{cases} \\text{inner}(g_t) & c(t) \\\\ g_t & \\text{otherwise}
        \\end{cases}

    The inner state only advances on the steps where ``inner`` runs; the step counter
    advances every update. Both branches are traced (``lax.cond``).

    Args:
      inner: the transform to apply conditionally.
      should_transform_fn: :math:`c`, ``fn(step, **extra_args) -> bool scalar``.
      forward_extra_args: also pass the update's extra arguments to the condition.

    Returns:
      A `GradientTransformationExtraArgs` (as in Optax) with `ConditionallyTransformState`.

    Raises:
      TypeError: if ``inner`` is not a transform or the condition is not callable.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.conditionally_transform(gradtx.scale(10.0), lambda step: step >= 1)
      >>> state = tx.init(jnp.ones(1))
      >>> for _ in range(2):
      ...     u, state = tx.update(jnp.ones(1), state)
      ...     print(u.tolist())
      [1.0]
      [10.0]
    """
    inner, run = _conditional(
        "conditionally_transform", inner, should_transform_fn, forward_extra_args, lambda u: u
    )

    def init_fn(params):
        return ConditionallyTransformState(
            inner_state=inner.init(params), step=numerics.zero_count()
        )

    def update_fn(updates, state, params=None, **extra_args):
        updates, inner_state = run(updates, state.inner_state, state.step, params, extra_args)
        return updates, ConditionallyTransformState(
            inner_state, numerics.safe_increment(state.step)
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)


def conditionally_mask(
    inner: GradientTransformation,
    should_transform_fn: ConditionFn,
    forward_extra_args: bool = False,
) -> GradientTransformationExtraArgs:
    """Apply ``inner`` on the steps where a condition holds; zero updates otherwise.

    .. math:: u_t = \\begin{cases} \\text{inner}(g_t) & c(t) \\\\ 0 & \\text{otherwise}
        \\end{cases}

    Args:
      inner: the transform to apply conditionally.
      should_transform_fn: :math:`c`, ``fn(step, **extra_args) -> bool scalar``.
      forward_extra_args: also pass the update's extra arguments to the condition.

    Returns:
      A `GradientTransformationExtraArgs` (as in Optax) with `ConditionallyMaskState`.

    Raises:
      TypeError: if ``inner`` is not a transform or the condition is not callable.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.conditionally_mask(gradtx.scale(-1.0), lambda step: step % 2 == 1)
      >>> state = tx.init(jnp.ones(1))
      >>> for _ in range(3):
      ...     u, state = tx.update(jnp.ones(1), state)
      ...     print(u.tolist())
      [0.0]
      [-1.0]
      [0.0]
    """
    inner, run = _conditional(
        "conditionally_mask", inner, should_transform_fn, forward_extra_args, tree_lib.zeros_like
    )

    def init_fn(params):
        return ConditionallyMaskState(step=numerics.zero_count(), inner_state=inner.init(params))

    def update_fn(updates, state, params=None, **extra_args):
        updates, inner_state = run(updates, state.inner_state, state.step, params, extra_args)
        return updates, ConditionallyMaskState(
            step=numerics.safe_increment(state.step), inner_state=inner_state
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)


def selective_transform(
    optimizer: GradientTransformation, *, freeze_mask: bool | Any
) -> GradientTransformation:
    """Apply ``optimizer`` to the leaves not frozen by ``freeze_mask``; zero the others.

    ``partition({"train": optimizer, "freeze": set_to_zero()}, labels)`` with the labels
    read from ``freeze_mask`` (true: frozen). The optimizer's state covers the trained
    leaves only (see `partition`).

    Args:
      optimizer: the transform for the trainable leaves.
      freeze_mask: a tree of bools shaped like the params (or a prefix of it); true
        marks a frozen leaf.

    Returns:
      A `GradientTransformation` with `PartitionState`.

    Raises:
      TypeError: if ``optimizer`` is not a transform.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.selective_transform(gradtx.sgd(1.0), freeze_mask={"a": True, "b": False})
      >>> g = {"a": jnp.ones(1), "b": jnp.ones(1)}
      >>> u, _ = tx.update(g, tx.init(g))
      >>> u["a"].tolist(), u["b"].tolist()
      ([0.0], [-1.0])
    """
    optimizer = validate.transform("selective_transform", "optimizer", optimizer)

    def labels(params):
        del params
        return jax.tree.map(lambda m: "freeze" if m else "train", freeze_mask)

    return partition({"train": optimizer, "freeze": set_to_zero()}, param_labels=labels)
