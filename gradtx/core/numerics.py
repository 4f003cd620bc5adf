"""Small numerical helpers shared by every package (the implementer's vocabulary).

Public as a module (``gradtx.core.numerics``) so that other packages and third-party
transforms use one implementation; the user-facing names among them are also exported
by ``gradtx.core`` and ``gradtx``.

One home per concept: a hyperparameter kept weak or cast (`as_dtype`,
`is_python_number`, `weak_common_dtype`), the dtype to compute a tree in
(`widest_float_dtype`, `lowest_float_dtype`), ``y + a * x`` on trees (`axpy`). Casting
a tree back to its partner's dtypes is ``gradtx.tree.cast_like``, ``a * x`` on a tree
``gradtx.tree.scale``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

_INT32_MAX = jnp.iinfo(jnp.int32).max


def zero_count() -> jax.Array:
    """A fresh int32 step counter."""
    return jnp.zeros([], jnp.int32)


def safe_increment(count: jax.Array) -> jax.Array:
    """``count + 1`` that saturates at the dtype's maximum instead of wrapping."""
    count = jnp.asarray(count)
    # An array of the count's dtype: a uint32/uint64 maximum does not fit a weak int.
    top = jnp.asarray(jnp.iinfo(count.dtype).max, count.dtype)
    return jnp.where(count < top, count + jnp.asarray(1, count.dtype), top)


def canonicalize_dtype(dtype: Any) -> jnp.dtype | None:
    """``None`` stays ``None``; anything else becomes the dtype JAX will really use."""
    if dtype is None:
        return None
    return jax.dtypes.canonicalize_dtype(dtype)


def compute_dtype(dtype: Any) -> jnp.dtype:
    """The dtype to do arithmetic in: at least float32."""
    return common_dtype(dtype, jnp.float32)


def is_float(x: Any) -> bool:
    """Whether a leaf is an inexact (float or complex) array."""
    return jnp.issubdtype(jnp.result_type(x), jnp.inexact)


def abs_sq(x: jax.Array) -> jax.Array:
    """``|x|**2`` elementwise, real for complex inputs."""
    if jnp.iscomplexobj(x):
        return (x.conj() * x).real
    return x * x


def common_dtype(*dtypes: Any) -> jnp.dtype:
    """JAX's standard promotion of ``dtypes``, whatever the promotion mode in force.

    Library code promotes explicitly with this, so that it also runs when the user has
    set ``jax_numpy_dtype_promotion="strict"``.
    """
    with jax.numpy_dtype_promotion("standard"):
        return jnp.result_type(*(jnp.dtype(d) for d in dtypes))


def promote_add(a: jax.Array, b: jax.Array) -> jax.Array:
    """``a + b`` in the two operands' common dtype (explicit, so strict promotion holds)."""
    dtype = common_dtype(jnp.result_type(a), jnp.result_type(b))
    return jnp.asarray(a).astype(dtype) + jnp.asarray(b).astype(dtype)


def scalar_mul(s: Any, x: jax.Array) -> jax.Array:
    """``s * x`` with JAX's promotion made explicit.

    A Python number is weakly typed and keeps ``x``'s dtype; an array scalar (a traced
    hyperparameter) promotes both operands to their common dtype.
    """
    if isinstance(s, (int, float)):
        return s * x
    s = jnp.asarray(s)
    dtype = common_dtype(s.dtype, jnp.result_type(x))
    return s.astype(dtype) * jnp.asarray(x).astype(dtype)


def update_moment(updates: Any, moments: Any, decay: Any, order: int) -> Any:
    """EMA of the ``order``-th moment: ``(1 - decay) * g**order + decay * m`` per leaf.

    Public as ``gradtx.tree.update_moment`` (Optax's ``tree.update_moment``). Each product
    is formed in its operand's dtype, then the two are added in their common dtype (so a
    bfloat16 moment with float32 gradients accumulates in float32). ``None`` leaves of
    ``updates`` stay ``None``.

    Args:
      updates: the new values ``g`` (a tree).
      moments: the previous moments ``m``, same structure.
      decay: the decay rate in ``[0, 1]``.
      order: the moment's order (1 for the mean, 2 for the uncentred variance).

    Returns:
      The new moments.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> m = gradtx.tree.update_moment({"w": jnp.array([2.0])}, {"w": jnp.array([1.0])}, 0.5, 2)
      >>> m["w"].tolist()  # 0.5 * 4 + 0.5 * 1
      [2.5]
    """

    def one(g, m):
        if g is None:
            return None
        return promote_add(scalar_mul(1 - decay, g**order), scalar_mul(decay, m))

    return jax.tree.map(one, updates, moments, is_leaf=lambda x: x is None)


