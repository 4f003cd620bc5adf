"""lookahead: Optax parity (LookaheadParams), plain-params mode, the paper's update, errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from tests.helpers import assert_trees_close, example_params, quadratic_problem
from tests.wrappers._common import adam_chain

# Slow (CI runs it): wrapper trajectories, compiled per case.
pytestmark = pytest.mark.slow


def _run_paired(lib, tx, params, steps, loss_fn, nan_at=()):
    """Optax's loop: gradients at params.fast, updates are LookaheadParams."""
    params = lib.LookaheadParams.init_synced(params)
    state = tx.init(params)
    update = jax.jit(tx.update)
    history = []
    for t in range(steps):
        g = jax.grad(loss_fn)(params.fast)
        if t in nan_at:
            g = jax.tree.map(lambda x: x * jnp.nan, g)
        u, state = update(g, state, params)
        params = lib.apply_updates(params, u)
        history.append(params)
    return history, state


@pytest.mark.parametrize("reset_state", [False, True])
def test_lookahead_matches_optax(reset_state):
    loss_fn, params = quadratic_problem()

    def make(lib):
        return lib.lookahead(adam_chain(lib, 0.05), 4, 0.5, reset_state=reset_state)

    ours, s_ours = _run_paired(gradtx, make(gradtx), params, 26, loss_fn)
    with jax.numpy_dtype_promotion("standard"):
        theirs, s_theirs = _run_paired(optax, make(optax), params, 26, loss_fn)
    for t, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert_trees_close(tuple(a), tuple(b), rtol=1e-6, atol=1e-7, msg=f"step {t}")
    assert type(s_ours).__name__ == type(s_theirs).__name__
    assert s_ours._fields == s_theirs._fields
    assert int(s_ours.steps_since_sync) == int(s_theirs.steps_since_sync) == 26 % 4


def test_lookahead_inside_apply_if_finite_skips_nan_steps():
    """Optax's apply_if_finite cannot wrap lookahead (its zero updates are not
    LookaheadParams); ours can. A skipped step changes nothing, so 25 steps with two NaN
    gradients equal 23 clean steps of Optax's lookahead."""
    loss_fn, params = quadratic_problem()
    ours = gradtx.apply_if_finite(gradtx.lookahead(adam_chain(gradtx, 0.05), 3, 0.8), 3)
    theirs = optax.lookahead(adam_chain(optax, 0.05), 3, 0.8)
    history, state = _run_paired(gradtx, ours, params, 25, loss_fn, nan_at=(4, 9))
    with jax.numpy_dtype_promotion("standard"):
        reference, _ = _run_paired(optax, theirs, params, 23, loss_fn)
    assert int(state.total_notfinite) == 2
    kept = [h for t, h in enumerate(history) if t not in (4, 9)]
    for t, (a, b) in enumerate(zip(kept, reference, strict=True)):
        assert_trees_close(tuple(a), tuple(b), rtol=1e-6, atol=1e-7, msg=f"step {t}")


def test_plain_params_mode_follows_the_same_fast_trajectory():
    loss_fn, params = quadratic_problem()
    tx = gradtx.lookahead(adam_chain(lr=0.05), 3, 0.5)
    paired, s_paired = _run_paired(gradtx, tx, params, 12, loss_fn)
    state, p = tx.init(params), params
    update = jax.jit(tx.update)
    for t in range(12):
        u, state = update(jax.grad(loss_fn)(p), state, p)
        assert jax.tree.structure(u) == jax.tree.structure(params)
        p = gradtx.apply_updates(p, u)
        assert_trees_close(p, paired[t].fast, rtol=1e-6, atol=1e-7, msg=f"step {t}")
        assert_trees_close(state.slow_params, paired[t].slow, rtol=1e-6, atol=1e-7)
    assert_trees_close(gradtx.tree.get(state, "slow_params"), paired[-1].slow, rtol=1e-6)
    assert isinstance(state, gradtx.LookaheadSlowParamsState)
    assert isinstance(s_paired, gradtx.LookaheadState) and len(s_paired) == 2


