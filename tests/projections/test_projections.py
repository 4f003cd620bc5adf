"""gradtx.projections: exactness (brute force, optimality), Optax parity, dtypes, transforms."""

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.optimize

import gradtx
from gradtx import projections as P

# Slow (CI runs it): compiled per case.
pytestmark = pytest.mark.slow

NAMES = sorted(n for n in dir(optax.projections) if not n.startswith("_"))


class _Standard:
    """``O.name(...)`` calls ``optax.projections.name`` under standard promotion."""

    def __getattr__(self, name):
        def call(*args, **kwargs):
            with jax.numpy_dtype_promotion("standard"):
                return getattr(optax.projections, name)(*args, **kwargs)

        return call


O = _Standard()


class _Jitted:
    """``J.name(...)``: ``gradtx.projections.name`` under ``jax.jit`` (eager runs are slow)."""

    def __getattr__(self, name):
        return jax.jit(getattr(P, name))


J = _Jitted()


def _rng(seed=0):
    return np.random.RandomState(seed)


def test_namespace_has_every_optax_name_with_its_signature():
    assert P.__all__ == NAMES
    assert gradtx.projections is P
    for name in NAMES:
        ours = inspect.signature(getattr(P, name)).parameters
        theirs = inspect.signature(getattr(optax.projections, name)).parameters
        assert [(p.name, p.kind, p.default) for p in ours.values()] == [
            (p.name, p.kind, p.default) for p in theirs.values()
        ], name


def _brute_force(x, constraints, bounds=None, x0=None):
    """SLSQP from several starts: the nearest feasible point found."""
    best = None
    starts = [x if x0 is None else x0] + [np.random.RandomState(i).randn(x.size) for i in range(4)]
    for start in starts:
        res = scipy.optimize.minimize(
            lambda y: 0.5 * np.sum((y - x) ** 2),
            start,
            jac=lambda y: y - x,
            constraints=constraints,
            bounds=bounds,
            method="SLSQP",
            options={"ftol": 1e-14, "maxiter": 500},
        )
        if best is None or res.fun < best.fun:
            best = res
    return best.x


def _simplex64(x, s=1.0):
    """Duchi et al. 2008, Fig. 1 (sort-based), in float64."""
    u = np.sort(x)[::-1]
    css = np.cumsum(u)
    k = np.arange(1, x.size + 1)
    rho = np.nonzero(u - (css - s) / k > 0)[0][-1]
    tau = (css[rho] - s) / (rho + 1)
    return np.maximum(x - tau, 0)


@pytest.mark.parametrize("scale", [1.0, 2.5])
@pytest.mark.parametrize("seed", range(4))
def test_simplex_matches_sort_reference_brute_force_and_optax(x64, seed, scale):
    x = 2 * _rng(seed).randn(7)
    ours = np.asarray(J.projection_simplex(jnp.asarray(x), scale))
    np.testing.assert_allclose(ours, _simplex64(x, scale), atol=1e-12)
    cons = [{"type": "eq", "fun": lambda y: np.sum(y) - scale}]
    brute = _brute_force(x, cons, bounds=[(0, None)] * x.size)
    np.testing.assert_allclose(ours, brute, atol=1e-6)
    theirs = O.projection_simplex(jnp.asarray(x), scale)
    np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_simplex_of_a_tree_is_one_vector_and_keeps_dtypes():
    tree = {"w": jnp.array([2.5, 3.2], jnp.float32), "b": jnp.array(0.5, jnp.bfloat16), "n": None}
    out = P.projection_simplex(tree)
    assert out["n"] is None
    assert out["w"].dtype == jnp.float32 and out["b"].dtype == jnp.bfloat16
    np.testing.assert_allclose(out["w"], [0.15, 0.85], atol=1e-6)
    assert float(out["b"]) == 0.0
    flat = np.concatenate(
        [
            np.ravel(v)
            for v in jax.tree.leaves(
                O.projection_simplex({"w": tree["w"], "b": tree["b"].astype(jnp.float32)})
            )
        ]
    )
    np.testing.assert_allclose(
        np.concatenate([out["w"], [0.0]]), np.sort(flat)[[1, 2, 0]], atol=1e-6
    )


def test_simplex_large_random_is_feasible_and_optimal():
    x = jnp.asarray(_rng(3).randn(3, 1000).astype(np.float32))
    out = jax.jit(jax.vmap(P.projection_simplex))(x)
    assert out.shape == x.shape and out.dtype == jnp.float32
    np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-5)
    for row, p in zip(np.asarray(x, np.float64), np.asarray(out, np.float64)):
        np.testing.assert_allclose(p, _simplex64(row), atol=1e-6)
    # Ties and constant inputs terminate.
    np.testing.assert_allclose(P.projection_simplex(jnp.zeros(4)), [0.25] * 4)
    np.testing.assert_allclose(P.projection_simplex(jnp.array([5.0, 5.0, -1.0])), [0.5, 0.5, 0])


