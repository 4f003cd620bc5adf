"""add_decayed_weights (masks, schedules) and add_noise: references, Optax parity, dtypes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from tests.helpers import (
    assert_same_shapes_and_dtypes,
    assert_trees_close,
    example_params,
    gradient_sequence,
)

# Slow (CI runs it): references and dtype checks, one compilation each.
pytestmark = pytest.mark.slow

# --- float64 NumPy references -------------------------------------------------------


def _params():
    return {
        "dense": {"w": jnp.linspace(-1.0, 1.0, 12).reshape(3, 4), "b": jnp.full((4,), 0.5)},
        "scalar": jnp.asarray(2.0),
    }


def _grads():
    return gradient_sequence(_params(), 1, seed=3)[0]


def _np_decay(g, p, rate, on=True):
    return np.asarray(g, np.float64) + (rate * np.asarray(p, np.float64) if on else 0.0)


# --- add_decayed_weights ------------------------------------------------------------


def test_decay_matches_reference():
    params, grads = _params(), _grads()
    tx = gradtx.add_decayed_weights(0.3)
    u, state = tx.update(grads, tx.init(params), params)
    assert state == gradtx.EmptyState()
    assert_trees_close(u, jax.tree.map(lambda g, p: _np_decay(g, p, 0.3), grads, params))


@pytest.mark.parametrize(
    "mask",
    [
        {"dense": {"w": True, "b": False}, "scalar": False},
        {"dense": {"w": True, "b": False}, "scalar": np.bool_(False)},
        {"dense": True, "scalar": False},  # a prefix: True covers w and b
        lambda p: jax.tree.map(lambda x: jnp.ndim(x) == 2, p),
    ],
    ids=["tree", "numpy-bools", "prefix", "callable"],
)
def test_mask_forms(mask):
    params, grads = _params(), _grads()
    tx = gradtx.add_decayed_weights(0.5, mask=mask)
    u, _ = jax.jit(tx.update)(grads, tx.init(params), params)
    decay_b = isinstance(mask, dict) and mask["dense"] is True
    np.testing.assert_allclose(
        u["dense"]["w"], _np_decay(grads["dense"]["w"], params["dense"]["w"], 0.5)
    )
    np.testing.assert_allclose(
        u["dense"]["b"], _np_decay(grads["dense"]["b"], params["dense"]["b"], 0.5, decay_b)
    )
    if not decay_b:  # a masked-out leaf passes through bit for bit
        np.testing.assert_array_equal(u["dense"]["b"], grads["dense"]["b"])
    np.testing.assert_array_equal(u["scalar"], grads["scalar"])


@pytest.mark.parametrize("mask,expected", [(True, True), (False, False)])
def test_bool_masks(mask, expected):
    params, grads = _params(), _grads()
    tx = gradtx.add_decayed_weights(0.5, mask=mask)
    u, _ = tx.update(grads, tx.init(params), params)
    expect = jax.tree.map(lambda g, p: _np_decay(g, p, 0.5, expected), grads, params)
    assert_trees_close(u, expect)


def test_array_mask_selects_elementwise():
    params = {"w": jnp.ones(4)}
    tx = gradtx.add_decayed_weights(1.0, mask={"w": jnp.array([True, False, True, False])})
    u, _ = tx.update({"w": jnp.zeros(4)}, tx.init(params), params)
    np.testing.assert_array_equal(u["w"], [1.0, 0.0, 1.0, 0.0])


def test_schedule_is_read_at_the_step_count():
    params = {"w": jnp.ones(2)}
    tx = gradtx.add_decayed_weights(lambda count: 0.1 * count.astype(jnp.float32))
    state = tx.init(params)
    for t in range(3):
        u, state = tx.update({"w": jnp.zeros(2)}, state, params)
        np.testing.assert_allclose(u["w"], 0.1 * t, rtol=1e-6)
    assert isinstance(state, gradtx.WeightDecaySchedule) and int(state.count) == 3


def test_none_leaves_and_zero_decay():
    params = {"w": jnp.ones(2), "frozen": None}
    grads = {"w": jnp.full(2, 0.5), "frozen": None}
    tx = gradtx.add_decayed_weights(0.1, mask={"w": True, "frozen": True})
    u, _ = tx.update(grads, tx.init(params), params)
    assert u["frozen"] is None
    np.testing.assert_allclose(u["w"], 0.6, rtol=1e-6)
    u, _ = gradtx.add_decayed_weights(0.0).update(grads, gradtx.EmptyState(), params)
    assert u is grads


def test_decay_needs_params():
    tx = gradtx.add_decayed_weights(0.1)
    with pytest.raises(ValueError, match=r"add_decayed_weights: update\(\) needs params"):
        tx.update(_grads(), tx.init(_params()))


@pytest.mark.parametrize("g_dtype,p_dtype", [("bfloat16", "bfloat16"), ("bfloat16", "float32")])
def test_decay_keeps_the_gradient_dtype(g_dtype, p_dtype):
    params = example_params(jnp.dtype(p_dtype))
    grads = jax.tree.map(lambda x: x.astype(g_dtype), gradient_sequence(params, 1)[0])
    for rate in (0.1, lambda c: jnp.asarray(0.1, jnp.float32)):
        tx = gradtx.add_decayed_weights(rate)
        u, _ = jax.jit(tx.update)(grads, tx.init(params), params)
        assert_same_shapes_and_dtypes(u, grads)


def test_decay_float64(x64):
    params = example_params(jnp.float64)
    grads = gradient_sequence(params, 1)[0]
    tx = gradtx.add_decayed_weights(0.25, mask=lambda p: jax.tree.map(lambda x: x.ndim > 0, p))
    u, _ = tx.update(grads, tx.init(params), params)
    assert_same_shapes_and_dtypes(u, grads)
    expected = jax.tree.map(lambda g, p: _np_decay(g, p, 0.25, np.ndim(p) > 0), grads, params)
    assert_trees_close(u, expected, rtol=1e-15)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"weight_decay": -0.1}, ValueError, r"add_decayed_weights\(weight_decay=-0\.1\)"),
        ({"weight_decay": float("inf")}, ValueError, r"weight_decay must be finite"),
        ({"mask": "bias"}, TypeError, r"add_decayed_weights\(mask='bias'\)"),
        ({"mask": 3}, TypeError, r"mask must be a pytree of bools"),
    ],
)
def test_decay_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        gradtx.add_decayed_weights(**kwargs)


# --- add_noise -------------------------------------------------------------------------


def test_noise_variance_anneals():
    # sigma_t^2 = eta / t^gamma on a large leaf: sample variance within a few percent.
    tx = gradtx.add_noise(eta=2.0, gamma=0.55, key=1)
    zeros = jnp.zeros((200, 100))
    state = tx.init(zeros)
    update = jax.jit(tx.update)
    for t in range(1, 5):
        u, state = update(zeros, state)
        assert float(jnp.var(u)) == pytest.approx(2.0 / t**0.55, rel=0.05)
        assert abs(float(jnp.mean(u))) < 0.05
    assert int(state.count) == 4


def test_noise_key_forms_agree():
    g = {"a": jnp.zeros(5), "b": jnp.zeros((2, 2))}
    outs = []
    for tx in (
        gradtx.add_noise(0.1, 0.5, 3),
        gradtx.add_noise(0.1, 0.5, jax.random.key(3)),
        gradtx.add_noise(0.1, 0.5, jax.random.PRNGKey(3)),
        gradtx.add_noise(0.1, 0.5, seed=3),
    ):
        outs.append(tx.update(g, tx.init(g))[0])
    for o in outs[1:]:
        assert_trees_close(o, outs[0], rtol=0.0)
    default = gradtx.add_noise(0.1, 0.5)
    assert_trees_close(
        default.update(g, default.init(g))[0],
        gradtx.add_noise(0.1, 0.5, 0).update(g, default.init(g))[0],
        rtol=0.0,
    )


def test_noise_draws_fresh_samples_each_step_and_keeps_dtypes():
    params = example_params(jnp.bfloat16)
    tx = gradtx.add_noise(0.1, 0.55, 0)
    state0 = tx.init(params)
    g = jax.tree.map(jnp.zeros_like, params)
    u1, s1 = jax.jit(tx.update)(g, state0)
    u2, s2 = jax.jit(tx.update)(g, s1)
    assert_same_shapes_and_dtypes(u1, g)
    assert_same_shapes_and_dtypes(s2, state0)
    assert not bool(jnp.all(u1["dense"]["w"] == u2["dense"]["w"]))
    assert gradtx.AddNoiseState._fields == optax.AddNoiseState._fields


def test_noise_float64_and_empty_trees(x64):
    params = example_params(jnp.float64)
    tx = gradtx.add_noise(0.1, 0.55, 0)
    g = gradient_sequence(params, 1)[0]
    u, _ = tx.update(g, tx.init(params))
    assert_same_shapes_and_dtypes(u, g)
    u, state = tx.update({}, tx.init({}))
    assert u == {} and int(state.count) == 1


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"eta": -1.0, "gamma": 0.5}, r"add_noise\(eta=-1\.0\)"),
        ({"eta": 0.1, "gamma": -0.5}, r"add_noise\(gamma=-0\.5\)"),
        ({"eta": 0.1, "gamma": 0.5, "key": 1, "seed": 2}, r"give key or seed, not both"),
    ],
)
def test_noise_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gradtx.add_noise(**kwargs)
