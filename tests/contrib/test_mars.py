"""MARS: the reference (AGI-Arena/MARS ``mars.py``, mars-adamw, is_approx) in float64 NumPy,
the gamma = 0 identities (AdamW on per-tensor-clipped gradients; Adam), dtypes, validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from tests.contrib._common import matrix_params
from tests.helpers import assert_trees_close, gradient_sequence, run_updates

# Slow (CI runs it): trajectories against Optax and the papers.
pytestmark = pytest.mark.slow

contrib = gradtx.contrib


def _reference_mars(p, grads, lr, b1, b2, eps, gamma, wd, max_grad_norm=1.0):
    """``update_fn`` of AGI-Arena/MARS ``MARS/mars.py`` (mars-adamw, optimize_1d=True,
    is_approx: last_grad is the previous step's gradient, zeros at first)."""
    p = p.copy()
    exp_avg, exp_avg_sq, last_grad = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for step, grad in enumerate(grads, start=1):
        c_t = (grad - last_grad) * (gamma * (b1 / (1.0 - b1))) + grad
        c_t_norm = np.linalg.norm(c_t)
        if c_t_norm > max_grad_norm:
            c_t = c_t / c_t_norm * max_grad_norm
        exp_avg = b1 * exp_avg + (1 - b1) * c_t
        exp_avg_sq = b2 * exp_avg_sq + (1 - b2) * c_t * c_t
        bias_correction1 = 1 - b1**step
        bias_correction2 = 1 - b2**step
        denom = np.sqrt(exp_avg_sq) / np.sqrt(bias_correction2) + eps
        update = exp_avg / bias_correction1 / denom
        p = p * (1 - lr * wd) - lr * update
        last_grad = grad
    return p


@pytest.mark.parametrize("gamma", [0.025, 0.5])
def test_matches_the_reference(x64, gamma):
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=(3, 5))
    # gradient norms on both sides of the clip
    grads = [rng.normal(size=(3, 5)) * 10 ** rng.uniform(-1.5, 0.5) for _ in range(30)]
    lr, b1, b2, eps, wd = 0.01, 0.9, 0.95, 1e-8, 0.1
    expected = _reference_mars(p0, grads, lr, b1, b2, eps, gamma, wd)
    tx = contrib.mars(lr, b1, b2, eps, gamma, weight_decay=wd)
    _, params, _ = run_updates(tx, jnp.asarray(p0), [jnp.asarray(g) for g in grads])
    np.testing.assert_allclose(params, expected, rtol=1e-12)


def _clip_each_leaf(max_norm):
    def clip(g):
        norm = jnp.linalg.norm(g)
        return jnp.where(norm > max_norm, g * (max_norm / norm), g)

    return gradtx.stateless(lambda updates, params=None: jax.tree.map(clip, updates))


@pytest.mark.parametrize("jit", [True, False])
def test_gamma_zero_is_adamw_on_per_tensor_clipped_gradients(jit):
    params = matrix_params()
    grads = gradient_sequence(params, 25, seed=4)
    grads = [jax.tree.map(lambda g: 2.0 * g, gs) for gs in grads]  # most leaves get clipped
    ours = contrib.mars(0.05, b1=0.8, b2=0.9, gamma=0.0, weight_decay=0.01)
    theirs = gradtx.chain(_clip_each_leaf(1.0), gradtx.adamw(0.05, 0.8, 0.9, weight_decay=0.01))
    a, _, _ = run_updates(ours, params, grads, jit=jit)
    e, _, _ = run_updates(theirs, params, grads, jit=jit)
    for x, y in zip(a, e, strict=True):
        assert_trees_close(x, y, rtol=1e-5, atol=1e-7)


def test_no_correction_and_no_clip_is_adam():
    params = matrix_params()
    grads = gradient_sequence(params, 25, seed=5)
    a, _, _ = run_updates(contrib.scale_by_mars(gamma=0.0, max_norm=None), params, grads)
    e, _, _ = run_updates(gradtx.scale_by_adam(0.95, 0.99), params, grads)
    for x, y in zip(a, e, strict=True):
        assert_trees_close(x, y, rtol=1e-6)


def test_the_correction_uses_the_previous_gradient():
    tx = contrib.scale_by_mars(b1=0.5, gamma=1.0, max_norm=None)
    state = tx.init(jnp.zeros(2))
    _, state = tx.update(jnp.array([1.0, 2.0]), state)
    np.testing.assert_allclose(state.last_grad, [1.0, 2.0])
    # c_2 = g + (g - g_1) = (3, 0): the Adam moments see the corrected gradient
    _, state = tx.update(jnp.array([2.0, 1.0]), state)
    np.testing.assert_allclose(
        state.adam.mu, 0.5 * (0.5 * np.array([2.0, 4.0])) + 0.5 * np.array([3.0, 0.0])
    )


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_keeps_dtypes(dtype):
    params = matrix_params(dtype)
    tx = contrib.mars(0.1, mu_dtype=jnp.float32)
    state = tx.init(params)
    u, state = tx.update(params, state, params)
    for x in jax.tree.leaves(u):
        assert x.dtype == dtype and bool(jnp.all(jnp.isfinite(x.astype(jnp.float32))))
    assert state[0].adam.mu["w"].dtype == jnp.float32
    assert state[0].last_grad["w"].dtype == dtype


def test_validation():
    with pytest.raises(ValueError, match=r"scale_by_mars\(b1=1\.0\)"):
        contrib.scale_by_mars(b1=1.0)
    with pytest.raises(ValueError, match=r"scale_by_mars\(gamma=-0\.1\)"):
        contrib.mars(0.1, gamma=-0.1)
    with pytest.raises(ValueError, match=r"scale_by_mars\(max_norm=0\.0\)"):
        contrib.scale_by_mars(max_norm=0.0)