def test_lookahead_is_the_papers_two_loops():
    """k plain SGD steps from phi, then phi <- phi + alpha (theta_k - phi), theta <- phi."""
    k, alpha, lr = 3, 0.4, 0.1
    rng = np.random.default_rng(1)
    grads = rng.normal(size=(9, 2))
    tx = gradtx.lookahead(gradtx.scale(-lr), k, alpha)
    params = jnp.zeros(2)
    state = tx.init(params)
    phi = theta = np.zeros(2)
    for t in range(9):
        u, state = tx.update(jnp.asarray(grads[t], jnp.float32), state, params)
        params = gradtx.apply_updates(params, u)
        theta = theta - lr * grads[t]
        if (t + 1) % k == 0:
            phi = phi + alpha * (theta - phi)
            theta = phi
        np.testing.assert_allclose(params, theta, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(state.slow_params, phi, rtol=1e-5, atol=1e-7)


def test_bfloat16_and_none_leaves():
    bf16 = jnp.bfloat16
    params = {"w": jnp.ones(3, bf16), "none": None}
    tx = gradtx.lookahead(adam_chain(), 1, 0.5)
    u, state = jax.jit(tx.update)({"w": jnp.ones(3, bf16), "none": None}, tx.init(params), params)
    assert u["none"] is None and u["w"].dtype == bf16 and state.slow_params["w"].dtype == bf16
    np.testing.assert_allclose(np.asarray(u["w"], np.float32), -0.005, rtol=1e-2)


def test_plain_update_after_paired_init_is_an_error():
    tx = gradtx.lookahead(gradtx.sgd(0.1), 2, 0.5)
    state = tx.init(gradtx.LookaheadParams.init_synced(jnp.ones(2)))
    with pytest.raises(ValueError, match="LookaheadParams"):
        tx.update(jnp.ones(2), state, jnp.ones(2))
    with pytest.raises(ValueError, match="needs params"):
        tx.update(jnp.ones(2), state)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"sync_period": 0}, ValueError, r"lookahead\(sync_period=0\)"),
        ({"sync_period": 2.5}, TypeError, r"lookahead\(sync_period=2.5\)"),
        ({"slow_step_size": 1.5}, ValueError, r"lookahead\(slow_step_size=1.5\)"),
        ({"fast_optimizer": None}, TypeError, r"lookahead\(fast_optimizer=None\)"),
    ],
)
def test_arguments_are_validated(kwargs, error, match):
    args = {"fast_optimizer": gradtx.sgd(0.1), "sync_period": 2, "slow_step_size": 0.5, **kwargs}
    with pytest.raises(error, match=match):
        gradtx.lookahead(**args)


def test_example_params_dtypes_preserved():
    params = example_params(jnp.float32)
    tx = gradtx.lookahead(adam_chain(), 2, 0.5)
    u, _ = tx.update(params, tx.init(params), params)
    assert jax.tree.map(lambda x: x.dtype, u) == jax.tree.map(lambda x: x.dtype, params)


def test_tree_map_params_over_a_paired_state_as_optax():
    """Optax's lookahead test maps its state with ``tree.map_params(init_fn, ...)``."""
    params = {"x": jnp.array(3.0), "y": jnp.array(-3.0)}
    out = {}
    for lib in (gradtx, optax):
        tx = lib.lookahead(lib.sgd(0.1, momentum=0.9), sync_period=2, slow_step_size=0.5)
        state = tx.init(lib.LookaheadParams.init_synced(params))
        out[lib.__name__] = lib.tree.map_params(
            tx.init, lambda v: v + 1, state, transform_non_params=lambda v: v
        )
    assert type(out["gradtx"]).__name__ == type(out["optax"]).__name__ == "LookaheadState"
    assert_trees_close(
        gradtx.tree.get(out["gradtx"], "trace"), optax.tree.get(out["optax"], "trace")
    )
    assert float(out["gradtx"].fast_state[0].trace["x"]) == 1.0
