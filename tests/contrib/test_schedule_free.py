"""Schedule-free: Optax parity (wrapper and aliases, eval params), the paper's SGD
recursion in float64 NumPy, state dtypes, validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from tests.contrib._common import state_structure
from tests.helpers import example_params, gradient_sequence, schedule
from tests.optax_parity import assert_optax_parity

# Slow (CI runs it): trajectories against Optax and the papers.
pytestmark = pytest.mark.slow

contrib = gradtx.contrib

ADAMW_CASES = [
    {},
    dict(learning_rate=0.1, warmup_steps=5, b1=0.8, b2=0.99, eps=1e-6, weight_decay=0.01),
    dict(weight_lr_power=1.0, state_dtype=jnp.float32),
]
SGD_CASES = [
    {},
    dict(learning_rate=0.1, warmup_steps=5, b1=0.5, weight_decay=0.01, weight_lr_power=3.0),
]


@pytest.mark.parametrize("kwargs", ADAMW_CASES)
def test_schedule_free_adamw_matches_optax(kwargs):
    assert_optax_parity(
        contrib.schedule_free_adamw(**kwargs),
        optax.contrib.schedule_free_adamw(**kwargs),
        steps=25,
        rtol=1e-5,
        atol=1e-7,
    )


@pytest.mark.parametrize("kwargs", SGD_CASES)
def test_schedule_free_sgd_matches_optax(kwargs):
    assert_optax_parity(
        contrib.schedule_free_sgd(**kwargs),
        optax.contrib.schedule_free_sgd(**kwargs),
        steps=25,
        rtol=1e-5,
        atol=1e-7,
    )


def test_schedule_free_wrapper_with_a_schedule_matches_optax():
    ours = contrib.schedule_free(gradtx.adam(schedule, b1=0.0), schedule, b1=0.95)
    theirs = optax.contrib.schedule_free(optax.adam(schedule, b1=0.0), schedule, b1=0.95)
    assert_optax_parity(ours, theirs, steps=25, rtol=1e-5, atol=1e-7, eager=True)


def test_eval_params_and_state_match_optax():
    params = example_params()
    grads = gradient_sequence(params, 25, seed=3)
    ours, theirs = contrib.schedule_free_adamw(0.05), optax.contrib.schedule_free_adamw(0.05)
    p_ours = p_theirs = params
    s_ours, s_theirs = ours.init(params), theirs.init(params)
    for g in grads:
        u, s_ours = ours.update(g, s_ours, p_ours)
        p_ours = gradtx.apply_updates(p_ours, u)
        with jax.numpy_dtype_promotion("standard"):
            u, s_theirs = theirs.update(g, s_theirs, p_theirs)
            p_theirs = optax.apply_updates(p_theirs, u)
    e_ours = contrib.schedule_free_eval_params(s_ours, p_ours)
    with jax.numpy_dtype_promotion("standard"):
        e_theirs = optax.contrib.schedule_free_eval_params(s_theirs, p_theirs)
    for a, b in zip(jax.tree.leaves(e_ours), jax.tree.leaves(e_theirs), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    for field in ("b1", "weight_sum", "step_count", "max_lr"):
        np.testing.assert_allclose(getattr(s_ours, field), getattr(s_theirs, field), rtol=1e-6)
    assert s_ours._fields == s_theirs._fields
    assert state_structure(s_ours.z) == state_structure(s_theirs.z)
    assert state_structure(s_ours[:4]) == state_structure(s_theirs[:4])


def test_sgd_matches_the_papers_recursion(x64):
    """Defazio et al. 2024, Eq. (1)-(3) with c_{t+1} = 1/(t+1) (constant lr, p = 0)."""
    rng = np.random.default_rng(0)
    a = rng.uniform(0.5, 2.0, size=4)
    x0 = rng.normal(size=4)
    lr, beta = 0.1, 0.9
    z, x = x0.copy(), x0.copy()
    for t in range(1, 31):
        y = (1 - beta) * z + beta * x
        z = z - lr * a * y
        x = (1 - 1 / t) * x + (1 / t) * z
    tx = contrib.schedule_free_sgd(lr, b1=beta, weight_lr_power=0.0)
    params = jnp.asarray(x0)
    state = tx.init(params)
    for _ in range(30):
        u, state = tx.update(jnp.asarray(a) * params, state, params)
        params = params + u
    np.testing.assert_allclose(params, (1 - beta) * z + beta * x, rtol=1e-12)
    np.testing.assert_allclose(contrib.schedule_free_eval_params(state, params), x, rtol=1e-12)


def test_bfloat16_params_keep_their_dtype_and_the_scalars_use_the_lowest():
    params = {"a": jnp.ones(3, jnp.bfloat16), "b": jnp.ones(2, jnp.float32)}
    tx = contrib.schedule_free_adamw(0.1)
    state = tx.init(params)
    assert state.max_lr.dtype == state.b1.dtype == jnp.bfloat16
    u, state = tx.update(params, state, params)
    assert u["a"].dtype == jnp.bfloat16 and u["b"].dtype == jnp.float32
    assert contrib.schedule_free_eval_params(state, params)["a"].dtype == jnp.bfloat16


def test_errors():
    with pytest.raises(ValueError, match=r"schedule_free\(b1=0\.0\)"):
        contrib.schedule_free_sgd(b1=0.0)
    with pytest.raises(ValueError, match="needs params"):
        tx = contrib.schedule_free_sgd()
        tx.update(jnp.ones(2), tx.init(jnp.ones(2)))
    with pytest.raises(ValueError, match="ScheduleFreeState"):
        contrib.schedule_free_eval_params(gradtx.EmptyState(), jnp.ones(2))


@pytest.mark.parametrize("name", ["schedule_free", "schedule_free_sgd", "schedule_free_adamw"])
def test_is_an_extra_args_transform(name):
    """As in Optax (the signatures: tests/test_optax_parity.py)."""
    assert isinstance(
        getattr(contrib, name)(
            **(
                {"base_optimizer": gradtx.sgd(0.1), "learning_rate": 0.1}
                if name == "schedule_free"
                else {}
            )
        ),
        gradtx.GradientTransformationExtraArgs,
    )
