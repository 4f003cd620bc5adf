"""Pytree maths: ``gradtx.tree.X`` (never re-exported flat, the names would clash)."""

from gradtx.tree._like import cast as cast
from gradtx.tree._like import full_like as full_like
from gradtx.tree._like import ones_like as ones_like
from gradtx.tree._like import random_like as random_like
from gradtx.tree._like import zeros_like as zeros_like
from gradtx.tree._math import add as add
from gradtx.tree._math import global_norm as global_norm
from gradtx.tree._math import l2_norm as l2_norm
from gradtx.tree._math import scale as scale
from gradtx.tree._math import sub as sub
from gradtx.tree._math import sum_of_squares as sum_of_squares
from gradtx.tree._math import vdot as vdot
from gradtx.tree._math import where as where
from gradtx.tree._state import get as get
from gradtx.tree._state import set as set  # noqa: A004

__all__ = [
    "add",
    "cast",
    "full_like",
    "get",
    "global_norm",
    "l2_norm",
    "ones_like",
    "random_like",
    "scale",
    "set",
    "sub",
    "sum_of_squares",
    "vdot",
    "where",
    "zeros_like",
]