def _orderth_norm(g: jax.Array, order: Any) -> jax.Array:
    if order == 2:
        return abs_sq(g)
    if jnp.isrealobj(g):
        return g**order
    half = order / 2
    return abs_sq(g) ** (int(half) if float(half).is_integer() else half)


def update_moment_per_elem_norm(updates: Any, moments: Any, decay: Any, order: int) -> Any:
    """EMA of the ``order``-th power of each element's modulus.

    ``(1 - decay) * |g|**order + decay * m`` per leaf; as in Optax a real ``g`` is raised
    as it is (``g**order``, so an odd order keeps the sign), a complex one through
    ``|g|**2``. Public as ``gradtx.tree.update_moment_per_elem_norm``.

    Args:
      updates: the new values ``g`` (a tree; ``None`` leaves stay ``None``).
      moments: the previous moments, same structure.
      decay: the decay rate in ``[0, 1]``.
      order: the power.

    Returns:
      The new moments.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> g, m = {"z": jnp.array([3 + 4j])}, {"z": jnp.array([0.0])}
      >>> gradtx.tree.update_moment_per_elem_norm(g, m, 0.5, 2)["z"].tolist()  # 0.5 * 25
      [12.5]
    """

    def one(g, m):
        if g is None:
            return None
        return promote_add(scalar_mul(1 - decay, _orderth_norm(g, order)), scalar_mul(decay, m))

    return jax.tree.map(one, updates, moments, is_leaf=lambda x: x is None)


def update_infinity_moment(updates: Any, moments: Any, decay: Any, eps: Any) -> Any:
    """The decayed infinity norm ``max(|g| + eps, decay * m)`` per leaf (Adamax's ``u``).

    Public as ``gradtx.tree.update_infinity_moment``; ``None`` leaves stay ``None``.

    Args:
      updates: the new values ``g``.
      moments: the previous values ``m``, same structure.
      decay: the decay rate in ``[0, 1]``.
      eps: added to ``|g|``.

    Returns:
      The new moments.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> g, m = {"w": jnp.array([-1.0, 0.1])}, {"w": jnp.array([0.5, 2.0])}
      >>> gradtx.tree.update_infinity_moment(g, m, 0.5, 0.0)["w"].tolist()
      [1.0, 1.0]
    """

    def one(g, m):
        if g is None:
            return None
        size = jnp.abs(g)
        bound = size + eps if isinstance(eps, (int, float)) else promote_add(size, eps)
        return jnp.maximum(bound, scalar_mul(decay, m))

    return jax.tree.map(one, updates, moments, is_leaf=lambda x: x is None)


def bias_correction(moment: Any, decay: Any, count: jax.Array) -> Any:
    """``moment / (1 - decay**count)`` per leaf, a no-op as ``count`` grows.

    The factor is computed in float32 (or wider), then cast to each moment's dtype, so a
    bfloat16 moment stays bfloat16 without ``decay**count`` rounding to 1. Public as
    ``gradtx.tree.bias_correction``.

    Args:
      moment: the moments (a tree).
      decay: the decay rate used to accumulate them.
      count: the number of accumulated steps (an integer array).

    Returns:
      The corrected moments.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> m = gradtx.tree.bias_correction({"w": jnp.array([0.1])}, 0.9, jnp.asarray(1))
      >>> m["w"].round(4).tolist()  # 0.1 / (1 - 0.9)
      [1.0]
    """
    decay = jnp.asarray(decay)
    dtype = compute_dtype(decay.dtype)
    correction = 1 - decay.astype(dtype) ** jnp.asarray(count).astype(dtype)
    return jax.tree.map(lambda t: t / correction.astype(t.dtype), moment)


def safe_norm(
    x: jax.Array, min_norm: Any, ord: Any = None, axis: Any = None, keepdims: bool = False
):
    """``max(||x||, min_norm)`` whose gradient is finite (zero) where ``||x|| <= min_norm``."""
    norm = jnp.linalg.norm(x, ord=ord, axis=axis, keepdims=True)
    small = norm <= min_norm
    safe_x = jnp.where(small, jnp.ones_like(x), x)
    masked = jnp.where(small, min_norm, jnp.linalg.norm(safe_x, ord=ord, axis=axis, keepdims=True))
    return masked if keepdims else jnp.squeeze(masked, axis=axis)


