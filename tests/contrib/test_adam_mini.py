"""Adam-mini: the reference (zyushun/Adam-mini ``adam_mini.py``, non-embedding branch) in
float64 NumPy for each partition, the singleton-block identity (Adam), dtypes, validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from tests.contrib._common import matrix_params
from tests.helpers import assert_trees_close, gradient_sequence, run_updates

# Slow (CI runs it): trajectories against Optax and the papers.
pytestmark = pytest.mark.slow

contrib = gradtx.contrib


def _reference_adam_mini(p, grads, lr, b1, b2, eps, wd, reduce_axes):
    """One block per index of the kept axes: ``vmean`` the EMA of ``mean(grad * grad)``
    over ``reduce_axes``; ``p.mul_(1 - lr * wd)``; ``h = sqrt(vmean) / sqrt(bc2) + eps``;
    ``p -= lr / bc1 / h * m``."""
    p = p.copy()
    m = np.zeros_like(p)
    vmean = np.zeros_like(np.mean(p, axis=reduce_axes, keepdims=True))
    for step, grad in enumerate(grads, start=1):
        p = p * (1 - lr * wd)
        vmean = b2 * vmean + (1 - b2) * np.mean(grad * grad, axis=reduce_axes, keepdims=True)
        m = m + (1 - b1) * (grad - m)  # lerp_
        h = np.sqrt(vmean) / np.sqrt(1 - b2**step) + eps
        p = p - lr / (1 - b1**step) / h * m
    return p


@pytest.mark.parametrize(
    ("block_axes", "reduce_axes"),
    [(None, (0, 1, 2)), ((0,), (1, 2)), ((-1,), (0, 1)), ((0, 2), (1,))],
)
def test_matches_the_reference(x64, block_axes, reduce_axes):
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=(4, 3, 5))
    grads = [rng.normal(size=(4, 3, 5)) * rng.uniform(0.1, 3, size=(4, 1, 5)) for _ in range(25)]
    lr, b1, b2, eps, wd = 0.01, 0.8, 0.95, 1e-8, 0.1
    expected = _reference_adam_mini(p0, grads, lr, b1, b2, eps, wd, reduce_axes)
    tx = contrib.adam_mini(lr, b1, b2, eps, weight_decay=wd, block_axes=block_axes)
    _, params, state = run_updates(tx, jnp.asarray(p0), [jnp.asarray(g) for g in grads])
    np.testing.assert_allclose(params, expected, rtol=1e-12)
    assert state[0].nu.shape == np.mean(p0, axis=reduce_axes).shape


@pytest.mark.parametrize("jit", [True, False])
def test_singleton_blocks_are_adam(jit):
    params = matrix_params()
    grads = gradient_sequence(params, 25, seed=9)
    every_axis = lambda x: tuple(range(x.ndim))  # noqa: E731
    ours, _, _ = run_updates(
        contrib.scale_by_adam_mini(0.8, 0.9, block_axes=every_axis), params, grads, jit=jit
    )
    adam, _, _ = run_updates(gradtx.scale_by_adam(0.8, 0.9), params, grads, jit=jit)
    for a, e in zip(ours, adam, strict=True):
        assert_trees_close(a, e, rtol=1e-6)


def test_one_block_means_one_step_size_per_leaf():
    params = matrix_params()
    tx = contrib.scale_by_adam_mini()
    grads = gradient_sequence(params, 3, seed=2)
    history, _, state = run_updates(tx, params, grads)
    for leaf, g, nu in zip(
        jax.tree.leaves(history[0]), jax.tree.leaves(grads[0]), jax.tree.leaves(state.nu)
    ):
        assert nu.size == 1
        ratio = np.asarray(leaf) / np.asarray(g)  # the first step is g / rms(g)
        np.testing.assert_allclose(ratio, ratio.flat[0], rtol=1e-5)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_keeps_dtypes_and_none_leaves(dtype):
    params = dict(matrix_params(dtype), n=None)
    tx = contrib.adam_mini(0.1, block_axes=(0,), mu_dtype=jnp.float32)
    state = tx.init(params)
    u, state = tx.update(params, state, params)
    assert u["n"] is None
    for x in jax.tree.leaves(u):
        assert x.dtype == dtype
    assert state[0].nu["w"].shape == (3,) and state[0].nu["w"].dtype == dtype
    assert state[0].mu["w"].dtype == jnp.float32


def test_validation():
    with pytest.raises(ValueError, match=r"scale_by_adam_mini\(b1=1\.0\)"):
        contrib.scale_by_adam_mini(b1=1.0)
    with pytest.raises(ValueError, match=r"scale_by_adam_mini\(eps=-1\.0\)"):
        contrib.adam_mini(0.1, eps=-1.0)
    with pytest.raises(TypeError, match="block_axes"):
        contrib.scale_by_adam_mini(block_axes=0)
