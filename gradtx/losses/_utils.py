"""Input checks and small numerical helpers shared by the loss functions (internal).

Every check here looks only at shapes and dtypes, which are static under ``jit``; no
check ever looks at values.
"""

from __future__ import annotations

import operator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradtx.core import numerics


def floating(fn: str, name: str, x: Any) -> jax.Array:
    """``x`` as an array, with a ``TypeError`` unless its dtype is floating."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{fn}: {name} must have a floating dtype, got {x.dtype}")
    return x


def integer(fn: str, name: str, x: Any) -> jax.Array:
    """``x`` as an array, with a ``TypeError`` unless its dtype is integer."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.integer):
        raise TypeError(f"{fn}: {name} must have an integer dtype, got {x.dtype}")
    return x


def promote(*arrays: jax.Array) -> tuple[jax.Array, ...]:
    """Cast the arrays to their common dtype (JAX's standard rule, made explicit).

    Boolean arrays take part as the other operands' dtype, so a boolean label array
    never widens a float computation.
    """
    dtypes = [a.dtype for a in arrays if a.dtype != jnp.bool_]
    dtype = numerics.common_dtype(*dtypes) if dtypes else jnp.dtype(jnp.bool_)
    return tuple(a.astype(dtype) for a in arrays)


def broadcast(fn: str, **arrays: jax.Array) -> tuple[jax.Array, ...]:
    """Broadcast the arrays to one shape, which must already be the shape of one of them.

    A pair such as ``(3,)`` and ``(3, 1)`` would silently broadcast to ``(3, 3)``; that is
    almost always a bug, so it raises instead. Shapes that broadcast *to* one of the
    inputs (a scalar target, per-class label weights shared by the batch) are accepted.

    Raises:
      ValueError: naming ``fn`` and every argument's shape.
    """
    shapes = {name: tuple(np.shape(a)) for name, a in arrays.items()}
    described = ", ".join(f"{name}.shape={shape}" for name, shape in shapes.items())
    try:
        shape = np.broadcast_shapes(*shapes.values())
    except ValueError:
        raise ValueError(f"{fn}: incompatible shapes {described}") from None
    if shape not in shapes.values():
        raise ValueError(
            f"{fn}: shapes {described} would silently broadcast to {shape}; "
            "make the shapes equal (or broadcastable to one of them) explicitly"
        )
    return tuple(jnp.broadcast_to(a, shape) for a in arrays.values())


def canonical_axes(fn: str, axis: Any, ndim: int) -> tuple[int, ...]:
    """``axis`` (an int, a tuple of ints or ``None`` for all) as sorted non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    items = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for item in items:
        try:
            a = operator.index(item)
        except TypeError:
            raise TypeError(
                f"{fn}(axis={axis!r}): axis must be an int, a tuple of ints or None"
            ) from None
        if not -ndim <= a < ndim:
            raise ValueError(f"{fn}(axis={axis!r}): axis {a} is out of range for rank {ndim}")
        out.append(a % ndim if ndim else a)
    if len(set(out)) != len(out):
        raise ValueError(f"{fn}(axis={axis!r}): repeated axis")
    return tuple(out)


def where_mask(fn: str, where: Any, shape: tuple[int, ...], axes: tuple[int, ...]):
    """A boolean mask of ``shape`` from ``where`` (``None``, full-rank, or reduced-rank).

    A ``where`` with fewer dimensions than ``shape`` is taken to lack the reduced
    ``axes`` (one mask entry per row), as Optax does for its cross-entropies.
    """
    if where is None:
        return None
    where = jnp.asarray(where).astype(bool)
    full = where
    if where.ndim != len(shape) and where.ndim == len(shape) - len(axes):
        full = jnp.expand_dims(where, axes)
    try:
        ok = np.broadcast_shapes(full.shape, shape) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{fn}: where.shape={where.shape} fits neither the input shape {tuple(shape)} "
            f"nor that shape without the reduced axes {axes}"
        )
    return jnp.broadcast_to(full, shape)


def broadcast_to_shape(fn: str, name: str, x: jax.Array, shape: tuple[int, ...]):
    """``x`` broadcast to ``shape``, with a ``ValueError`` if that would change ``shape``."""
    try:
        ok = np.broadcast_shapes(np.shape(x), shape) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{fn}: {name}.shape={np.shape(x)} does not broadcast to {tuple(shape)}")
    return (jnp.broadcast_to(x, shape),)


def safe_log(x: jax.Array) -> jax.Array:
    """``log(x)`` where ``x > 0`` and ``0`` elsewhere, with a finite gradient everywhere."""
    positive = x > 0
    return jnp.where(positive, jnp.log(jnp.where(positive, x, jnp.ones_like(x))), 0)


def shifted_and_log_total(x: jax.Array, axis: tuple[int, ...], where: jax.Array | None):
    """``(x - m, log(sum(exp(x - m))))``, the sum over ``axis`` (kept) and ``where``.

    ``m`` is the maximum over the selected entries; ``x - m`` is returned for all
    entries, masked or not. Returning the two parts separately keeps
    ``log_softmax = shifted - log_total`` exact at the maximum even for huge logits
    (forming ``logsumexp`` first and subtracting it loses the low bits). An empty
    selection gives ``log_total = -inf`` with a zero, not a NaN, gradient.
    """
    selected = x if where is None else jnp.where(where, x, -jnp.inf)
    peak = jax.lax.stop_gradient(jnp.max(selected, axis=axis, keepdims=True))
    peak = jnp.where(jnp.isfinite(peak), peak, jnp.zeros_like(peak))
    total = jnp.sum(jnp.exp(selected - peak), axis=axis, keepdims=True)
    nonzero = total > 0
    log_total = jnp.log(jnp.where(nonzero, total, jnp.ones_like(total)))
    return x - peak, jnp.where(nonzero, log_total, -jnp.inf)


def along_axes(
    fn: str, axis: Any, **arrays: jax.Array
) -> tuple[tuple[int, ...], tuple[jax.Array, ...]]:
    """Arrays reduced together over ``axis``: full sizes along ``axis``, no silent spread.

    Shapes are aligned on the right, as in NumPy broadcasting, and must broadcast to one
    of them (see `broadcast`). Along the reduced axes, every array must have the full
    size: labels of shape ``[batch, 1]`` against logits ``[batch, classes]`` would
    otherwise be silently spread over the classes. Other axes may broadcast, so target
    distributions ``[classes]`` shared by a batch stay valid, as in Optax.

    Returns:
      The canonical axes (for the common rank) and the arrays broadcast to their common
      shape.
    """
    out = broadcast(fn, **arrays)
    shape = out[0].shape
    axes = canonical_axes(fn, axis, len(shape))
    for name, a in arrays.items():
        offset = len(shape) - np.ndim(a)
        if any(i < offset or np.shape(a)[i - offset] != shape[i] for i in axes):
            raise ValueError(
                f"{fn}: {name}.shape={np.shape(a)} must have the full size along "
                f"axis={axis!r} (the reduced axes), i.e. match {shape} there"
            )
    return axes, out
