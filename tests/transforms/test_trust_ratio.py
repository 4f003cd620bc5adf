"""scale_by_trust_ratio: float64 reference, zero-norm cases, Optax parity, dtypes, validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
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


def np_trust_ratio(u, p, min_norm=0.0, trust_coefficient=1.0, eps=0.0):
    """You et al. 2017: u * eta ||w|| / ||u|| per layer, 1 when either norm is zero."""
    p_norm = max(np.linalg.norm(p), min_norm)
    u_norm = max(np.linalg.norm(u), min_norm)
    if p_norm == 0 or u_norm == 0:
        return u
    return u * trust_coefficient * p_norm / (u_norm + eps)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"trust_coefficient": 0.01, "eps": 1e-3}, {"min_norm": 2.0}],
    ids=["default", "coefficient-eps", "min_norm"],
)
def test_matches_float64_reference(x64, kwargs):
    rng = np.random.default_rng(2)
    params = {"w": rng.normal(size=(3, 4)), "b": 0.1 * rng.normal(size=(4,)), "s": np.array(0.5)}
    grads = jax.tree.map(lambda x: rng.normal(size=np.shape(x)), params)
    tx = gradtx.scale_by_trust_ratio(**kwargs)
    jparams, jgrads = jax.tree.map(jnp.asarray, (params, grads))
    u, _ = tx.update(jgrads, tx.init(jparams), jparams)
    expected = jax.tree.map(lambda g, p: np_trust_ratio(g, p, **kwargs), grads, params)
    assert_same_shapes_and_dtypes(u, jgrads)
    assert_trees_close(u, expected, rtol=1e-12)


def test_update_takes_the_parameter_norm():
    tx = gradtx.scale_by_trust_ratio()
    params = {"a": jnp.array([3.0, 4.0]), "b": jnp.full((2, 2), 0.5)}  # norms 5 and 1
    grads = {"a": jnp.array([0.0, 10.0]), "b": jnp.full((2, 2), 3.0)}
    u, _ = tx.update(grads, tx.init(params), params)
    assert float(jnp.linalg.norm(u["a"])) == pytest.approx(5.0, rel=1e-6)
    assert float(jnp.linalg.norm(u["b"])) == pytest.approx(1.0, rel=1e-6)


def test_zero_norms_leave_the_update_unchanged():
    tx = gradtx.scale_by_trust_ratio(trust_coefficient=0.1)
    params = {"zero_param": jnp.zeros(3), "zero_grad": jnp.ones(3)}
    grads = {"zero_param": jnp.array([1.0, 2.0, 3.0]), "zero_grad": jnp.zeros(3)}
    u, _ = tx.update(grads, tx.init(params), params)
    np.testing.assert_array_equal(np.asarray(u["zero_param"]), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(np.asarray(u["zero_grad"]), [0.0, 0.0, 0.0])
    g = jax.grad(lambda x: jnp.sum(tx.update(x, tx.init(params), params)[0]["zero_grad"]))(grads)
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(g))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_dtypes_are_preserved(dtype):
    params = example_params(dtype)
    tx = gradtx.scale_by_trust_ratio()
    g = gradient_sequence(params, 1)[0]
    u, state = jax.jit(tx.update)(g, tx.init(params), params)
    assert_same_shapes_and_dtypes(u, g)
    # bfloat16 leaves: the norms are taken in float32, so the ratio is accurate.
    expected = jax.tree.map(
        lambda x, p: np_trust_ratio(np.asarray(x, np.float64), np.asarray(p, np.float64)), g, params
    )
    assert_trees_close(u, expected, rtol=1e-2 if dtype == jnp.bfloat16 else 1e-5)


def test_float64_nested_and_empty_trees(x64):
    params = example_params(jnp.float64)
    tx = gradtx.scale_by_trust_ratio()
    g = gradient_sequence(params, 1)[0]
    u, _ = tx.update(g, tx.init(params), params)
    assert_same_shapes_and_dtypes(u, g)
    assert tx.update({}, tx.init({}), {})[0] == {}


def test_params_are_required():
    tx = gradtx.scale_by_trust_ratio()
    with pytest.raises(ValueError, match="scale_by_trust_ratio: update\\(\\) needs params"):
        tx.update(jnp.ones(2), tx.init(jnp.ones(2)))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"min_norm": -1.0}, r"scale_by_trust_ratio\(min_norm=-1\.0\)"),
        ({"trust_coefficient": 0.0}, r"trust_coefficient must be > 0"),
        ({"eps": -1e-3}, r"eps must be >= 0"),
        ({"eps": float("inf")}, r"eps must be finite"),
    ],
)
def test_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gradtx.scale_by_trust_ratio(**kwargs)
