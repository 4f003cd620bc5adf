"""Linear operators on pytrees, and the vector arithmetic the iterative methods share.

The convention used by every function of ``gradtx.second_order``:

* A **vector** is a pytree shaped like the parameters (``None`` leaves are empty
  subtrees and are carried through). It is never raveled.
* A **linear operator** is a *matvec*: a callable ``v -> A v`` from such a pytree to a
  pytree of the same structure (for example ``hvp_operator(f, params)``). For small
  problems a dense ``(n, n)`` array is accepted too; its vectors are 1-D arrays.
* A **stacked** set of ``m`` vectors (a Krylov basis, Ritz vectors, probes) is one pytree
  whose leaves carry an extra leading axis of length ``m``.
* Inside the Krylov and stochastic methods (Lanczos, Hutchinson, Hutch++), and only
  there, vectors are kept **flat**: one 1-D array of length ``n`` in the compute dtype,
  the leaves concatenated in ``jax.tree.leaves`` order (`ravel` / `unraveler`). The
  operator still sees pytrees: `flat_operator` unravels its input and ravels its output.
  A basis of ``m`` vectors is then one ``(m, n)`` matrix, so a re-orthogonalization is
  two matrix-vector products instead of two per leaf, and a block of probes goes
  through ``jax.vmap`` of the operator. Results are handed back as pytrees.

Internally the iterative methods compute in the vector's *compute dtype*: the widest
floating dtype among the leaves, and at least float32 (``numerics.widest_float_dtype``), so
a bfloat16 model still gets a float32 Krylov basis. Dot products use ``Precision.HIGHEST``
so that accelerators do not silently drop to reduced-precision matmuls inside Lanczos or
CG.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradtx import tree as tree_lib
from gradtx.core import numerics

Matvec = Callable[[Any], Any]
_HIGHEST = jax.lax.Precision.HIGHEST


def as_matvec(operator_: Any, fn: str) -> Matvec:
    """A matvec callable from a callable or a dense square matrix.

    Args:
      operator_: ``v -> A v`` on pytrees, or an ``(n, n)`` array.
      fn: the caller's name, for the error message.

    Returns:
      The matvec.

    Raises:
      TypeError: for anything else.
    """
    if callable(operator_):
        return operator_
    if isinstance(operator_, (jax.Array, np.ndarray)) and np.ndim(operator_) == 2:
        if np.shape(operator_)[0] != np.shape(operator_)[1]:
            raise TypeError(f"{fn}: a dense operator must be square, got {np.shape(operator_)}")
        matrix = jnp.asarray(operator_)

        def dense_matvec(v):
            v = jnp.asarray(v)
            dtype = numerics.common_dtype(matrix.dtype, v.dtype)
            return jnp.matmul(matrix.astype(dtype), v.astype(dtype), precision=_HIGHEST)

        return dense_matvec
    raise TypeError(
        f"{fn}: the operator must be a matvec callable v -> A v or a square 2-D array, "
        f"got {type(operator_).__name__}"
    )


def dimension(tree: Any) -> int:
    """The number of scalars in ``tree`` (static)."""
    return int(sum(math.prod(np.shape(x)) for x in jax.tree.leaves(tree)))


def dot(x: Any, y: Any, dtype: Any) -> jax.Array:
    """``<x, y>`` over all leaves, in ``dtype`` (a real scalar)."""
    terms = [
        jnp.vdot(
            jnp.asarray(a).astype(dtype).ravel(),
            jnp.asarray(b).astype(dtype).ravel(),
            precision=_HIGHEST,
        )
        for a, b in zip(jax.tree.leaves(x), jax.tree.leaves(y), strict=True)
    ]
    return functools.reduce(operator.add, terms, jnp.zeros([], dtype))


def norm(x: Any, dtype: Any) -> jax.Array:
    """``||x||`` over all leaves, in ``dtype``."""
    return jnp.sqrt(dot(x, x, dtype))


def apply(matvec: Matvec, v: Any, dtype: Any) -> Any:
    """``matvec(v)`` with the result's leaves cast to ``dtype`` (structure checked)."""
    out = matvec(v)
    if jax.tree.structure(out) != jax.tree.structure(v):
        raise ValueError(
            "the operator returned a tree of a different structure than its input:\n"
            f"  input:  {jax.tree.structure(v)}\n  output: {jax.tree.structure(out)}"
        )
    return tree_lib.cast(out, dtype)


def random_vector(key: jax.Array, like: Any, dtype: Any, kind: str = "normal") -> Any:
    """A random tree shaped like ``like``: standard ``"normal"`` or ``"rademacher"`` (±1)."""
    sampler = jax.random.normal if kind == "normal" else jax.random.rademacher
    return tree_lib.random_like(key, like, sampler=sampler, dtype=dtype)


def hashed_vector(like: Any, seed: Any, dtype: Any) -> Any:
    """A deterministic pseudo-random tree in [-0.5, 0.5) shaped like ``like``.

    A cheap hash of (position, leaf, ``seed``), used to restart Krylov methods: it compiles
    to a few elementwise ops, unlike a PRNG draw inside a loop body.
    """
    seed = jnp.asarray(seed).astype(jnp.float32)
    leaves, treedef = jax.tree.flatten(like)
    out = []
    for k, leaf in enumerate(leaves):
        size = math.prod(np.shape(leaf))
        idx = jnp.arange(size, dtype=jnp.int32) % 65521
        x = jnp.sin(idx.astype(jnp.float32) * 12.9898 + seed * 78.233 + k * 37.719) * 43758.5453
        out.append((x - jnp.floor(x) - 0.5).reshape(np.shape(leaf)).astype(dtype))
    return jax.tree.unflatten(treedef, out)


