"""dynamic_loss_scale: float16 training with injected overflows, scale dynamics, skipping."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from tests.helpers import assert_trees_close

# Slow (CI runs it): wrapper trajectories, compiled per case.
pytestmark = pytest.mark.slow

STEPS = 300
OVERFLOW_AT = (40, 41, 120, 200)


def _problem():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype(np.float32)
    w_true = rng.normal(size=(8, 1)).astype(np.float32)
    y = x @ w_true + 0.3 * rng.normal(size=(64, 1)).astype(np.float32)
    params = {"w": jnp.zeros((8, 1), jnp.float32), "b": jnp.zeros((1,), jnp.float32)}
    return jnp.asarray(x), jnp.asarray(y), params


def _loss(params, x, y, dtype):
    """Forward pass in ``dtype``; the mean is returned in float32."""
    w, b = params["w"].astype(dtype), params["b"].astype(dtype)
    err = x.astype(dtype) @ w + b[None, :] - y.astype(dtype)
    return jnp.mean(err * err).astype(jnp.float32)


def _train_float16():
    x, y, params = _problem()
    tx = gradtx.dynamic_loss_scale(
        gradtx.chain(gradtx.scale_by_adam(), gradtx.scale(-0.02)), growth_interval=25
    )
    inject = jnp.zeros(STEPS, bool).at[jnp.asarray(OVERFLOW_AT)].set(True)

    def scaled_loss(p, scale, blow_up):
        loss = _loss(p, x, y, jnp.float16)
        # an injected overflow: the scaled loss's backward pass exceeds float16's range
        return loss * scale * jnp.where(blow_up, jnp.float32(1e6), jnp.float32(1.0))

    def body(carry, blow_up):
        p, state = carry
        grads = jax.grad(scaled_loss)(p, gradtx.loss_scale(state), blow_up)
        updates, state = tx.update(grads, state, p)
        return (gradtx.apply_updates(p, updates), state), (
            gradtx.loss_scale(state),
            state.last_finite,
        )

    (params, state), (scales, finite) = jax.jit(
        lambda p: jax.lax.scan(body, (p, tx.init(p)), inject)
    )(params)
    return params, state, np.asarray(scales), np.asarray(finite)


def _train_float32():
    x, y, params = _problem()
    tx = gradtx.chain(gradtx.scale_by_adam(), gradtx.scale(-0.02))

    def body(carry, _):
        p, state = carry
        updates, state = tx.update(jax.grad(_loss)(p, x, y, jnp.float32), state, p)
        return (gradtx.apply_updates(p, updates), state), None

    (params, _), _ = jax.jit(lambda p: jax.lax.scan(body, (p, tx.init(p)), length=STEPS))(params)
    return params


def test_float16_run_survives_overflows_and_matches_float32():
    x, y, _ = _problem()
    p16, state, scales, finite = _train_float16()
    p32 = _train_float32()
    loss16 = float(_loss(p16, x, y, jnp.float32))
    loss32 = float(_loss(p32, x, y, jnp.float32))
    assert np.isfinite(loss16)
    assert abs(loss16 - loss32) <= 0.01 * loss32, (loss16, loss32)
    # Every injected overflow was skipped and halved the scale ...
    assert not finite[list(OVERFLOW_AT)].any()
    assert scales[41] == scales[39] / 4
    # ... and the scale also found float16's limit by itself (2**15 * 2 = 2**16 overflows
    # the cotangent of the float16 loss), so more steps were skipped than injected.
    assert int(state.total_skipped) > len(OVERFLOW_AT)
    assert int(state.total_skipped) == int((~finite).sum())
    assert scales.max() <= 2.0**16 and scales.min() >= 1.0


def test_scale_grows_shrinks_and_respects_its_bounds():
    tx = gradtx.dynamic_loss_scale(
        gradtx.scale(-1.0),
        init_scale=4.0,
        growth_interval=3,
        factor=2.0,
        min_scale=2.0,
        max_scale=16.0,
    )
    state = tx.init(jnp.zeros(1))
    update = jax.jit(tx.update)
    ok, bad = jnp.ones(1), jnp.array([jnp.nan])
    seen = []
    for g in [ok, ok, ok, ok, ok, ok, ok, ok, ok, bad, ok, bad, bad, bad]:
        _, state = update(g, state)
        seen.append(float(state.loss_scale))
    assert seen == [4, 4, 8, 8, 8, 16, 16, 16, 16, 8, 8, 4, 2, 2]
    assert int(state.total_skipped) == 4 and int(state.good_steps) == 0


def test_grads_are_unscaled_and_skipped_steps_leave_the_inner_state():
    inner = gradtx.chain(gradtx.scale_by_adam(), gradtx.scale(-0.1))
    tx = gradtx.dynamic_loss_scale(inner, init_scale=1024.0)
    params = {"w": jnp.ones(3, jnp.float16)}
    g = {"w": jnp.array([0.5, -1.0, 2.0], jnp.float16)}
    u, state = tx.update(jax.tree.map(lambda x: x * 1024, g), tx.init(params), params)
    u_ref, s_ref = inner.update(g, inner.init(params), params)
    assert u["w"].dtype == jnp.float16
    assert_trees_close(u, u_ref, rtol=1e-3)
    assert_trees_close(state.inner_state, s_ref, rtol=1e-3)
    bad = {"w": jnp.array([jnp.inf, 0.0, 1.0], jnp.float16)}
    u, skipped = tx.update(bad, state, params)
    assert not np.any(np.asarray(u["w"])) and u["w"].dtype == jnp.float16
    assert_trees_close(skipped.inner_state, state.inner_state, rtol=0.0)
    assert float(skipped.loss_scale) == 512.0 and not bool(skipped.last_finite)


def test_bfloat16_and_none_leaves():
    bf16 = jnp.bfloat16
    tx = gradtx.dynamic_loss_scale(gradtx.scale(-1.0), init_scale=256.0)
    params = {"w": jnp.ones(2, bf16), "none": None}
    u, state = jax.jit(tx.update)({"w": jnp.full(2, 512.0, bf16), "none": None}, tx.init(params))
    assert u["none"] is None and u["w"].dtype == bf16
    np.testing.assert_allclose(np.asarray(u["w"], np.float32), -2.0)


def test_loss_scale_is_found_in_nested_states():
    tx = gradtx.MultiSteps(
        gradtx.chain(gradtx.dynamic_loss_scale(gradtx.sgd(0.1), init_scale=8.0)), 2
    )
    state = tx.init(jnp.zeros(2))
    assert float(gradtx.loss_scale(state)) == 8.0
    assert gradtx.loss_scale(state, jnp.float16).dtype == jnp.float16
    with pytest.raises(KeyError, match="no dynamic_loss_scale state"):
        gradtx.loss_scale(gradtx.sgd(0.1).init(jnp.zeros(2)))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"init_scale": 0.0}, ValueError, r"dynamic_loss_scale\(init_scale=0.0\)"),
        ({"init_scale": 0.5}, ValueError, r"init_scale must be in \[min_scale, max_scale\]"),
        ({"growth_interval": 0}, ValueError, r"dynamic_loss_scale\(growth_interval=0\)"),
        ({"growth_interval": 1.5}, TypeError, r"growth_interval"),
        ({"factor": 0.5}, ValueError, r"dynamic_loss_scale\(factor=0.5\)"),
        ({"min_scale": -1.0}, ValueError, r"dynamic_loss_scale\(min_scale=-1.0\)"),
        ({"max_scale": float("inf")}, ValueError, r"max_scale must be finite"),
        ({"inner": "adam"}, TypeError, r"dynamic_loss_scale\(inner='adam'\)"),
    ],
)
def test_arguments_are_validated(kwargs, error, match):
    args = {"inner": gradtx.sgd(0.1), **kwargs}
    with pytest.raises(error, match=match):
        gradtx.dynamic_loss_scale(**args)
