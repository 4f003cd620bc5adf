"""``gradtx.contrib`` mirrors ``optax.contrib``: every name is Optax's, with Optax's
fields (state classes)."""

from __future__ import annotations

import inspect

import optax
import pytest

import gradtx

NAMES = gradtx.contrib.__all__


def test_all_is_sorted_and_reachable_from_gradtx():
    assert NAMES == sorted(set(NAMES))
    assert "contrib" in gradtx.__all__
    for name in NAMES:
        assert getattr(gradtx.contrib, name) is not None


@pytest.mark.parametrize(
    "name",
    [n for n in NAMES if inspect.isclass(getattr(optax.contrib, n, None))],
)
def test_state_classes_have_optaxs_fields_and_defaults(name):
    """The functions' signatures: tests/test_optax_parity.py (registry entries) and
    tests/compat/test_api_walk.py (every Optax name)."""
    ours, theirs = getattr(gradtx.contrib, name), getattr(optax.contrib, name)
    assert inspect.isclass(ours)
    assert ours._fields == theirs._fields, name
    assert ours._field_defaults == theirs._field_defaults, name
