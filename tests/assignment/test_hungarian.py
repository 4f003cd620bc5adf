"""gradtx.assignment against scipy.optimize.linear_sum_assignment and Optax."""

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.optimize

import gradtx
from gradtx import assignment as A

# Slow (CI runs it): compiled per case.
pytestmark = pytest.mark.slow

SHAPES = [(1, 1), (1, 4), (4, 1), (3, 3), (5, 5), (3, 7), (7, 3), (8, 8), (6, 9), (12, 5)]
FUNCTIONS = [A.base_hungarian_algorithm, A.hungarian_algorithm]
_JITTED = {fn: jax.jit(fn) for fn in FUNCTIONS}


def test_namespace_and_signatures_match_optax():
    names = sorted(n for n in dir(optax.assignment) if not n.startswith("_"))
    assert A.__all__ == names and gradtx.assignment is A
    for name in names:
        ours = inspect.signature(getattr(A, name)).parameters
        theirs = inspect.signature(getattr(optax.assignment, name)).parameters
        assert list(ours) == list(theirs)


def _check_optimal(cost, i, j):
    i, j = np.asarray(i), np.asarray(j)
    n, m = cost.shape
    assert len(i) == len(j) == min(n, m)
    assert len(set(i.tolist())) == len(i) and len(set(j.tolist())) == len(j)  # a matching
    si, sj = scipy.optimize.linear_sum_assignment(cost)
    np.testing.assert_allclose(cost[i, j].sum(), cost[si, sj].sum(), rtol=1e-5, atol=1e-5)


@pytest.mark.slow  # one compilation per shape and function
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
def test_random_float_costs_are_solved_optimally(fn, shape):
    for seed in range(3):
        cost = np.random.RandomState(seed).randn(*shape).astype(np.float32)
        i, j = _JITTED[fn](jnp.asarray(cost))
        _check_optimal(cost, i, j)
        if fn is A.base_hungarian_algorithm:  # unique optimum: scipy's very pairs
            si, sj = scipy.optimize.linear_sum_assignment(cost)
            np.testing.assert_array_equal(i, si)
            np.testing.assert_array_equal(j, sj)


@pytest.mark.parametrize("shape", [(3, 3), (4, 6), (6, 4)])
@pytest.mark.parametrize("name", ["base_hungarian_algorithm", "hungarian_algorithm"])
def test_same_pairs_in_the_same_order_as_optax(name, shape):
    cost = jnp.asarray(np.random.RandomState(7).randn(*shape).astype(np.float32))
    ours = getattr(A, name)(cost)
    theirs = getattr(optax.assignment, name)(cost)
    for a, b in zip(ours, theirs, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_integer_costs_with_ties_and_large_ranges(x64):
    r = np.random.RandomState(3)
    for shape in [(6, 6), (5, 8), (8, 5)]:
        cost = r.randint(0, 4, shape)  # many ties: several optimal assignments
        for fn in FUNCTIONS:
            i, j = fn(jnp.asarray(cost))
            assert i.dtype == jnp.int64
            _check_optimal(cost, i, j)
    cost = r.randn(6, 6) * 1e6 + r.randn(6, 6)
    _check_optimal(cost, *A.base_hungarian_algorithm(jnp.asarray(cost)))


def test_docstring_example_costs_and_empty_matrices():
    cost = jnp.array([[8, 4, 7], [5, 2, 3], [9, 6, 7], [9, 4, 8]])
    i, j = A.hungarian_algorithm(cost)
    assert int(cost[i, j].sum()) == 15
    for fn in FUNCTIONS:
        for shape in [(0, 3), (3, 0), (0, 0)]:
            i, j = fn(jnp.zeros(shape))
            assert i.shape == j.shape == (0,)
        with pytest.raises(ValueError, match="2-d"):
            fn(jnp.zeros(3))


def test_vmap_over_a_batch_of_problems():
    costs = np.random.RandomState(5).randn(4, 5, 6).astype(np.float32)
    i, j = jax.jit(jax.vmap(A.base_hungarian_algorithm))(jnp.asarray(costs))
    for k in range(4):
        si, sj = scipy.optimize.linear_sum_assignment(costs[k])
        np.testing.assert_array_equal(i[k], si)
        np.testing.assert_array_equal(j[k], sj)
