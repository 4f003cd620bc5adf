"""Optax's top-level utilities and linear algebra (issue 15): safe norms and counters,
scale_gradient, periodic_update, multi_normal, power_iteration, matrix_inverse_pth_root and
nnls, against Optax and against closed forms / dense solvers."""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.optimize

import gradtx
from tests.optax_parity import assert_same_signature

NAMES = [
    "init_empty_state",
    "safe_norm",
    "safe_root_mean_squares",
    "safe_increment",
    "safe_int32_increment",
    "global_norm",
    "scale_gradient",
    "periodic_update",
    "multi_normal",
    "power_iteration",
    "matrix_inverse_pth_root",
    "nnls",
]


@pytest.mark.parametrize("name", NAMES)
def test_signature_matches_optax(name):
    assert_same_signature(getattr(gradtx, name), getattr(optax, name))


def test_safe_norms_match_optax_with_gradients():
    x = jnp.array([[3.0, 4.0], [0.0, 0.0]])
    for kwargs in ({}, {"axis": 1}, {"axis": 1, "keepdims": True}, {"ord": 1, "axis": 0}):
        np.testing.assert_allclose(
            gradtx.safe_norm(x, 1e-3, **kwargs), optax.safe_norm(x, 1e-3, **kwargs)
        )
    grad = jax.grad(lambda v: jnp.sum(gradtx.safe_norm(v, 1e-3, axis=1)))(x)
    np.testing.assert_allclose(grad, [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)
    for v in (x, jnp.zeros(3)):
        np.testing.assert_allclose(
            gradtx.safe_root_mean_squares(v, 0.1), optax.safe_root_mean_squares(v, 0.1)
        )
        assert np.all(np.isfinite(jax.grad(lambda v: gradtx.safe_root_mean_squares(v, 0.1))(v)))


@pytest.mark.parametrize("dtype", [jnp.int32, jnp.float32, jnp.int8, jnp.uint8, jnp.uint32])
def test_safe_increment_saturates_like_optax(dtype):
    info = jnp.iinfo(dtype) if jnp.issubdtype(dtype, jnp.integer) else jnp.finfo(dtype)
    for value in (0, info.max):
        count = jnp.asarray(value, dtype)
        # jitted, as in Optax's test: the uint32 maximum does not fit a weak int32
        ours, theirs = jax.jit(gradtx.safe_increment)(count), optax.safe_increment(count)
        assert ours.dtype == theirs.dtype == dtype
        assert ours == theirs
    assert gradtx.safe_int32_increment is gradtx.safe_increment
    with pytest.raises(ValueError, match="cannot safely increment"):
        gradtx.safe_increment(jnp.asarray(True))


def test_global_norm_and_init_empty_state():
    tree = {"a": jnp.array([3.0]), "b": {"c": jnp.array([4.0], jnp.bfloat16)}}
    assert float(gradtx.global_norm(tree)) == 5.0
    assert gradtx.init_empty_state(tree) == gradtx.EmptyState()


def test_scale_gradient_scales_only_the_backward_pass():
    def f(lib, scale):
        return lambda x: jnp.sum(lib.scale_gradient({"x": x}, scale)["x"] ** 2)

    x = jnp.array([1.0, -2.0])
    for scale in (0.0, 1.0, 0.25, jnp.asarray(-3.0)):
        assert float(f(gradtx, scale)(x)) == 5.0
        np.testing.assert_allclose(jax.grad(f(gradtx, scale))(x), jax.grad(f(optax, scale))(x))
    np.testing.assert_allclose(jax.grad(f(gradtx, 0.25))(x), 0.25 * 2 * x)


def test_periodic_update_under_jit():
    new, old = {"w": jnp.ones(2)}, {"w": jnp.zeros(2)}
    picks = [
        float(jax.jit(gradtx.periodic_update)(new, old, jnp.asarray(s), 3)["w"][0])
        for s in range(7)
    ]
    assert picks == [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0]


def test_multi_normal_matches_optax():
    loc, log_scale = jnp.array([0.5, -1.0]), jnp.array([0.0, jnp.log(2.0)])
    ours, theirs = gradtx.multi_normal(loc, log_scale), optax.multi_normal(loc, log_scale)
    key = jax.random.key(0)
    with jax.numpy_rank_promotion("allow"):
        np.testing.assert_allclose(ours.sample((4,), key), theirs.sample((4,), key), rtol=1e-6)
        x = jnp.array([[0.0, 0.0], [1.0, 3.0]])
        np.testing.assert_allclose(ours.log_prob(x), theirs.log_prob(x), rtol=1e-6)
    # Closed form for one point: sum of the two univariate log densities.
    ref = sum(
        -0.5 * np.log(2 * np.pi) - np.log(s) - 0.5 * ((v - m) / s) ** 2
        for v, m, s in zip([1.0, 3.0], [0.5, -1.0], [1.0, 2.0], strict=True)
    )
    np.testing.assert_allclose(ours.log_prob(jnp.array([1.0, 3.0])), ref, rtol=1e-6)
    assert [p.tolist() for p in ours.params] == [loc.tolist(), log_scale.tolist()]


def _spd(n, seed):
    a = np.random.default_rng(seed).normal(size=(n, n))
    return a @ a.T + n * np.eye(n)


def test_power_iteration_matches_eigh_and_optax():
    m = jnp.asarray(_spd(6, 0), jnp.float32)
    eig, vec = gradtx.power_iteration(m, num_iters=500, error_tolerance=1e-7)
    top = np.linalg.eigh(np.asarray(m, np.float64))
    np.testing.assert_allclose(float(eig), top[0][-1], rtol=1e-4)
    np.testing.assert_allclose(np.abs(np.asarray(vec)), np.abs(top[1][:, -1]), atol=1e-3)
    with jax.numpy_dtype_promotion("standard"):
        eig_o, vec_o = optax.power_iteration(m, num_iters=500, error_tolerance=1e-7)
    np.testing.assert_allclose(eig, eig_o, rtol=1e-5)
    np.testing.assert_allclose(vec, vec_o, atol=1e-5)


def test_power_iteration_on_a_tree_operator():
    d = {"a": jnp.array([1.0, 5.0]), "b": jnp.array([2.0])}
    v0 = jax.tree.map(jnp.ones_like, d)
    eig, vec = gradtx.power_iteration(lambda v: jax.tree.map(jnp.multiply, d, v), v0=v0)
    assert float(eig) == pytest.approx(5.0, rel=1e-4)
    assert float(jnp.abs(vec["a"][1])) == pytest.approx(1.0, rel=1e-3)
    with pytest.raises(ValueError, match="v0 must be provided"):
        gradtx.power_iteration(lambda v: v)


@pytest.mark.parametrize("p", [1, 2, 4, 8])
def test_matrix_inverse_pth_root_matches_eigh_and_optax(p):
    m = jnp.asarray(_spd(5, p), jnp.float32)
    root, error = gradtx.matrix_inverse_pth_root(m, p)
    w, v = np.linalg.eigh(np.asarray(m, np.float64))
    ref = (v * w ** (-1.0 / p)) @ v.T
    np.testing.assert_allclose(root, ref, rtol=1e-3, atol=1e-4)
    with jax.numpy_dtype_promotion("standard"):
        theirs, error_o = optax.matrix_inverse_pth_root(m, p)
    np.testing.assert_allclose(root, theirs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(error, error_o, rtol=1e-4, atol=1e-6)


def test_matrix_inverse_pth_root_of_a_scalar_matrix():
    root, _ = gradtx.matrix_inverse_pth_root(jnp.array([[4.0]]), 2, ridge_epsilon=0.0)
    np.testing.assert_allclose(root, [[0.5]], rtol=1e-6)


def test_nnls_matches_scipy_and_optax():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(12, 5))
    b = rng.normal(size=(12,))
    ref, _ = scipy.optimize.nnls(a, b)
    x = gradtx.nnls(jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32), iters=3000)
    np.testing.assert_allclose(x, ref, atol=1e-4)
    theirs = optax.nnls(jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32), iters=100)
    ours = gradtx.nnls(jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32), iters=100)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    batch = gradtx.nnls(jnp.asarray(a, jnp.float32), jnp.stack([b, -b], 1).astype(jnp.float32), 50)
    assert batch.shape == (5, 2) and bool(jnp.all(batch >= 0))
    with pytest.raises(ValueError, match="nnls"):
        gradtx.nnls(jnp.ones(3), jnp.ones(3), 10)


def test_transform_update_extra_args_fn_is_the_update_protocol():
    assert gradtx.TransformUpdateExtraArgsFn is gradtx.TransformUpdateFn
    assert "extra_args" in inspect.signature(gradtx.TransformUpdateExtraArgsFn.__call__).parameters
