"""Leafwise arithmetic and reductions on pytrees (Optax's ``tree`` maths)."""

from __future__ import annotations

import builtins
import functools
import operator
from typing import Any

import jax
import jax.numpy as jnp

from gradtx.core.numerics import is_float, promote_add, scalar_mul
from gradtx.core.structure import is_none


def add(tree_x: Any, tree_y: Any, *other_trees: Any) -> Any:
    """Leafwise sum of two or more trees of the same structure.

    Args:
      tree_x: the first tree.
      tree_y: the second tree.
      *other_trees: more trees.

    Returns:
      ``tree_x + tree_y + ...`` per leaf.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> x = {"w": jnp.array([1.0, 2.0])}
      >>> gradtx.tree.add(x, x, {"w": jnp.array([0.5, 0.5])})["w"].tolist()
      [2.5, 4.5]
    """
    return jax.tree.map(
        lambda *xs: functools.reduce(operator.add, xs), tree_x, tree_y, *other_trees
    )


def sub(tree_x: Any, tree_y: Any) -> Any:
    """Leafwise ``x - y``.

    Args:
      tree_x: minuend.
      tree_y: subtrahend.

    Returns:
      The difference tree.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.sub({"w": jnp.array([3.0, 1.0])}, {"w": jnp.array([1.0, 1.0])})["w"].tolist()
      [2.0, 0.0]
    """
    return jax.tree.map(operator.sub, tree_x, tree_y)


def mul(tree_x: Any, tree_y: Any) -> Any:
    """Leafwise ``x * y``.

    Args:
      tree_x: first factor.
      tree_y: second factor.

    Returns:
      The product tree.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.mul({"w": jnp.array([3.0, 2.0])}, {"w": jnp.array([2.0, -1.0])})["w"].tolist()
      [6.0, -2.0]
    """
    return jax.tree.map(operator.mul, tree_x, tree_y)


def div(tree_x: Any, tree_y: Any) -> Any:
    """Leafwise ``x / y``.

    Args:
      tree_x: numerator.
      tree_y: denominator.

    Returns:
      The quotient tree.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.div({"w": jnp.array([3.0, 2.0])}, {"w": jnp.array([2.0, -1.0])})["w"].tolist()
      [1.5, -2.0]
    """
    return jax.tree.map(operator.truediv, tree_x, tree_y)


def _scaled(scalar: Any, x: Any) -> jax.Array:
    """``scalar * x``; a floating leaf keeps its dtype, an integer one is promoted."""
    out = scalar_mul(scalar, x)
    return out.astype(jnp.result_type(x)) if is_float(x) else out


def scale(scalar: Any, tree: Any) -> Any:
    """Multiply every leaf by ``scalar``.

    Floating leaves keep their dtype (Optax promotes a bfloat16 leaf times a float32
    array to float32); integer leaves are promoted as JAX does (``0.5 * int`` is a float).

    Args:
      scalar: a number or scalar array.
      tree: the tree.

    Returns:
      ``scalar * tree`` per leaf.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> t = gradtx.tree.scale(0.5, {"w": jnp.array([2.0, -4.0], jnp.bfloat16)})
      >>> t["w"].tolist(), t["w"].dtype
      ([1.0, -2.0], dtype(bfloat16))
    """
    return jax.tree.map(lambda x: _scaled(scalar, x), tree)


def add_scale(tree_x: Any, scalar: Any, tree_y: Any) -> Any:
    """``tree_x + scalar * tree_y`` per leaf (``None`` leaves of ``tree_x`` stay ``None``).

    Args:
      tree_x: the first tree.
      scalar: a number or scalar array.
      tree_y: the tree to scale, same structure as ``tree_x``.

    Returns:
      The combined tree.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> x, y = {"w": jnp.array([1.0, 2.0])}, {"w": jnp.array([1.0, -1.0])}
      >>> gradtx.tree.add_scale(x, 0.5, y)["w"].tolist()
      [1.5, 1.5]
    """
    return jax.tree.map(
        lambda x, y: None if x is None else promote_add(x, _scaled(scalar, y)),
        tree_x,
        tree_y,
        is_leaf=is_none,
    )


def sum(tree: Any, associative_reduction: bool = False) -> Any:  # noqa: A001 - Optax's name
    """The sum of every element of every leaf (each leaf summed in its own dtype).

    Args:
      tree: a tree.
      associative_reduction: add the per-leaf sums as a balanced tree (a shorter graph
        for wide trees; the last bits of the sum may differ).

    Returns:
      A scalar (``0`` for an empty tree).

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> float(gradtx.tree.sum({"a": jnp.array([1.0, 2.0]), "b": jnp.array(3.0)}))
      6.0
    """
    sums = jax.tree.map(jnp.sum, tree)
    if associative_reduction:
        return jax.tree.reduce_associative(operator.add, sums, identity=0)
    return jax.tree.reduce(operator.add, sums, initializer=0)


