"""cg_solve, steihaug_cg and the minimizers: Newton, Newton-CG, trust region, saddle-free Newton."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gradtx import second_order as so

# Slow (CI runs it): iterative solvers and estimators, compiled per case.
pytestmark = pytest.mark.slow


def _spd(n=30, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(n, n))
    return (m @ m.T / n + np.eye(n)).astype(dtype), rng.normal(size=n).astype(dtype)


def _rosenbrock(p):
    return (1.0 - p[0]) ** 2 + 100.0 * (p[1] - p[0] ** 2) ** 2


def _saddle(p):
    return p[0] ** 2 - p[1] ** 2


@pytest.mark.parametrize("jit", [False, True])
def test_cg_solves_spd_systems(jit, x64):
    a, b = _spd()
    solve = (
        jax.jit(lambda m, r: so.cg_solve(m, r, tol=1e-12))
        if jit
        else (lambda m, r: so.cg_solve(m, r, tol=1e-12))
    )
    res = solve(jnp.asarray(a), jnp.asarray(b))
    x = np.linalg.solve(a, b)
    np.testing.assert_allclose(res.x, x, rtol=1e-6, atol=1e-9)
    assert float(res.residual_norm) <= 1e-12 * np.linalg.norm(b) * 1.01
    assert not bool(res.negative_curvature)
    assert 0 < int(res.num_steps) <= 30


def test_cg_on_pytrees_with_damping_and_x0():
    a, b = _spd(12, seed=1, dtype=np.float32)
    a_j = jnp.asarray(a)

    def matvec(v):  # the matrix acting on a tree {"p": (4,), "q": (2, 4)}
        flat = jnp.concatenate([v["p"], v["q"].ravel()])
        out = a_j @ flat
        return {"p": out[:4], "q": out[4:].reshape(2, 4)}

    rhs = {"p": jnp.asarray(b[:4]), "q": jnp.asarray(b[4:]).reshape(2, 4)}
    x0 = jax.tree.map(jnp.ones_like, rhs)
    res = jax.jit(lambda r, x: so.cg_solve(matvec, r, x0=x, damping=0.5, tol=1e-7))(rhs, x0)
    expected = np.linalg.solve(a.astype(np.float64) + 0.5 * np.eye(12), b.astype(np.float64))
    got = np.concatenate([np.asarray(res.x["p"]), np.asarray(res.x["q"]).ravel()])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert res.x["q"].dtype == jnp.float32


def test_cg_bfloat16_rhs_computes_in_float32():
    a, b = _spd(8, seed=2, dtype=np.float32)
    res = so.cg_solve(jnp.asarray(a, jnp.bfloat16), jnp.asarray(b, jnp.bfloat16), tol=1e-3)
    assert res.x.dtype == jnp.bfloat16
    x = np.linalg.solve(
        np.asarray(jnp.asarray(a, jnp.bfloat16), np.float64),
        np.asarray(jnp.asarray(b, jnp.bfloat16), np.float64),
    )
    np.testing.assert_allclose(np.asarray(res.x, np.float64), x, rtol=0.05, atol=0.05)


def test_cg_detects_negative_curvature():
    a = jnp.diag(jnp.array([2.0, 1.0, -1.0]))
    b = jnp.array([1.0, 1.0, 1.0])
    stop = so.cg_solve(a, b, negative_curvature="stop")
    assert bool(stop.negative_curvature)
    p = stop.direction
    assert float(p @ a @ p) <= 0.0
    np.testing.assert_allclose(float(stop.curvature), float(p @ a @ p / (p @ p)), rtol=1e-6)
    # Truncated: the iterate before the bad direction is a descent direction for -b.
    assert float(stop.x @ b) > 0.0
    # "continue" solves the indefinite system exactly (no exactly singular step here).
    cont = so.cg_solve(a, b, negative_curvature="continue", tol=1e-7)
    np.testing.assert_allclose(cont.x, [0.5, 1.0, -1.0], rtol=1e-5)
    assert bool(cont.negative_curvature)
    # A large enough damping makes the system positive definite.
    damped = so.cg_solve(a, b, damping=2.0)
    assert not bool(damped.negative_curvature)
    np.testing.assert_allclose(damped.x, [0.25, 1 / 3, 1.0], rtol=1e-5)


def test_cg_zero_rhs_and_empty_tree():
    res = so.cg_solve(jnp.eye(3), jnp.zeros(3))
    assert int(res.num_steps) == 0 and float(jnp.abs(res.x).max()) == 0.0
    res = so.cg_solve(lambda v: v, {})
    assert res.x == {} and int(res.num_steps) == 0


def test_steihaug_interior_boundary_and_negative_curvature():
    b = jnp.diag(jnp.array([1.0, 4.0]))
    g = jnp.array([1.0, 2.0])
    # Interior: the Newton step -B^{-1} g = (-1, -0.5) has norm 1.118 < 5.
    res = so.steihaug_cg(b, g, 5.0, tol=1e-8)
    np.testing.assert_allclose(res.step, [-1.0, -0.5], rtol=1e-6)
    assert not bool(res.hit_boundary)
    np.testing.assert_allclose(float(res.model_decrease), 0.5 * (1.0 + 1.0), rtol=1e-6)
    # Boundary: the first CG step -alpha g leaves the ball of radius 0.1.
    res = so.steihaug_cg(b, g, 0.1)
    assert bool(res.hit_boundary)
    np.testing.assert_allclose(float(jnp.linalg.norm(res.step)), 0.1, rtol=1e-6)
    np.testing.assert_allclose(res.step, -0.1 * g / jnp.linalg.norm(g), rtol=1e-6)
    p = res.step
    np.testing.assert_allclose(
        float(res.model_decrease), float(-(g @ p + 0.5 * p @ b @ p)), rtol=1e-5
    )
    # Negative curvature: the step goes to the boundary and the model decreases.
    nb = jnp.diag(jnp.array([-1.0, 1.0]))
    g = jnp.array([1.0, 0.1])  # d = -g has curvature -0.99 < 0
    res = so.steihaug_cg(nb, g, 2.0)
    assert bool(res.negative_curvature) and bool(res.hit_boundary)
    assert int(res.num_steps) == 1
    np.testing.assert_allclose(res.step, -2.0 * g / jnp.linalg.norm(g), rtol=1e-5)
    p = res.step
    expected = float(-(g @ p + 0.5 * p @ nb @ p))
    np.testing.assert_allclose(float(res.model_decrease), expected, rtol=1e-5)
    assert expected > 0


def test_newton_reaches_a_convex_quadratics_minimum_in_one_step(x64):
    a, b = _spd(20, seed=3)
    a_j, b_j = jnp.asarray(a), jnp.asarray(b)
    f = lambda p: 0.5 * p["x"] @ a_j @ p["x"] - b_j @ p["x"]
    params = {"x": jnp.zeros(20)}
    minimum = np.linalg.solve(a, b)
    step = jax.jit(lambda p: so.newton_direction(f, p, tol=1e-12))(params)
    np.testing.assert_allclose(params["x"] + step.x["x"], minimum, rtol=1e-8)
    res = jax.jit(lambda p: so.newton_cg(f, p, num_steps=1, cg_tol=1e-12))(params)
    assert int(res.num_steps) == 1
    np.testing.assert_allclose(res.params["x"], minimum, rtol=1e-8)


def test_newton_converges_to_the_saddle_but_saddle_free_newton_escapes(x64):
    x0 = jnp.array([0.3, 0.05])
    newton_step = jax.jit(lambda x: x + so.newton_direction(_saddle, x).x)
    x = x0
    for _ in range(3):
        x = newton_step(x)
    np.testing.assert_allclose(x, [0.0, 0.0], atol=1e-12)  # attracted to the saddle

    values = [float(_saddle(x0))]
    x = x0
    sfn = jax.jit(lambda x: so.saddle_free_newton(_saddle, x, num_steps=1, damping=0.0).params)
    for _ in range(4):
        x = sfn(x)
        values.append(float(_saddle(x)))
    assert np.all(np.diff(values) < 0), values  # f decreases at every step
    assert abs(float(x[1])) > 10 * abs(float(x0[1]))  # y is pushed away from the saddle
    assert abs(float(x[0])) < 1e-6  # x goes to its minimum, like Newton
    # One saddle-free step is exactly |H|^{-1}: (x, y) -> (0, 2 y).
    np.testing.assert_allclose(sfn(x0), [0.0, 0.1], atol=1e-12)


@pytest.mark.parametrize("method", ["trust_region", "newton_cg", "saddle_free_newton"])
def test_minimizers_solve_rosenbrock(method, x64):
    kwargs = {"trust_region": {}, "newton_cg": {}, "saddle_free_newton": {"damping": 1e-8}}
    fn = getattr(so, method)
    res = jax.jit(lambda x: fn(_rosenbrock, x, num_steps=200, gtol=1e-10, **kwargs[method]))(
        jnp.array([-1.2, 1.0])
    )
    assert bool(res.converged), res
    np.testing.assert_allclose(res.params, [1.0, 1.0], atol=1e-6)
    assert float(res.value) < 1e-12
    assert int(res.num_steps) < 200


def test_trust_region_float32_and_pytrees():
    params = {"a": jnp.array(-1.2), "b": jnp.array(1.0)}
    f = lambda p: _rosenbrock(jnp.stack([p["a"], p["b"]]))
    res = jax.jit(lambda p: so.trust_region(f, p, num_steps=100, gtol=1e-5))(params)
    assert res.params["a"].dtype == jnp.float32
    np.testing.assert_allclose([res.params["a"], res.params["b"]], [1.0, 1.0], atol=1e-3)


def test_negative_curvature_direction():
    h = jnp.diag(jnp.array([3.0, -2.0, 1.0, -0.5]))
    f = lambda p: 0.5 * p @ h @ p + jnp.array([0.0, 1.0, 0.0, 0.0]) @ p
    res = jax.jit(lambda p, k: so.negative_curvature_direction(f, p, key=k))(
        jnp.zeros(4), jax.random.key(0)
    )
    assert bool(res.found)
    np.testing.assert_allclose(float(res.curvature), -2.0, rtol=1e-5)
    np.testing.assert_allclose(jnp.abs(res.direction), [0.0, 1.0, 0.0, 0.0], atol=1e-5)
    # Oriented downhill: g = (0, 1, 0, 0) so the direction is -e_2.
    assert float(res.direction[1]) < 0
    convex = jax.jit(
        lambda p, k: so.negative_curvature_direction(lambda q: jnp.sum(q**2), p, key=k)
    )(jnp.ones(3), jax.random.key(0))
    assert not bool(convex.found)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: so.cg_solve(jnp.eye(2), jnp.ones(2), damping=-1.0), r"cg_solve\(damping=-1.0\)"),
        (
            lambda: so.cg_solve(jnp.eye(2), jnp.ones(2), negative_curvature="ignore"),
            r"cg_solve\(negative_curvature='ignore'\)",
        ),
        (lambda: so.trust_region(_rosenbrock, jnp.ones(2), eta=0.3), r"trust_region\(eta=0.3\)"),
        (
            lambda: so.trust_region(_rosenbrock, jnp.ones(2), initial_radius=0.0),
            r"trust_region\(initial_radius=0.0\)",
        ),
        (
            lambda: so.trust_region(_rosenbrock, jnp.ones(2), max_radius=0.5),
            r"trust_region\(max_radius=0.5\)",
        ),
        (
            lambda: so.newton_cg(_rosenbrock, jnp.ones(2), num_steps=-1),
            r"newton_cg\(num_steps=-1\)",
        ),
        (
            lambda: so.saddle_free_newton(_rosenbrock, jnp.ones(2), num_lanczos_steps=0),
            r"saddle_free_newton\(num_lanczos_steps=0\)",
        ),
        (
            lambda: so.negative_curvature_direction(
                _rosenbrock, jnp.ones(2), key=jax.random.key(0), num_steps=0
            ),
            r"negative_curvature_direction\(num_steps=0\)",
        ),
    ],
)
def test_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()
