"""Low-memory optimizer state: `quantized_state` keeps a transform's moments in 8 bits.

Each large floating leaf of the wrapped transform's state is stored block-wise: the
flattened leaf is cut into blocks of ``block_size`` elements, each block keeps its
absolute maximum as a float32 scale, and every element keeps one byte, the index of
the nearest value of a 256-entry *dynamic* code book (Dettmers et al. 2022) applied to
``x / scale``. The code book of a block is chosen from the block's data when it is
stored: a block whose values are all ``>= 0`` (every block of a second moment) uses the
unsigned map, any other block (a first moment) the signed one.

The dynamic code books spend their bits like a floating-point number with a variable
split between exponent and mantissa. Reading the magnitude bits from the top, the
number :math:`e` of leading zeros selects the decade :math:`10^{-e}`, the first one bit
is an indicator, and the :math:`F - 1 - e` bits after it (``F = 7`` magnitude bits
signed, ``8`` unsigned) pick one of :math:`k_e = 2^{F-1-e}` evenly spaced values:

.. math::
    q_{e,j} = 10^{-e} \\left(0.1 + 0.9\\, \\tfrac{j}{k_e}\\right), \\qquad j = 1..k_e,

plus zero (and the negatives for the signed map). Large values, which dominate the
update, get the most fraction bits (relative step 0.9/64 in the top decade signed,
0.9/128 unsigned), while values down to :math:`10^{-6}` (signed) and :math:`10^{-7}`
(unsigned) of the block's maximum stay representable. Codes are indices into the
sorted code book; the nearest one is computed from the decade and the fraction.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gradtx.core import GradientTransformation, OptState, numerics, validate

__all__ = ["QuantizedArray", "QuantizedState", "quantized_state"]

_CODES = 256  # entries per code book (8 bits)


def _dynamic_map(signed: bool) -> np.ndarray:
    """The sorted 256-entry dynamic code book on [-1, 1] (signed) or [0, 1] (unsigned)."""
    magnitude_bits = 7 if signed else 8
    positive = []
    for e in range(magnitude_bits):
        k = 2 ** (magnitude_bits - 1 - e)
        positive.append((0.1 + 0.9 * np.arange(1, k + 1) / k) * 10.0**-e)
    magnitudes = np.concatenate(positive)
    if signed:
        # 127 magnitudes of each sign and zero make 255 values; zero is listed twice.
        values = np.concatenate([-magnitudes, [0.0, 0.0], magnitudes])
    else:
        values = np.concatenate([[0.0], magnitudes])
    assert values.size == _CODES
    return np.sort(values).astype(np.float32)


# Rows 0..255: the unsigned map; rows 256..511: the signed map.
_UNSIGNED = _dynamic_map(signed=False)
_SIGNED = _dynamic_map(signed=True)
_TABLES = np.concatenate([_UNSIGNED, _SIGNED])
# 10**-d for the decades d = 0..7, rounded as the code books round them.
_POWERS = (10.0 ** -np.arange(8)).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class QuantizedArray:
    """One state leaf stored block-wise in 8 bits (a pytree node; see `quantized_state`).

    Attributes:
      codes: uint8, shape ``(blocks, block_size)``: per element, the index of its value in
        the block's code book (the flattened leaf, zero-padded to whole blocks).
      scale: float32, shape ``(blocks,)``: each block's absolute maximum.
      signed: bool, shape ``(blocks,)``: whether the block uses the signed code book
        (it holds a negative value) or the unsigned one.
      shape: the original leaf's shape (static).
      dtype: the original leaf's dtype (static).

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> x = jnp.array([1.0, -0.5, 0.25, 0.0, 3.0, 0.1])
      >>> q = jax.jit(gradtx.QuantizedArray.quantize, static_argnums=1)(x, 4)  # block_size=4
      >>> q.codes.shape, q.codes.dtype, q.scale.tolist(), q.signed.tolist()
      ((2, 4), dtype('uint8'), [1.0, 3.0], [True, False])
      >>> x_back = jax.jit(gradtx.QuantizedArray.dequantize)(q)
      >>> [round(v, 2) for v in x_back.tolist()]  # close to x, within 8-bit precision
      [1.0, -0.49, 0.25, 0.0, 3.0, 0.1]
    """

    codes: jax.Array
    scale: jax.Array
    signed: jax.Array
    shape: tuple[int, ...] = dataclasses.field(metadata={"static": True})
    dtype: Any = dataclasses.field(metadata={"static": True})

    @classmethod
    def quantize(cls, x: jax.Array, block_size: int = 256) -> QuantizedArray:
        """Store ``x`` block-wise with a per-block absmax scale and 8-bit dynamic codes.

        Every nonzero element of an all-nonnegative block decodes to a nonzero value (the
        smallest code rounds up), so a stored second moment never turns into a zero
        divisor.

        Args:
          x: a real floating array (any shape, any number of elements).
          block_size: elements per block, a positive integer. Default 256.

        Returns:
          The `QuantizedArray`; ``.dequantize()`` gives an array like ``x`` back.
        """
        x = jnp.asarray(x)
        dtype = numerics.compute_dtype(x.dtype)
        n = x.size
        blocks = max(-(-n // block_size), 1)
        flat = jnp.pad(x.reshape(-1).astype(dtype), (0, blocks * block_size - n))
        flat = flat.reshape(blocks, block_size)
        scale = jnp.max(jnp.abs(flat), axis=1).astype(jnp.float32)
        signed = jnp.any(flat < 0, axis=1)
        divisor = jnp.where(scale > 0, scale, jnp.ones_like(scale)).astype(dtype)
        y = jnp.clip(flat / divisor[:, None], -1.0, 1.0).astype(jnp.float32)
        codes = _nearest_code(y, signed[:, None])
        return cls(codes, scale, signed, tuple(x.shape), jnp.dtype(x.dtype))

    def dequantize(self) -> jax.Array:
        """The stored array, decoded in float32 (or wider) and cast to its original dtype.

        Returns:
          An array of shape ``self.shape`` and dtype ``self.dtype``.
        """
        dtype = numerics.compute_dtype(self.dtype)
        rows = self.codes.astype(jnp.int32) + _CODES * self.signed.astype(jnp.int32)[:, None]
        values = jnp.asarray(_TABLES)[rows].astype(dtype) * self.scale.astype(dtype)[:, None]
        n = int(np.prod(self.shape, dtype=np.int64))
        return values.reshape(-1)[:n].reshape(self.shape).astype(self.dtype)


jax.tree_util.register_dataclass(
    QuantizedArray, data_fields=["codes", "scale", "signed"], meta_fields=["shape", "dtype"]
)


def _nearest_code(y: jax.Array, signed: jax.Array) -> jax.Array:
    """Index of the code-book entry nearest to each ``y`` in ``[-1, 1]``, as uint8.

    Computed from the code book's structure rather than searched: the decade
    :math:`e` of :math:`|y|` (the count of powers :math:`10^{-d}` it does not exceed,
    capped at the last decade), then the nearest of that decade's :math:`k_e` evenly
    spaced values, whose ``j = 0`` is the top of the next decade down. In the last decade
    (one value) the choice is between it and zero. ``signed`` (broadcastable to ``y``)
    selects each element's code book.
    """
    a = jnp.abs(y)
    last = jnp.where(signed, 6, 7)  # the last decade: F - 1 for F magnitude bits
    decade = jnp.zeros(a.shape, jnp.int32)
    power = jnp.ones(a.shape, jnp.float32)  # 10**decade
    signed = jnp.broadcast_to(signed, a.shape)
    for d in range(1, 8):  # powers decrease, so the deepest decade reached wins
        deeper = (a <= _POWERS[d]) & (d <= last)
        decade = jnp.where(deeper, d, decade)
        power = jnp.where(deeper, np.float32(10.0**d), power)
    levels = jnp.left_shift(1, last - decade)  # k_e
    frac = a * power  # in (0.1, 1] inside decade e
    j = jnp.round((frac - 0.1) * (levels.astype(jnp.float32) / 0.9)).astype(jnp.int32)
    j = jnp.clip(j, 0, levels)
    j = jnp.where(decade == last, (frac >= 0.5).astype(jnp.int32), j)
    # Position among the sorted magnitudes (0 = zero, then smallest first).
    magnitude = levels - 1 + j
    unsigned = jnp.where((magnitude == 0) & (a > 0), 1, magnitude)
    half = _CODES // 2
    signed_index = jnp.where(y < 0, half - 1 - magnitude, half + magnitude)
    return jnp.where(signed, signed_index, unsigned).astype(jnp.uint8)


class QuantizedState(NamedTuple):
    """State of `quantized_state`.

    Attributes:
      inner_state: the wrapped transform's state, each large floating leaf replaced by
        a `QuantizedArray`.
    """

    inner_state: OptState


def _is_quantized(x: Any) -> bool:
    return isinstance(x, QuantizedArray)


def quantized_state(
    inner: GradientTransformation, bits: int = 8, block_size: int = 256
) -> GradientTransformation:
    r"""Keep ``inner``'s floating state in block-wise 8-bit codes (about 4x less memory).

    Every floating leaf of ``inner``'s state with at least ``block_size`` elements (Adam's
    ``mu`` and ``nu``, momentum buffers ...) is stored as a `QuantizedArray`: per block of
    ``block_size`` elements, a float32 absolute maximum :math:`s_b` and one byte per
    element, the nearest entry of a dynamic code book :math:`Q` (module docs),

    .. math::
        \mathrm{code}_i = \arg\min_j |Q_j - x_i / s_b|, \qquad
        \tilde x_i = s_b\, Q_{\mathrm{code}_i}.

    Blocks holding only values :math:`\ge 0` (second moments) use the unsigned map, whose
    smallest nonzero entry is :math:`10^{-7} s_b` and to which no positive value rounds
    to zero; other blocks use the signed map. Smaller leaves, integer counters and
    complex leaves are kept as they are. Each ``update`` decodes the state (in float32,
    cast back to the leaf's dtype), runs ``inner.update`` on it, and re-encodes the new
    state, so the update math is ``inner``'s, applied to moments carrying a relative
    rounding error of at most about 0.4% (large entries) to a few percent (entries
    several decades below their block's maximum).

    Memory: :math:`1 + 5/\text{block\_size}` bytes per stored element instead of 4
    (float32), so Adam's state shrinks to about 0.26x. The decoded state exists only
    inside ``update``. Block layout flattens each leaf, so a stored leaf does not keep
    the parameter's sharding. Time: every step decodes and re-encodes the moments (on
    two CPU cores, an Adam step on 4M parameters took about 4x as long), so use it
    where memory, not step time, is the limit.

    Args:
      inner: the transform whose state to compress.
      bits: bits per stored element; only 8 is supported. Default 8.
      block_size: elements per block (one float32 scale each), a positive integer;
        leaves smaller than this are stored unquantized. Default 256.

    Returns:
      A `GradientTransformation` with `QuantizedState`; its updates are ``inner``'s
      (same dtypes).

    Raises:
      TypeError: if ``inner`` is not a transform, or ``bits`` / ``block_size`` are not
        integers.
      ValueError: if ``bits != 8`` or ``block_size < 1``.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.quantized_state(gradtx.adam(0.01), block_size=4)
      >>> params = jnp.linspace(-1.0, 1.0, 8)
      >>> state = tx.init(params)
      >>> updates, state = tx.update(params, state)
      >>> updates.round(3).tolist()
      [0.01, 0.01, 0.01, 0.01, -0.01, -0.01, -0.01, -0.01]
      >>> nu = state.inner_state[0].nu
      >>> nu.codes.dtype.name, nu.codes.shape, nu.signed.tolist()
      ('uint8', (2, 4), [False, False])
      >>> (nu.dequantize() / (0.001 * params**2)).round(2).tolist()
      [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]

    References:
      Dettmers et al., "8-bit Optimizers via Block-wise Quantization", ICLR 2022,
      https://arxiv.org/abs/2110.02861
    """
    fn = "quantized_state"
    inner = validate.transform(fn, "inner", inner)
    validate.integer(fn, "bits", bits, 1)
    validate.integer(fn, "block_size", block_size, 1)
    if bits != 8:
        raise ValueError(f"{fn}(bits={bits!r}): bits must be 8 (the only supported width)")
    block_size = int(block_size)

    def compressible(leaf: Any) -> bool:
        return (
            hasattr(leaf, "dtype")
            and jnp.issubdtype(leaf.dtype, jnp.floating)
            and int(np.prod(jnp.shape(leaf), dtype=np.int64)) >= block_size
        )

    def encode(leaf):
        return QuantizedArray.quantize(leaf, block_size) if compressible(leaf) else leaf

    def decode(leaf):
        return leaf.dequantize() if _is_quantized(leaf) else leaf

    def init_fn(params):
        return QuantizedState(jax.tree.map(encode, inner.init(params)))

    def update_fn(updates, state, params=None, **extra_args):
        stored = state.inner_state
        inner_state = jax.tree.map(decode, stored, is_leaf=_is_quantized)
        new_updates, new_inner = inner.update(updates, inner_state, params, **extra_args)

        def re_encode(old, new):
            if _is_quantized(old):
                return QuantizedArray.quantize(jnp.asarray(new).astype(old.dtype), block_size)
            return new

        new_stored = jax.tree.map(re_encode, stored, new_inner, is_leaf=_is_quantized)
        return new_updates, QuantizedState(new_stored)

    return GradientTransformation(init_fn, update_fn)
