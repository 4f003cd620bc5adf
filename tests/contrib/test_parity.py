"""Optax parity over 25+ steps (default and non-default hyperparameters) and state
structures (classes, fields, nesting, dtypes) for the contrib optimizers that have no
reference-algorithm option; each family's own checks live in its test file."""

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

# (name, args, kwargs); the same call is made on gradtx.contrib and optax.contrib.
CASES = [
    ("prodigy", (), {}),
    (
        "prodigy",
        (),
        dict(
            learning_rate=schedule,
            betas=(0.8, 0.99),
            beta3=0.9,
            eps=1e-6,
            estim_lr0=1e-4,
            estim_lr_coef=0.5,
            weight_decay=0.01,
            safeguard_warmup=True,
        ),
    ),
    ("dadapt_adamw", (), {}),
    (
        "dadapt_adamw",
        (),
        dict(
            learning_rate=schedule, betas=(0.8, 0.99), eps=1e-6, estim_lr0=1e-4, weight_decay=0.01
        ),
    ),
]

IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(CASES)]


@pytest.mark.parametrize("name, args, kwargs", CASES, ids=IDS)
def test_matches_optax(name, args, kwargs):
    assert_optax_parity(
        getattr(contrib, name)(*args, **kwargs),
        getattr(optax.contrib, name)(*args, **kwargs),
        steps=25,
        rtol=2e-5,
        atol=1e-7,
    )


@pytest.mark.parametrize("name, args, kwargs", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_state_structure_matches_optax(name, args, kwargs, dtype):
    params = example_params(dtype)
    ours = getattr(contrib, name)(*args, **kwargs).init(params)
    theirs = getattr(optax.contrib, name)(*args, **kwargs).init(params)
    assert state_structure(ours) == state_structure(theirs)


@pytest.mark.parametrize("name", sorted({c[0] for c in CASES} - {"acprop"}))
def test_needs_params(name):
    tx = getattr(contrib, name)(*next(c[1] for c in CASES if c[0] == name))
    with pytest.raises(ValueError, match="needs params"):
        tx.update(jnp.ones(2), tx.init(jnp.ones(2)))


def test_prodigy_and_dadapt_validate():
    with pytest.raises(ValueError, match=r"prodigy\(beta1=1\.0\)"):
        contrib.prodigy(betas=(1.0, 0.9))
    with pytest.raises(ValueError, match=r"dadapt_adamw\(estim_lr0=0\.0\)"):
        contrib.dadapt_adamw(estim_lr0=0.0)


def test_prodigy_distance_estimate_grows_to_the_problem_scale():
    """On f(x) = |x - 10|^2 / 2 from 0, d_t rises from 1e-6 towards |x_0 - x_*| = 10."""
    tx = contrib.prodigy()
    params = jnp.zeros(4)
    state = tx.init(params)
    step = jax.jit(tx.update)
    for _ in range(200):
        u, state = step(params - 10.0, state, params)
        params = params + u
    assert 1.0 < float(state.estim_lr) < 100.0


def _loss(params):
    return sum(jnp.sum(x**2 + 0.1 * x**4) for x in jax.tree.leaves(params)) + 1.0


VALUE_CASES = [
    ("momo", {}),
    (
        "momo",
        dict(
            learning_rate=0.5, beta=0.8, lower_bound=0.5, weight_decay=0.01, adapt_lower_bound=True
        ),
    ),
    ("momo_adam", {}),
    (
        "momo_adam",
        dict(
            learning_rate=0.1, b1=0.8, b2=0.99, eps=1e-6, weight_decay=0.01, adapt_lower_bound=True
        ),
    ),
]


def _run_with_value(tx, standard):
    params, out = example_params(), []
    state = tx.init(params)
    for _ in range(25):
        value, g = jax.value_and_grad(_loss)(params)
        with jax.numpy_dtype_promotion("standard" if standard else "strict"):
            u, state = tx.update(g, state, params, value=value)
        params = jax.tree.map(lambda p, d: p + d, params, u)
        out.append(u)
    return out, state


@pytest.mark.parametrize("name, kwargs", VALUE_CASES)
def test_loss_reading_optimizers_match_optax(name, kwargs):
    ours, s1 = _run_with_value(getattr(contrib, name)(**kwargs), False)
    theirs, s2 = _run_with_value(getattr(optax.contrib, name)(**kwargs), True)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-7)
    assert state_structure(s1) == state_structure(s2)
    with pytest.raises(ValueError, match="value"):
        tx = getattr(contrib, name)()
        tx.update(example_params(), tx.init(example_params()), example_params())


@pytest.mark.parametrize("kwargs", [{}, dict(weight_decay=0.1, eps=1e-6, s_init=1e-4, num_betas=3)])
def test_mechanize_matches_optax(kwargs):
    assert_optax_parity(
        contrib.mechanize(gradtx.adam(0.05), **kwargs),
        optax.contrib.mechanize(optax.adam(0.05), **kwargs),
        steps=25,
        rtol=5e-5,
        atol=1e-7,
    )
    params = example_params()
    ours = contrib.mechanize(gradtx.adam(0.05), **kwargs).init(params)
    theirs = optax.contrib.mechanize(optax.adam(0.05), **kwargs).init(params)
    assert state_structure(ours[1:]) == state_structure(theirs[1:])
