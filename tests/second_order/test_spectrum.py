"""power_iteration, lanczos, top_eigenvalues and eigenvalue_density against numpy.linalg.eigh."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gradtx import second_order as so

# Slow (CI runs it): iterative solvers and estimators, compiled per case.
pytestmark = pytest.mark.slow


@functools.lru_cache
def _symmetric(n: int = 200, seed: int = 0):
    """A symmetric matrix with separated extreme eigenvalues, and its eigenvalues (float64)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    ev = np.concatenate([rng.uniform(-2.0, 3.0, size=n - 4), [6.0, 9.0, -5.0, -8.0]])
    a = (q * ev) @ q.T
    a = (a + a.T) / 2
    return a, np.linalg.eigh(a)[0]


def _as_tree_operator(a):
    """The dense matrix as a matvec on the tree {"w": (10, 15), "b": (50,)} (n = 200)."""
    a = jnp.asarray(a)

    def matvec(v):
        flat = jnp.concatenate([v["b"], v["w"].ravel()])
        out = a.astype(flat.dtype) @ flat
        return {"b": out[:50], "w": out[50:].reshape(10, 15)}

    return matvec, {"b": jnp.zeros(50, a.dtype), "w": jnp.zeros((10, 15), a.dtype)}


def test_lanczos_extreme_eigenvalues_match_eigh(x64):
    a, w = _symmetric()
    matvec, like = _as_tree_operator(a)
    v0 = jax.tree.map(
        lambda x: jnp.ones_like(x) + 0.1 * jnp.arange(x.size, dtype=x.dtype).reshape(x.shape), like
    )
    res = jax.jit(lambda v: so.lanczos(matvec, v, 50, return_vectors=True))(v0)
    assert res.eigenvalues.shape == (50,) and res.eigenvalues.dtype == jnp.float64
    theta = np.asarray(res.eigenvalues)
    np.testing.assert_allclose(theta[-2:], w[-2:], rtol=1e-4)
    np.testing.assert_allclose(theta[:2], w[:2], rtol=1e-4)
    # The reported residuals bound the distance to the spectrum and are small at the ends.
    for t, r in zip(theta, np.asarray(res.residuals), strict=True):
        assert np.min(np.abs(w - t)) <= r + 1e-8
    assert np.all(np.asarray(res.residuals)[[0, 1, -2, -1]] < 1e-4)
    # The basis is orthonormal (full reorthogonalization) and T = Q^T A Q.
    q = np.concatenate([np.asarray(res.basis["b"]), np.asarray(res.basis["w"]).reshape(50, -1)], 1)
    np.testing.assert_allclose(q @ q.T, np.eye(50), atol=1e-10)
    t = np.diag(res.alphas) + np.diag(res.betas[:-1], 1) + np.diag(res.betas[:-1], -1)
    np.testing.assert_allclose(q @ a @ q.T, t, atol=1e-10)
    # Ritz vectors: A y = theta y up to the residual.
    y = np.concatenate(
        [np.asarray(res.eigenvectors["b"]), np.asarray(res.eigenvectors["w"]).reshape(50, -1)], 1
    )
    np.testing.assert_allclose(a @ y[-1], theta[-1] * y[-1], atol=1e-6)


def test_lanczos_float32_is_accurate_too():
    a, w = _symmetric()
    res = jax.jit(lambda m, v: so.lanczos(m, v, 60))(
        jnp.asarray(a, jnp.float32), jnp.ones(200, jnp.float32)
    )
    assert res.eigenvalues.dtype == jnp.float32
    theta = np.asarray(res.eigenvalues, np.float64)
    np.testing.assert_allclose(theta[[0, 1, -2, -1]], w[[0, 1, -2, -1]], rtol=1e-4)


def test_lanczos_full_dimension_gives_every_eigenvalue(x64):
    a, w = _symmetric(40, seed=1)
    res = jax.jit(lambda m: so.lanczos(m, jnp.ones(40), num_steps=100))(jnp.asarray(a))  # n = 40
    assert res.eigenvalues.shape == (40,)
    np.testing.assert_allclose(res.eigenvalues, w, atol=1e-10)


def test_lanczos_invariant_subspace_restarts_without_ghosts(x64):
    # Three distinct eigenvalues: the Krylov space of any vector has dimension 3, so the
    # iteration breaks down and restarts; no spurious Ritz values may appear.
    d = jnp.asarray(np.repeat([1.0, 2.0, 3.0], 5))
    res = jax.jit(lambda v: so.lanczos(lambda u: d * u, v, 15, return_vectors=True))(
        jnp.ones(15, jnp.float64)
    )
    np.testing.assert_allclose(res.eigenvalues, np.sort(np.asarray(d)), atol=1e-12)
    assert float(res.betas[2]) == 0.0
    np.testing.assert_allclose(res.basis @ res.basis.T, np.eye(15), atol=1e-12)


