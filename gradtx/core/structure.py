"""Pytree plumbing every layer shares (an implementer module: public, not in ``__all__``).

`is_none` is the ``is_leaf`` that keeps a ``None`` gradient leaf a leaf, so a per-leaf
function sees it and passes it through. `ParamsPlaceholder` is what
`gradtx.tree.map_params` gives an ``init`` to learn where the parameters sit in a state;
a wrapper whose state depends on the params' structure (``masked``) tests for it with
`is_params_placeholder` and passes it through, as Optax's does.
"""

from __future__ import annotations

from typing import Any

import jax


def is_none(x: Any) -> bool:
    """Whether ``x`` is ``None`` (for ``jax.tree.map(..., is_leaf=is_none)``)."""
    return x is None


@jax.tree_util.register_pytree_node_class
class ParamsPlaceholder:
    """Stands for the parameter tree while an ``init`` traces where params go."""

    def tree_flatten(self):
        return (), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        del aux, children
        return cls()


def is_params_placeholder(params: Any) -> bool:
    """Whether ``init`` is being called by `gradtx.tree.map_params` (a wrapper whose state
    depends on the params' structure, such as ``masked``, then passes the placeholder
    through)."""
    return isinstance(params, ParamsPlaceholder)
