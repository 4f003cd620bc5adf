"""Trees shaped like other trees, and dtype casts of whole trees."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp


def zeros_like(tree: Any, dtype: Any = None) -> Any:
    """Zeros shaped like every leaf (as ``optax.tree.zeros_like``).

    Args:
      tree: the template.
      dtype: optional dtype of every leaf of the result (default: each leaf's own).

    Returns:
      The zero tree.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> z = gradtx.tree.zeros_like({"w": jnp.ones(2), "n": jnp.ones(1, jnp.int32)})
      >>> z["w"].tolist(), z["n"].dtype
      ([0.0, 0.0], dtype('int32'))
      >>> gradtx.tree.zeros_like({"w": jnp.ones(2)}, jnp.bfloat16)["w"].dtype
      dtype(bfloat16)
    """
    return full_like(tree, 0, dtype)


def ones_like(tree: Any, dtype: Any = None) -> Any:
    """Ones shaped like every leaf.

    Args:
      tree: the template.
      dtype: optional dtype of every leaf of the result.

    Returns:
      The tree of ones.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.ones_like({"w": jnp.zeros((2,))})["w"].tolist()
      [1.0, 1.0]
    """
    return full_like(tree, 1, dtype)


def full_like(tree: Any, fill_value: Any, dtype: Any = None) -> Any:
    """``fill_value`` shaped like every leaf.

    Args:
      tree: the template.
      fill_value: the value.
      dtype: optional dtype of every leaf of the result (default: each leaf's own).

    Returns:
      The filled tree.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> t = gradtx.tree.full_like({"w": jnp.zeros(2), "b": jnp.zeros((), jnp.float16)}, 0.5)
      >>> t["w"].tolist(), float(t["b"]), t["b"].dtype
      ([0.5, 0.5], 0.5, dtype('float16'))
    """
    return jax.tree.map(lambda x: jnp.full_like(x, fill_value, dtype=dtype), tree)


def batch_shape(tree: Any, shape: tuple[int, ...] = ()) -> Any:
    """Every leaf broadcast to ``(*shape, *leaf.shape)``.

    Args:
      tree: a tree.
      shape: the leading batch dimensions to add.

    Returns:
      The broadcast tree.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.batch_shape({"w": jnp.ones(3)}, (4, 2))["w"].shape
      (4, 2, 3)
    """
    return jax.tree.map(lambda x: jnp.broadcast_to(x, (*shape, *jnp.shape(x))), tree)


def cast(tree: Any, dtype: Any) -> Any:
    """Cast every leaf to ``dtype``; ``dtype=None`` returns the tree unchanged.

    Args:
      tree: the tree.
      dtype: the target dtype, or ``None``.

    Returns:
      The cast tree (integer leaves are cast too, as in Optax).

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tree = {"w": jnp.array([1.5]), "n": jnp.array([2], jnp.int32)}
      >>> t = gradtx.tree.cast(tree, jnp.bfloat16)
      >>> t["w"].dtype, t["n"].dtype
      (dtype(bfloat16), dtype(bfloat16))
    """
    if dtype is None:
        return tree
    return jax.tree.map(lambda x: jnp.asarray(x).astype(dtype), tree)


def cast_like(tree: Any, other_tree: Any) -> Any:
    """Cast each leaf of ``tree`` to the dtype of the matching leaf of ``other_tree``.

    The one home of "cast back to the partner's dtype": transforms cast their new state
    to the old state's dtypes (and their updates to the gradients') with it.

    Args:
      tree: the tree to cast.
      other_tree: a tree of the same structure; its leaves without a ``dtype`` leave
        the matching leaf of ``tree`` as it is.

    Returns:
      The cast tree.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> t = gradtx.tree.cast_like({"a": jnp.ones(2)}, {"a": jnp.zeros(2, jnp.bfloat16)})
      >>> t["a"].dtype
      dtype(bfloat16)
    """
    return jax.tree.map(lambda x, o: _cast_like_leaf(x, o), tree, other_tree)


def _cast_like_leaf(x: Any, other: Any) -> Any:
    # The dtype JAX really uses (a NumPy float64 reference is float32 without x64).
    if not hasattr(other, "dtype"):
        return x
    dtype = jax.dtypes.canonicalize_dtype(other.dtype, allow_extended_dtype=True)
    return jnp.asarray(x).astype(dtype)


def _promote(a: Any, b: Any) -> Any:
    """JAX's standard promotion of two dtypes, whatever the promotion mode in force."""
    with jax.numpy_dtype_promotion("standard"):
        return jnp.promote_types(a, b)


def _ordered(a: Any, b: Any, *, higher: bool) -> Any:
    """The higher (or lower) of two dtypes when one promotes to the other."""
    joined = _promote(a, b)
    if joined not in (jnp.dtype(a), jnp.dtype(b)):
        raise ValueError(
            f"tree.dtype: cannot order {a} and {b}: neither promotes to the other "
            "(use mixed_dtype_handler='promote')"
        )
    low = b if joined == jnp.dtype(a) else a
    high = a if low is b else b
    return high if higher else low


def dtype(tree: Any, mixed_dtype_handler: str | None = None) -> Any:
    """The dtype of a tree's leaves (JAX's default float dtype for an empty tree).

    Args:
      tree: the tree.
      mixed_dtype_handler: what to do when leaves differ: ``None`` raises, ``"promote"``
        returns ``jnp.promote_types`` of them all, ``"highest"``/``"lowest"`` the
        highest/lowest in the promotion order (an error when two do not compare).

    Returns:
      A NumPy dtype.

    Raises:
      ValueError: with ``None`` on mixed dtypes, with ``"highest"``/``"lowest"`` on
        dtypes that do not promote to one another, or on an unknown handler.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> t = {"a": jnp.ones(1, jnp.float16), "b": jnp.ones(1, jnp.float32)}
      >>> gradtx.tree.dtype(t, "lowest"), gradtx.tree.dtype(t, "highest")
      (dtype('float16'), dtype('float32'))
    """
    leaves = jax.tree.leaves(tree)
    if not leaves:
        return jnp.asarray(leaves).dtype
    dtypes = [jnp.asarray(x).dtype for x in leaves]
    if mixed_dtype_handler is None:
        paths = jax.tree_util.tree_leaves_with_path(tree)
        wrong = [
            f"Expected dtype={dtypes[0]!r} for {jax.tree_util.keystr(p)} but got {d}."
            for (p, _), d in zip(paths, dtypes, strict=True)
            if d != dtypes[0]
        ]
        if wrong:
            raise ValueError("\n".join(wrong))
        return dtypes[0]
    if mixed_dtype_handler == "promote":
        return functools.reduce(_promote, dtypes)
    if mixed_dtype_handler in ("highest", "lowest"):
        higher = mixed_dtype_handler == "highest"
        return functools.reduce(functools.partial(_ordered, higher=higher), dtypes)
    raise ValueError(
        f"Invalid value for {mixed_dtype_handler=}, possible values are: None, "
        '"promote", "highest", "lowest".'
    )
