"""Random trees and trees of PRNG keys."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import jax


def split_key_like(rng_key: jax.Array, target_tree: Any) -> Any:
    """One independent key per leaf of ``target_tree``, in a tree of the same structure.

    Args:
      rng_key: the PRNG key to split.
      target_tree: the tree whose structure to match.

    Returns:
      A tree of keys.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> keys = gradtx.tree.split_key_like(jax.random.key(0), {"a": jnp.ones(2), "b": 1.0})
      >>> sorted(keys), keys["a"].shape
      (['a', 'b'], ())
    """
    treedef = jax.tree.structure(target_tree)
    return jax.tree.unflatten(treedef, jax.random.split(rng_key, treedef.num_leaves))


def _takes_sharding(sampler: Callable[..., Any]) -> bool:
    try:
        return "out_sharding" in inspect.signature(sampler).parameters
    except (TypeError, ValueError):
        return False


def random_like(
    rng_key: jax.Array,
    target_tree: Any,
    sampler: Callable[..., jax.Array] = jax.random.normal,
    dtype: Any = None,
) -> Any:
    """A random tree shaped like ``target_tree``, one independent key per leaf.

    The keys are those of `split_key_like`, so a sample equals Optax's for the same key.

    Args:
      rng_key: a PRNG key.
      target_tree: the template; its leaves must be arrays.
      sampler: ``sampler(key, shape, dtype)`` (given ``out_sharding=`` the leaf's
        sharding when it takes one); standard normal by default.
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
      >>> bool(jax.numpy.all(r["a"] == again["a"]))
      True
    """
    keys = split_key_like(rng_key, target_tree)
    with_sharding = _takes_sharding(sampler)

    def one(leaf, key):
        leaf_dtype = dtype or leaf.dtype
        if with_sharding:
            return sampler(key, leaf.shape, leaf_dtype, out_sharding=jax.typeof(leaf).sharding)
        return sampler(key, leaf.shape, leaf_dtype)

    return jax.tree.map(one, target_tree, keys)


def unwrap_random_key_data(input_tree: Any) -> Any:
    """Replace every typed PRNG key leaf by its raw ``jax.random.key_data``.

    Args:
      input_tree: a tree of arrays and keys.

    Returns:
      The tree with keys unwrapped (so that it can be compared numerically).

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> t = gradtx.tree.unwrap_random_key_data({"k": jax.random.key(0), "x": jnp.ones(1)})
      >>> t["k"].dtype, t["k"].shape
      (dtype('uint32'), (2,))
    """

    def one(x):
        if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            return jax.random.key_data(x)
        return x

    return jax.tree.map(one, input_tree)
