"""``gradtx.contrib`` mirrors ``optax.contrib``: every name is Optax's, with Optax's
signature (functions) or fields (state classes)."""

from __future__ import annotations

import inspect

import optax
import pytest

import gradtx
from tests.contrib._beyond import BEYOND_OPTAX
from tests.optax_parity import assert_same_signature

NAMES = gradtx.contrib.__all__


def test_all_is_sorted_and_reachable_from_gradtx():
    assert NAMES == sorted(set(NAMES))
    assert "contrib" in gradtx.__all__
    for name in NAMES:
        assert getattr(gradtx.contrib, name) is not None


@pytest.mark.parametrize("name", [n for n in NAMES if n not in BEYOND_OPTAX])
def test_name_signature_and_fields_are_optaxs(name):
    ours, theirs = getattr(gradtx.contrib, name), getattr(optax.contrib, name)
    if inspect.isclass(theirs):
        assert inspect.isclass(ours)
        assert ours._fields == theirs._fields, name
        assert ours._field_defaults == theirs._field_defaults, name
    elif name == "sophia":
        # The default estimator is a transform instance: its own object in each library.
        ours_p, theirs_p = inspect.signature(ours).parameters, inspect.signature(theirs).parameters
        assert list(ours_p)[: len(theirs_p)] == list(theirs_p)
        for key, p in theirs_p.items():
            if key != "hessian_diagonal_fn":
                assert ours_p[key].default == p.default, key
    else:
        assert_same_signature(ours, theirs)
