"""AdEMAMix and simplified AdEMAMix: Optax parity, the paper's Algorithm 1 in float64
NumPy, state structures, validation."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from tests.contrib._common import state_structure
from tests.helpers import example_params
from tests.optax_parity import assert_optax_parity

# Slow (CI runs it): trajectories against Optax and the papers.
pytestmark = pytest.mark.slow

contrib = gradtx.contrib


def _alpha(t):
    return 2.0 + t.astype(jnp.float32) / 10


CASES = [
    ("ademamix", {}),
    (
        "ademamix",
        dict(b1=0.8, b2=0.99, b3=0.999, alpha=_alpha, eps=1e-6, eps_root=1e-8, weight_decay=0.01),
    ),
    ("ademamix", dict(b3=lambda t: 0.99 - 0.5 / (t.astype(jnp.float32) + 1), mu_dtype=jnp.float32)),
    ("simplified_ademamix", {}),
    (
        "simplified_ademamix",
        dict(b1=0.9, b2=0.99, alpha=2.0, eps=1e-6, eps_root=1e-8, weight_decay=0.01),
    ),
    ("simplified_ademamix", dict(alpha=_alpha)),
]


@pytest.mark.parametrize("name, kwargs", CASES)
def test_matches_optax(name, kwargs):
    assert_optax_parity(
        getattr(contrib, name)(0.05, **kwargs),
        getattr(optax.contrib, name)(0.05, **kwargs),
        steps=25,
        rtol=1e-5,
        atol=1e-7,
    )


@pytest.mark.parametrize("name", ["scale_by_ademamix", "scale_by_simplified_ademamix"])
def test_transforms_match_optax_with_their_defaults(name):
    assert_optax_parity(
        getattr(contrib, name)(),
        getattr(optax.contrib, name)(),
        steps=25,
        rtol=1e-5,
        atol=1e-7,
        eager=True,
    )


def test_matches_algorithm_1_of_the_paper(x64):
    """Pagliardini et al. 2024, Algorithm 1 (constant alpha and beta3, decoupled decay)."""
    rng = np.random.default_rng(0)
    theta = rng.normal(size=6)
    b1, b2, b3, alpha, lr, eps, lam = 0.9, 0.99, 0.999, 5.0, 0.01, 1e-8, 0.1
    m1 = m2 = nu = np.zeros(6)
    tx = contrib.ademamix(lr, b1, b2, b3, alpha, eps, weight_decay=lam)
    params = jnp.asarray(theta)
    state = tx.init(params)
    for t in range(1, 31):
        g = rng.normal(size=6)
        m1 = b1 * m1 + (1 - b1) * g
        m2 = b3 * m2 + (1 - b3) * g
        nu = b2 * nu + (1 - b2) * g * g
        m1_hat, nu_hat = m1 / (1 - b1**t), nu / (1 - b2**t)
        theta = theta - lr * ((m1_hat + alpha * m2) / (np.sqrt(nu_hat) + eps) + lam * theta)
        u, state = tx.update(jnp.asarray(g), state, params)
        params = params + u
    np.testing.assert_allclose(params, theta, rtol=1e-12)


def test_default_alphas_are_optaxs():
    g = jnp.array([2.0])
    u6, _ = contrib.scale_by_ademamix().update(g, contrib.scale_by_ademamix().init(g))
    np.testing.assert_allclose(u6, [1.0 + 6.0 * 1e-4], rtol=1e-5)
    tx = contrib.ademamix(1.0)
    u5, _ = tx.update(g, tx.init(g), g)
    np.testing.assert_allclose(u5, [-(1.0 + 5.0 * 1e-4)], rtol=1e-5)


@pytest.mark.parametrize("name", ["scale_by_ademamix", "scale_by_simplified_ademamix"])
def test_state_structure_matches_optax(name):
    params = example_params(jnp.bfloat16)
    ours, theirs = (
        getattr(contrib, name)().init(params),
        getattr(optax.contrib, name)().init(params),
    )
    assert state_structure(ours) == state_structure(theirs)


def test_validation():
    with pytest.raises(ValueError, match=r"scale_by_ademamix\(b3=1\.0\)"):
        contrib.ademamix(0.1, b3=1.0)
    with pytest.raises(ValueError, match=r"scale_by_simplified_ademamix\(eps=-1\.0\)"):
        contrib.simplified_ademamix(0.1, eps=-1.0)
