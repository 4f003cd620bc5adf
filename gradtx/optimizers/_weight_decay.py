"""The two weight-decay pieces several aliases share (internal).

An alias with a weight decay is written as its literal chain, for example::

    chain(scale_by_adam(...), *maybe_add_decayed_weights(weight_decay, mask),
          scale_by_learning_rate(learning_rate))

`maybe_add_decayed_weights` leaves the decay out when ``weight_decay`` is ``None``;
`checking_params` guards a chain that *starts* with the decay.
"""

from __future__ import annotations

from typing import Any

from gradtx.core import GradientTransformation, GradientTransformationExtraArgs, validate
from gradtx.transforms import add_decayed_weights


def maybe_add_decayed_weights(weight_decay: Any, mask: Any) -> tuple[GradientTransformation, ...]:
    """``(add_decayed_weights(weight_decay, mask),)``, or ``()`` when ``weight_decay`` is ``None``.

    Unpacked into a ``chain(...)`` with ``*``, at the place the decay acts.
    """
    return () if weight_decay is None else (add_decayed_weights(weight_decay, mask),)


def checking_params(fn: str, tx: GradientTransformation) -> GradientTransformationExtraArgs:
    """``tx`` whose ``update`` first checks the updates against the params under ``fn``'s name.

    For a chain that begins with `add_decayed_weights`: the decay maps over ``(updates,
    params)`` before any stateful part has checked the update tree, so a mismatch
    raises `TreeMismatchError` naming the alias instead of a bare tree-map error.
    """

    def update_fn(updates, state, params=None, **extra_args):
        validate.require_params(fn, params)
        validate.tree_match(fn, updates, params, what="params")
        return tx.update(updates, state, params, **extra_args)

    return GradientTransformationExtraArgs(tx.init, update_fn)