def test_simplex_gradient_is_the_exact_jacobian(x64):
    x = jnp.asarray(_rng(5).randn(6))
    jac = jax.jit(jax.jacobian(P.projection_simplex))(x)
    jac_fwd = jax.jit(jax.jacfwd(P.projection_simplex))(x)
    p = np.asarray(P.projection_simplex(x))
    s = (p > 0).astype(float)
    expected = np.diag(s) - np.outer(s, s) / s.sum()
    np.testing.assert_allclose(jac, expected, atol=1e-12)
    np.testing.assert_allclose(jac_fwd, expected, atol=1e-12)
    g_scale = jax.grad(lambda s: P.projection_simplex(x, s).sum())(2.0)
    np.testing.assert_allclose(g_scale, 1.0, atol=1e-12)  # the output sums to s


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("inside", [False, True])
def test_l1_ball_and_sphere_against_brute_force_and_optax(x64, seed, inside):
    x = _rng(seed).randn(5)
    x = 0.1 * x / np.abs(x).sum() if inside else 2 * x
    ball = np.asarray(J.projection_l1_ball(jnp.asarray(x)))
    sphere = np.asarray(J.projection_l1_sphere(jnp.asarray(x)))
    np.testing.assert_allclose(np.abs(sphere).sum(), 1.0, atol=1e-12)
    # l1 ball: brute force over the split y = u - v with u, v >= 0, a smooth problem in
    # (u, v) (|y| in the constraint would be non-smooth, and SLSQP then stops ~1e-5 short).
    n = x.size
    split = scipy.optimize.minimize(
        lambda z: 0.5 * np.sum((z[:n] - z[n:] - x) ** 2),
        np.zeros(2 * n),
        jac=lambda z: np.concatenate([z[:n] - z[n:] - x, x - z[:n] + z[n:]]),
        constraints=[
            {"type": "ineq", "fun": lambda z: 1.0 - z.sum(), "jac": lambda z: -np.ones(2 * n)}
        ],
        bounds=[(0.0, None)] * (2 * n),
        method="SLSQP",
        options={"ftol": 1e-15, "maxiter": 1000},
    )
    brute = split.x[:n] - split.x[n:]
    np.testing.assert_allclose(ball, brute, atol=1e-6)
    # l1 sphere: the best point of every orthant's face (a simplex projection each),
    # a finite exhaustive search.
    best, best_d = None, np.inf
    for signs in np.array(np.meshgrid(*[[-1, 1]] * n)).T.reshape(-1, n):
        y = signs * _simplex64(signs * x)
        d = np.sum((y - x) ** 2)
        if d < best_d - 1e-12:
            best, best_d = y, d
    np.testing.assert_allclose(np.sum((sphere - x) ** 2), best_d, atol=1e-10)
    np.testing.assert_allclose(sphere, best, atol=1e-10)
    np.testing.assert_allclose(ball, O.projection_l1_ball(jnp.asarray(x)), atol=1e-12)
    np.testing.assert_allclose(sphere, O.projection_l1_sphere(jnp.asarray(x)), atol=1e-12)


