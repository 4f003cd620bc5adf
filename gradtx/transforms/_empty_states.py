"""Optax's names for the (empty) states of its stateless transforms.

Each is `EmptyState` itself, as in Optax, so ``isinstance`` checks and state
pattern-matching written for Optax keep working.
"""

from __future__ import annotations

from gradtx.core import EmptyState

__all__ = [
    "AdaptiveGradClipState",
    "AddDecayedWeightsState",
    "ClipByGlobalNormState",
    "ClipState",
    "NonNegativeParamsState",
    "ScaleByTrustRatioState",
    "ScaleState",
]

AdaptiveGradClipState = EmptyState
AddDecayedWeightsState = EmptyState
ClipByGlobalNormState = EmptyState
ClipState = EmptyState
NonNegativeParamsState = EmptyState
ScaleByTrustRatioState = EmptyState
ScaleState = EmptyState
