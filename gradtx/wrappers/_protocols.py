"""The type of ``MultiSteps``'s ``should_skip_update_fn``."""

from __future__ import annotations

from typing import Any, Protocol

import jax

from gradtx.core import Params, Updates

__all__ = ["ShouldSkipUpdateFunction"]


class ShouldSkipUpdateFunction(Protocol):
    """``fn(updates, gradient_step, params) -> (skip, skip_state)`` for `MultiSteps`.

    `skip_not_finite` and `skip_large_updates` have this type.

    Args:
      updates: the proposed updates.
      gradient_step: the current gradient step (``MultiStepsState.gradient_step``).
      params: the current params, or ``None``.

    Returns:
      ``(skip, skip_state)``: a boolean scalar (true: drop this step's updates) and any
      tree, kept in ``MultiStepsState.skip_state``.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> fn: gradtx.ShouldSkipUpdateFunction = gradtx.skip_not_finite
      >>> skip, _ = fn({"w": jnp.array([jnp.nan])}, jnp.array(0), None)
      >>> bool(skip)
      True
    """

    def __call__(
        self, updates: Updates, gradient_step: jax.Array, params: Params | None
    ) -> tuple[jax.Array, Any]: ...
