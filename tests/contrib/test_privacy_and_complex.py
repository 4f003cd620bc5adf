"""DP-SGD / private aggregation and split_real_and_imaginary: Optax parity, closed forms,
state structure."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from tests.contrib._common import state_structure

contrib = gradtx.contrib


def _per_example_grads(steps, batch=4, seed=0):
    rng = np.random.default_rng(seed)
    return [
        {
            "w": jnp.asarray(rng.normal(size=(batch, 3, 2)) * 3, jnp.float32),
            "b": jnp.asarray(rng.normal(size=(batch, 2)), jnp.float32),
        }
        for _ in range(steps)
    ]


def _run(tx, grads, standard=False):
    state, out = tx.init(jax.tree.map(lambda g: g[0], grads[0])), []
    for g in grads:
        with jax.numpy_dtype_promotion("standard" if standard else "strict"):
            u, state = tx.update(g, state)
        out.append(u)
    return out, state


@pytest.mark.parametrize(
    "kwargs",
    [dict(l2_norm_clip=1.0, noise_multiplier=0.5), dict(l2_norm_clip=0.3, noise_multiplier=2.0)],
)
def test_private_aggregate_matches_optax(kwargs):
    grads = _per_example_grads(25)
    ours, s1 = _run(contrib.differentially_private_aggregate(**kwargs, key=3), grads)
    theirs, s2 = _run(optax.contrib.differentially_private_aggregate(**kwargs, key=3), grads, True)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(jax.random.key_data(s1.rng_key), jax.random.key_data(s2.rng_key))


@pytest.mark.parametrize("kwargs", [{}, dict(momentum=0.9, nesterov=True)])
def test_dpsgd_matches_optax(kwargs):
    grads = _per_example_grads(25, seed=1)
    ours, _ = _run(contrib.dpsgd(0.1, 1.0, 0.7, seed=5, **kwargs), grads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        theirs_tx = optax.contrib.dpsgd(0.1, 1.0, 0.7, seed=5, **kwargs)
    theirs, _ = _run(theirs_tx, grads, True)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_without_noise_it_is_the_mean_of_clipped_gradients():
    g = jnp.array([[3.0, 4.0], [0.3, 0.4], [0.0, 2.0]])
    tx = contrib.differentially_private_aggregate(1.0, 0.0, key=0)
    u, _ = tx.update(g, tx.init(g[0]))
    np.testing.assert_allclose(u, (g[0] / 5 + g[1] + g[2] / 2) / 3, rtol=1e-6)


def test_seed_is_deprecated_and_exclusive_with_key():
    with pytest.warns(DeprecationWarning, match="seed"):
        contrib.differentially_private_aggregate(1.0, 1.0, seed=1)
    with pytest.raises(ValueError, match="only one"), pytest.warns(DeprecationWarning):
        contrib.differentially_private_aggregate(1.0, 1.0, key=1, seed=1)


def test_split_real_and_imaginary_matches_optax():
    params = {"z": jnp.array([1.0 + 2.0j, -0.5 + 0.1j], jnp.complex64), "r": jnp.ones(2)}
    grads = [jax.tree.map(lambda p, i=i: p * (0.5 + 0.1 * i), params) for i in range(25)]
    ours = contrib.split_real_and_imaginary(gradtx.adam(0.1))
    theirs = optax.contrib.split_real_and_imaginary(optax.adam(0.1))
    s1, s2 = ours.init(params), theirs.init(params)
    for g in grads:
        u1, s1 = ours.update(g, s1, params)
        with jax.numpy_dtype_promotion("standard"):
            u2, s2 = theirs.update(g, s2, params)
        for a, b in zip(jax.tree.leaves(u1), jax.tree.leaves(u2), strict=True):
            assert a.dtype == b.dtype
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert state_structure(s1.inner_state[0]) == state_structure(s2.inner_state[0])