def test_power_iteration_finds_largest_magnitude():
    a, w = _symmetric(50, seed=2)
    res = jax.jit(lambda m, v: so.power_iteration(m, v, num_steps=2000, tol=1e-7))(
        jnp.asarray(a, jnp.float32), jnp.ones(50, jnp.float32)
    )
    top = w[np.argmax(np.abs(w))]
    np.testing.assert_allclose(float(res.eigenvalue), top, rtol=1e-4)
    assert int(res.num_steps) < 2000
    assert float(res.residual) <= 1e-7 * abs(top) * 1.01


def test_top_eigenvalues_both_ends(x64):
    a, w = _symmetric()
    matvec, like = _as_tree_operator(a)
    # The two outermost eigenvalues at each end are separated from the bulk.
    res = jax.jit(
        lambda k: so.top_eigenvalues(matvec, like, 2, k, which="both", return_vectors=True)
    )(jax.random.key(0))
    np.testing.assert_allclose(res.eigenvalues, [w[-1], w[-2], w[0], w[1]], rtol=1e-4)
    assert jax.tree.leaves(res.eigenvectors)[0].shape[0] == 4
    assert np.all(np.asarray(res.residuals) < 1e-4)


@pytest.mark.parametrize(
    ("which", "expected"), [("largest", [10.0, 9.0, 8.0]), ("smallest", [1.0, 2.0, 3.0])]
)
def test_top_eigenvalues_order(which, expected):
    a = jnp.diag(jnp.arange(1.0, 11.0))
    res = jax.jit(lambda k: so.top_eigenvalues(a, jnp.zeros(10), 3, k, which=which))(
        jax.random.key(0)
    )
    np.testing.assert_allclose(res.eigenvalues, expected, rtol=1e-5)
    assert res.eigenvectors is None


def test_top_eigenvalues_of_a_hessian():
    rng = np.random.default_rng(3)
    m = rng.normal(size=(12, 12))
    h = jnp.asarray(m @ m.T / 12, jnp.float32)
    f = lambda p: 0.5 * p["x"] @ h @ p["x"]
    params = {"x": jnp.ones(12)}
    res = jax.jit(lambda p, k: so.top_eigenvalues(so.hvp_operator(f, p), p, 1, k, which="largest"))(
        params, jax.random.key(0)
    )
    np.testing.assert_allclose(res.eigenvalues, [np.linalg.eigvalsh(np.asarray(h))[-1]], rtol=1e-5)


def test_eigenvalue_density_integrates_to_one_and_sits_on_the_spectrum(x64):
    # Three clusters with known mass: 1/2 near -2, 1/4 near 1, 1/4 near 4.
    rng = np.random.default_rng(5)
    n = 120
    ev = np.concatenate(
        [
            -2 + 0.05 * rng.normal(size=60),
            1 + 0.05 * rng.normal(size=30),
            4 + 0.05 * rng.normal(size=30),
        ]
    )
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    a = jnp.asarray((q * ev) @ q.T)
    dens = jax.jit(
        lambda k: so.eigenvalue_density(a, jnp.zeros(n), k, num_steps=40, num_probes=16)
    )(jax.random.key(0))
    grid, rho = np.asarray(dens.grid), np.asarray(dens.density)
    h = grid[1] - grid[0]
    assert abs(np.sum(rho) * h - 1.0) < 1e-3
    np.testing.assert_allclose(np.asarray(dens.weights).sum(axis=1), 1.0, atol=1e-10)
    assert grid[0] < ev.min() and grid[-1] > ev.max()

    def mass(lo, hi):
        sel = (grid >= lo) & (grid <= hi)
        return np.sum(rho[sel]) * h

    assert abs(mass(-2.5, -1.5) - 0.5) < 0.1
    assert abs(mass(0.5, 1.5) - 0.25) < 0.1
    assert abs(mass(3.5, 4.5) - 0.25) < 0.1
    assert mass(-1.4, 0.4) + mass(1.6, 3.4) < 0.01  # nothing in the gaps
    # The density's mean is tr(A)/n (exactly, per probe, up to the probes' randomness).
    assert abs(np.sum(grid * rho) * h - ev.mean()) < 0.3


