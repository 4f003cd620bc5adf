"""ADOPT: Optax parity, the reference implementation (iShohei220/adopt) in float64 NumPy,
the exactly-zero first update, state structure."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from tests.contrib._common import state_structure
from tests.helpers import example_params, schedule
from tests.optax_parity import assert_optax_parity

# Slow (CI runs it): trajectories against Optax and the papers.
pytestmark = pytest.mark.slow

contrib = gradtx.contrib

CASES = [
    {},
    dict(b1=0.8, b2=0.99, eps=1e-4, nesterov=True),
    dict(use_clipping=False, mu_dtype=jnp.float32),
    dict(clip_value_fn=lambda t: 1.0 + t),
]


@pytest.mark.parametrize("kwargs", CASES)
def test_adopt_matches_optax(kwargs):
    assert_optax_parity(
        contrib.adopt(0.05, **kwargs),
        optax.contrib.adopt(0.05, **kwargs),
        steps=25,
        rtol=1e-5,
        atol=1e-7,
    )


def test_scale_by_adopt_with_a_schedule_matches_optax():
    assert_optax_parity(
        gradtx.chain(contrib.scale_by_adopt(b2=0.95), gradtx.scale_by_learning_rate(schedule)),
        optax.chain(optax.contrib.scale_by_adopt(b2=0.95), optax.scale_by_learning_rate(schedule)),
        steps=25,
        rtol=1e-5,
        atol=1e-7,
        eager=True,
    )


def _reference_adopt(p, grads, lr, b1, b2, eps, clip_lambda, wd):
    """iShohei220/adopt ``adopt.py`` ``_single_tensor_adopt`` (decoupled weight decay)."""
    p = p.copy()
    exp_avg, exp_avg_sq = np.zeros_like(p), np.zeros_like(p)
    for step, g in enumerate(grads):
        if step == 0:
            exp_avg_sq += g * g
            continue
        p = p * (1 - lr * wd)
        normed = g / np.maximum(np.sqrt(exp_avg_sq), eps)
        if clip_lambda is not None:
            c = clip_lambda(step)
            normed = np.clip(normed, -c, c)
        exp_avg = exp_avg + (1 - b1) * (normed - exp_avg)
        p = p - lr * exp_avg
        exp_avg_sq = b2 * exp_avg_sq + (1 - b2) * g * g
    return p


@pytest.mark.parametrize("clipping", [True, False])
def test_matches_the_reference_implementation(x64, clipping):
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=5)
    grads = [rng.normal(size=5) * 10 ** rng.uniform(-3, 1) for _ in range(30)]
    lr, b1, b2, eps, wd = 0.01, 0.8, 0.99, 1e-6, 0.1
    expected = _reference_adopt(
        p0, grads, lr, b1, b2, eps, (lambda s: s**0.25) if clipping else None, wd
    )
    tx = gradtx.chain(
        contrib.scale_by_adopt(b1, b2, eps, use_clipping=clipping),
        gradtx.add_decayed_weights(wd),
        gradtx.scale_by_learning_rate(lr),
    )
    params = jnp.asarray(p0)
    state = tx.init(params)
    for g in grads:
        u, state = tx.update(jnp.asarray(g), state, params)
        # the reference skips step 0 entirely (no weight decay either)
        params = params + (u if int(state[0].count) > 1 else 0.0 * u)
    np.testing.assert_allclose(params, expected, rtol=1e-12)


def test_first_update_is_exactly_zero():
    params = example_params()
    tx = contrib.adopt(1.0)
    g = jax.tree.map(lambda x: x + 3.0, params)
    u, state = tx.update(g, tx.init(params), params)
    assert all(bool(jnp.all(x == 0)) for x in jax.tree.leaves(u))
    np.testing.assert_allclose(state[0].nu["dense"]["w"], g["dense"]["w"] ** 2)


def test_state_structure_matches_optax():
    params = example_params(jnp.bfloat16)
    ours = contrib.scale_by_adopt(mu_dtype=jnp.float32).init(params)
    theirs = optax.contrib.scale_by_adopt(mu_dtype=jnp.float32).init(params)
    assert state_structure(ours) == state_structure(theirs)


def test_validation():
    with pytest.raises(ValueError, match=r"scale_by_adopt\(b2=1\.0\)"):
        contrib.scale_by_adopt(b2=1.0)
    with pytest.raises(ValueError, match=r"scale_by_adopt\(eps=-1\.0\)"):
        contrib.adopt(0.1, eps=-1.0)
    with pytest.raises(TypeError, match="clip_value_fn"):
        contrib.scale_by_adopt(clip_value_fn=0.5)
