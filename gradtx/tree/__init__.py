"""Pytree maths: ``gradtx.tree.X`` (never re-exported flat, the names would clash).

Every name of ``optax.tree`` with Optax's signature and semantics, plus gradtx's extras
(`global_norm`, `l2_norm`, `sum_of_squares`, `NamedTupleKey`). ``gradtx.tree_utils`` holds
the same functions under Optax's ``tree_*`` names.
"""

from gradtx.core.numerics import bias_correction as bias_correction
from gradtx.core.numerics import update_infinity_moment as update_infinity_moment
from gradtx.core.numerics import update_moment as update_moment
from gradtx.core.numerics import update_moment_per_elem_norm as update_moment_per_elem_norm
from gradtx.tree._arith import add as add
from gradtx.tree._arith import add_scale as add_scale
from gradtx.tree._arith import allclose as allclose
from gradtx.tree._arith import clip as clip
from gradtx.tree._arith import conj as conj
from gradtx.tree._arith import div as div
from gradtx.tree._arith import max as max  # noqa: A004
from gradtx.tree._arith import min as min  # noqa: A004
from gradtx.tree._arith import mul as mul
from gradtx.tree._arith import real as real
from gradtx.tree._arith import scale as scale
from gradtx.tree._arith import size as size
from gradtx.tree._arith import sub as sub
from gradtx.tree._arith import sum as sum  # noqa: A004
from gradtx.tree._arith import where as where
from gradtx.tree._like import batch_shape as batch_shape
from gradtx.tree._like import cast as cast
from gradtx.tree._like import cast_like as cast_like
from gradtx.tree._like import dtype as dtype
from gradtx.tree._like import full_like as full_like
from gradtx.tree._like import ones_like as ones_like
from gradtx.tree._like import zeros_like as zeros_like
from gradtx.tree._norms import global_norm as global_norm
from gradtx.tree._norms import l2_norm as l2_norm
from gradtx.tree._norms import norm as norm
from gradtx.tree._norms import sum_of_squares as sum_of_squares
from gradtx.tree._norms import vdot as vdot
from gradtx.tree._random import random_like as random_like
from gradtx.tree._random import split_key_like as split_key_like
from gradtx.tree._random import unwrap_random_key_data as unwrap_random_key_data
from gradtx.tree._state import NamedTupleKey as NamedTupleKey
from gradtx.tree._state import get as get
from gradtx.tree._state import get_all_with_path as get_all_with_path
from gradtx.tree._state import map_params as map_params
from gradtx.tree._state import set as set  # noqa: A004

__all__ = [
    "NamedTupleKey",
    "add",
    "add_scale",
    "allclose",
    "batch_shape",
    "bias_correction",
    "cast",
    "cast_like",
    "clip",
    "conj",
    "div",
    "dtype",
    "full_like",
    "get",
    "get_all_with_path",
    "global_norm",
    "l2_norm",
    "map_params",
    "max",
    "min",
    "mul",
    "norm",
    "ones_like",
    "random_like",
    "real",
    "scale",
    "set",
    "size",
    "split_key_like",
    "sub",
    "sum",
    "sum_of_squares",
    "unwrap_random_key_data",
    "update_infinity_moment",
    "update_moment",
    "update_moment_per_elem_norm",
    "vdot",
    "where",
    "zeros_like",
]