def _reduce_extreme(tree: Any, pick: Any, leaf_fn: Any, start: float) -> Any:
    def one(x):
        return None if jnp.size(x) == 0 else leaf_fn(x)

    return jax.tree.reduce(pick, jax.tree.map(one, tree), initializer=start)


def max(tree: Any) -> Any:  # noqa: A001 - Optax's name
    """The largest element over all leaves (``-inf`` for an empty tree; empty leaves skipped).

    Args:
      tree: a tree.

    Returns:
      A scalar.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> float(gradtx.tree.max({"a": jnp.array([1.0, 5.0]), "b": jnp.array(-3.0)}))
      5.0
    """
    return _reduce_extreme(tree, jnp.maximum, jnp.max, -float("inf"))


def min(tree: Any) -> Any:  # noqa: A001 - Optax's name
    """The smallest element over all leaves (``inf`` for an empty tree; empty leaves skipped).

    Args:
      tree: a tree.

    Returns:
      A scalar.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> float(gradtx.tree.min({"a": jnp.array([1.0, 5.0]), "b": jnp.array(-3.0)}))
      -3.0
    """
    return _reduce_extreme(tree, jnp.minimum, jnp.min, float("inf"))


def size(tree: Any) -> int:
    """The number of elements of all leaves together.

    Args:
      tree: a tree.

    Returns:
      A Python int.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.size({"a": jnp.ones((2, 3)), "b": 1.0})
      7
    """
    return builtins.sum(jnp.size(x) for x in jax.tree.leaves(tree))


def conj(tree: Any) -> Any:
    """The complex conjugate of every leaf.

    Args:
      tree: a tree.

    Returns:
      The conjugated tree.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.conj({"z": jnp.array([1 + 2j])})["z"].tolist()
      [(1-2j)]
    """
    return jax.tree.map(jnp.conj, tree)


def real(tree: Any) -> Any:
    """The real part of every leaf.

    Args:
      tree: a tree.

    Returns:
      The real tree.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.real({"z": jnp.array([1 + 2j])})["z"].tolist()
      [1.0]
    """
    return jax.tree.map(jnp.real, tree)


def clip(tree: Any, min_value: Any = None, max_value: Any = None) -> Any:
    """Clip every element to ``[min_value, max_value]`` (a ``None`` bound is not applied).

    Args:
      tree: a tree.
      min_value: the lower bound, or ``None``.
      max_value: the upper bound, or ``None``.

    Returns:
      The clipped tree.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.clip({"w": jnp.array([-2.0, 0.5, 3.0])}, -1.0, 1.0)["w"].tolist()
      [-1.0, 0.5, 1.0]
    """
    return jax.tree.map(lambda x: jnp.clip(x, min_value, max_value), tree)


def where(condition: Any, tree_x: Any, tree_y: Any) -> Any:
    """Select ``tree_x`` where ``condition`` holds, else ``tree_y``, per leaf.

    Args:
      condition: a boolean (array) broadcast against every leaf, as in Optax; gradtx
        also takes a tree of booleans shaped like the leaves.
      tree_x: chosen where ``condition`` is true.
      tree_y: chosen elsewhere.

    Returns:
      The selected tree.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> x, y = {"w": jnp.array([1.0, 2.0])}, {"w": jnp.array([-1.0, -2.0])}
      >>> gradtx.tree.where(jnp.array(False), x, y)["w"].tolist()
      [-1.0, -2.0]
      >>> gradtx.tree.where({"w": jnp.array([True, False])}, x, y)["w"].tolist()
      [1.0, -2.0]
    """
    if jax.tree_util.treedef_is_leaf(jax.tree.structure(condition)):  # one array or bool
        return jax.tree.map(lambda x, y: jnp.where(condition, x, y), tree_x, tree_y)
    return jax.tree.map(lambda c, x, y: jnp.where(c, x, y), condition, tree_x, tree_y)


def allclose(a: Any, b: Any, rtol: Any = 1e-05, atol: Any = 1e-08, equal_nan: bool = False) -> Any:
    """Whether two trees are equal leaf by leaf within ``atol + rtol * |b|``.

    Args:
      a: a tree.
      b: a tree of the same structure.
      rtol: the relative tolerance.
      atol: the absolute tolerance.
      equal_nan: count NaNs in the same place as equal.

    Returns:
      A boolean (a JAX boolean scalar unless both trees are empty).

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> bool(gradtx.tree.allclose({"a": jnp.array([1.0])}, {"a": jnp.array([1.0 + 1e-7])}))
      True
    """
    close = jax.tree.map(
        lambda x, y: jnp.allclose(x, y, rtol=rtol, atol=atol, equal_nan=equal_nan), a, b
    )
    return functools.reduce(operator.and_, jax.tree.leaves(close), True)