def safe_root_mean_squares(x: jax.Array, min_rms: Any) -> jax.Array:
    """``max(rms(x), min_rms)`` with a finite gradient everywhere."""
    rms = jnp.sqrt(jnp.mean(abs_sq(x)))
    x = jnp.where(rms <= min_rms, jnp.ones_like(x), x)
    return jnp.where(rms <= min_rms, min_rms, jnp.sqrt(jnp.mean(abs_sq(x))))


def is_python_number(x: Any) -> bool:
    """Whether ``x`` is a Python ``int`` or ``float`` (not a ``bool``): a weakly typed
    scalar, which takes the dtype of the array it meets."""
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def as_dtype(value: Any, dtype: Any) -> Any:
    """A hyperparameter for arithmetic with leaves of ``dtype``: a Python number stays
    weakly typed (it never promotes a bfloat16 leaf), an array is cast to ``dtype``."""
    if is_python_number(value):
        return value
    return jnp.asarray(value).astype(dtype)


def weak_common_dtype(*operands: Any) -> jnp.dtype:
    """The dtype JAX's standard promotion gives ``operands``, Python numbers being weak.

    Arrays and traced hyperparameters take part; Python numbers do not (they never widen
    a bfloat16 leaf, exactly as under standard promotion).
    """
    return common_dtype(*(jnp.result_type(x) for x in operands if not is_python_number(x)))


def _float_leaf_dtypes(tree: Any) -> list[jnp.dtype]:
    dtypes = (jnp.result_type(x) for x in jax.tree.leaves(tree))
    return [d for d in dtypes if jnp.issubdtype(d, jnp.inexact)]


def widest_float_dtype(tree: Any, *, real: bool = False) -> jnp.dtype:
    """The dtype for arithmetic on a whole tree: its floating leaves' common dtype, at
    least float32 (integer and boolean leaves do not count; an empty tree gives float32).

    A complex leaf makes the result complex unless ``real``, which gives the matching
    real dtype (the dtype of a step size, a loss value or a norm).
    """
    dtype = common_dtype(jnp.float32, *_float_leaf_dtypes(tree))
    return jnp.finfo(dtype).dtype if real else dtype


def lowest_float_dtype(tree: Any) -> jnp.dtype:
    """The real floating dtype with the fewest bits among the leaves (the first of a
    tie), the first leaf's dtype when none is floating, float32 for an empty tree.

    Unlike ``gradtx.tree.dtype(tree, "lowest")``, integer leaves do not count and
    float16 with bfloat16 is no error. Optax keeps the scalar state of its
    learning-rate-free methods in this dtype.
    """
    dtypes = [jnp.result_type(x) for x in jax.tree.leaves(tree)]
    floats = [d for d in dtypes if jnp.issubdtype(d, jnp.floating)]
    if not floats:
        return jnp.dtype(dtypes[0]) if dtypes else jnp.dtype(jnp.float32)
    return min(floats, key=lambda d: jnp.finfo(d).bits)


def axpy(alpha: Any, tree_x: Any, tree_y: Any) -> Any:
    """``y + alpha * x`` per leaf, each leaf keeping ``y``'s dtype.

    Each sum is formed in the common dtype of the two leaves and an array ``alpha`` (a
    Python number stays weakly typed), then rounded once to ``y``'s dtype: a bfloat16
    leaf moved by a float32 step size is computed in float32.
    """

    def one(x: jax.Array, y: jax.Array) -> jax.Array:
        y_dtype = jnp.result_type(y)
        dtype = weak_common_dtype(y, x, alpha)
        a = as_dtype(alpha, dtype)
        return (jnp.asarray(y).astype(dtype) + a * jnp.asarray(x).astype(dtype)).astype(y_dtype)

    return jax.tree.map(one, tree_x, tree_y)


def python_scalars_as_arrays(tree: Any) -> Any:
    """Python numbers among the leaves as weakly typed float (or complex) arrays.

    A gradient leaf given as a plain Python number (``{"a": 1, "b": 2.0}``) then has a
    dtype like every array leaf, and counts as a float gradient, as in Optax.
    """

    def one(x):
        if isinstance(x, bool) or not isinstance(x, (int, float, complex)):
            return x
        return jnp.asarray(complex(x) if isinstance(x, complex) else float(x))

    return jax.tree.map(one, tree)
