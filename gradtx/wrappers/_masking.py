"""Masking: transform part of the parameters (`masked`, `multi_transform`, `freeze`)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any, NamedTuple

import jax

from gradtx.core import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    OptState,
    Params,
    masks,
    set_to_zero,
    structure,
    validate,
)

__all__ = [
    "MaskedNode",
    "MaskedState",
    "MultiTransformState",
    "PartitionState",
    "freeze",
    "masked",
    "multi_transform",
    "partition",
]


class MaskedState(NamedTuple):
    """State of `masked`: the inner transform's state, built on the selected leaves only.

    Attributes:
      inner_state: the inner state; masked-out leaves appear as `MaskedNode`.
    """

    inner_state: Any


class MaskedNode(NamedTuple):
    """A placeholder for a masked-out subtree.

    It is a pytree node with no children, so ``jax.tree.map`` skips it: the inner
    transform of `masked` neither sees nor stores anything for those leaves.
    """


def _mask_for(fn: str, mask: Any, tree: Any) -> Any:
    if masks.is_callable(mask):
        out = mask(tree)
        masks.check(fn, out, returned=True)
        return out
    return mask


def _apply_mask(tree: Any, mask_tree: Any) -> Any:
    """Replace every subtree whose mask is false by `MaskedNode` (``mask_tree`` may be a prefix)."""
    return jax.tree.map(lambda m, t: t if bool(m) else MaskedNode(), mask_tree, tree)


def _masked(
    fn: str, inner: GradientTransformation, mask: Any, mask_compatible_extra_args: bool
) -> GradientTransformation:
    def init_fn(params):
        if structure.is_params_placeholder(params):  # tree.map_params tracing the state, as Optax
            return MaskedState(inner_state=inner.init(params))
        mask_tree = _mask_for(fn, mask, params)
        return MaskedState(inner_state=inner.init(_apply_mask(params, mask_tree)))

    def update_fn(updates, state, params=None, **extra_args):
        if params is not None:
            # The mask is applied to both trees; name the mismatch before tree.map does.
            validate.tree_match(fn, updates, params, what="params", shapes=False)
        mask_tree = _mask_for(fn, mask, updates)
        if mask_compatible_extra_args:
            structure = jax.tree.structure(updates)
            extra_args = {
                k: _apply_mask(v, mask_tree) if jax.tree.structure(v) == structure else v
                for k, v in extra_args.items()
            }
        inner_updates, inner_state = inner.update(
            _apply_mask(updates, mask_tree),
            state.inner_state,
            None if params is None else _apply_mask(params, mask_tree),
            **extra_args,
        )
        new_updates = masks.select(mask_tree, inner_updates, updates)
        return new_updates, MaskedState(inner_state=inner_state)

    return GradientTransformationExtraArgs(init_fn, update_fn)


def masked(
    inner: GradientTransformation,
    mask: Any | Callable[[Params], Any],
    *,
    mask_compatible_extra_args: bool = False,
) -> GradientTransformation:
    """Apply ``inner`` to the leaves where ``mask`` is true; pass the others through.

    .. math:: u_i = \\mathrm{inner}(g)_i \\text{ if } m_i \\text{ else } g_i

    The inner transform is initialised and updated on the selected leaves only (the
    others are replaced by `MaskedNode`), so it keeps no state for them. Typical use:
    no weight decay on biases, ``masked(add_decayed_weights(1e-4), lambda p:
    jax.tree.map(lambda x: x.ndim > 1, p))``.

    Args:
      inner: the transform to apply to the selected leaves.
      mask: a static pytree of bools with the structure of the params (or a prefix of
        it: a single ``True`` selects a whole subtree), or a callable ``tree -> such a
        pytree`` (called on the params in ``init`` and on the updates in ``update``).
      mask_compatible_extra_args: also mask the extra keyword arguments whose tree
        structure is that of the updates. Default False.

    Returns:
      A `GradientTransformation` with `MaskedState`.

    Raises:
      TypeError: if ``inner`` is not a transform, or ``mask`` is neither a pytree of
        bools nor a callable (a callable returning something else raises at ``init``).

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.masked(gradtx.scale(-1.0), {"w": True, "b": False})
      >>> g = {"w": jnp.ones(2), "b": jnp.ones(1)}
      >>> u, _ = tx.update(g, tx.init(g))
      >>> u["w"].tolist(), u["b"].tolist()
      ([-1.0, -1.0], [1.0])
    """
    fn = "masked"
    inner = validate.transform(fn, "inner", inner)
    masks.check(fn, mask, static=True)
    return _masked(fn, inner, mask, mask_compatible_extra_args)


class PartitionState(NamedTuple):
    """State of `multi_transform` (Optax's ``PartitionState``).

    Attributes:
      inner_states: ``{label: MaskedState}``, one per transform.
    """

    inner_states: Mapping[Hashable, OptState]


MultiTransformState = PartitionState


def multi_transform(
    transforms: Mapping[Hashable, GradientTransformation],
    param_labels: Any | Callable[[Params], Any],
    *,
    mask_compatible_extra_args: bool = False,
) -> GradientTransformation:
    """Parameter groups: apply ``transforms[label]`` to the leaves labelled ``label``.

    .. math:: u_i = \\mathrm{transforms}[\\ell_i](g)_i

    Each transform runs as ``masked(transform, labels == label)``, so it keeps state for
    its own group only. ``partition`` is the same function (Optax's newer name).

    Args:
      transforms: a mapping ``label -> transform``.
      param_labels: a pytree of labels with the structure of the params (or a prefix of
        it), or a callable ``tree -> such a pytree`` (called on the params in ``init``
        and on the updates in ``update``). Every label must be a key of ``transforms``.
      mask_compatible_extra_args: as in `masked`. Default False.

    Returns:
      A `GradientTransformation` with `PartitionState` (alias ``MultiTransformState``).

    Raises:
      TypeError: if ``transforms`` is not a mapping of transforms.
      ValueError: if a label has no transform (at construction for a label tree, at
        ``init`` for a callable).

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.multi_transform(
      ...     {"fast": gradtx.scale(-1.0), "slow": gradtx.scale(-0.1)},
      ...     {"w": "fast", "b": "slow"})
      >>> g = {"w": jnp.ones(1), "b": jnp.ones(1)}
      >>> u, _ = tx.update(g, tx.init(g))
      >>> u["w"].tolist(), u["b"].round(3).tolist()
      ([-1.0], [-0.1])
    """
    fn = "multi_transform"
    if not isinstance(transforms, Mapping):
        raise TypeError(
            f"{fn}(transforms={transforms!r}): transforms must be a mapping label -> "
            f"transform, got {type(transforms).__name__}"
        )
    transforms = {k: validate.transform(fn, f"transforms[{k!r}]", t) for k, t in transforms.items()}

    def labels_for(tree):
        labels = param_labels(tree) if callable(param_labels) else param_labels
        missing = []
        for label in jax.tree.leaves(labels):
            if label not in transforms and label not in missing:
                missing.append(label)
        if missing:
            raise ValueError(
                f"{fn}: parameter labels {missing} have no transform; the transforms are "
                f"{list(transforms)}"
            )
        return labels

    if not callable(param_labels):
        labels_for(None)

    def group_mask(labels, group):
        return jax.tree.map(lambda label: label == group, labels)

    def init_fn(params):
        labels = labels_for(params)
        return PartitionState(
            {
                group: _masked(fn, tx, group_mask(labels, group), False).init(params)
                for group, tx in transforms.items()
            }
        )

    def update_fn(updates, state, params=None, **extra_args):
        labels = labels_for(updates)
        new_states = {}
        for group, tx in transforms.items():
            wrapped = _masked(fn, tx, group_mask(labels, group), mask_compatible_extra_args)
            updates, new_states[group] = wrapped.update(
                updates, state.inner_states[group], params, **extra_args
            )
        return updates, PartitionState(new_states)

    return GradientTransformationExtraArgs(init_fn, update_fn)


partition = multi_transform


def freeze(mask: Any | Callable[[Params], Any]) -> GradientTransformation:
    """Zero the updates of the leaves where ``mask`` is true (hold those parameters fixed).

    .. math:: u_i = 0 \\text{ if } m_i \\text{ else } g_i

    Equal to ``masked(set_to_zero(), mask)``; chain it with an optimizer, e.g.
    ``chain(freeze(mask), adam(1e-3))`` (the frozen leaves then still get Adam state),
    or use ``multi_transform`` with a ``set_to_zero()`` group to keep no state for them.

    Args:
      mask: a static bool, pytree of bools (a prefix of the params) or a callable
        ``params -> pytree of bools``; true means frozen.

    Returns:
      A `GradientTransformation` with `MaskedState`.

    Raises:
      TypeError: if ``mask`` is neither a pytree of bools nor a callable.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.freeze({"w": True, "b": False})
      >>> g = {"w": jnp.ones(2), "b": jnp.ones(1)}
      >>> u, _ = tx.update(g, tx.init(g))
      >>> u["w"].tolist(), u["b"].tolist()
      ([0.0, 0.0], [1.0])
    """
    masks.check("freeze", mask, static=True)
    return _masked("freeze", set_to_zero(), mask, False)
