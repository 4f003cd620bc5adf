"""Cautious optimizers and cautious weight decay: the reference C-AdamW (kyleliang919/C-Optim
``c_adamw.py``) and the CWD rule (arXiv 2510.12402) in float64 NumPy, the b1 = 0 identity,
the descent property, dtypes, jit = eager."""

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


def _reference_c_adamw(p, grads, lr, b1, b2, eps, wd):
    """C-AdamW, Algorithm 2 of Liang et al. 2024 as in C-Optim ``c_adamw.py``: decoupled
    decay, Adam moments, mask = (exp_avg * grad > 0), mask /= max(mean(mask), 1e-3)."""
    p = p.copy()
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        p = p * (1 - lr * wd)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        denom = np.sqrt(v) / np.sqrt(1 - b2**t) + eps
        mask = (m * g > 0).astype(np.float64)
        mask = mask / max(mask.mean(), 1e-3)
        p = p - lr / (1 - b1**t) * (m * mask) / denom
    return p


def test_c_adamw_matches_the_reference(x64):
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=(4, 6))
    grads = [rng.normal(size=(4, 6)) * 10 ** rng.uniform(-2, 1) for _ in range(30)]
    lr, b1, b2, eps, wd = 0.01, 0.9, 0.95, 1e-8, 0.1
    expected = _reference_c_adamw(p0, grads, lr, b1, b2, eps, wd)
    tx = gradtx.chain(
        contrib.cautious(gradtx.chain(gradtx.scale_by_adam(b1, b2, eps), gradtx.scale(-1.0))),
        gradtx.scale(-1.0),
        gradtx.add_decayed_weights(wd),
        gradtx.scale_by_learning_rate(lr),
    )
    _, params, _ = run_updates(tx, jnp.asarray(p0), [jnp.asarray(g) for g in grads])
    np.testing.assert_allclose(params, expected, rtol=1e-12)


@pytest.mark.parametrize("jit", [True, False])
def test_with_b1_zero_cautious_adamw_is_adamw(jit):
    params = matrix_params()
    grads = gradient_sequence(params, 25, seed=3)
    plain = gradtx.adamw(0.05, b1=0.0, b2=0.9, weight_decay=0.0)
    ours, _, _ = run_updates(contrib.cautious(plain), params, grads, jit=jit)
    theirs, _, _ = run_updates(plain, params, grads, jit=jit)
    for a, e in zip(ours, theirs, strict=True):
        assert_trees_close(a, e, rtol=1e-6)


def test_masks_uphill_coordinates_and_rescales_by_the_kept_fraction():
    # momentum 0.9: after g1 = (1, 1, 1, 1), g2 = (1, -2, 1, -0.5) the trace is
    # (1.9, -1.1, 1.9, 0.4): coordinate 3 points uphill, the kept fraction is 3/4.
    tx = contrib.cautious(gradtx.sgd(1.0, momentum=0.9))
    p = jnp.zeros(4)
    state = tx.init(p)
    _, state = tx.update(jnp.ones(4), state, p)
    u, state = tx.update(jnp.array([1.0, -2.0, 1.0, -0.5]), state, p)
    np.testing.assert_allclose(u, np.array([-1.9, 1.1, -1.9, 0.0]) / 0.75, rtol=1e-6)
    # the inner state is the plain optimizer's, untouched by the mask
    np.testing.assert_allclose(state.inner_state[0].trace, [1.9, -1.1, 1.9, 0.4], rtol=1e-6)


def test_the_update_never_points_uphill():
    params = matrix_params()
    grads = gradient_sequence(params, 20, seed=1)
    history, _, _ = run_updates(contrib.cautious(gradtx.adamw(0.1, b1=0.95)), params, grads)
    for u, g in zip(history, grads, strict=True):
        for a, b in zip(jax.tree.leaves(u), jax.tree.leaves(g), strict=True):
            assert bool(jnp.all(a * b <= 0))


def test_nothing_kept_gives_zero_and_min_fraction_one_disables_the_rescale():
    tx = contrib.cautious(gradtx.scale(1.0))  # always uphill
    u, _ = tx.update(jnp.ones(3), tx.init(jnp.zeros(3)))
    assert u.tolist() == [0.0, 0.0, 0.0]
    tx = contrib.cautious(gradtx.scale(-1.0), min_fraction=1.0)
    u, _ = tx.update(jnp.array([1.0, 0.0, 2.0]), tx.init(jnp.zeros(3)))
    np.testing.assert_allclose(u, [-1.0, 0.0, -2.0])


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_keeps_dtypes_and_none_leaves(dtype):
    params = {"a": jnp.ones((2, 3), dtype), "b": None}
    tx = contrib.cautious(gradtx.adamw(0.1))
    u, _ = tx.update({"a": jnp.ones((2, 3), dtype), "b": None}, tx.init(params), params)
    assert u["a"].dtype == dtype and u["b"] is None


def _reference_cwd(p, directions, lr, wd):
    """Chen et al. 2025, Algorithm 1: x <- x - lr (u + wd * 1[u x >= 0] x)."""
    p = p.copy()
    for u in directions:
        p = p - lr * (u + wd * (u * p >= 0) * p)
    return p


def test_cautious_weight_decay_matches_the_rule(x64):
    rng = np.random.default_rng(2)
    p0 = rng.normal(size=7)
    grads = [rng.normal(size=7) for _ in range(25)]
    lr, wd = 0.1, 0.3
    expected = _reference_cwd(p0, grads, lr, wd)  # SGD direction u = g
    tx = gradtx.chain(contrib.add_cautious_decayed_weights(wd), gradtx.scale_by_learning_rate(lr))
    _, params, _ = run_updates(tx, jnp.asarray(p0), [jnp.asarray(g) for g in grads])
    np.testing.assert_allclose(params, expected, rtol=1e-12)


def test_cautious_weight_decay_mask_and_schedule():
    params = {"w": jnp.array([1.0, -1.0]), "b": jnp.array([1.0])}
    g = {"w": jnp.array([1.0, 1.0]), "b": jnp.array([1.0])}
    tx = contrib.add_cautious_decayed_weights(
        lambda c: 0.5 * (c.astype(jnp.float32) + 1), mask={"w": True, "b": False}
    )
    state = tx.init(params)
    u, state = tx.update(g, state, params)
    assert u["w"].tolist() == [1.5, 1.0] and u["b"].tolist() == [1.0]
    u, state = tx.update(g, state, params)
    assert u["w"].tolist() == [2.0, 1.0] and int(state.count) == 2


def test_validation():
    with pytest.raises(TypeError, match=r"cautious\(inner="):
        contrib.cautious(0.1)
    with pytest.raises(ValueError, match=r"cautious\(min_fraction=0\.0\)"):
        contrib.cautious(gradtx.sgd(0.1), min_fraction=0.0)
    with pytest.raises(ValueError, match=r"add_cautious_decayed_weights\(weight_decay=-1\.0\)"):
        contrib.add_cautious_decayed_weights(-1.0)
    with pytest.raises(TypeError, match="mask"):
        contrib.add_cautious_decayed_weights(0.1, mask="w")
