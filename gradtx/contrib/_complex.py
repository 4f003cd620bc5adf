"""Run a real-valued transform on complex parameters as (real, imaginary) pairs."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx.core._base import GradientTransformation, OptState

__all__ = ["SplitRealAndImaginaryState", "split_real_and_imaginary"]


class SplitRealAndImaginaryArrays(NamedTuple):
    real: Any
    imaginary: Any


class SplitRealAndImaginaryState(NamedTuple):
    """State of `split_real_and_imaginary`.

    Attributes:
      inner_state: the inner transform's state over the split tree.
    """

    inner_state: OptState


def _split(x: Any) -> Any:
    return SplitRealAndImaginaryArrays(x.real, x.imag) if jnp.iscomplexobj(x) else x


def _join(x: Any) -> Any:
    if isinstance(x, SplitRealAndImaginaryArrays):
        return jax.lax.complex(x.real, x.imaginary)
    return x


def split_real_and_imaginary(inner: GradientTransformation) -> GradientTransformation:
    """Apply ``inner`` to the real and imaginary parts of complex leaves as separate leaves.

    Each complex leaf ``z`` becomes the pair ``(z.real, z.imag)`` for ``inner`` (so, e.g.,
    Adam's second moment is kept per part, not as :math:`|z|^2`), and the two parts of
    the update are joined back into a complex leaf; real leaves pass as they are.

    Args:
      inner: the transform to run on the split tree.

    Returns:
      A `GradientTransformation` with `SplitRealAndImaginaryState`.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.split_real_and_imaginary(gradtx.scale_by_sign())
      >>> z = jnp.array([3.0 - 0.5j])
      >>> u, _ = tx.update(z, tx.init(z))
      >>> complex(u[0])
      (1-1j)
    """

    def init_fn(params):
        return SplitRealAndImaginaryState(inner.init(jax.tree.map(_split, params)))

    def update_fn(updates, state, params=None, **extra_args):
        split_params = None if params is None else jax.tree.map(_split, params)
        new, inner_state = inner.update(
            jax.tree.map(_split, updates), state.inner_state, split_params, **extra_args
        )
        new = jax.tree.map(_join, new, is_leaf=lambda x: isinstance(x, SplitRealAndImaginaryArrays))
        return new, SplitRealAndImaginaryState(inner_state)

    return GradientTransformation(init_fn, update_fn)
