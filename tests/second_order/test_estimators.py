"""hessian_diag (exact and Hutchinson), hutchinson_trace and hutchpp_trace."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from gradtx import second_order as so


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
