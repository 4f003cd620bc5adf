"""Masks: which leaves a transform acts on (an implementer module: public, not in
``__all__``).

A mask is ``None`` (every leaf), a bool, a pytree of bools with the structure of the
params or a prefix of it (a leaf of the mask covers its whole subtree), or a callable
``params -> such a pytree``. `check` validates one at construction, `resolve` turns it
into a full tree of bools for a given tree, and `select` picks ``new`` where it is true
and ``old`` elsewhere. ``masked`` (whose masks must be static) validates with
``check(..., static=True)``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradtx.core._base import Params
from gradtx.core.structure import is_none

MaskOrFn = Any | Callable[[Params], Any] | None


def is_callable(mask: Any) -> bool:
    """Whether a mask is a function of the params, decided as Optax decides it.

    A mask is called when it has leaves and every leaf is callable (a plain function is
    its own single leaf); a pytree of bools that is also callable (an Equinox Module of
    bools) is used as the mask tree.
    """
    flags = jax.tree.leaves(jax.tree.map(callable, mask))
    return bool(flags) and all(flags)


def is_static(x: Any) -> bool:
    """Whether a mask leaf is a concrete bool: Python, NumPy, or a 0-d bool array."""
    if isinstance(x, jax.core.Tracer):
        return False
    if isinstance(x, (bool, np.bool_)):
        return True
    return isinstance(x, (np.ndarray, jax.Array)) and x.dtype == np.bool_ and x.ndim == 0


def check(
    fn: str, mask: Any, name: str = "mask", *, static: bool = False, returned: bool = False
) -> None:
    """``TypeError`` unless ``mask`` is a valid mask for the argument ``name`` of ``fn``.

    Args:
      fn: the factory's name, for the message.
      mask: the mask: ``None``, a bool, a pytree or a callable (never a string, nor a
        number other than a bool).
      name: the argument's name (``weight_decay_mask`` ...).
      static: also require every leaf of a mask tree to be a concrete bool (`is_static`),
        as ``masked`` does.
      returned: ``mask`` is what a callable mask returned (a tree, checked as static).

    Raises:
      TypeError: naming ``fn``, ``name`` and the offending value.
    """
    if not returned:
        if mask is None or is_callable(mask):
            return
        number = isinstance(mask, numbers.Number) and not isinstance(mask, (bool, np.bool_))
        if isinstance(mask, (str, bytes)) or (number and not static):
            raise TypeError(
                f"{fn}({name}={mask!r}): {name} must be a pytree of bools or a callable "
                f"params -> pytree of bools, got {type(mask).__name__}"
            )
        if not static:
            return
    bad = [x for x in jax.tree.leaves(mask) if not is_static(x)]
    if bad:
        where = f"{name}(...) returned" if returned else name
        raise TypeError(
            f"{fn}({name}=...): {where} must be a static pytree of Python/NumPy bools (or a "
            f"callable params -> such a pytree); found a leaf {bad[0]!r} of type "
            f"{type(bad[0]).__name__}"
        )


def resolve(mask: Any, tree: Any) -> Any:
    """The mask as a tree of bools with the structure of ``tree``.

    ``None`` selects everything; a callable is called on ``tree``; a leaf of a prefix
    mask is repeated over its subtree. ``None`` leaves of ``tree`` stay ``None``.
    """
    if mask is None:
        mask = True
    mask_tree = mask(tree) if is_callable(mask) else mask
    return jax.tree.map(
        lambda m, sub: jax.tree.map(lambda _: m, sub), mask_tree, tree, is_leaf=is_none
    )


def select(mask_tree: Any, new: Any, old: Any) -> Any:
    """``new`` where the mask is true, ``old`` elsewhere.

    ``mask_tree`` may be a prefix of the other two trees when its leaves are static
    (`is_static`): those select whole subtrees, so a masked-out leaf is passed through
    untouched. Other (array) masks select elementwise with ``jnp.where``.
    """

    def one(m, n, o):
        if o is None:
            return None
        if is_static(m):
            return n if bool(m) else o
        return jnp.where(m, n, o)

    return jax.tree.map(one, mask_tree, new, old, is_leaf=is_none)
