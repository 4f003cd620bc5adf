"""The beyond-Optax names of ``gradtx.contrib``: public, absent from ``optax.contrib``
(were Optax to add one, it must move to the parity tests); tests/test_api.py checks that
each is in the registry."""

from __future__ import annotations

import optax
import pytest

import gradtx
from tests.contrib._beyond import BEYOND_OPTAX


@pytest.mark.parametrize("name", sorted(BEYOND_OPTAX))
def test_public_and_not_in_optax(name):
    assert name in gradtx.contrib.__all__
    assert not hasattr(optax.contrib, name)
