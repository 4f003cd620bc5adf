"""training_monitor: statistics against NumPy, a vanishing layer is flagged; Optax's monitor."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from tests.helpers import assert_trees_close, example_params, gradient_sequence
from tests.wrappers._common import adam_chain

# Slow (CI runs it): wrapper trajectories, compiled per case.
pytestmark = pytest.mark.slow


def _mlp_params(key):
    k1, k2, k3 = jax.random.split(key, 3)
    return {
        "saturated": {"w": jax.random.normal(k1, (4, 8)), "b": jnp.full((8,), 30.0)},
        "hidden": {"w": jax.random.normal(k2, (8, 8)) / 3.0, "b": jnp.zeros(8)},
        "out": {"w": jax.random.normal(k3, (8, 1)) / 3.0, "b": jnp.zeros(1)},
    }


def _mlp_loss(params, x, y):
    # The first layer's pre-activations sit around +30: tanh is flat there, so the
    # gradients of that layer vanish (1 - tanh(30)**2 ~ 1e-26).
    h = jnp.tanh(x @ params["saturated"]["w"] + params["saturated"]["b"][None, :])
    h = jnp.tanh(h @ params["hidden"]["w"] + params["hidden"]["b"][None, :])
    out = h @ params["out"]["w"] + params["out"]["b"][None, :]
    return jnp.mean((out - y) ** 2)


def test_monitor_flags_a_vanishing_layer_during_training(key):
    params = _mlp_params(key)
    x = jax.random.normal(jax.random.fold_in(key, 1), (16, 4))
    y = jnp.sin(x[:, :1])
    tx = gradtx.training_monitor(adam_chain(lr=1e-2))

    def body(carry, _):
        p, state = carry
        u, state = tx.update(jax.grad(_mlp_loss)(p, x, y), state, p)
        return (gradtx.apply_updates(p, u), state), (state.grad_norm, state.vanishing)

    (_, state), (norms, vanishing) = jax.jit(
        lambda p: jax.lax.scan(body, (p, tx.init(p)), length=25)
    )(params)
    assert all(bool(np.all(v)) for v in jax.tree.leaves(vanishing["saturated"]))  # every step
    assert not any(bool(np.any(v)) for v in jax.tree.leaves(vanishing["hidden"]))
    assert not any(bool(np.any(v)) for v in jax.tree.leaves(vanishing["out"]))
    assert np.all(np.isfinite(np.asarray(norms))) and np.all(np.asarray(norms) > 0)
    assert not any(bool(v) for v in jax.tree.leaves(state.exploding))
    assert int(state.count) == 25


def test_statistics_match_numpy():
    params = example_params()
    grads = gradient_sequence(params, 1)[0]
    inner = adam_chain(lr=0.1)
    tx = gradtx.training_monitor(inner, exploding_threshold=2.0)
    u, state = jax.jit(tx.update)(grads, tx.init(params), params)
    u_ref, _ = inner.update(grads, inner.init(params), params)
    assert_trees_close(u, u_ref, rtol=1e-6)  # (jit vs eager)

    def norm(tree):
        return np.sqrt(sum(np.sum(np.asarray(x, np.float64) ** 2) for x in jax.tree.leaves(tree)))

    np.testing.assert_allclose(state.grad_norm, norm(grads), rtol=1e-6)
    np.testing.assert_allclose(state.update_norm, norm(u_ref), rtol=1e-6)
    np.testing.assert_allclose(state.param_norm, norm(params), rtol=1e-6)
    np.testing.assert_allclose(state.update_param_ratio, norm(u_ref) / norm(params), rtol=1e-6)
    leaf_norms = jax.tree.map(lambda g: np.linalg.norm(np.asarray(g, np.float64)), grads)
    assert_trees_close(state.leaf_grad_norms, leaf_norms, rtol=1e-6)
    assert jax.tree.map(bool, state.exploding) == jax.tree.map(lambda n: n > 2.0, leaf_norms)
    assert gradtx.tree.get(state, "grad_norm") is state.grad_norm


def test_standalone_monitor_passes_updates_through_in_a_chain():
    params = example_params(jnp.bfloat16)
    grads = gradient_sequence(params, 1)[0]
    tx = gradtx.chain(gradtx.training_monitor(), gradtx.scale(-0.5))
    u, state = tx.update(grads, tx.init(params))
    assert_trees_close(u, jax.tree.map(lambda g: -0.5 * g, grads), rtol=0.0)
    assert state[0].grad_norm == state[0].update_norm and state[0].grad_norm.dtype == jnp.float32
    assert bool(jnp.isnan(state[0].param_norm))  # no params given


def test_none_leaves_and_stable_state():
    params = {"w": jnp.ones(3), "none": None}
    tx = gradtx.training_monitor(gradtx.scale(-1.0))
    state0 = tx.init(params)
    _, state = jax.jit(tx.update)({"w": jnp.zeros(3), "none": None}, state0, params)
    assert state.vanishing["none"] is None and bool(state.vanishing["w"])
    assert jax.tree.structure(state) == jax.tree.structure(state0)


def test_optax_dict_form_matches_optax():
    params = example_params()
    grads = gradient_sequence(params, 3)

    def make(lib, measure):
        return lib.chain(lib.scale(-0.1), lib.monitor({"norm": measure}), lib.scale(2.0))

    ours = make(gradtx, gradtx.tree.global_norm)
    theirs = make(optax, optax.tree.norm)
    s_ours, s_theirs = ours.init(params), theirs.init(params)
    assert float(s_ours[1].measurements["norm"]) == 0.0
    for g in grads:
        u_ours, s_ours = jax.jit(ours.update)(g, s_ours)
        with jax.numpy_dtype_promotion("standard"):
            u_theirs, s_theirs = jax.jit(theirs.update)(g, s_theirs)
        assert_trees_close(u_ours, u_theirs, rtol=1e-6)
        np.testing.assert_allclose(
            gradtx.tree.get(s_ours, "norm"), optax.tree.get(s_theirs, "norm"), rtol=1e-6
        )
    assert s_ours[1]._fields == s_theirs[1]._fields


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"vanishing_threshold": -1.0}, ValueError, r"monitor\(vanishing_threshold=-1.0\)"),
        ({"exploding_threshold": 0.0}, ValueError, r"training_monitor\(exploding_threshold=0.0\)"),
        ({"vanishing_threshold": 5.0, "exploding_threshold": 1.0}, ValueError, "must be <"),
        ({"inner": 3}, TypeError, r"training_monitor\(inner=3\)"),
    ],
)
def test_arguments_are_validated(kwargs, error, match):
    with pytest.raises(error, match=match):
        gradtx.training_monitor(**kwargs)


def test_optax_monitor_validates_its_measures():
    with pytest.raises(TypeError, match=r"measures\['norm'\]"):
        gradtx.monitor({"norm": 3})
    with pytest.raises(TypeError, match=r"monitor\(measures="):
        gradtx.monitor(gradtx.scale(1.0))
