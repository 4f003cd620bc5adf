"""Curvature products: hvp, gnvp, hessian, hvp_operator against jax.hessian / jacobians."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from gradtx import second_order as so
from tests.helpers import assert_trees_close

# Slow (CI runs it): iterative solvers and estimators, compiled per case.
pytestmark = pytest.mark.slow


def _mlp_params(dtype=jnp.float32):
    rng = np.random.default_rng(0)
    return {
        "l1": {"w": jnp.asarray(rng.normal(size=(3, 4)), dtype), "b": jnp.zeros((4,), dtype)},
        "l2": {"w": jnp.asarray(rng.normal(size=(4, 2)), dtype), "b": jnp.ones((2,), dtype)},
    }


def _mlp_loss(params, x, y):
    h = jnp.tanh(x @ params["l1"]["w"] + params["l1"]["b"][None, :])
    out = h @ params["l2"]["w"] + params["l2"]["b"][None, :]
    return 0.5 * jnp.mean(jnp.sum((out - y) ** 2, axis=-1))


def _mlp_data(dtype=jnp.float32):
    rng = np.random.default_rng(1)
    return jnp.asarray(rng.normal(size=(5, 3)), dtype), jnp.asarray(rng.normal(size=(5, 2)), dtype)


def _rosenbrock(p):
    x, y = p["x"], p["y"]
    return jnp.sum((1.0 - x) ** 2 + 100.0 * (y - x**2) ** 2)


def _dense_hvp(f, params, v, *args):
    """Reference: the dense ``jax.hessian`` of the raveled function, times raveled ``v``."""
    flat, unravel = ravel_pytree(params)
    h = jax.jit(jax.hessian(lambda z, *a: f(unravel(z), *a)))(flat, *args)
    return unravel(np.asarray(h, np.float64) @ np.asarray(ravel_pytree(v)[0], np.float64))


def _random_like(params, seed):
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda p: jnp.asarray(rng.normal(size=p.shape), p.dtype), params)


def test_hvp_matches_dense_hessian_on_mlp(x64):
    params = _mlp_params(jnp.float64)
    x, y = _mlp_data(jnp.float64)
    v = _random_like(params, 2)
    out = jax.jit(so.hvp, static_argnums=0)(_mlp_loss, params, v, x, y)
    assert_trees_close(out, _dense_hvp(_mlp_loss, params, v, x, y), rtol=1e-10, atol=1e-12)


def test_hvp_matches_dense_hessian_on_rosenbrock():
    params = {"x": jnp.array([-1.2, 0.5]), "y": jnp.array([1.0, 0.3])}
    v = {"x": jnp.array([0.3, -1.0]), "y": jnp.array([2.0, 0.5])}
    out = so.hvp(_rosenbrock, params, v)  # eager
    # Closed form per coordinate pair: [[2 - 400 (y - 3 x^2), -400 x], [-400 x, 200]].
    x, y = np.asarray(params["x"], np.float64), np.asarray(params["y"], np.float64)
    hxx, hxy = 2.0 - 400.0 * (y - 3.0 * x**2), -400.0 * x
    vx, vy = np.asarray(v["x"], np.float64), np.asarray(v["y"], np.float64)
    expected = {"x": hxx * vx + hxy * vy, "y": hxy * vx + 200.0 * vy}
    assert_trees_close(out, expected, rtol=1e-5)
    assert_trees_close(out, _dense_hvp(_rosenbrock, params, v), rtol=1e-5)


@pytest.mark.parametrize("linearize", [True, False])
def test_hvp_operator_equals_hvp_and_keeps_dtypes(linearize):
    params = _mlp_params()
    x, y = _mlp_data()
    v = _random_like(params, 3)
    v16 = jax.tree.map(lambda t: t.astype(jnp.bfloat16), v)

    @jax.jit
    def both(p, v):
        # A vector of another dtype is cast to the parameters' dtypes.
        op = so.hvp_operator(_mlp_loss, p, x, y, linearize=linearize)
        return op(v), so.hvp(_mlp_loss, p, v, x, y)

    out, ref = both(params, v16)
    assert jax.tree.map(lambda t: t.dtype, out) == jax.tree.map(lambda t: t.dtype, params)
    assert_trees_close(out, ref, rtol=1e-5, atol=1e-6)


def test_hvp_bfloat16_params_keep_dtype():
    params = _mlp_params(jnp.bfloat16)
    x, y = _mlp_data(jnp.bfloat16)
    out = jax.jit(so.hvp, static_argnums=0)(_mlp_loss, params, _random_like(params, 4), x, y)
    assert all(leaf.dtype == jnp.bfloat16 for leaf in jax.tree.leaves(out))
    assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(out))


def test_gnvp_equals_jacobian_formula(x64):
    params = _mlp_params(jnp.float64)
    x, y = _mlp_data(jnp.float64)

    def model(p, inputs):
        h = jnp.tanh(inputs @ p["l1"]["w"] + p["l1"]["b"][None, :])
        return h @ p["l2"]["w"] + p["l2"]["b"][None, :]

    def loss(out, targets):
        return jnp.sum(jax.nn.log_softmax(out) * -jax.nn.softmax(targets))

    v = _random_like(params, 5)
    flat, unravel = ravel_pytree(params)

    @jax.jit
    def reference(z):
        jac = jax.jacobian(lambda z: model(unravel(z), x).ravel())(z)  # (outputs, n)
        out0 = model(unravel(z), x)
        h_out = jax.hessian(lambda o: loss(o.reshape(out0.shape), y))(out0.ravel())
        return jac.T @ h_out @ jac

    g = np.asarray(reference(flat))
    expected = unravel(g @ np.asarray(ravel_pytree(v)[0]))
    gnvp = jax.jit(so.gnvp, static_argnums=(0, 1))
    out = gnvp(model, loss, params, v, x, y)
    assert_trees_close(out, expected, rtol=1e-10, atol=1e-12)
    # Gauss-Newton is PSD for a convex loss (the dense reference too): v^T G v >= 0.
    assert np.linalg.eigvalsh(g).min() > -1e-10
    for seed in range(3):
        w = _random_like(params, 10 + seed)
        gw = gnvp(model, loss, params, w, x, y)
        assert float(ravel_pytree(w)[0] @ ravel_pytree(gw)[0]) >= -1e-12


def test_gnvp_equals_hvp_for_linear_model_and_squared_loss():
    # For a linear model the Gauss-Newton matrix is the Hessian.
    x, y = _mlp_data()
    w = jnp.ones((3, 2))
    v = jnp.asarray(np.random.default_rng(0).normal(size=(3, 2)), jnp.float32)
    model = lambda p, inputs: inputs @ p
    loss = lambda out, t: 0.5 * jnp.sum((out - t) ** 2)
    g = so.gnvp(model, loss, w, v, x, y)
    h = so.hvp(lambda p, a, b: loss(model(p, a), b), w, v, x, y)
    np.testing.assert_allclose(g, h, rtol=1e-5, atol=1e-5)


def test_hessian_dense_ordering_and_values(x64):
    params = {"b": jnp.array([1.0, 2.0], jnp.float64), "a": jnp.array(3.0, jnp.float64)}
    f = lambda p: p["a"] ** 2 * jnp.sum(p["b"] ** 3)
    h = jax.jit(lambda p: so.hessian(f, p))(params)
    # ravel order: leaves of the dict in sorted-key order -> [a, b0, b1].
    a, b = 3.0, np.array([1.0, 2.0])
    expected = np.array(
        [
            [2 * np.sum(b**3), 6 * a * b[0] ** 2, 6 * a * b[1] ** 2],
            [6 * a * b[0] ** 2, 6 * a**2 * b[0], 0.0],
            [6 * a * b[1] ** 2, 0.0, 6 * a**2 * b[1]],
        ]
    )
    np.testing.assert_allclose(h, expected, rtol=1e-12)
    # hvp agrees with the dense Hessian in the same ordering.
    v = {"b": jnp.array([0.5, -1.0], jnp.float64), "a": jnp.array(2.0, jnp.float64)}
    np.testing.assert_allclose(
        ravel_pytree(so.hvp(f, params, v))[0], h @ ravel_pytree(v)[0], rtol=1e-12
    )


def test_none_leaves_are_carried():
    params = {"w": jnp.array([1.0, 2.0]), "frozen": None}
    f = lambda p: jnp.sum(p["w"] ** 3)
    out = so.hvp(f, params, {"w": jnp.ones(2), "frozen": None})
    assert out["frozen"] is None
    np.testing.assert_allclose(out["w"], [6.0, 12.0])


def test_matches_optax_deprecated_second_order_module():
    """Optax 0.2.8 still ships ``optax.second_order.hvp/hessian_diag`` (deprecated, raveled
    vectors, ``v`` before ``params``); the numbers agree with ours."""
    import warnings

    import optax

    params = _mlp_params()
    x, y = _mlp_data()
    v = _random_like(params, 7)
    flat_v, _ = ravel_pytree(v)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        theirs_hvp = optax.second_order.hvp(_mlp_loss, flat_v, params, x, y)
        theirs_diag = optax.second_order.hessian_diag(_mlp_loss, params, x, y)
    ours_hvp = jax.jit(so.hvp, static_argnums=0)(_mlp_loss, params, v, x, y)
    assert_trees_close(ours_hvp, theirs_hvp, rtol=1e-5, atol=1e-6)
    ours_diag = jax.jit(lambda p: so.hessian_diag(_mlp_loss, p, x, y))(params)
    np.testing.assert_allclose(ravel_pytree(ours_diag)[0], theirs_diag, rtol=1e-4, atol=1e-6)
