"""Helpers shared by the wrappers (internal)."""

from __future__ import annotations

import functools
import operator
from typing import Any

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib


def shallowest_first(state: Any, name: str) -> list[tuple[int, Any]]:
    """Every ``(depth, value)`` of ``state`` whose field or dict key is ``name``,
    shallowest first (`gradtx.tree.get_all_with_path`, ordered by depth)."""
    found = [(len(path) - 1, value) for path, value in tree_lib.get_all_with_path(state, name)]
    return sorted(found, key=lambda pair: pair[0])


def all_finite(tree: Any) -> jax.Array:
    """A boolean scalar: whether every element of every leaf is finite (``True`` if empty)."""
    flags = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]
    if not flags:
        return jnp.asarray(True)
    return functools.reduce(jnp.logical_and, flags)


def zeros_of(shape_tree: Any) -> Any:
    """Zeros for every ``jax.ShapeDtypeStruct`` (or array) in ``shape_tree``."""
    return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shape_tree)


def select(pred: jax.Array, on_true: Any, on_false: Any) -> Any:
    """``jnp.where(pred, a, b)`` per leaf, keeping the dtype of ``on_false``'s leaf."""
    return jax.tree.map(
        lambda a, b: jnp.where(pred, a, b).astype(jnp.result_type(b)), on_true, on_false
    )


def count_true(flags: list[jax.Array]) -> jax.Array:
    """The number of true entries across a list of boolean arrays, as int32."""
    if not flags:
        return jnp.zeros([], jnp.int32)
    return functools.reduce(operator.add, [jnp.sum(f, dtype=jnp.int32) for f in flags])
