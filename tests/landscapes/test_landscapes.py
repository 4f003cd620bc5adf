"""Landscapes: the listed critical points are critical, of the stated kind, at the stated value."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gradtx import landscapes

# Slow (CI runs it): compiled per case.
pytestmark = pytest.mark.slow

CASES = {
    "saddle": landscapes.saddle,
    "monkey_saddle": landscapes.monkey_saddle,
    "rosenbrock": landscapes.rosenbrock,
    "rosenbrock_a2_b50": lambda: landscapes.rosenbrock(a=2.0, b=50.0),
    "beale": landscapes.beale,
    "himmelblau": landscapes.himmelblau,
    "rastrigin": landscapes.rastrigin,
    "rastrigin_3d_a5": lambda: landscapes.rastrigin(dim=3, a=5.0),
    "ill_conditioned_quadratic": landscapes.ill_conditioned_quadratic,
    "ill_conditioned_quadratic_1e4_5d": lambda: landscapes.ill_conditioned_quadratic(
        condition_number=1e4, dim=5
    ),
}


LANDSCAPES = {case: factory() for case, factory in CASES.items()}


def _points(kind):
    out = []
    for case, L in LANDSCAPES.items():
        for i in range(getattr(L, kind).shape[0]):
            out.append(pytest.param(case, i, id=f"{case}-{i}"))
    return out


@functools.cache
def _derivatives(fn):
    return jax.jit(lambda x: (jax.grad(fn)(x), jax.hessian(fn)(x)))


def _grad_hess(L, point):
    """Gradient and Hessian in float64 (call under the ``x64`` fixture)."""
    g, h = _derivatives(L.fn)(jnp.asarray(point, jnp.float64))
    return np.asarray(g), np.asarray(h)


def test_every_factory_is_public_and_listed():
    names = set(landscapes.__all__) - {"Landscape"}
    assert names == {
        "saddle",
        "monkey_saddle",
        "rosenbrock",
        "beale",
        "himmelblau",
        "rastrigin",
        "ill_conditioned_quadratic",
    }
    assert landscapes.__all__ == sorted(landscapes.__all__)
    for name in names:
        L = getattr(landscapes, name)()
        assert isinstance(L, landscapes.Landscape)
        assert L.name == name


@pytest.mark.parametrize("case", sorted(CASES))
def test_shapes_bounds_and_read_only_points(case):
    L = LANDSCAPES[case]
    d = L.dim
    assert L.x0.shape == (d,) and len(L.bounds) == d
    for kind in ("minima", "saddles", "maxima"):
        pts = getattr(L, kind)
        assert pts.dtype == np.float64 and pts.ndim == 2 and pts.shape[1] == d
        with pytest.raises(ValueError):
            pts[...] = 0.0  # read-only data
        lo = np.array([b[0] for b in L.bounds])
        hi = np.array([b[1] for b in L.bounds])
        assert np.all((pts >= lo) & (pts <= hi)), f"{kind} outside the plot bounds"
    assert np.all([lo < x < hi for x, (lo, hi) in zip(L.x0, L.bounds, strict=True)])
    # The start is not already a critical point.
    with jax.enable_x64(True):
        g, _ = _grad_hess(L, L.x0)
    assert np.linalg.norm(g) > 1e-3


@pytest.mark.parametrize(("case", "i"), _points("minima"))
def test_minima_are_critical_positive_definite_and_at_min_value(x64, case, i):
    L = LANDSCAPES[case]
    g, h = _grad_hess(L, L.minima[i])
    np.testing.assert_allclose(g, 0.0, atol=1e-9)
    assert np.linalg.eigvalsh(h).min() > 0.0  # PD (hence PSD) at every listed minimum
    np.testing.assert_allclose(float(L.fn(jnp.asarray(L.minima[i]))), L.min_value, atol=1e-12)


@pytest.mark.parametrize(("case", "i"), _points("saddles"))
def test_saddles_are_critical_with_curvature_of_both_signs(x64, case, i):
    L = LANDSCAPES[case]
    point = L.saddles[i]
    g, h = _grad_hess(L, point)
    np.testing.assert_allclose(g, 0.0, atol=1e-9)
    eig = np.linalg.eigvalsh(h)
    if case == "monkey_saddle":
        # Degenerate: the Hessian vanishes; the saddle shows at third order, where f takes
        # both signs arbitrarily close to the point (and f(point) = 0).
        np.testing.assert_allclose(h, 0.0, atol=0.0)
        eps = 1e-3
        values = [
            float(L.fn(jnp.asarray(point + eps * np.array(d))))
            for d in [(1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0)]
        ]
        assert values[0] > 0.0 > values[1]
        assert float(L.fn(jnp.asarray(point))) == 0.0
    else:
        assert eig.min() < -1e-6 and eig.max() > 1e-6, eig
    if np.isfinite(L.min_value):
        assert float(L.fn(jnp.asarray(point))) > L.min_value


@pytest.mark.parametrize(("case", "i"), _points("maxima"))
def test_maxima_are_critical_negative_definite(x64, case, i):
    L = LANDSCAPES[case]
    g, h = _grad_hess(L, L.maxima[i])
    np.testing.assert_allclose(g, 0.0, atol=1e-9)
    assert np.linalg.eigvalsh(h).max() < 0.0


@pytest.mark.parametrize("case", sorted(CASES))
def test_min_value_is_the_minimum_over_a_grid(case):
    """No sampled point of the plot window lies below the stated minimum value."""
    L = LANDSCAPES[case]
    rng = np.random.default_rng(0)
    lo = np.array([b[0] for b in L.bounds])
    hi = np.array([b[1] for b in L.bounds])
    xs = jnp.asarray(rng.uniform(lo, hi, size=(4096, L.dim)), jnp.float32)
    values = np.asarray(jax.vmap(L.fn)(xs))
    if np.isfinite(L.min_value):
        assert values.min() >= L.min_value - 1e-6
    else:
        # Unbounded below: the window already holds values below every critical value.
        crit = [float(L.fn(jnp.asarray(p))) for p in L.saddles]
        assert values.min() < min(crit) - 1.0


def test_himmelblau_and_beale_values():
    h = landscapes.himmelblau()
    np.testing.assert_allclose(float(h(jnp.asarray(h.maxima[0]))), 181.617, atol=1e-3)
    b = landscapes.beale()
    assert float(b(jnp.array([0.0, 1.0]))) == 14.203125
    with jax.enable_x64(True):
        _, hess = _grad_hess(b, (0.0, 1.0))
    np.testing.assert_allclose(np.linalg.eigvalsh(hess), [-27.75, 27.75], rtol=1e-12)


def test_rastrigin_lists_the_cell_around_the_origin():
    L = landscapes.rastrigin(dim=3)
    assert L.saddles.shape == (3**3 - 1 - 2**3, 3)
    assert L.maxima.shape == (2**3, 3)
    # Beyond dim 6 the lattice is not listed (3**dim points), only the minimum.
    big = landscapes.rastrigin(dim=8)
    assert big.saddles.shape == (0, 8) and big.maxima.shape == (0, 8)
    assert big.minima.shape == (1, 8)


def test_ill_conditioned_quadratic_spectrum(x64):
    L = landscapes.ill_conditioned_quadratic(condition_number=1e3, dim=4)
    _, h = _grad_hess(L, np.zeros(4))
    np.testing.assert_allclose(np.diag(h), [1.0, 10.0, 100.0, 1000.0], rtol=1e-12)
    np.testing.assert_allclose(h - np.diag(np.diag(h)), 0.0)
    one = landscapes.ill_conditioned_quadratic(condition_number=50.0, dim=1)
    assert float(one(jnp.array([2.0]))) == 2.0


@pytest.mark.parametrize("case", sorted(CASES))
def test_fn_keeps_the_input_dtype(case):
    L = LANDSCAPES[case]
    value_and_grad = jax.jit(jax.value_and_grad(L.fn))
    for dtype in (jnp.float32, jnp.bfloat16):
        x = jnp.asarray(L.x0, dtype)
        y, g = value_and_grad(x)
        assert y.shape == () and y.dtype == dtype and g.dtype == dtype
        assert L(x).dtype == dtype  # eager too
        np.testing.assert_allclose(
            float(L(x)), float(y), rtol=1e-2 if dtype == jnp.bfloat16 else 1e-6
        )


def test_fn_float64(x64):
    L = landscapes.rosenbrock()
    y = L(jnp.asarray(L.x0, jnp.float64))
    assert y.dtype == jnp.float64
    assert float(y) == pytest.approx(24.2, rel=1e-15)


def test_distance_to_minimum():
    L = landscapes.himmelblau()
    assert L.distance_to_minimum([3.0, 2.5]) == pytest.approx(0.5)
    assert landscapes.saddle().distance_to_minimum([0.0, 0.0]) is None
    assert L.dim == 2


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: landscapes.rosenbrock(b=0.0), ValueError, r"rosenbrock\(b=0.0\): b must be > 0"),
        (lambda: landscapes.rosenbrock(a=float("nan")), ValueError, r"rosenbrock\(a=nan\)"),
        (lambda: landscapes.rastrigin(dim=0), ValueError, r"rastrigin\(dim=0\)"),
        (lambda: landscapes.rastrigin(dim=1.5), TypeError, r"rastrigin\(dim=1.5\)"),
        (lambda: landscapes.rastrigin(a=0.1), ValueError, r"rastrigin\(a=0.1\): a must be >= 0.25"),
        (
            lambda: landscapes.ill_conditioned_quadratic(condition_number=0.5),
            ValueError,
            r"ill_conditioned_quadratic\(condition_number=0.5\)",
        ),
        (
            lambda: landscapes.ill_conditioned_quadratic(dim=0),
            ValueError,
            r"ill_conditioned_quadratic\(dim=0\)",
        ),
    ],
)
def test_validation(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
