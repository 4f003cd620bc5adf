"""centralize, zero_nans, keep_params_nonnegative: references, Optax parity, dtypes, trees."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from tests.helpers import (
    assert_same_shapes_and_dtypes,
    assert_trees_close,
    example_params,
    gradient_sequence,
)

# Slow (CI runs it): references and dtype checks, one compilation each.
pytestmark = pytest.mark.slow

# --- float64 NumPy references -------------------------------------------------------


def np_centralize(g):
    """Yong et al. 2020, eq. 4: subtract the mean over all axes but the first (rank >= 2)."""
    g = np.asarray(g, np.float64)
    if g.ndim < 2:
        return g
    return g - g.mean(axis=tuple(range(1, g.ndim)), keepdims=True)


def test_centralize_matches_reference(x64):
    rng = np.random.default_rng(8)
    g = {"w": rng.normal(size=(3, 4)), "k": rng.normal(size=(2, 3, 4)), "b": rng.normal(size=5)}
    u, _ = gradtx.centralize().update(jax.tree.map(jnp.asarray, g), gradtx.EmptyState())
    assert_trees_close(u, jax.tree.map(np_centralize, g), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(np.asarray(u["k"]).mean(axis=(1, 2)), 0.0, atol=1e-14)


def test_zero_nans_reports_per_leaf():
    tx = gradtx.zero_nans()
    params = {"a": jnp.zeros(3), "b": jnp.zeros((2, 2))}
    g = {"a": jnp.array([1.0, jnp.nan, jnp.inf]), "b": jnp.ones((2, 2))}
    u, state = jax.jit(tx.update)(g, tx.init(params))
    np.testing.assert_array_equal(np.asarray(u["a"]), [1.0, 0.0, np.inf])
    assert bool(state.found_nan["a"]) and not bool(state.found_nan["b"])
    u, state = tx.update(params, state)
    assert not any(bool(x) for x in jax.tree.leaves(state.found_nan))
    assert gradtx.ZeroNansState._fields == optax.ZeroNansState._fields


def test_keep_params_nonnegative_lands_on_zero():
    tx = gradtx.keep_params_nonnegative()
    params = {"p": jnp.array([1.0, 2.0, 0.5, -1.0]), "frozen": None}
    g = {"p": jnp.array([-3.0, -1.0, 0.5, 0.2]), "frozen": None}
    u, _ = tx.update(g, tx.init(params), params)
    np.testing.assert_array_equal(np.asarray(u["p"]), [-1.0, -1.0, 0.5, 1.0])
    assert u["frozen"] is None
    new = gradtx.apply_updates(params["p"], u["p"])
    assert bool(jnp.all(new >= 0))


def test_keep_params_nonnegative_needs_params():
    tx = gradtx.keep_params_nonnegative()
    with pytest.raises(ValueError, match=r"keep_params_nonnegative: update\(\) needs params"):
        tx.update(jnp.ones(2), tx.init(jnp.ones(2)))


def test_zero_nans_parity_with_nans():
    params = example_params()
    grads = gradient_sequence(params, 3)
    grads[1] = jax.tree.map(lambda x: jnp.where(x > 0.5, jnp.nan, x), grads[1])
    ours, theirs = gradtx.zero_nans(), optax.zero_nans()
    s1, s2 = ours.init(params), theirs.init(params)
    for g in grads:
        u1, s1 = ours.update(g, s1)
        u2, s2 = theirs.update(g, s2)
        assert_trees_close(u1, u2, rtol=0.0)
        assert jax.tree.map(bool, s1.found_nan) == jax.tree.map(bool, s2.found_nan)


FACTORIES = [gradtx.centralize, gradtx.zero_nans, gradtx.keep_params_nonnegative]


@pytest.mark.parametrize("factory", FACTORIES)
@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float32])
def test_dtypes_are_preserved(factory, dtype):
    params = example_params(dtype)
    tx = factory()
    g = gradient_sequence(params, 1)[0]
    state0 = tx.init(params)
    u, state = jax.jit(tx.update)(g, state0, params)
    assert_same_shapes_and_dtypes(u, g)
    assert_same_shapes_and_dtypes(state, state0)


@pytest.mark.parametrize("factory", FACTORIES)
def test_float64_nested_and_empty_trees(x64, factory):
    params = example_params(jnp.float64)
    tx = factory()
    g = gradient_sequence(params, 1)[0]
    u, _ = tx.update(g, tx.init(params), params)
    assert_same_shapes_and_dtypes(u, g)
    assert tx.update({}, tx.init({}), {})[0] == {}


def test_zero_nans_tree_mismatch():
    tx = gradtx.zero_nans()
    with pytest.raises(gradtx.TreeMismatchError):
        tx.update({"a": jnp.ones(2)}, tx.init({"b": jnp.ones(2)}))
