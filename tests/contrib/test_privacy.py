"""DP-SGD: Optax parity (the same noise stream), Abadi et al. Algorithm 1 in float64 NumPy,
the noise's scale, state structure, validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from tests.contrib._common import state_structure
from tests.helpers import assert_trees_close, example_params, gradient_sequence

# Slow (CI runs it): trajectories against Optax and the papers.
pytestmark = pytest.mark.slow

contrib = gradtx.contrib
BATCH = 4


def _per_example(params, steps, seed=1, scale=3.0):
    """Per-example gradients: each leaf with a batch axis 0 of size BATCH."""
    batched = jax.tree.map(lambda p: jnp.broadcast_to(p, (BATCH, *jnp.shape(p))), params)
    return [jax.tree.map(lambda g: scale * g, t) for t in gradient_sequence(batched, steps, seed)]


def _trajectory(tx, params, grads, jit=True):
    update = jax.jit(tx.update) if jit else tx.update
    state, out = tx.init(params), []
    for g in grads:
        u, state = update(g, state, params)
        params = jax.tree.map(lambda p, d: p + d.astype(p.dtype), params, u)
        out.append(u)
    return out, state


AGGREGATE_CASES = [(1.0, 1.1), (0.5, 0.0), (10.0, 2.0)]


@pytest.mark.parametrize("clip, noise", AGGREGATE_CASES)
def test_aggregate_matches_optax(clip, noise):
    params = example_params()
    grads = _per_example(params, 25)
    key = jax.random.key(7)
    ours, _ = _trajectory(contrib.differentially_private_aggregate(clip, noise, key), params, grads)
    with jax.numpy_dtype_promotion("standard"):
        theirs, _ = _trajectory(
            optax.contrib.differentially_private_aggregate(clip, noise, key), params, grads
        )
    for t, (a, e) in enumerate(zip(ours, theirs, strict=True)):
        assert_trees_close(a, e, rtol=1e-5, atol=1e-7, msg=f"step {t}:")


DPSGD_CASES = [
    dict(learning_rate=0.1, l2_norm_clip=1.0, noise_multiplier=1.1, seed=0),
    dict(learning_rate=0.05, l2_norm_clip=0.7, noise_multiplier=0.5, seed=3, momentum=0.9),
    dict(
        learning_rate=0.05,
        l2_norm_clip=2.0,
        noise_multiplier=0.3,
        seed=5,
        momentum=0.8,
        nesterov=True,
    ),
]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Optax's dpsgd passes seed=
@pytest.mark.parametrize("kwargs", DPSGD_CASES)
def test_dpsgd_matches_optax(kwargs):
    params = example_params()
    grads = _per_example(params, 25, seed=2)
    ours, _ = _trajectory(contrib.dpsgd(**kwargs), params, grads)
    with jax.numpy_dtype_promotion("standard"):
        theirs, _ = _trajectory(optax.contrib.dpsgd(**kwargs), params, grads)
    for t, (a, e) in enumerate(zip(ours, theirs, strict=True)):
        assert_trees_close(a, e, rtol=1e-5, atol=1e-7, msg=f"step {t}:")


def _reference_dpsgd(theta, per_example_grads, noises, lr, clip, sigma):
    """Abadi et al. 2016, Algorithm 1: per-example clip g / max(1, |g| / C), add
    N(0, sigma^2 C^2), divide by the lot size L, step theta - lr * g~ (float64)."""
    for grads, noise in zip(per_example_grads, noises, strict=True):
        norms = np.sqrt(sum(np.sum(g.reshape(len(g), -1) ** 2, axis=1) for g in grads))
        factor = 1.0 / np.maximum(1.0, norms / clip)
        total = [np.tensordot(factor, g, axes=1) for g in grads]
        lot = len(grads[0])
        theta = [t - lr * (s + sigma * clip * n) / lot for t, s, n in zip(theta, total, noise)]
    return theta


@pytest.mark.slow
def test_dpsgd_is_algorithm_1_of_the_paper(x64):
    lr, clip, sigma, seed = 0.1, 1.0, 1.1, 4
    params = example_params(jnp.float64)
    grads = _per_example(params, 25, seed=5)
    updates, _ = _trajectory(contrib.dpsgd(lr, clip, sigma, seed), params, grads, jit=False)
    final = jax.tree.map(lambda p, *us: p + sum(us), params, *updates)
    # the noise is the documented stream: per step, split the key into next + one per leaf
    key, noises = jax.random.key(seed), []
    for _g in grads:
        key, *keys = jax.random.split(key, len(jax.tree.leaves(params)) + 1)
        noises.append(
            [
                np.asarray(jax.random.normal(k, jnp.shape(p), p.dtype))
                for k, p in zip(keys, jax.tree.leaves(params), strict=True)
            ]
        )
    expected = _reference_dpsgd(
        [np.asarray(p) for p in jax.tree.leaves(params)],
        [[np.asarray(x) for x in jax.tree.leaves(g)] for g in grads],
        noises,
        lr,
        clip,
        sigma,
    )
    for a, e in zip(jax.tree.leaves(final), expected, strict=True):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-14)


def test_noise_has_the_documented_scale():
    """With zero gradients the update is N(0, (sigma C / B)^2) per element."""
    clip, sigma = 2.0, 1.5
    tx = contrib.differentially_private_aggregate(clip, sigma, key=jax.random.key(1))
    g = jnp.zeros((BATCH, 20000))
    u, state = jax.jit(tx.update)(g, tx.init(jnp.zeros(20000)))
    std = float(jnp.std(u))
    assert abs(std - sigma * clip / BATCH) < 0.02 * sigma * clip / BATCH
    assert abs(float(jnp.mean(u))) < 0.03
    u2, _ = tx.update(g, state)
    assert not bool(jnp.allclose(u, u2))  # the key advances


@pytest.mark.slow
def test_eager_matches_jit_dtypes_none_leaves_and_empty_tree():
    params = {"a": example_params(jnp.bfloat16), "none": None}
    grads = _per_example(params, 3)
    tx = contrib.dpsgd(0.1, 1.0, 0.5, seed=0, momentum=0.9)
    a, _ = _trajectory(tx, params, grads, jit=True)
    b, _ = _trajectory(tx, params, grads, jit=False)
    assert_trees_close(a, b, rtol=1e-2, atol=1e-3)
    assert a[0]["none"] is None
    assert a[0]["a"]["dense"]["w"].dtype == jnp.bfloat16
    assert a[0]["a"]["dense"]["w"].shape == (3, 4)
    u, _ = tx.update({}, tx.init({}), {})
    assert u == {}


def test_state_structure_matches_optax():
    params = example_params()
    ours = contrib.differentially_private_aggregate(1.0, 1.0, key=3).init(params)
    theirs = optax.contrib.differentially_private_aggregate(1.0, 1.0, key=3).init(params)
    assert state_structure(ours) == state_structure(theirs)
    assert str(ours.rng_key.dtype) == str(theirs.rng_key.dtype)
    np.testing.assert_array_equal(
        jax.random.key_data(ours.rng_key), jax.random.key_data(theirs.rng_key)
    )


def test_validation():
    with pytest.raises(ValueError, match=r"differentially_private_aggregate\(l2_norm_clip=-1"):
        contrib.differentially_private_aggregate(-1.0, 1.0, key=0)
    with pytest.raises(ValueError, match=r"noise_multiplier=-0\.5"):
        contrib.dpsgd(0.1, 1.0, -0.5, seed=0)
    with pytest.raises(ValueError, match="only one"), pytest.warns(DeprecationWarning):
        contrib.differentially_private_aggregate(1.0, 1.0, key=0, seed=0)
    with pytest.raises(ValueError, match="batch axis 0"):
        tx = contrib.differentially_private_aggregate(1.0, 1.0, key=0)
        tx.update({"a": jnp.ones(()), "b": jnp.ones((2, 3))}, tx.init(None))
