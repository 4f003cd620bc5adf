"""``GradientTransformationExtraArgs`` is a real subclass, as in Optax 0.2.8."""

from __future__ import annotations

import jax.numpy as jnp
import optax
import pytest

import gradtx
from gradtx import GradientTransformation, GradientTransformationExtraArgs


def test_it_is_a_distinct_subclass():
    assert GradientTransformationExtraArgs is not GradientTransformation
    assert issubclass(GradientTransformationExtraArgs, GradientTransformation)
    plain = gradtx.scale(0.5)
    assert isinstance(plain, GradientTransformation)
    assert not isinstance(plain, GradientTransformationExtraArgs)  # the issue: it was True


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.chain(m.scale(0.5)),
        lambda m: m.named_chain(("a", m.scale(0.5))),
        lambda m: m.with_extra_args_support(m.scale(0.5)),
        lambda m: m.masked(m.scale(0.5), {"w": True}),
        lambda m: m.apply_if_finite(m.scale(0.5), 3),
        lambda m: m.flatten(m.scale(0.5)),
        lambda m: m.adam(1e-3),
    ],
)
def test_the_same_factories_as_optax_return_extra_args(make):
    ours, theirs = make(gradtx), make(optax)
    assert isinstance(ours, GradientTransformationExtraArgs)
    assert isinstance(theirs, optax.GradientTransformationExtraArgs)


def test_plain_transforms_are_plain_in_both():
    for name in ("scale", "scale_by_adam", "identity", "clip_by_global_norm"):
        args = (1.0,) if name in ("scale", "clip_by_global_norm") else ()
        assert not isinstance(getattr(gradtx, name)(*args), GradientTransformationExtraArgs)
        assert not isinstance(getattr(optax, name)(*args), optax.GradientTransformationExtraArgs)


def test_with_extra_args_support_returns_an_extra_args_transform_unchanged():
    tx = gradtx.chain(gradtx.scale(2.0))
    assert gradtx.with_extra_args_support(tx) is tx


def test_with_extra_args_support_drops_extra_args_for_an_update_without_kwargs():
    class Plain:
        def init(self, params):
            return ()

        def update(self, updates, state, params=None):
            return updates, state

    tx = gradtx.with_extra_args_support(Plain())
    assert isinstance(tx, GradientTransformationExtraArgs)
    g = {"w": jnp.ones(1)}
    out, _ = tx.update(g, tx.init(g), None, value=jnp.asarray(1.0))
    assert out["w"].tolist() == [1.0]


def test_chain_passes_extra_args_to_a_plain_gradtx_transform_that_reads_them():
    seen = {}

    def update(updates, state, params=None, **extra_args):
        seen.update(extra_args)
        return updates, state

    inner = GradientTransformation(lambda p: (), update)
    tx = gradtx.chain(inner)
    tx.update({"w": jnp.ones(1)}, tx.init({"w": jnp.ones(1)}), value=3)
    assert seen == {"value": 3}
