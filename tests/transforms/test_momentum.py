"""trace and ema: float64 NumPy references, Optax parity, dtypes, trees and validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from tests.helpers import (
    assert_same_shapes_and_dtypes,
    example_params,
    gradient_sequence,
    run_updates,
)

# --- float64 NumPy references -------------------------------------------------------


def np_trace(gs, decay, nesterov=False):
    """Heavy ball: m_t = g_t + mu m_{t-1}; Nesterov returns g_t + mu m_t."""
    m = np.zeros_like(gs[0])
    out = []
    for g in gs:
        m = g + decay * m
        out.append(g + decay * m if nesterov else m)
    return out


def np_ema(gs, decay, debias=True):
    """m_t = beta m_{t-1} + (1 - beta) g_t, optionally divided by 1 - beta^t."""
    m = np.zeros_like(gs[0])
    out = []
    for t, g in enumerate(gs, start=1):
        m = decay * m + (1 - decay) * g
        out.append(m / (1 - decay**t) if debias else m)
    return out


def _leaf_sequences(steps=12, shape=(3, 4), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape) for _ in range(steps)]


@pytest.mark.parametrize("nesterov", [False, True])
def test_trace_matches_float64_reference(x64, nesterov):
    gs = _leaf_sequences()
    ours, _, _ = run_updates(
        gradtx.trace(0.8, nesterov=nesterov),
        jnp.zeros((3, 4)),
        [jnp.asarray(g) for g in gs],
        jit=False,
    )
    for o, r in zip(ours, np_trace(gs, 0.8, nesterov), strict=True):
        assert o.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(o), r, rtol=1e-12)


@pytest.mark.parametrize("debias", [False, True])
def test_ema_matches_float64_reference(x64, debias):
    gs = _leaf_sequences()
    ours, _, _ = run_updates(
        gradtx.ema(0.7, debias=debias), jnp.zeros((3, 4)), [jnp.asarray(g) for g in gs], jit=False
    )
    for o, r in zip(ours, np_ema(gs, 0.7, debias), strict=True):
        np.testing.assert_allclose(np.asarray(o), r, rtol=1e-12)


def test_trace_closed_form_geometric_sum():
    tx = gradtx.trace(0.5)
    state = tx.init(jnp.zeros(2))
    for _ in range(10):
        u, state = tx.update(jnp.ones(2), state)
    np.testing.assert_allclose(np.asarray(u), 2 * (1 - 0.5**10), rtol=1e-6)


def test_ema_debiased_constant_input_is_exact():
    tx = gradtx.ema(0.99)
    state = tx.init(jnp.zeros(3))
    for _ in range(5):
        u, state = tx.update(jnp.full(3, 2.5), state)
    np.testing.assert_allclose(np.asarray(u), 2.5, rtol=1e-6)
    assert int(state.count) == 5


def test_state_field_names_match_optax():
    assert gradtx.TraceState._fields == optax.TraceState._fields
    assert gradtx.EmaState._fields == optax.EmaState._fields


@pytest.mark.parametrize("factory", [gradtx.trace, gradtx.ema])
@pytest.mark.parametrize("param_dtype", [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize("acc_dtype", [None, jnp.float32, jnp.bfloat16])
def test_dtypes_are_preserved(factory, param_dtype, acc_dtype):
    params = example_params(param_dtype)
    tx = factory(0.9, accumulator_dtype=acc_dtype)
    state0 = tx.init(params)
    buffer = state0[-1]
    expected = acc_dtype or param_dtype
    assert all(x.dtype == expected for x in jax.tree.leaves(buffer))
    state = state0
    for g in gradient_sequence(params, 2):
        u, state = jax.jit(tx.update)(g, state)
        assert_same_shapes_and_dtypes(u, g)
        assert_same_shapes_and_dtypes(state, state0)


@pytest.mark.parametrize("factory", [gradtx.trace, gradtx.ema])
def test_float64_is_preserved(x64, factory):
    params = example_params(jnp.float64)
    tx = factory(0.9)
    g = gradient_sequence(params, 1)[0]
    u, state = tx.update(g, tx.init(params))
    assert_same_shapes_and_dtypes(u, g)
    assert_same_shapes_and_dtypes(state, tx.init(params))


@pytest.mark.parametrize("factory", [gradtx.trace, gradtx.ema])
def test_nested_and_empty_trees(factory):
    tx = factory(0.5)
    params = {"a": [jnp.ones(2), {"b": jnp.ones((2, 2))}], "c": ()}
    u, _ = tx.update(jax.tree.map(lambda x: 2 * x, params), tx.init(params))
    assert jax.tree.structure(u) == jax.tree.structure(params)
    assert tx.update({}, tx.init({}))[0] == {}


@pytest.mark.parametrize("factory", [gradtx.trace, gradtx.ema])
def test_tree_mismatch_is_reported(factory):
    tx = factory(0.5)
    state = tx.init({"w": jnp.ones(3)})
    with pytest.raises(gradtx.TreeMismatchError, match=factory.__name__):
        tx.update({"v": jnp.ones(3)}, state)
    with pytest.raises(gradtx.TreeMismatchError, match="shape"):
        tx.update({"w": jnp.ones((2, 3))}, state)


@pytest.mark.parametrize("factory", [gradtx.trace, gradtx.ema])
@pytest.mark.parametrize("decay", [1.1, -0.1, float("nan")])
def test_decay_validation(factory, decay):
    with pytest.raises(ValueError, match=rf"{factory.__name__}\(decay="):
        factory(decay)
    if factory is gradtx.ema:
        with pytest.raises(ValueError, match=r"ema\(decay="):
            factory(1.0)


def test_trace_with_decay_one_is_a_running_sum():
    # Issue 14 item 8: Optax accepts decay=1 (a running sum of the updates).
    import optax

    tx, ref = gradtx.trace(decay=1.0), optax.trace(decay=1.0)
    state, ref_state = tx.init(jnp.zeros(2)), ref.init(jnp.zeros(2))
    total = np.zeros(2)
    for t in range(4):
        g = jnp.asarray([1.0, -2.0]) * (t + 1)
        u, state = tx.update(g, state)
        expected, ref_state = ref.update(g, ref_state)
        total += np.asarray(g)
        np.testing.assert_allclose(np.asarray(u), total, rtol=1e-6)
        np.testing.assert_allclose(np.asarray(u), np.asarray(expected), rtol=1e-6)


def test_traced_decay_is_accepted():
    @jax.jit
    def step(decay, g):
        tx = gradtx.trace(decay, nesterov=True)
        return tx.update(g, tx.init(g))[0]

    np.testing.assert_allclose(step(jnp.asarray(0.5), jnp.ones(2)), 1.5, rtol=1e-6)  # g + mu g
