"""Optax's ``tree_utils`` names: ``gradtx.tree_utils.tree_X`` is ``gradtx.tree.X``.

The functions are those of `gradtx.tree` (one implementation under two names). The names
Optax 0.2.8 deprecated (``tree_scalar_mul``, ``tree_add_scalar_mul``, ``tree_l1_norm``,
``tree_l2_norm``, ``tree_linf_norm``) still resolve, with a ``DeprecationWarning``.
"""

import functools
import warnings

from gradtx import tree as _tree
from gradtx.tree import NamedTupleKey as NamedTupleKey

tree_add = _tree.add
tree_add_scale = _tree.add_scale
tree_allclose = _tree.allclose
tree_batch_shape = _tree.batch_shape
tree_bias_correction = _tree.bias_correction
tree_cast = _tree.cast
tree_cast_like = _tree.cast_like
tree_clip = _tree.clip
tree_conj = _tree.conj
tree_div = _tree.div
tree_dtype = _tree.dtype
tree_full_like = _tree.full_like
tree_get = _tree.get
tree_get_all_with_path = _tree.get_all_with_path
tree_map_params = _tree.map_params
tree_max = _tree.max
tree_min = _tree.min
tree_mul = _tree.mul
tree_norm = _tree.norm
tree_ones_like = _tree.ones_like
tree_random_like = _tree.random_like
tree_real = _tree.real
tree_scale = _tree.scale
tree_set = _tree.set
tree_size = _tree.size
tree_split_key_like = _tree.split_key_like
tree_sub = _tree.sub
tree_sum = _tree.sum
tree_unwrap_random_key_data = _tree.unwrap_random_key_data
tree_update_infinity_moment = _tree.update_infinity_moment
tree_update_moment = _tree.update_moment
tree_update_moment_per_elem_norm = _tree.update_moment_per_elem_norm
tree_vdot = _tree.vdot
tree_where = _tree.where
tree_zeros_like = _tree.zeros_like

_DEPRECATED = {
    "tree_scalar_mul": ("tree_scale", _tree.scale),
    "tree_add_scalar_mul": ("tree_add_scale", _tree.add_scale),
    "tree_l1_norm": ("tree_norm(..., ord=1)", functools.partial(_tree.norm, ord=1)),
    "tree_l2_norm": ("tree_norm", functools.partial(_tree.norm, ord=2)),
    "tree_linf_norm": ("tree_norm(..., ord=jnp.inf)", functools.partial(_tree.norm, ord="inf")),
}


def __getattr__(name: str):
    if name in _DEPRECATED:
        instead, fn = _DEPRECATED[name]
        warnings.warn(
            f"gradtx.tree_utils.{name} is deprecated (as in Optax): use "
            f"gradtx.tree_utils.{instead}",
            DeprecationWarning,
            stacklevel=2,
        )
        return fn
    raise AttributeError(f"module 'gradtx.tree_utils' has no attribute {name!r}")


__all__ = ["NamedTupleKey", *sorted(n for n in dir() if n.startswith("tree_"))]