def test_eigenvalue_density_of_a_hessian_with_bounds():
    params = {"x": jnp.ones(8)}
    scales = jnp.asarray([1.0, 1.0, 1.0, 1.0, 5.0, 5.0, 5.0, 5.0])
    f = lambda p: 0.5 * jnp.sum(scales * p["x"] ** 2)
    dens = jax.jit(
        lambda p, k: so.eigenvalue_density(
            so.hvp_operator(f, p), p, k, num_probes=4, grid_size=601, bounds=(0.0, 6.0)
        )
    )(params, jax.random.key(1))
    grid, rho = np.asarray(dens.grid), np.asarray(dens.density)
    assert grid[0] == 0.0 and grid[-1] == 6.0 and rho.shape == (601,)
    peaks = grid[np.argsort(rho)[-2:]]
    np.testing.assert_allclose(np.sort(peaks), [1.0, 5.0], atol=0.02)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: so.lanczos(jnp.eye(3), jnp.ones(3), 0), r"lanczos\(num_steps=0\)"),
        (
            lambda: so.power_iteration(jnp.eye(3), jnp.ones(3), tol=-1.0),
            r"power_iteration\(tol=-1.0\)",
        ),
        (
            lambda: so.top_eigenvalues(jnp.eye(3), jnp.ones(3), 4, jax.random.key(0)),
            r"top_eigenvalues\(k=4\)",
        ),
        (
            lambda: so.top_eigenvalues(jnp.eye(3), jnp.ones(3), 1, jax.random.key(0), which="top"),
            r"top_eigenvalues\(which='top'\)",
        ),
        (
            lambda: so.eigenvalue_density(
                jnp.eye(3), jnp.ones(3), jax.random.key(0), sigma_squared=0.0
            ),
            r"eigenvalue_density\(sigma_squared=0.0\)",
        ),
        (
            lambda: so.eigenvalue_density(jnp.eye(3), jnp.ones(3), jax.random.key(0), batch_size=0),
            r"eigenvalue_density\(batch_size=0\)",
        ),
    ],
)
def test_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_lanczos_on_a_tree_matches_lanczos_on_the_raveled_vector(x64):
    # Same numbers as a tree of 2-D leaves (and a None) or as one vector: same T, same basis.
    a, _ = _symmetric()
    matvec, like = _as_tree_operator(a)
    like = {**like, "none": None}
    tree_matvec = lambda v: {**matvec({"b": v["b"], "w": v["w"]}), "none": None}  # noqa: E731
    v0 = jax.tree.map(lambda x: jnp.linspace(1.0, 2.0, x.size).reshape(x.shape), like)
    flat0 = jnp.concatenate([v0["b"], v0["w"].ravel()])
    tree_res = jax.jit(lambda v: so.lanczos(tree_matvec, v, 30, return_vectors=True))(v0)
    flat_res = jax.jit(lambda v: so.lanczos(jnp.asarray(a), v, 30, return_vectors=True))(flat0)
    np.testing.assert_allclose(tree_res.alphas, flat_res.alphas, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tree_res.betas, flat_res.betas, rtol=1e-12, atol=1e-12)
    assert tree_res.basis["none"] is None and tree_res.basis["w"].shape == (30, 10, 15)
    q = np.concatenate([tree_res.basis["b"], np.asarray(tree_res.basis["w"]).reshape(30, -1)], 1)
    np.testing.assert_allclose(q, flat_res.basis, atol=1e-12)


def test_lanczos_float32_basis_stays_orthonormal():
    # 120 steps on n = 200 in float32: Ritz values converge, which is when a single
    # Gram-Schmidt pass stops being enough; the conditional second pass must catch it.
    a, w = _symmetric()
    res = jax.jit(lambda m, v: so.lanczos(m, v, 120, return_vectors=True))(
        jnp.asarray(a, jnp.float32), jnp.ones(200, jnp.float32)
    )
    q = np.asarray(res.basis, np.float64)
    assert res.basis.dtype == jnp.float32
    np.testing.assert_allclose(q @ q.T, np.eye(120), atol=2e-5)
    theta = np.asarray(res.eigenvalues, np.float64)
    # No ghost copies: every Ritz value is within its residual of a distinct eigenvalue.
    assert len(np.unique(np.round(theta[-4:], 3))) == 4
    np.testing.assert_allclose(theta[[0, 1, -2, -1]], w[[0, 1, -2, -1]], rtol=1e-5)


def test_eigenvalue_density_does_not_depend_on_the_batch_size(x64):
    a, _ = _symmetric(60, seed=4)
    run = lambda b: jax.jit(  # noqa: E731
        lambda k: so.eigenvalue_density(
            jnp.asarray(a), jnp.zeros(60), k, num_steps=20, num_probes=3, batch_size=b
        )
    )(jax.random.key(0))
    one, batched = run(1), run(2)
    np.testing.assert_allclose(batched.nodes, one.nodes, atol=1e-10)
    np.testing.assert_allclose(batched.weights, one.weights, atol=1e-10)
