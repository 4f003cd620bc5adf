"""rprop, sm3, fromage, polyak_sgd, the optimistic methods and signum (issue 15): Optax
parity over 30 steps (default and non-default hyperparameters), reference values from the
papers, signatures and validation."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from tests.helpers import assert_trees_close, example_params, schedule
from tests.optax_parity import standard

# Slow (CI runs it): trajectories and dtype checks of each alias.
pytestmark = pytest.mark.slow


def _matrix_params():
    params = example_params()
    return {"dense": params["dense"], "cube": jnp.linspace(0.1, 1.0, 24).reshape(2, 3, 4)}


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"max_learning_rate": 0.5, "scaling": 0.3, "f_min": -0.5, "eps": 1e-3},
        {"scaling": schedule, "variant": "sps+", "f_min": 0.2},
    ],
)
def test_polyak_sgd_matches_optax(kwargs):
    def loss(p):
        return sum(jnp.sum(jnp.cos(x) + 0.5 * x**2) for x in jax.tree.leaves(p))

    ours, theirs = gradtx.polyak_sgd(**kwargs), optax.polyak_sgd(**kwargs)
    params = example_params()
    s_ours, s_theirs = ours.init(params), standard(theirs).init(params)
    p_ours, p_theirs = params, params
    for _ in range(30):
        v_ours, g_ours = jax.value_and_grad(loss)(p_ours)
        v_theirs, g_theirs = jax.value_and_grad(loss)(p_theirs)
        u_ours, s_ours = jax.jit(ours.update)(g_ours, s_ours, p_ours, value=v_ours)
        with jax.numpy_dtype_promotion("standard"):
            u_theirs, s_theirs = jax.jit(theirs.update)(
                g_theirs, s_theirs, p_theirs, value=v_theirs
            )
        assert_trees_close(u_ours, u_theirs, rtol=2e-6, atol=1e-7)
        p_ours = gradtx.apply_updates(p_ours, u_ours)
        p_theirs = optax.apply_updates(p_theirs, u_theirs)


def test_fromage_is_the_papers_update():
    """Bernstein et al. 2020, eq. (5): x <- (x - eta |x|/|g| g) / sqrt(1 + eta^2) per layer."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 3))
    eta = 0.1
    opt = gradtx.fromage(eta, min_norm=0.0)
    state = opt.init(jnp.asarray(x, jnp.float32))
    for _ in range(25):
        g = rng.normal(size=(4, 3))
        ref = (x - eta * np.linalg.norm(x) / np.linalg.norm(g) * g) / np.sqrt(1 + eta**2)
        u, state = opt.update(jnp.asarray(g, jnp.float32), state, jnp.asarray(x, jnp.float32))
        x_new = np.asarray(gradtx.apply_updates(jnp.asarray(x, jnp.float32), u), np.float64)
        np.testing.assert_allclose(x_new, ref, rtol=2e-5, atol=1e-6)
        x = ref


def test_polyak_sgd_first_step_reaches_the_minimum_of_a_quadratic():
    """Loizou et al. 2021: on f(x) = |x|^2 / 2 with f* = 0 the Polyak step is 1/2."""
    params = jnp.array([2.0, -4.0])
    value, grad = jax.value_and_grad(lambda x: 0.5 * jnp.sum(x**2))(params)
    opt = gradtx.polyak_sgd(max_learning_rate=10.0)
    u, _ = opt.update(grad, opt.init(params), params, value=value)
    np.testing.assert_allclose(gradtx.apply_updates(params, u), params / 2)


def test_optimistic_gradient_descent_is_the_papers_recursion():
    """Daskalakis et al. 2018, eq. (5): x_{t+1} = x_t - 2 eta g_t + eta g_{t-1}."""
    rng = np.random.default_rng(1)
    gs = [rng.normal(size=(3,)) for _ in range(25)]
    eta = 0.1
    opt = gradtx.optimistic_gradient_descent(eta)
    state = opt.init(jnp.zeros(3))
    prev = gs[0]
    for g in gs:
        u, state = opt.update(jnp.asarray(g, jnp.float32), state)
        np.testing.assert_allclose(u, -2 * eta * g + eta * prev, rtol=1e-5, atol=1e-7)
        prev = g


def test_optimistic_adam_warns_and_rejects_schedules():
    with pytest.warns(DeprecationWarning, match="optimistic_adam_v2"):
        gradtx.optimistic_adam(0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(ValueError, match="does not support learning rate schedules"):
            gradtx.optimistic_adam(schedule)


def test_signum_is_the_sign_of_the_momentum():
    """Bernstein et al. 2018: x <- x - eta sign(m_t), m_t = beta m + (1 - beta) g."""
    rng = np.random.default_rng(2)
    gs = [rng.normal(size=(5,)) for _ in range(25)]
    opt = gradtx.signum(0.01, beta=0.8)
    state = opt.init(jnp.zeros(5))
    m = np.zeros(5)
    for g in gs:
        m = 0.8 * m + 0.2 * g
        u, state = opt.update(jnp.asarray(g, jnp.float32), state)
        np.testing.assert_allclose(u, -0.01 * np.sign(m), rtol=1e-6)


@pytest.mark.parametrize(
    "factory, kwargs, match",
    [
        (gradtx.sm3, {"learning_rate": float("nan")}, r"sm3\(learning_rate=nan\)"),
        (gradtx.sm3, {"learning_rate": 0.1, "momentum": 2.0}, r"scale_by_sm3\(b1=2.0\)"),
        (gradtx.rprop, {"learning_rate": 0.1, "eta_plus": 0.9}, r"scale_by_rprop\(eta_plus=0.9\)"),
        (gradtx.fromage, {"learning_rate": 0.1, "min_norm": -1.0}, r"fromage\(min_norm=-1.0\)"),
        (gradtx.polyak_sgd, {"variant": "x"}, r"scale_by_polyak\(variant='x'\)"),
        (gradtx.signum, {"learning_rate": 0.1, "beta": 1.0}, r"ema\(decay=1.0\)"),
    ],
)
def test_bad_hyperparameters_raise(factory, kwargs, match):
    with pytest.raises(ValueError, match=match):
        factory(**kwargs)