def test_l1_sphere_zero_entries_land_on_the_sphere():
    out = P.projection_l1_sphere(jnp.array([0.0, 0.0, 0.3]))
    np.testing.assert_allclose(jnp.abs(out).sum(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(out, [0.7 / 3, 0.7 / 3, 0.3 + 0.7 / 3], rtol=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_l2_and_linf_against_brute_force_and_optax(x64, seed):
    x = 2 * _rng(seed).randn(4)
    xj = jnp.asarray(x)
    for ours, cons, theirs in [
        (
            P.projection_l2_ball(xj, 1.5),
            {"type": "ineq", "fun": lambda y: 2.25 - y @ y},
            O.projection_l2_ball(xj, 1.5),
        ),
        (
            P.projection_l2_sphere(xj, 1.5),
            {"type": "eq", "fun": lambda y: 2.25 - y @ y},
            O.projection_l2_sphere(xj, 1.5),
        ),
    ]:
        np.testing.assert_allclose(ours, _brute_force(x, [cons]), atol=1e-5)
        np.testing.assert_allclose(ours, theirs, atol=1e-12)
    linf = J.projection_linf_ball(xj, 0.5)
    np.testing.assert_allclose(linf, _brute_force(x, [], bounds=[(-0.5, 0.5)] * 4), atol=1e-6)
    np.testing.assert_allclose(linf, O.projection_linf_ball(xj, 0.5))
    inside = jnp.asarray(0.1 * x / np.linalg.norm(x))
    np.testing.assert_allclose(P.projection_l2_ball(inside), inside)
    np.testing.assert_allclose(P.projection_l2_sphere(jnp.zeros(4), 2.0), [1.0] * 4)


@pytest.mark.parametrize("seed", range(3))
def test_affine_sets_against_brute_force_and_optax(x64, seed):
    r = _rng(seed)
    x, a, b = r.randn(5), r.randn(5), r.randn()
    xj, aj = jnp.asarray(x), jnp.asarray(a)
    plane = J.projection_hyperplane(xj, aj, b)
    np.testing.assert_allclose(
        plane, _brute_force(x, [{"type": "eq", "fun": lambda y: a @ y - b}]), atol=1e-6
    )
    np.testing.assert_allclose(plane, O.projection_hyperplane(xj, aj, b))
    for offset in (b, a @ x + 1.0):  # outside, then inside the halfspace
        half = J.projection_halfspace(xj, aj, offset)
        cons = [{"type": "ineq", "fun": lambda y, o=offset: o - a @ y}]
        np.testing.assert_allclose(half, _brute_force(x, cons), atol=1e-6)
        np.testing.assert_allclose(half, O.projection_halfspace(xj, aj, offset))
    vec = J.projection_vector(xj, aj)
    t = scipy.optimize.minimize_scalar(lambda t: np.sum((x - t * a) ** 2)).x
    np.testing.assert_allclose(vec, t * a, atol=1e-6)
    np.testing.assert_allclose(vec, O.projection_vector(xj, aj))


def test_box_hypercube_non_negative_on_trees():
    tree = {"a": jnp.array([-2.0, 0.5, 3.0]), "b": (jnp.array(-0.5, jnp.bfloat16),)}
    lower = {"a": jnp.array([-1.0, 1.0, 0.0]), "b": (jnp.array(0.0),)}
    upper = {"a": jnp.array([1.0, 2.0, 2.0]), "b": (jnp.array(1.0),)}
    box = P.projection_box(tree, lower, upper)
    assert box["a"].tolist() == [-1.0, 1.0, 2.0] and box["b"][0].dtype == jnp.bfloat16
    ref = O.projection_box(tree["a"], lower["a"], upper["a"])
    np.testing.assert_array_equal(box["a"], ref)
    cube = P.projection_hypercube(tree, 2.0)
    assert cube["a"].tolist() == [0.0, 0.5, 2.0] and float(cube["b"][0]) == 0.0
    np.testing.assert_array_equal(cube["a"], O.projection_hypercube(tree["a"], 2.0))
    nn = P.projection_non_negative(tree)
    assert nn["a"].tolist() == [0.0, 0.5, 3.0]
    with pytest.raises(ValueError, match="structure"):
        P.projection_box(tree, {"a": 0.0}, 1.0)


@pytest.mark.parametrize("name", NAMES)
def test_jit_vmap_dtype_and_empty_tree(name):
    fn = getattr(P, name)
    x = {"u": jnp.array([[0.5, -2.0, 1.5], [3.0, 0.1, -0.2]]), "v": jnp.array(0.7)}
    args = {"projection_box": (-0.5, 0.5)}.get(name, ())
    if name in ("projection_vector",):
        args = (jax.tree.map(jnp.ones_like, x),)
    if name in ("projection_hyperplane", "projection_halfspace"):
        args = (jax.tree.map(jnp.ones_like, x), 0.5)
    eager = fn(x, *args)
    jitted = jax.jit(lambda t: fn(t, *args))(x)
    for e, j, leaf in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted), jax.tree.leaves(x)):
        assert e.dtype == leaf.dtype == j.dtype and e.shape == leaf.shape
        np.testing.assert_allclose(e, j, rtol=1e-6, atol=1e-6)
    bf = jax.tree.map(lambda t: t.astype(jnp.bfloat16), x)
    bf_args = jax.tree.map(lambda t: t.astype(jnp.bfloat16) if hasattr(t, "astype") else t, args)
    assert all(leaf.dtype == jnp.bfloat16 for leaf in jax.tree.leaves(fn(bf, *bf_args)))
    row_args = args
    if name in ("projection_vector", "projection_hyperplane", "projection_halfspace"):
        row_args = ({"u": jnp.ones(3)},) + args[1:]
    rows = jax.vmap(lambda r: fn({"u": r}, *row_args))(x["u"])
    for k in range(2):
        np.testing.assert_allclose(rows["u"][k], fn({"u": x["u"][k]}, *row_args)["u"], atol=1e-6)
    if name not in ("projection_vector", "projection_hyperplane", "projection_halfspace"):
        assert fn({}, *args) == {}


def test_scale_is_validated():
    with pytest.raises(ValueError, match=r"projection_simplex\(scale=0"):
        P.projection_simplex(jnp.ones(3), 0.0)
    with pytest.raises(ValueError, match="projection_linf_ball"):
        P.projection_linf_ball(jnp.ones(3), -1.0)
    # Traced scales are not checked (and work).
    out = jax.jit(P.projection_l2_ball)(jnp.array([3.0, 4.0]), jnp.asarray(10.0))
    np.testing.assert_allclose(out, [3.0, 4.0])


@pytest.mark.parametrize("x", [(1.0, 2.0), (1.0, -2.0)])
@pytest.mark.parametrize("name", ["projection_hyperplane", "projection_halfspace"])
def test_python_float_tuples_as_optax(name, x):
    """Optax's own tests project tuples of Python floats."""
    a, b = (3.0, 4.0), 5.0
    ours = getattr(P, name)(x, a, b)
    theirs = getattr(optax.projections, name)(x, a, b)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o, t, rtol=1e-6)
