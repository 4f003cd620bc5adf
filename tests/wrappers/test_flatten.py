"""flatten: Optax parity, dtypes and shapes restored, None leaves, empty trees."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from tests.helpers import assert_same_shapes_and_dtypes, example_params, gradient_sequence
from tests.optax_parity import assert_optax_parity
from tests.wrappers._common import adam_chain, grads_with_nans

# Slow (CI runs it): wrapper trajectories, compiled per case.
pytestmark = pytest.mark.slow


def test_flatten_matches_optax():
    assert_optax_parity(
        gradtx.flatten(adam_chain()), optax.flatten(adam_chain(optax)), steps=25, rtol=1e-6
    )


def test_flatten_of_a_global_transform_matches_optax_with_nans_skipped():
    grads = grads_with_nans(steps=25, bad=(5, 6))

    def make(lib):
        return lib.apply_if_finite(
            lib.flatten(lib.chain(lib.clip_by_global_norm(1.0), lib.scale(-0.1))), 2
        )

    assert_optax_parity(make(gradtx), make(optax), grads=grads, rtol=1e-6)


def test_state_is_one_vector_and_mixed_dtypes_are_restored():
    params = {"a": jnp.ones((2, 3), jnp.bfloat16), "b": jnp.ones((4,), jnp.float32), "n": None}
    tx = gradtx.flatten(gradtx.scale_by_adam())
    state = tx.init(params)
    assert state.mu.shape == (10,) and state.mu.dtype == jnp.float32
    g = {"a": jnp.full((2, 3), 0.5, jnp.bfloat16), "b": -jnp.ones(4), "n": None}
    u, state = jax.jit(tx.update)(g, state)
    assert_same_shapes_and_dtypes(u, g)
    np.testing.assert_allclose(np.asarray(u["a"], np.float32), 1.0, rtol=1e-2)
    np.testing.assert_allclose(u["b"], -1.0, rtol=1e-4)  # Adam's first step: sign(g)


def test_flatten_equals_unflattened_for_elementwise_transforms():
    params = example_params()
    grads = gradient_sequence(params, 3)
    flat, plain = gradtx.flatten(adam_chain()), adam_chain()
    s_flat, s_plain = flat.init(params), plain.init(params)
    for g in grads:
        u_flat, s_flat = flat.update(g, s_flat)
        u_plain, s_plain = plain.update(g, s_plain)
        for a, b in zip(jax.tree.leaves(u_flat), jax.tree.leaves(u_plain), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6)


def test_empty_tree():
    tx = gradtx.flatten(gradtx.scale_by_adam())
    u, _ = tx.update({}, tx.init({}))
    assert u == {}


def test_flatten_is_a_drop_in_for_an_elementwise_optimizer():
    """What the README recommends for small trees: the same updates as on the tree."""

    def make():
        schedule = gradtx.warmup_cosine_decay_schedule(0.0, 1e-2, 3, 20)
        return gradtx.chain(
            gradtx.clip_by_global_norm(1.0), gradtx.adamw(schedule, weight_decay=0.01)
        )

    params = example_params()
    flat, plain = gradtx.flatten(make()), make()
    fs, ps = flat.init(params), plain.init(params)
    for g in gradient_sequence(params, steps=6):
        uf, fs = jax.jit(flat.update)(g, fs, params)
        up, ps = jax.jit(plain.update)(g, ps, params)
        assert_same_shapes_and_dtypes(uf, up)
        for a, b in zip(jax.tree.leaves(uf), jax.tree.leaves(up), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-8)
        params = gradtx.apply_updates(params, up)
