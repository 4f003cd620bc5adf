"""scale_by_newton_cg, scale_by_trust_region, scale_by_saddle_free_newton (driven by value_fn=)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from gradtx import second_order as so

# Slow (CI runs it): iterative solvers and estimators, compiled per case.
pytestmark = pytest.mark.slow


def _quadratic(dtype=jnp.float32):
    """A strictly convex quadratic on a tree, its dense Hessian and minimizer (float64)."""
    rng = np.random.default_rng(0)
    m = rng.normal(size=(6, 6))
    h = m @ m.T / 6 + np.diag([0.5, 1.0, 2.0, 4.0, 8.0, 16.0])
    c = rng.normal(size=6)
    h_j, c_j = jnp.asarray(h, dtype), jnp.asarray(c, dtype)

    def loss(p):
        z = jnp.concatenate([p["a"], p["b"].ravel()])
        return 0.5 * z @ h_j @ z - c_j @ z

    params = {"a": jnp.zeros(2, dtype), "b": jnp.ones((2, 2), dtype)}
    return loss, params, h, np.linalg.solve(h, c)


def _flat(p):
    return np.concatenate([np.asarray(p["a"], np.float64), np.asarray(p["b"], np.float64).ravel()])


def _step(tx, loss):
    @jax.jit
    def step(params, state):
        grads = jax.grad(loss)(params)
        updates, state = tx.update(grads, state, params, value_fn=loss)
        return gradtx.apply_updates(params, updates), state, updates

    return step


def test_newton_cg_one_step_to_a_quadratics_minimum():
    loss, params, _, minimum = _quadratic()
    tx = gradtx.chain(
        so.scale_by_newton_cg(damping=0.0, tol=1e-7, maxiter=6), gradtx.scale_by_learning_rate(1.0)
    )
    new_params, state, updates = _step(tx, loss)(params, tx.init(params))
    np.testing.assert_allclose(_flat(new_params), minimum, atol=2e-4)  # float32 CG
    assert jax.tree.structure(updates) == jax.tree.structure(params)
    inner = state[0]
    assert 1 <= int(inner.num_cg_steps) <= 6 and not bool(inner.negative_curvature)
    assert int(gradtx.tree.get(state, "num_cg_steps")) == int(inner.num_cg_steps)
    assert int(inner.count) == 1


def test_newton_cg_output_is_the_damped_newton_direction(x64):
    loss, params, h, _ = _quadratic(jnp.float64)
    g = jax.grad(loss)(params)
    tx = so.scale_by_newton_cg(damping=0.3, tol=1e-12, maxiter=6)
    d, _ = jax.jit(lambda g, p: tx.update(g, tx.init(p), p, value_fn=loss))(g, params)
    np.testing.assert_allclose(_flat(d), np.linalg.solve(h + 0.3 * np.eye(6), _flat(g)), rtol=1e-9)
    assert d["b"].dtype == jnp.float64


def test_newton_cg_on_negative_curvature_keeps_a_descent_direction():
    loss = lambda p: p[0] ** 2 - p[1] ** 2
    params = jnp.array([0.01, 1.0])
    g = jax.grad(loss)(params)  # dominated by the negative-curvature coordinate
    tx = so.scale_by_newton_cg(damping=0.0)
    d, state = tx.update(g, tx.init(params), params, value_fn=loss)
    assert bool(state.negative_curvature)
    assert float(g @ d) > 0  # -d descends
    np.testing.assert_allclose(d, g)  # the first direction is bad: fall back to g


def test_trust_region_transform_solves_rosenbrock(x64):
    rosen = lambda p: (1.0 - p[0]) ** 2 + 100.0 * (p[1] - p[0] ** 2) ** 2
    tx = gradtx.chain(so.scale_by_trust_region(maxiter=2), gradtx.scale_by_learning_rate(1.0))
    params = jnp.array([-1.2, 1.0])

    def body(carry, _):
        p, s = carry
        u, s = tx.update(jax.grad(rosen)(p), s, p, value_fn=rosen)
        return (gradtx.apply_updates(p, u), s), rosen(p)

    (final, state), losses = jax.jit(lambda p: jax.lax.scan(body, (p, tx.init(p)), length=150))(
        params
    )
    np.testing.assert_allclose(final, [1.0, 1.0], atol=1e-6)
    assert np.all(np.diff(np.asarray(losses)) <= 0)  # rejected steps keep the loss
    assert gradtx.tree.get(state, "radius").dtype == jnp.float32


def test_trust_region_transform_rejects_and_shrinks():
    loss = lambda p: jnp.log1p(p**2)  # at 2 the curvature is negative: step to the boundary
    p = jnp.asarray(2.0)
    tx = so.scale_by_trust_region(initial_radius=100.0)
    d, state = tx.update(jax.grad(loss)(p), tx.init(p), p, value_fn=loss)
    assert not bool(state.accepted) and float(d) == 0.0
    np.testing.assert_allclose(float(state.radius), 25.0)
    assert float(state.ratio) < 0
    # A good step inside the region is accepted and the radius kept.
    quartic = lambda x: x**4
    x = jnp.asarray(1.0)
    tx = so.scale_by_trust_region(initial_radius=10.0, tol=1e-6)
    d, state = tx.update(jax.grad(quartic)(x), tx.init(x), x, value_fn=quartic)
    assert bool(state.accepted)
    np.testing.assert_allclose(float(d), 1.0 / 3.0, rtol=1e-5)  # Newton: p = -4/12, d = -p
    np.testing.assert_allclose(float(state.radius), 10.0)
    np.testing.assert_allclose(
        float(state.ratio), (1 - (2 / 3) ** 4) / (4 / 3 - 12 / 18), rtol=1e-4
    )


def test_saddle_free_newton_transform_escapes_a_saddle():
    loss = lambda p: p[0] ** 2 - p[1] ** 2
    tx = gradtx.chain(
        so.scale_by_saddle_free_newton(damping=1e-3), gradtx.scale_by_learning_rate(0.5)
    )
    step = _step(tx, loss)
    params, state = jnp.array([0.2, 1e-3]), tx.init(jnp.zeros(2))
    values = [float(loss(params))]
    for _ in range(8):
        params, state, _ = step(params, state)
        values.append(float(loss(params)))
    assert np.all(np.diff(values) < 0), values
    assert abs(float(params[1])) > 10 * 1e-3 and abs(float(params[0])) < 0.01
    np.testing.assert_allclose(float(state[0].min_eigenvalue), -2.0, rtol=1e-5)
    np.testing.assert_allclose(float(state[0].max_eigenvalue), 2.0, rtol=1e-5)


def test_saddle_free_newton_equals_newton_on_a_convex_quadratic(x64):
    loss, params, h, _ = _quadratic(jnp.float64)
    g = jax.grad(loss)(params)
    tx = so.scale_by_saddle_free_newton(num_lanczos_steps=6, damping=0.1)
    d, _ = jax.jit(lambda g, p: tx.update(g, tx.init(p), p, value_fn=loss))(g, params)
    np.testing.assert_allclose(_flat(d), np.linalg.solve(h + 0.1 * np.eye(6), _flat(g)), rtol=1e-8)


@pytest.mark.parametrize(
    "factory", [so.scale_by_newton_cg, so.scale_by_trust_region, so.scale_by_saddle_free_newton]
)
def test_missing_value_fn_or_params_is_a_clear_error(factory):
    tx = factory()
    params = jnp.ones(2)
    name = factory.__name__
    with pytest.raises(ValueError, match=rf"{name}: update\(\) needs value_fn="):
        tx.update(params, tx.init(params), params)
    with pytest.raises(ValueError, match=rf"{name}: update\(\) needs params"):
        tx.update(params, tx.init(params), value_fn=jnp.sum)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: so.scale_by_newton_cg(damping=-1.0), r"scale_by_newton_cg\(damping=-1.0\)"),
        (lambda: so.scale_by_newton_cg(maxiter=0), r"scale_by_newton_cg\(maxiter=0\)"),
        (
            lambda: so.scale_by_trust_region(initial_radius=-1.0),
            r"scale_by_trust_region\(initial_radius=-1.0\)",
        ),
        (lambda: so.scale_by_trust_region(eta=0.25), r"scale_by_trust_region\(eta=0.25\)"),
        (
            lambda: so.scale_by_trust_region(max_radius=0.5),
            r"scale_by_trust_region\(max_radius=0.5\)",
        ),
        (
            lambda: so.scale_by_saddle_free_newton(num_lanczos_steps=0),
            r"scale_by_saddle_free_newton\(num_lanczos_steps=0\)",
        ),
        (
            lambda: so.scale_by_saddle_free_newton(damping=float("nan")),
            r"scale_by_saddle_free_newton\(damping=nan\)",
        ),
    ],
)
def test_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()
