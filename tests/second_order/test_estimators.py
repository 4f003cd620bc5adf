"""hessian_diag (exact and Hutchinson), hutchinson_trace and hutchpp_trace."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from gradtx import second_order as so

# Slow (CI runs it): iterative solvers and estimators, compiled per case.
pytestmark = pytest.mark.slow


@functools.lru_cache
def _problem():
    """A non-separable function on a small tree and its dense Hessian (float64 NumPy)."""
    rng = np.random.default_rng(0)
    m = rng.normal(size=(7, 7))
    a = jnp.asarray(m @ m.T / 7 + np.diag(np.arange(1.0, 8.0)), jnp.float32)
    params = {
        "u": jnp.asarray(rng.normal(size=(2, 2)), jnp.float32),
        "s": jnp.asarray(0.3, jnp.float32),
    }
    params["v"] = jnp.asarray(rng.normal(size=(2,)), jnp.float32)

    def f(p):
        z = ravel_pytree(p)[0]
        return 0.5 * z @ a.astype(z.dtype) @ z + jnp.sum(jnp.sin(z)) + 0.25 * jnp.sum(z**4)

    flat = ravel_pytree(params)[0]
    unravel = ravel_pytree(params)[1]
    dense = np.asarray(jax.jit(jax.hessian(lambda z: f(unravel(z))))(flat), np.float64)
    return f, params, dense


def test_exact_diag_equals_dense_diagonal():
    f, params, dense = _problem()
    diag = jax.jit(lambda p: so.hessian_diag(f, p))(params)
    assert jax.tree.structure(diag) == jax.tree.structure(params)
    np.testing.assert_allclose(ravel_pytree(diag)[0], np.diag(dense), rtol=1e-5)


def test_hutchinson_diag_is_unbiased():
    f, params, dense = _problem()
    n_samples = 4000
    est = jax.jit(lambda p, k: so.hessian_diag(f, p, key=k, num_samples=n_samples))(
        params, jax.random.key(1)
    )
    est = np.asarray(ravel_pytree(est)[0], np.float64)
    # Per-coordinate standard error: sqrt(sum_{j != i} H_ij^2 / S).
    off = dense - np.diag(np.diag(dense))
    stderr = np.sqrt(np.sum(off**2, axis=1) / n_samples)
    assert np.all(np.abs(est - np.diag(dense)) < 5 * stderr + 1e-5), (est, np.diag(dense))


def test_hutchinson_trace_mean_and_variance():
    rng = np.random.default_rng(2)
    m = rng.normal(size=(30, 30))
    a = (m + m.T) / 2
    n_samples = 2000
    est = jax.jit(
        lambda k: so.hutchinson_trace(jnp.asarray(a, jnp.float32), jnp.zeros(30), k, n_samples)
    )(jax.random.key(0))
    var = 2 * (np.sum(a**2) - np.sum(np.diag(a) ** 2))
    assert abs(float(est) - np.trace(a)) < 5 * np.sqrt(var / n_samples)


def test_hutchinson_trace_on_a_pytree_operator(x64):
    f, params, dense = _problem()
    params = jax.tree.map(lambda p: p.astype(jnp.float64), params)
    est = jax.jit(lambda p, k: so.hutchinson_trace(so.hvp_operator(f, p), p, k, num_samples=500))(
        params, jax.random.key(3)
    )
    assert est.dtype == jnp.float64
    var = 2 * (np.sum(dense**2) - np.sum(np.diag(dense) ** 2))
    assert abs(float(est) - np.trace(dense)) < 5 * np.sqrt(var / 500)


def test_hutchpp_is_exact_for_low_rank_and_beats_hutchinson():
    rng = np.random.default_rng(4)
    q, _ = np.linalg.qr(rng.normal(size=(60, 60)))
    ev = 10.0 ** -np.arange(60.0) * 100  # fast decay, like a Hessian's spectrum
    a = jnp.asarray((q * ev) @ q.T, jnp.float32)
    like = jnp.zeros(60)
    run = jax.jit(lambda k: (so.hutchpp_trace(a, like, k, 30), so.hutchinson_trace(a, like, k, 30)))
    errs_pp, errs_h = [], []
    for seed in range(5):
        pp, h = run(jax.random.key(seed))
        errs_pp.append(abs(float(pp) - ev.sum()))
        errs_h.append(abs(float(h) - ev.sum()))
    assert max(errs_pp) < 1e-3 * ev.sum()
    assert np.mean(errs_pp) < 0.1 * np.mean(errs_h)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: so.hessian_diag(jnp.sum, jnp.ones(2), key=jax.random.key(0), num_samples=0),
            r"hessian_diag\(num_samples=0\)",
        ),
        (
            lambda: so.hutchinson_trace(jnp.eye(2), jnp.ones(2), jax.random.key(0), 0),
            r"hutchinson_trace\(num_samples=0\)",
        ),
        (
            lambda: so.hutchpp_trace(jnp.eye(2), jnp.ones(2), jax.random.key(0), 2),
            r"hutchpp_trace\(num_matvecs=2\)",
        ),
        (
            lambda: so.hutchinson_trace(jnp.eye(2), jnp.ones(2), jax.random.key(0), batch_size=0),
            r"hutchinson_trace\(batch_size=0\)",
        ),
        (
            lambda: so.hutchpp_trace(jnp.eye(2), jnp.ones(2), jax.random.key(0), batch_size=0),
            r"hutchpp_trace\(batch_size=0\)",
        ),
    ],
)
def test_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_operator_kind_is_checked():
    with pytest.raises(TypeError, match="hutchinson_trace"):
        so.hutchinson_trace("not an operator", jnp.ones(2), jax.random.key(0))
    with pytest.raises(TypeError, match="square"):
        so.hutchinson_trace(jnp.ones((2, 3)), jnp.ones(2), jax.random.key(0))


def _tree_operator():
    """A symmetric 40 x 40 matrix as a matvec on a tree of a 2-D leaf, a None and a scalar."""
    rng = np.random.default_rng(7)
    m = rng.normal(size=(40, 40))
    a = (m + m.T) / 2 + np.diag(np.arange(40.0))
    like = {"w": jnp.zeros((3, 13)), "gap": None, "s": jnp.zeros(())}

    def matvec(v):
        flat = jnp.concatenate([v["s"].reshape(1), v["w"].ravel()])
        out = jnp.asarray(a, flat.dtype) @ flat
        return {"w": out[1:].reshape(3, 13), "gap": None, "s": out[0]}

    return a, like, matvec


@pytest.mark.parametrize("batch_size", [1, 7, 64, None])
def test_hutchinson_trace_does_not_depend_on_the_batch_size(batch_size):
    _, like, matvec = _tree_operator()
    run = lambda b: jax.jit(  # noqa: E731
        lambda k: so.hutchinson_trace(matvec, like, k, 50, batch_size=b)
    )(jax.random.key(5))
    np.testing.assert_allclose(float(run(batch_size)), float(run(1)), rtol=1e-5)


def test_hutchinson_trace_is_unbiased_on_a_tree_with_none_leaves(x64):
    a, like, matvec = _tree_operator()
    like = jax.tree.map(lambda x: x.astype(jnp.float64), like)
    n_samples = 4000
    est = jax.jit(lambda k: so.hutchinson_trace(matvec, like, k, n_samples, batch_size=500))(
        jax.random.key(2)
    )
    assert est.dtype == jnp.float64
    var = 2 * (np.sum(a**2) - np.sum(np.diag(a) ** 2))
    assert abs(float(est) - np.trace(a)) < 5 * np.sqrt(var / n_samples)


def test_hutchinson_trace_of_a_bfloat16_tree_is_float32():
    like = {"w": jnp.zeros((4, 5), jnp.bfloat16)}
    est = so.hutchinson_trace(
        lambda v: jax.tree.map(lambda x: 2 * x, v), like, jax.random.key(0), 3
    )
    assert est.dtype == jnp.float32
    assert float(est) == 40.0  # z^T (2 I) z = 2 n for every sign vector


@pytest.mark.parametrize("batch_size", [1, 4, None])
def test_hutchpp_does_not_depend_on_the_batch_size_and_is_exact_at_full_rank(x64, batch_size):
    a, like, matvec = _tree_operator()
    like = jax.tree.map(lambda x: x.astype(jnp.float64), like)
    run = lambda b, m: jax.jit(  # noqa: E731
        lambda k: so.hutchpp_trace(matvec, like, k, m, batch_size=b)
    )(jax.random.key(3))
    np.testing.assert_allclose(float(run(batch_size, 30)), float(run(1, 30)), rtol=1e-10)
    # 3 * 40 products: the sketch spans the whole space, the estimate is the trace.
    np.testing.assert_allclose(float(run(batch_size, 120)), np.trace(a), rtol=1e-10)


def test_rademacher_probes_are_balanced_and_independent_per_entry():
    from gradtx.second_order import _operators

    z = np.asarray(_operators.rademacher_flat(jax.random.key(0), 70, jnp.float32, (2000,)))
    assert z.shape == (2000, 70) and set(np.unique(z)) == {-1.0, 1.0}
    assert np.all(np.abs(z.mean(0)) < 5 / np.sqrt(2000))  # every bit position is fair
    corr = (z.T @ z) / 2000 - np.eye(70)
    assert np.max(np.abs(corr)) < 5 / np.sqrt(2000)  # and entries are uncorrelated


def test_ravel_and_unraveler_round_trip_keep_structure_and_dtype():
    from gradtx.second_order import _operators

    tree = {"a": jnp.ones((2, 3), jnp.bfloat16), "b": None, "c": jnp.arange(4.0)}
    flat = _operators.ravel(tree, jnp.float32)
    assert flat.shape == (10,) and flat.dtype == jnp.float32
    back = _operators.unraveler(tree, jnp.float32)(flat)
    assert jax.tree.structure(back) == jax.tree.structure(tree)
    np.testing.assert_array_equal(back["c"], tree["c"])
    stacked = _operators.unraveler(tree, jnp.float32)(jnp.stack([flat, 2 * flat]))
    assert stacked["a"].shape == (2, 2, 3) and stacked["b"] is None
    assert _operators.ravel({}, jnp.float32).shape == (0,)
