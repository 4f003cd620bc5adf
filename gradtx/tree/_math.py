"""Arithmetic on pytrees."""

from __future__ import annotations

import functools
import operator
from typing import Any

import jax
import jax.numpy as jnp

from gradtx.core._numerics import abs_sq, common_dtype, compute_dtype


def add(tree: Any, *others: Any) -> Any:
    """Leafwise sum of trees of the same structure.

    Args:
      tree: the first tree.
      *others: more trees.

    Returns:
      ``tree + others[0] + ...`` per leaf.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> x = {"w": jnp.array([1.0, 2.0])}
      >>> gradtx.tree.add(x, x, {"w": jnp.array([0.5, 0.5])})["w"].tolist()
      [2.5, 4.5]
    """
    return jax.tree.map(lambda *xs: functools.reduce(operator.add, xs), tree, *others)


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


def scale(scalar: Any, tree: Any) -> Any:
    """Multiply every leaf by ``scalar``.

    Args:
      scalar: a number or scalar array.
      tree: the tree.

    Returns:
      ``scalar * tree`` per leaf, each leaf keeping its dtype.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> t = gradtx.tree.scale(0.5, {"w": jnp.array([2.0, -4.0], jnp.bfloat16)})
      >>> t["w"].tolist(), t["w"].dtype
      ([1.0, -2.0], dtype(bfloat16))
    """
    return jax.tree.map(lambda x: (scalar * x).astype(jnp.result_type(x)), tree)


# A tree with at least _WIDE_TREE leaves of at most _SMALL_LEAF elements has those leaves
# concatenated before a norm's reduction.
_SMALL_LEAF = 2**14
_WIDE_TREE = 64


def _widest(dtypes: list[Any]) -> Any:
    out = jnp.float32
    for d in dtypes:
        out = common_dtype(out, compute_dtype(d))
    return out


def vdot(tree_x: Any, tree_y: Any) -> jax.Array:
    """Inner product ``sum_i <x_i, y_i>`` over all leaves, accumulated in float32 or wider.

    Args:
      tree_x: a tree.
      tree_y: a tree of the same structure.

    Returns:
      A scalar.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> x = {"a": jnp.array([1.0, 2.0]), "b": jnp.array(3.0)}
      >>> y = {"a": jnp.array([4.0, 5.0]), "b": jnp.array(-1.0)}
      >>> float(gradtx.tree.vdot(x, y))  # 4 + 10 - 3
      11.0
    """
    xs, ys = jax.tree.leaves(tree_x), jax.tree.leaves(tree_y)
    if not xs:
        return jnp.zeros([], jnp.float32)
    dtype = _widest([jnp.result_type(x) for x in xs])
    terms = [
        jnp.vdot(jnp.asarray(x, dtype), jnp.asarray(y, dtype)) for x, y in zip(xs, ys, strict=True)
    ]
    return functools.reduce(operator.add, terms)


def sum_of_squares(tree: Any) -> jax.Array:
    """``sum_i |x_i|**2`` over all leaves, accumulated in float32 or wider.

    Args:
      tree: a tree (integer leaves count, ``None`` leaves do not).

    Returns:
      A real scalar.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> float(gradtx.tree.sum_of_squares({"a": jnp.array([1.0, 2.0]), "b": None, "c": 3.0}))
      14.0
    """
    leaves = [jnp.asarray(x) for x in jax.tree.leaves(tree)]
    if not leaves:
        return jnp.zeros([], jnp.float32)
    dtype = _widest([x.dtype for x in leaves])
    real = jnp.finfo(dtype).dtype
    small = [x for x in leaves if x.size <= _SMALL_LEAF]
    if len(small) < _WIDE_TREE:
        terms = [jnp.sum(abs_sq(x.astype(dtype))).astype(real) for x in leaves]
    else:
        # On a wide tree the small leaves are summed as one vector: one reduction kernel
        # instead of two per leaf, which is what makes wide trees slow to compile and to
        # run on CPU (the sum's order, hence its last bits, differs from leaf by leaf).
        flat = jnp.concatenate([jnp.reshape(x.astype(dtype), (-1,)) for x in small])
        terms = [
            jnp.sum(abs_sq(x.astype(dtype))).astype(real) for x in leaves if x.size > _SMALL_LEAF
        ]
        terms.append(jnp.sum(abs_sq(flat)).astype(real))
    return functools.reduce(operator.add, terms)


def l2_norm(tree: Any, squared: bool = False) -> jax.Array:
    """The Euclidean norm of all leaves together.

    Args:
      tree: a tree.
      squared: return the squared norm.

    Returns:
      A scalar in float32 (float64 when a leaf is float64).

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> t = {"a": jnp.array([3.0]), "b": jnp.array([4.0], jnp.bfloat16)}
      >>> float(gradtx.tree.l2_norm(t)), float(gradtx.tree.l2_norm(t, squared=True))
      (5.0, 25.0)
    """
    sq = sum_of_squares(tree)
    return sq if squared else jnp.sqrt(sq)


def global_norm(tree: Any) -> jax.Array:
    """``sqrt(sum_i ||x_i||**2)``: the norm used by ``clip_by_global_norm``.

    Args:
      tree: a tree.

    Returns:
      A scalar in float32 (float64 when a leaf is float64).

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> float(gradtx.tree.global_norm({"a": jnp.array([3.0]), "b": jnp.array([4.0])}))
      5.0
    """
    return l2_norm(tree)


def where(condition: Any, tree_x: Any, tree_y: Any) -> Any:
    """Select ``tree_x`` where ``condition`` holds, else ``tree_y``, per leaf.

    Args:
      condition: a boolean scalar, or a tree of booleans shaped like the leaves.
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
