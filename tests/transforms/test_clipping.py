"""Clipping: closed forms and float64 references, Optax parity, bfloat16 norms, validation."""

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


def np_block_rms(g, threshold):
    """Shazeer & Stern 2018, update clipping: g / max(1, rms(g) / d)."""
    return g / max(1.0, np.sqrt(np.mean(g**2)) / threshold)


def np_unit_norms(x, axis):
    """The norm of each unit, broadcast to the leaf (Brock et al. 2021, section 4.1)."""
    return np.broadcast_to(np.sqrt(np.sum(x**2, axis=axis, keepdims=True)), x.shape)


def np_agc(g, p, clipping, eps, axis):
    """Brock et al. 2021, eq. 3: G_i * lambda max(||W_i||, eps) / ||G_i|| if that is smaller."""
    g_norm, p_norm = np_unit_norms(g, axis), np_unit_norms(p, axis)
    max_norm = clipping * np.maximum(p_norm, eps)
    return np.where(g_norm < max_norm, g, g * max_norm / np.maximum(g_norm, 1e-6))


# --- clip -------------------------------------------------------------------------


def test_clip_is_elementwise():
    tx = gradtx.clip(0.5)
    g = {"a": jnp.array([-2.0, -0.5, 0.25, 0.7]), "b": jnp.array(3.0)}
    u, _ = tx.update(g, tx.init(g))
    np.testing.assert_array_equal(np.asarray(u["a"]), [-0.5, -0.5, 0.25, 0.5])
    assert float(u["b"]) == 0.5


# --- clip_by_global_norm ------------------------------------------------------------


def test_global_norm_closed_form():
    # Global norm sqrt(9 + 16 + 144) = 13.
    g = {"a": jnp.array([3.0, 4.0]), "b": {"c": jnp.array([[12.0]])}}
    u, _ = gradtx.clip_by_global_norm(1.3).update(g, gradtx.EmptyState())
    assert_trees_close(u, jax.tree.map(lambda x: x / 10.0, g), rtol=1e-6)
    assert float(gradtx.tree.global_norm(u)) == pytest.approx(1.3, rel=1e-6)
    # Below the bound: untouched (bit for bit).
    u, _ = gradtx.clip_by_global_norm(13.5).update(g, gradtx.EmptyState())
    assert all(bool(jnp.all(x == y)) for x, y in zip(jax.tree.leaves(u), jax.tree.leaves(g)))


def test_global_norm_of_bfloat16_accumulates_in_float32():
    # 4096 elements of 0.0625: the norm is 4 exactly; bf16 running sums would stall at 256.
    g = {"w": jnp.full((64, 64), 0.0625, jnp.bfloat16), "b": jnp.zeros((3,), jnp.bfloat16)}
    u, _ = jax.jit(gradtx.clip_by_global_norm(1.0).update)(g, gradtx.EmptyState())
    assert u["w"].dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(u["w"], np.float32), 0.0625 / 4, rtol=1e-2)


def test_global_norm_with_zero_and_empty_trees():
    tx = gradtx.clip_by_global_norm(1.0)
    u, _ = tx.update({"a": jnp.zeros(3)}, tx.init(None))
    np.testing.assert_array_equal(np.asarray(u["a"]), 0.0)
    assert tx.update({}, tx.init({}))[0] == {}


# --- clip_by_block_rms -------------------------------------------------------------


@pytest.mark.parametrize("threshold", [0.1, 1.0, 10.0])
def test_block_rms_matches_float64_reference(x64, threshold):
    rng = np.random.default_rng(4)
    g = {"w": rng.normal(size=(3, 4)), "b": 3.0 * rng.normal(size=(5,)), "s": np.array(-2.0)}
    u, _ = gradtx.clip_by_block_rms(threshold).update(jax.tree.map(jnp.asarray, g), None)
    assert_trees_close(u, jax.tree.map(lambda x: np_block_rms(x, threshold), g), rtol=1e-12)


# --- adaptive_grad_clip -------------------------------------------------------------


@pytest.mark.parametrize(
    "shape,axis,expected_axis",
    [
        ((5,), None, None),
        ((1, 5), None, None),
        ((3, 4), None, 0),
        ((2, 3, 4), None, 0),
        ((2, 2, 3, 4), None, (0, 1, 2)),
        ((2, 2, 2, 3, 4), None, (0, 1, 2, 3)),
        ((3, 4), 1, 1),
        ((2, 3, 4, 5, 6, 7), (0, 2), (0, 2)),
    ],
)
def test_adaptive_grad_clip_matches_float64_reference(x64, shape, axis, expected_axis):
    rng = np.random.default_rng(6)
    p = rng.normal(size=shape)
    g = 2.0 * rng.normal(size=shape)
    p.flat[0] = 0.0  # exercise the eps floor on one unit
    tx = gradtx.adaptive_grad_clip(0.3, eps=0.05, axis=axis)
    u, _ = tx.update(jnp.asarray(g), tx.init(None), jnp.asarray(p))
    np.testing.assert_allclose(np.asarray(u), np_agc(g, p, 0.3, 0.05, expected_axis), rtol=1e-12)


def test_adaptive_grad_clip_needs_an_axis_above_rank_5():
    tx = gradtx.adaptive_grad_clip(0.1)
    x = jnp.ones((1, 2, 1, 2, 1, 2))
    with pytest.raises(ValueError, match="axis="):
        tx.update(x, tx.init(x), x)


def test_adaptive_grad_clip_needs_params():
    tx = gradtx.adaptive_grad_clip(0.1)
    with pytest.raises(ValueError, match=r"adaptive_grad_clip: update\(\) needs params"):
        tx.update(jnp.ones(2), tx.init(jnp.ones(2)))


