"""Composition: ``chain`` and ``named_chain``."""

from __future__ import annotations

from typing import Any

from gradtx.core import numerics, validate
from gradtx.core._base import GradientTransformation, GradientTransformationExtraArgs


def chain(*transforms: GradientTransformation) -> GradientTransformationExtraArgs:
    """Apply ``transforms`` one after the other; the state is the tuple of their states.

    Every ``update`` receives the same ``params`` and extra keyword arguments.

    Args:
      *transforms: gradient transformations, applied left to right.

    Returns:
      A `GradientTransformationExtraArgs` (as in Optax) whose state is
      ``tuple(inner states)``; every inner ``update`` gets the extra args.

    Raises:
      TypeError: if an argument is not a gradient transformation.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.chain(gradtx.clip(1.0), gradtx.scale(-0.1))
      >>> params = {"w": jnp.array([3.0, -0.5])}
      >>> updates, _ = tx.update(params, tx.init(params))
      >>> updates["w"].round(3).tolist()
      [-0.1, 0.05]
    """
    transforms = tuple(
        validate.transform("chain", f"transforms[{i}]", t, subject="each argument")
        for i, t in enumerate(transforms)
    )

    def init_fn(params):
        return tuple(t.init(params) for t in transforms)

    def update_fn(updates, state, params=None, **extra_args):
        if len(state) != len(transforms):
            raise ValueError(
                f"chain: the state holds {len(state)} inner states but the chain has "
                f"{len(transforms)} transforms; was it initialised by a different chain?"
            )
        updates = numerics.python_scalars_as_arrays(updates)
        new_state = []
        for t, s in zip(transforms, state, strict=True):
            updates, s = t.update(updates, s, params, **extra_args)
            new_state.append(s)
        return updates, tuple(new_state)

    return GradientTransformationExtraArgs(init_fn, update_fn)


def named_chain(
    *transforms: tuple[str, GradientTransformation],
) -> GradientTransformationExtraArgs:
    """``chain`` whose state is a dict keyed by the given names.

    Args:
      *transforms: ``(name, transform)`` pairs with unique names.

    Returns:
      A `GradientTransformationExtraArgs` whose state is ``{name: inner state}``.

    Raises:
      TypeError: if an argument is not a ``(name, transform)`` pair.
      ValueError: on duplicate names.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.named_chain(
      ...     ("momentum", gradtx.trace(decay=0.9)), ("lr", gradtx.scale(-0.1))
      ... )
      >>> params = {"w": jnp.array([1.0, -2.0])}
      >>> state = tx.init(params)
      >>> sorted(state)
      ['lr', 'momentum']
      >>> updates, state = tx.update(params, state)
      >>> updates["w"].round(3).tolist(), state["momentum"].trace["w"].tolist()
      ([-0.1, 0.2], [1.0, -2.0])
    """
    pairs = []
    for i, pair in enumerate(transforms):
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)):
            raise TypeError(
                f"named_chain(transforms[{i}]={pair!r}): each argument must be a "
                f"(name, transform) pair with a str name, got {type(pair).__name__}"
            )
        transform = validate.transform(
            "named_chain", f"transforms[{i}][1]", pair[1], subject="each argument"
        )
        pairs.append((pair[0], transform))
    names = [name for name, _ in transforms]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"named_chain: names must be unique, got duplicates {duplicates}")

    def init_fn(params):
        return {name: t.init(params) for name, t in pairs}

    def update_fn(updates, state, params=None, **extra_args):
        if set(state) != set(names):
            raise ValueError(
                f"named_chain: the state has keys {sorted(state)} but the chain has {names}"
            )
        new_state: dict[str, Any] = {}
        for name, t in pairs:
            updates, new_state[name] = t.update(updates, state[name], params, **extra_args)
        return updates, new_state

    return GradientTransformationExtraArgs(init_fn, update_fn)
