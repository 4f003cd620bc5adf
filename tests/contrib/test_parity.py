"""Optax parity over 25+ steps (default and non-default hyperparameters) and state
structures (classes, fields, nesting, dtypes) for the contrib optimizers that have no
reference-algorithm option; each family's own checks live in its test file."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
import pytest

import gradtx
from tests.contrib._common import state_structure
from tests.helpers import example_params
from tests.optax_parity import assert_optax_parity, schedule

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
