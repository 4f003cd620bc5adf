"""Complex parameters as pairs of real ones: ``split_real_and_imaginary``."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx.core import GradientTransformation, OptState, numerics

__all__ = ["SplitRealAndImaginaryArrays", "SplitRealAndImaginaryState", "split_real_and_imaginary"]


class SplitRealAndImaginaryArrays(NamedTuple):
    """The two real halves of a complex leaf, as the inner transformation sees them.

    Attributes:
      real: the real part.
      imaginary: the imaginary part.
    """

    real: Any
    imaginary: Any


class SplitRealAndImaginaryState(NamedTuple):
    """State of `split_real_and_imaginary`.

    Attributes:
      inner_state: the inner transformation's state (over the split tree).
    """

    inner_state: OptState


def _split(x: Any) -> Any:
    if x is not None and jnp.iscomplexobj(x):
        return SplitRealAndImaginaryArrays(jnp.real(x), jnp.imag(x))
    return x


def _is_pair(x: Any) -> bool:
    return isinstance(x, SplitRealAndImaginaryArrays)


def _merge(new: Any, like: Any) -> Any:
    """The pair ``new`` back as one complex leaf in ``like``'s dtype; other leaves as they are."""
    if not _is_pair(new):
        return new
    dtype = numerics.compute_dtype(numerics.common_dtype(new.real.dtype, new.imaginary.dtype))
    merged = jax.lax.complex(new.real.astype(dtype), new.imaginary.astype(dtype))
    return merged.astype(jnp.result_type(like))


def split_real_and_imaginary(inner: GradientTransformation) -> GradientTransformation:
    r"""Run ``inner`` on the real and imaginary parts of complex leaves as two real leaves.

    Each complex leaf :math:`z = x + i y` of the params and updates becomes the pair
    ``SplitRealAndImaginaryArrays(x, y)`` before ``inner`` sees it; the inner updates
    :math:`(u_x, u_y)` are merged back into :math:`u_x + i u_y` (in the gradient's
    complex dtype). Real leaves pass through unchanged. So an
    optimizer on complex parameters behaves exactly as on the two real parameters
    :math:`x, y` (Adam's second moment, for instance, is kept per half, not of
    :math:`|g|^2`).

    JAX's gradient of a real loss with respect to a complex :math:`z` is
    :math:`\partial f/\partial x - i\,\partial f/\partial y`; conjugate it
    (``jax.tree.map(jnp.conj, grads)``) before ``update`` to descend (Optax issue #196).

    Args:
      inner: the transformation to run on real leaves.

    Returns:
      A `GradientTransformation` with `SplitRealAndImaginaryState`; extra arguments
      are not forwarded (as in Optax).

    Raises:
      TypeError: if ``inner`` is not a `GradientTransformation`.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.split_real_and_imaginary(gradtx.sign_sgd(0.1))
      >>> z = jnp.array([1.0 - 2.0j])
      >>> u, _ = tx.update(z, tx.init(z), z)
      >>> u.tolist()  # each half signed on its own
      [(-0.10000000149011612+0.10000000149011612j)]

    References:
      Optax issue #196, "Complex-valued optimization",
      https://github.com/google-deepmind/optax/issues/196
    """
    fn = "split_real_and_imaginary"
    if not (hasattr(inner, "init") and hasattr(inner, "update")):
        raise TypeError(f"{fn}(inner={inner!r}): inner must be a GradientTransformation")

    def init_fn(params):
        return SplitRealAndImaginaryState(inner.init(jax.tree.map(_split, params)))

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        split_updates = jax.tree.map(_split, updates)
        split_params = None if params is None else jax.tree.map(_split, params)
        new, inner_state = inner.update(split_updates, state.inner_state, split_params)
        new = jax.tree.map(_merge, new, updates, is_leaf=_is_pair)
        return new, SplitRealAndImaginaryState(inner_state)

    return GradientTransformation(init_fn, update_fn)