# --- stacked vectors (a leading axis of length m on every leaf) -----------------------


def stack_get(stack: Any, i: Any) -> Any:
    """Row ``i`` of ``stack``."""
    return jax.tree.map(lambda s: s[i], stack)


def stack_dots(stack: Any, v: Any, dtype: Any, m: int) -> jax.Array:
    """``[<stack_i, v>]_i``, a vector of length ``m``."""
    terms = [
        jnp.matmul(s.reshape(m, -1).astype(dtype), x.reshape(-1).astype(dtype), precision=_HIGHEST)
        for s, x in zip(jax.tree.leaves(stack), jax.tree.leaves(v), strict=True)
    ]
    return functools.reduce(operator.add, terms, jnp.zeros((m,), dtype))


def stack_combine(coefficients: jax.Array, stack: Any) -> Any:
    """``sum_i c_i stack_i`` for a coefficient vector; or, for a ``(m, k)`` matrix, the
    ``k`` stacked combinations ``sum_i C[i, j] stack_i``."""

    def one(s):
        c = coefficients.astype(s.dtype)
        flat = s.reshape(s.shape[0], -1)
        out = jnp.matmul(c.T, flat, precision=_HIGHEST)
        return out.reshape(c.shape[1:] + s.shape[1:])

    return jax.tree.map(one, stack)


def orthogonalize_flat(basis: jax.Array, w: jax.Array) -> jax.Array:
    """One classical Gram-Schmidt pass: ``w - B^T (B w)`` for a flat ``(m, n)`` basis ``B``."""
    h = jnp.matmul(basis, w, precision=_HIGHEST)
    return w - jnp.matmul(h, basis, precision=_HIGHEST)


def orthogonalize(stack: Any, v: Any, dtype: Any, m: int, passes: int = 2) -> Any:
    """``v`` minus its projection on the rows of ``stack`` (assumed orthonormal or zero).

    Classical Gram-Schmidt repeated ``passes`` times ("twice is enough").
    """
    for _ in range(passes):
        v = jax.tree.map(jnp.subtract, v, stack_combine(stack_dots(stack, v, dtype, m), stack))
    return v


# --- the flat layout of the Krylov and stochastic internals ---------------------------


def ravel(tree: Any, dtype: Any) -> jax.Array:
    """The leaves of ``tree`` cast to ``dtype`` and concatenated into one 1-D array."""
    leaves = [jnp.asarray(x).astype(dtype).reshape(-1) for x in jax.tree.leaves(tree)]
    if not leaves:
        return jnp.zeros((0,), dtype)
    return leaves[0] if len(leaves) == 1 else jnp.concatenate(leaves)


def unraveler(like: Any, dtype: Any) -> Callable[[jax.Array], Any]:
    """The inverse of `ravel` for trees shaped like ``like``: leaves in ``dtype``.

    The returned function also takes a stack ``(k, n)`` and returns leaves ``(k, *shape)``.
    """
    leaves, treedef = jax.tree.flatten(like)
    shapes = [tuple(np.shape(x)) for x in leaves]
    sizes = [math.prod(shape) for shape in shapes]
    offsets = np.cumsum([0, *sizes])

    def unravel(flat: jax.Array) -> Any:
        lead = flat.shape[:-1]
        out = [
            flat[..., int(o) : int(o) + size].astype(dtype).reshape(lead + shape)
            for o, size, shape in zip(offsets, sizes, shapes, strict=False)
        ]
        return jax.tree.unflatten(treedef, out)

    return unravel


def flat_operator(matvec: Matvec, like: Any, dtype: Any) -> Callable[[jax.Array], jax.Array]:
    """``x -> ravel(A unravel(x))``: the operator on flat vectors of the compute dtype."""
    unravel = unraveler(like, dtype)

    def flat_matvec(x: jax.Array) -> jax.Array:
        return ravel(apply(matvec, unravel(x), dtype), dtype)

    return flat_matvec


def rademacher_flat(key: jax.Array, n: int, dtype: Any, batch: tuple[int, ...] = ()) -> jax.Array:
    """Independent signs ±1 in ``dtype``, shape ``(*batch, n)``, 32 from each random word.

    A Rademacher vector needs one random bit per entry; drawing them as the bits of
    ``ceil(n / 32)`` 32-bit words costs 1/32 of the generator work of a draw per entry.
    """
    words = -(-n // 32)
    bits = jax.random.bits(key, (*batch, words), jnp.uint32)
    shifts = jnp.arange(32, dtype=jnp.uint32)
    signs = (bits[..., None] >> shifts.reshape((1,) * bits.ndim + (32,))) & jnp.uint32(1)
    signs = signs.reshape((*batch, 32 * words))[..., :n]
    return (1 - 2 * signs.astype(jnp.int32)).astype(dtype)
