"""The beyond-Optax names of ``gradtx.contrib``: public, absent from ``optax.contrib``
(were Optax to add one, it must move to the parity tests), each in the registry."""

from __future__ import annotations

import optax
import pytest

import gradtx
from tests.contrib._beyond import BEYOND_OPTAX
from tests.registry import ENTRIES


@pytest.mark.parametrize("name", sorted(BEYOND_OPTAX))
def test_public_and_not_in_optax(name):
    assert name in gradtx.contrib.__all__
    assert not hasattr(optax.contrib, name)


def test_every_factory_has_a_registry_entry():
    factories = {e.factory for e in ENTRIES if e.name.startswith("contrib.")}
    for name in BEYOND_OPTAX:
        obj = getattr(gradtx.contrib, name)
        if not isinstance(obj, type):
            assert obj in factories, name