# --- per_example_global_norm_clip ----------------------------------------------------


def test_per_example_global_norm_clip_closed_forms():
    # Rows (examples) with global norms 0, 5, 5, 5 across the two leaves.
    grads = [
        jnp.array([[0.0, 0.0], [0.0, 3.0], [3.0, 0.0], [0.0, 0.0]]),
        {"b": jnp.array([0.0, 4.0, 4.0, 5.0])},
    ]
    total, n = gradtx.per_example_global_norm_clip(grads, jnp.inf)
    np.testing.assert_allclose(np.asarray(total[0]), [3.0, 3.0])
    np.testing.assert_allclose(np.asarray(total[1]["b"]), 13.0)
    assert int(n) == 0
    total, n = gradtx.per_example_global_norm_clip(grads, 1.0)
    np.testing.assert_allclose(np.asarray(total[0]), [0.6, 0.6], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(total[1]["b"]), 2.6, rtol=1e-6)
    assert int(n) == 3
    total, n = gradtx.per_example_global_norm_clip(grads, 0.0)
    np.testing.assert_allclose(np.asarray(total[0]), [0.0, 0.0])
    assert int(n) == 3


def test_per_example_global_norm_clip_matches_optax():
    grads = gradient_sequence({"w": jnp.zeros((8, 3, 2)), "b": jnp.zeros((8, 2))}, 1)[0]
    ours = gradtx.per_example_global_norm_clip(grads, 1.5)
    with jax.numpy_dtype_promotion("standard"):
        theirs = optax.per_example_global_norm_clip(grads, 1.5)
    assert_trees_close(ours[0], theirs[0], rtol=1e-6)
    assert int(ours[1]) == int(theirs[1])


def test_per_example_global_norm_clip_checks_the_batch_axis():
    with pytest.raises(ValueError, match="batch"):
        gradtx.per_example_global_norm_clip([jnp.ones((3, 2)), jnp.ones((4,))], 1.0)
    with pytest.raises(ValueError, match="l2_norm_clip"):
        gradtx.per_example_global_norm_clip([jnp.ones((3, 2))], -1.0)


# --- shared ------------------------------------------------------------------------


FACTORIES = [
    lambda: gradtx.clip(0.5),
    lambda: gradtx.clip_by_global_norm(1.0),
    lambda: gradtx.clip_by_block_rms(0.5),
    lambda: gradtx.adaptive_grad_clip(0.1),
]


@pytest.mark.parametrize("factory", FACTORIES)
@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float32])
def test_dtypes_are_preserved_and_values_clipped(factory, dtype):
    params = example_params(dtype)
    tx = factory()
    g = jax.tree.map(lambda x: 5 * x, gradient_sequence(params, 1)[0])
    u, state = jax.jit(tx.update)(g, tx.init(params), params)
    assert_same_shapes_and_dtypes(u, g)
    assert state == gradtx.EmptyState()
    g32 = jax.tree.map(lambda x: x.astype(jnp.float32), g)
    u32, _ = factory().update(
        g32, tx.init(params), jax.tree.map(lambda x: x.astype(jnp.float32), params)
    )
    assert_trees_close(u, u32, rtol=1e-2 if dtype == jnp.bfloat16 else 0.0, atol=1e-2)


@pytest.mark.parametrize("factory", FACTORIES)
def test_float64_nested_and_empty_trees(x64, factory):
    params = example_params(jnp.float64)
    tx = factory()
    g = gradient_sequence(params, 1)[0]
    u, _ = tx.update(g, tx.init(params), params)
    assert_same_shapes_and_dtypes(u, g)
    assert tx.update({}, tx.init({}), {})[0] == {}


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: gradtx.clip(-1.0), r"clip\(max_delta=-1\.0\): max_delta must be >= 0"),
        (lambda: gradtx.clip_by_global_norm(0.0), r"clip_by_global_norm\(max_norm=0\.0\)"),
        (lambda: gradtx.clip_by_global_norm(float("nan")), r"max_norm must be > 0"),
        (lambda: gradtx.clip_by_block_rms(-2.0), r"clip_by_block_rms\(threshold=-2\.0\)"),
        (lambda: gradtx.adaptive_grad_clip(0.0), r"adaptive_grad_clip\(clipping=0\.0\)"),
        (lambda: gradtx.adaptive_grad_clip(0.1, eps=-1.0), r"eps must be >= 0"),
    ],
)
def test_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_traced_bounds_are_accepted():
    @jax.jit
    def step(bound, g):
        u1, _ = gradtx.clip(bound).update(g, None)
        u2, _ = gradtx.clip_by_global_norm(bound).update(g, None)
        u3, _ = gradtx.clip_by_block_rms(bound).update(g, None)
        return u1, u2, u3

    g = jnp.array([3.0, -4.0], jnp.bfloat16)
    u1, u2, u3 = step(jnp.asarray(1.0), g)
    assert u1.dtype == u2.dtype == u3.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(u1, np.float32), [1.0, -1.0])
    np.testing.assert_allclose(np.asarray(u2, np.float32), [0.6, -0.8], rtol=1e-2)


def test_per_example_global_norm_clip_of_an_integer_leaf_is_a_float_as_optax():
    grads = [jnp.array([[1, 2], [0, 1]], jnp.int32), jnp.array([[0.5], [0.1]])]
    ours, n = gradtx.per_example_global_norm_clip(grads, 1.0)
    with jax.numpy_dtype_promotion("standard"):
        theirs, n_theirs = optax.per_example_global_norm_clip(grads, 1.0)
    assert ours[0].dtype == theirs[0].dtype == jnp.float32  # not truncated to int
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-6)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-6)
    assert int(n) == int(n_theirs)
