"""Applying updates to parameters."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gradtx.core._base import Params, Updates
from gradtx.core.structure import is_none


def apply_updates(params: Params, updates: Updates) -> Params:
    """Return ``params + updates``; each result keeps its parameter's dtype.

    ``None`` in ``updates`` (or ``params``) leaves that parameter unchanged.

    Args:
      params: the parameter tree.
      updates: a tree of the same structure (as returned by ``update``).

    Returns:
      The new parameters.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.apply_updates({"w": jnp.ones(2)}, {"w": jnp.full(2, -0.25)})["w"].tolist()
      [0.75, 0.75]
    """

    def add(p, u):
        if p is None or u is None:
            return p
        p = jnp.asarray(p)
        return (p + u.astype(p.dtype)).astype(p.dtype)

    return jax.tree.map(add, params, updates, is_leaf=is_none)


def incremental_update(new_tensors: Params, old_tensors: Params, step_size: float) -> Params:
    """Polyak-style ``step_size * new + (1 - step_size) * old`` per leaf.

    Args:
      new_tensors: the latest values.
      old_tensors: the running values.
      step_size: weight of ``new_tensors`` in ``[0, 1]``.

    Returns:
      The blended tree, each leaf in the dtype of ``old_tensors``; a ``None`` leaf (or a
      ``None`` tree) of ``new_tensors`` gives ``None``, as in Optax.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.incremental_update(None, {"w": jnp.ones(2)}, 1.0) is None
      True
      >>> new, old = {"w": jnp.array([1.0, 2.0])}, {"w": jnp.array([0.0, 0.0])}
      >>> gradtx.incremental_update(new, old, step_size=0.25)["w"].tolist()
      [0.25, 0.5]
    """
    return jax.tree.map(
        lambda n, o: None if n is None else (step_size * n + (1.0 - step_size) * o).astype(o.dtype),
        new_tensors,
        old_tensors,
        is_leaf=is_none,
    )
