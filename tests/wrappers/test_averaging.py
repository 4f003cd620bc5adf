"""average_params: Polyak mean and EMA of the iterates against NumPy, nested look-up."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from tests.helpers import assert_trees_close, example_params, gradient_sequence
from tests.wrappers._common import adam_chain, to_np

# Slow (CI runs it): wrapper trajectories, compiled per case.
pytestmark = pytest.mark.slow


def _trajectory(tx, params, steps=30, seed=0):
    """Run ``tx``; return the params after every update and the final state."""
    state, update = tx.init(params), jax.jit(tx.update)
    history = []
    for g in gradient_sequence(params, steps, seed):
        u, state = update(g, state, params)
        params = gradtx.apply_updates(params, u)
        history.append(params)
    return history, state


def _np_stack(history):
    return jax.tree.map(lambda *xs: np.stack([np.asarray(x, np.float64) for x in xs]), *history)


def test_polyak_average_is_the_mean_of_the_trajectory():
    params = example_params()
    history, state = _trajectory(gradtx.average_params(adam_chain(lr=0.1)), params)
    expected = jax.tree.map(lambda xs: xs.mean(axis=0), _np_stack(history))
    assert_trees_close(gradtx.averaged_params(state), expected, rtol=1e-5, atol=1e-6)
    assert int(state.count) == 30


@pytest.mark.parametrize("decay", [0.0, 0.9])
def test_ema_average_matches_numpy(decay):
    params = example_params()
    history, state = _trajectory(gradtx.average_params(adam_chain(lr=0.1), decay=decay), params)
    avg = to_np(params)
    for p in history:
        avg = jax.tree.map(lambda a, x: decay * a + (1 - decay) * np.asarray(x, np.float64), avg, p)
    assert_trees_close(gradtx.averaged_params(state), avg, rtol=1e-5, atol=1e-6)


def test_updates_are_the_inner_updates():
    params = example_params()
    plain, averaged = adam_chain(), gradtx.average_params(adam_chain())
    g = gradient_sequence(params, 1)[0]
    u1, _ = plain.update(g, plain.init(params), params)
    u2, _ = averaged.update(g, averaged.init(params), params)
    assert_trees_close(u2, u1, rtol=0.0)


def test_bfloat16_params_are_averaged_in_float32():
    params = example_params(jnp.bfloat16)
    history, state = _trajectory(gradtx.average_params(adam_chain(lr=0.1)), params, steps=40)
    avg = gradtx.averaged_params(state)
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(avg))
    expected = jax.tree.map(lambda xs: xs.mean(axis=0), _np_stack(history))
    assert_trees_close(avg, expected, rtol=1e-5, atol=1e-6)


def test_averaged_params_found_inside_nested_states():
    params = example_params()
    inner = gradtx.chain(gradtx.average_params(adam_chain(), decay=0.5))
    opt = gradtx.MultiSteps(inner, every_k_schedule=2)
    state = opt.init(params)
    before = gradtx.averaged_params(state)
    assert_trees_close(before, params, rtol=0.0)
    g = gradient_sequence(params, 1)[0]
    u, state = opt.update(g, state, params)  # a micro-step: nothing averaged
    assert_trees_close(gradtx.averaged_params(state), params, rtol=0.0)
    u, state = opt.update(g, state, params)
    new = gradtx.apply_updates(params, u)
    expected = jax.tree.map(lambda p, n: 0.5 * p + 0.5 * n, params, new)
    assert_trees_close(gradtx.averaged_params(state), expected, rtol=1e-6)


def test_none_leaves():
    params = {"w": jnp.ones(2), "none": None}
    tx = gradtx.average_params(gradtx.scale(-1.0))
    u, state = tx.update({"w": jnp.ones(2), "none": None}, tx.init(params), params)
    assert u["none"] is None and state.averaged_params["none"] is None
    np.testing.assert_allclose(state.averaged_params["w"], 0.0)


def test_errors():
    with pytest.raises(KeyError, match="no average_params state"):
        gradtx.averaged_params(adam_chain().init(jnp.ones(1)))
    with pytest.raises(ValueError, match=r"average_params\(decay=1.0\)"):
        gradtx.average_params(gradtx.identity(), decay=1.0)
    with pytest.raises(TypeError, match=r"average_params\(inner="):
        gradtx.average_params(0.9)
    tx = gradtx.average_params(gradtx.identity())
    with pytest.raises(ValueError, match="needs params"):
        tx.update(jnp.ones(1), tx.init(jnp.ones(1)))
