"""Trees shaped like other trees."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from gradtx.core._numerics import is_float


def zeros_like(tree: Any, dtype: Any = None) -> Any:
    """Zeros shaped like every leaf (``dtype`` overrides the leaves' floating dtype).

    Args:
      tree: the template.
      dtype: optional dtype for floating leaves.

    Returns:
      The zero tree.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> z = gradtx.tree.zeros_like({"w": jnp.ones(2), "n": jnp.ones(1, jnp.int32)}, jnp.bfloat16)
      >>> z["w"].tolist(), z["w"].dtype, z["n"].dtype  # integer leaves keep their dtype
      ([0.0, 0.0], dtype(bfloat16), dtype('int32'))
    """
    return full_like(tree, 0, dtype)


def ones_like(tree: Any, dtype: Any = None) -> Any:
    """Ones shaped like every leaf.

    Args:
      tree: the template.
      dtype: optional dtype for floating leaves.

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
      dtype: optional dtype for floating leaves; integer leaves keep theirs.

    Returns:
      The filled tree.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> t = gradtx.tree.full_like({"w": jnp.zeros(2), "b": jnp.zeros((), jnp.float16)}, 0.5)
      >>> t["w"].tolist(), float(t["b"]), t["b"].dtype
      ([0.5, 0.5], 0.5, dtype('float16'))
    """

    def one(x):
        leaf_dtype = dtype if (dtype is not None and is_float(x)) else None
        return jnp.full_like(x, fill_value, dtype=leaf_dtype)

    return jax.tree.map(one, tree)


def random_like(
    key: jax.Array,
    tree: Any,
    sampler: Callable[..., jax.Array] = jax.random.normal,
    dtype: Any = None,
) -> Any:
    """A random tree shaped like ``tree``, one independent key per leaf.

    Args:
      key: a PRNG key.
      tree: the template.
      sampler: ``sampler(key, shape, dtype)``; standard normal by default.
      dtype: the dtype of the samples (default: each leaf's dtype).

    Returns:
      The random tree.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> tree = {"a": jnp.zeros(3), "b": jnp.zeros((2, 2))}
      >>> sample = jax.jit(gradtx.tree.random_like)
      >>> r = sample(jax.random.key(0), tree)
      >>> r["a"].shape, r["b"].shape, r["b"].dtype
      ((3,), (2, 2), dtype('float32'))
      >>> again = sample(jax.random.key(0), tree)  # same key, same tree
      >>> bool(jnp.all(r["a"] == again["a"])), bool(jnp.any(r["a"] != r["b"][0, 0]))
      (True, True)
    """
    leaves, treedef = jax.tree.flatten(tree)
    keys = jax.random.split(key, max(len(leaves), 1))
    out = [
        sampler(k, jnp.shape(x), dtype or jnp.result_type(x))
        for k, x in zip(keys, leaves, strict=False)
    ]
    return jax.tree.unflatten(treedef, out)


def cast(tree: Any, dtype: Any) -> Any:
    """Cast every floating leaf to ``dtype``; ``dtype=None`` returns the tree unchanged.

    Args:
      tree: the tree.
      dtype: the target dtype, or ``None``.

    Returns:
      The cast tree; integer and boolean leaves are kept as they are.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tree = {"w": jnp.array([1.5]), "n": jnp.array([2], jnp.int32)}
      >>> t = gradtx.tree.cast(tree, jnp.bfloat16)
      >>> t["w"].dtype, t["n"].dtype
      (dtype(bfloat16), dtype('int32'))
    """
    if dtype is None:
        return tree
    return jax.tree.map(lambda x: jnp.asarray(x).astype(dtype) if is_float(x) else x, tree)
