"""The protocol: a gradient transformation is a pair of pure functions.

``init(params) -> state`` builds the state; ``update(updates, state, params=None,
**extra_args) -> (updates, state)`` transforms one step's updates. Every gradtx
``update`` accepts extra keyword arguments (``value=``, ``value_fn=``, ``grad=`` ...)
and ignores the ones it does not use.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp

ArrayTree = Any
Params = ArrayTree
Updates = ArrayTree
OptState = ArrayTree
Schedule = Callable[[jax.typing.ArrayLike], jax.typing.ArrayLike]
ScalarOrSchedule = float | jax.Array | Schedule


class TransformInitFn(Protocol):
    """The type of ``init``: ``init(params) -> state``.

    Args:
      params: the parameter tree the state is built for.

    Returns:
      The initial optimizer state (any pytree).

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> init: gradtx.TransformInitFn = gradtx.trace(decay=0.9).init
      >>> init({"w": jnp.ones(2)}).trace["w"].tolist()
      [0.0, 0.0]
    """

    def __call__(self, params: Params) -> OptState: ...


class TransformUpdateFn(Protocol):
    """The type of ``update``: ``update(updates, state, params=None, **extra_args)``.

    Args:
      updates: this step's update tree (gradients for the first transform).
      state: the state returned by ``init`` or the previous ``update``.
      params: the current parameters; ``None`` when the transform needs none.
      **extra_args: keyword arguments such as ``value=``; unused ones are ignored.

    Returns:
      ``(new_updates, new_state)``.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale(2.0)
      >>> update: gradtx.TransformUpdateFn = tx.update
      >>> g = {"w": jnp.array([1.0, -1.0])}
      >>> new_g, _ = update(g, tx.init(g), None, value=jnp.array(0.5))
      >>> new_g["w"].tolist()
      [2.0, -2.0]
    """

    def __call__(
        self,
        updates: Updates,
        state: OptState,
        params: Params | None = None,
        **extra_args: Any,
    ) -> tuple[Updates, OptState]: ...


class GradientTransformation(NamedTuple):
    """A pure ``(init, update)`` pair.

    Args:
      init: ``init(params) -> state``.
      update: ``update(updates, state, params=None, **extra_args) -> (updates, state)``.

    Returns:
      The NamedTuple itself; unpack it or call ``tx.init`` / ``tx.update``.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale(-0.5)
      >>> updates, state = tx.update({"w": jnp.ones(2)}, tx.init({"w": jnp.ones(2)}))
      >>> updates["w"].tolist()
      [-0.5, -0.5]
    """

    init: TransformInitFn
    update: TransformUpdateFn


class GradientTransformationExtraArgs(GradientTransformation):
    """A `GradientTransformation` that promises its ``update`` uses extra keyword args.

    As in Optax, a real subclass: ``chain``, ``named_chain``, ``masked`` and
    `with_extra_args_support` return one, and code that checks
    ``isinstance(tx, GradientTransformationExtraArgs)`` before passing ``value=...`` sees
    ``False`` for a plain transform. (Every gradtx ``update`` also accepts and ignores
    ``**extra_args``, so passing them to a plain gradtx transform is harmless.)

    Args:
      init: ``init(params) -> state``.
      update: ``update(updates, state, params=None, **extra_args) -> (updates, state)``.

    Returns:
      The NamedTuple itself.

    Examples:
      >>> import gradtx
      >>> isinstance(gradtx.scale(0.5), gradtx.GradientTransformationExtraArgs)
      False
      >>> tx = gradtx.chain(gradtx.scale(0.5))
      >>> isinstance(tx, gradtx.GradientTransformationExtraArgs)
      True
    """


class EmptyState(NamedTuple):
    """The state of a stateless transform."""


def init_empty_state(params: Params) -> EmptyState:
    """The ``init`` of a stateless transform: ignores ``params``, returns `EmptyState`.

    Args:
      params: ignored.

    Returns:
      ``EmptyState()``.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.init_empty_state({"w": jnp.ones(2)})
      EmptyState()
    """
    del params
    return EmptyState()


def accepts_extra_args(update: Callable[..., Any]) -> bool:
    """Whether ``update`` takes ``**kwargs`` (third-party transforms may not)."""
    try:
        signature = inspect.signature(update)
    except (TypeError, ValueError):
        return True
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())


def with_extra_args_support(tx: GradientTransformation) -> GradientTransformationExtraArgs:
    """Wrap a transform whose ``update`` lacks ``**extra_args`` so that it ignores them.

    Args:
      tx: any object with ``init`` and ``update``.

    Returns:
      ``tx`` itself when it is a `GradientTransformationExtraArgs`; otherwise one whose
      ``update`` passes the extra keyword args on when ``tx.update`` takes ``**kwargs``
      (every gradtx transform does) and drops them when it does not (as in Optax).

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> class Halve:  # a third-party transform without **extra_args
      ...     def init(self, params):
      ...         return ()
      ...     def update(self, updates, state, params=None):
      ...         return {k: v / 2 for k, v in updates.items()}, state
      >>> tx = gradtx.with_extra_args_support(Halve())
      >>> g = {"w": jnp.array([1.0, 3.0])}
      >>> out, _ = tx.update(g, tx.init(g), value=jnp.array(0.0))
      >>> out["w"].tolist()
      [0.5, 1.5]
    """
    if isinstance(tx, GradientTransformationExtraArgs):
        return tx
    if accepts_extra_args(tx.update):
        return GradientTransformationExtraArgs(tx.init, tx.update)

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        return tx.update(updates, state, params)

    return GradientTransformationExtraArgs(tx.init, update_fn)


def identity() -> GradientTransformation:
    """The transform that returns its updates unchanged.

    Returns:
      A `GradientTransformation` with `EmptyState`.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.identity()
      >>> g = {"w": jnp.array([1.0, -2.0])}
      >>> out, state = tx.update(g, tx.init(g))
      >>> out["w"].tolist(), state
      ([1.0, -2.0], EmptyState())
    """

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        return updates, state

    return GradientTransformation(init_empty_state, update_fn)


def set_to_zero() -> GradientTransformation:
    """The transform whose updates are all zero (used to freeze parameters).

    Returns:
      A `GradientTransformation` with `EmptyState`.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.set_to_zero()
      >>> g = {"w": jnp.array([1.0, -2.0])}
      >>> out, _ = tx.update(g, tx.init(g))
      >>> out["w"].tolist()
      [0.0, 0.0]
    """

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        return jax.tree.map(jnp.zeros_like, updates), state

    return GradientTransformation(init_empty_state, update_fn)


def stateless(
    f: Callable[[Updates, Params | None], Updates],
) -> GradientTransformation:
    """Build a stateless transform from ``f(updates, params) -> updates``.

    Args:
      f: a function of the whole update tree and the (possibly ``None``) params.

    Returns:
      A `GradientTransformation` with `EmptyState`.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> # Rescale the whole tree to unit global norm.
      >>> tx = gradtx.stateless(
      ...     lambda u, p: gradtx.tree.scale(1.0 / gradtx.tree.global_norm(u), u)
      ... )
      >>> g = {"a": jnp.array([3.0]), "b": jnp.array([4.0])}
      >>> out, _ = tx.update(g, tx.init(g))
      >>> out["a"].round(3).tolist(), out["b"].round(3).tolist()
      ([0.6], [0.8])
    """

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        return f(updates, params), state

    return GradientTransformation(init_empty_state, update_fn)


def stateless_with_tree_map(
    f: Callable[[jax.Array, jax.Array | None], jax.Array],
) -> GradientTransformation:
    """Build a stateless transform from a per-leaf ``f(update, param) -> update``.

    Args:
      f: applied to every leaf; ``param`` is ``None`` when no params are given.

    Returns:
      A `GradientTransformation` with `EmptyState`.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> # Add 0.1 * param to every update leaf (decoupled weight decay).
      >>> tx = gradtx.stateless_with_tree_map(lambda u, p: u + 0.1 * p)
      >>> params = {"w": jnp.array([1.0, 2.0])}
      >>> g = {"w": jnp.array([0.5, 0.5])}
      >>> out, _ = tx.update(g, tx.init(params), params)
      >>> out["w"].round(3).tolist()
      [0.6, 0.7]
    """

    def tree_f(updates, params):
        if params is None:
            return jax.tree.map(lambda u: f(u, None), updates)
        return jax.tree.map(f, updates, params)

    return stateless(tree_f)
