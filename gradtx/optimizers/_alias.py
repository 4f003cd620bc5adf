"""The shape every optimizer alias shares (internal): check, then chain the parts.

An alias such as ``adamw`` is ``chain(scale_by_adam(...), add_decayed_weights(weight_decay,
mask), scale_by_learning_rate(learning_rate))`` plus construction-time checks whose
messages name the alias. `alias` does both, so that each alias only says which parts go
where, and the checks and the weight-decay / learning-rate pieces are written once.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, NamedTuple

from gradtx.core import GradientTransformation, GradientTransformationExtraArgs, chain, validate
from gradtx.core.masks import check as check_mask
from gradtx.transforms import add_decayed_weights, scale_by_learning_rate


class _Marker(enum.Enum):
    LR = "scale_by_learning_rate(learning_rate)"


LR = _Marker.LR  # the part that scales by the alias's learning rate


class Decay(NamedTuple):
    """The part ``add_decayed_weights(weight_decay, mask)``; left out when ``weight_decay``
    is ``None``.

    Attributes:
      weight_decay: checked to be >= 0 under the alias's name (schedules pass).
      mask: the weight-decay mask.
      mask_arg: the mask's argument name in the alias: when given, its kind is checked
        under the alias's name; when ``None``, `add_decayed_weights` checks it under its
        own.
      arg: the weight decay's argument name in the alias, for the message.
    """

    weight_decay: Any
    mask: Any = None
    mask_arg: str | None = None
    arg: str = "weight_decay"


def alias(
    fn: str,
    learning_rate: Any,
    *parts: Callable[[], GradientTransformation] | Decay | _Marker,
    **decays: Any,
) -> GradientTransformation:
    """Check the hyperparameters the aliases share under ``fn``'s name, then chain ``parts``.

    Args:
      fn: the public alias's name, for the messages.
      learning_rate: checked to be finite (schedules and ``None`` pass); `LR` scales by it.
      *parts: the chain, in order: each a zero-argument callable building a transform
        (called after every check, so that a bad value is reported under ``fn``), a
        `Decay`, or the marker `LR`.
      **decays: moment decays, each checked to be in [0, 1) (``None`` passes).

    Returns:
      ``chain(*built parts)``. When a `Decay` comes first it maps over ``(updates,
      params)`` before any stateful part has checked the update tree, so ``update`` then
      checks the updates against the params itself (`TreeMismatchError` naming ``fn``).
    """
    validate.finite(fn, learning_rate=learning_rate)
    validate.decay(fn, **decays)
    for part in parts:
        if isinstance(part, Decay):
            validate.non_negative(fn, **{part.arg: part.weight_decay})
            if part.mask_arg is not None:
                check_mask(fn, part.mask, part.mask_arg)
    built = []
    for part in parts:
        if isinstance(part, Decay):
            if part.weight_decay is not None:
                built.append(add_decayed_weights(part.weight_decay, part.mask))
        elif part is LR:
            built.append(scale_by_learning_rate(learning_rate))
        else:
            built.append(part())
    tx = chain(*built)
    if not (parts and isinstance(parts[0], Decay)):
        return tx

    def update_fn(updates, state, params=None, **extra_args):
        validate.require_params(fn, params)
        validate.tree_match(fn, updates, params, what="params")
        return tx.update(updates, state, params, **extra_args)

    return GradientTransformationExtraArgs(tx.init, update_fn)
