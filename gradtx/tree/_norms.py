"""Norms and inner products of pytrees, accumulated in float32 or wider."""

from __future__ import annotations

import functools
import operator
from typing import Any

import jax
import jax.numpy as jnp

from gradtx.core.numerics import abs_sq, is_float, widest_float_dtype
from gradtx.tree._arith import max as tree_max
from gradtx.tree._arith import sum as tree_sum

# A tree with at least _WIDE_TREE leaves of at most _SMALL_LEAF elements has those leaves
# concatenated before a norm's reduction.
_SMALL_LEAF = 2**14
_WIDE_TREE = 64


def vdot(tree_x: Any, tree_y: Any) -> jax.Array:
    """Inner product ``sum_i <x_i, y_i>`` over all leaves, accumulated in float32 or wider.

    Floating trees give a float32 (float64) scalar, also for bfloat16 leaves where Optax
    returns bfloat16; integer trees give Optax's exact integer.

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
    if not any(is_float(x) or is_float(y) for x, y in zip(xs, ys, strict=True)):
        # integer trees: an exact integer result, as Optax
        terms = [jnp.vdot(jnp.asarray(x), jnp.asarray(y)) for x, y in zip(xs, ys, strict=True)]
        return functools.reduce(operator.add, terms)
    dtype = widest_float_dtype(xs)
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
    dtype = widest_float_dtype(leaves)
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


def norm(tree: Any, ord: Any = None, squared: bool = False) -> jax.Array:  # noqa: A002
    """The vector norm of all leaves together, as ``optax.tree.norm``.

    ``ord=None``/``2`` accumulates the squares in float32 or wider (`sum_of_squares`), so a
    bfloat16 tree has a float32 norm where Optax returns bfloat16; ``ord=1`` and
    ``ord=inf`` reduce in the leaves' dtype, as Optax does.

    Args:
      tree: a tree.
      ord: ``None`` or ``2`` (Euclidean), ``1``, or ``jnp.inf`` / ``"inf"`` / ``"infinity"``.
      squared: return the norm squared.

    Returns:
      A scalar array.

    Raises:
      ValueError: for another ``ord``.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> t = {"a": jnp.array([3.0]), "b": jnp.array([-4.0])}
      >>> [float(gradtx.tree.norm(t, o)) for o in (None, 1, "inf")]
      [5.0, 7.0, 4.0]
    """
    if ord is None or ord == 2:
        return l2_norm(tree, squared=squared)
    if ord == 1:
        out = tree_sum(jax.tree.map(jnp.abs, tree))
    elif ord in ("inf", "infinity") or ord == jnp.inf:
        out = tree_max(jax.tree.map(jnp.abs, tree))
    else:
        raise ValueError(f"Unsupported ord: {ord}")
    out = jnp.asarray(out)
    return jnp.asarray(abs_sq(out) if squared else out)
