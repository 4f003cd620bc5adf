"""Shampoo: blocked statistics, stale inverse roots, grafting and the start step against a
float64 NumPy transcription (Gupta et al. 2018 Algorithm 1 per block; Anil et al. 2020
Algorithm 2's every-k-steps roots and layer-wise grafting), the U V^T identity, dtypes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from tests.contrib._common import STACKED_LAYOUTS, assert_stacked_is_separate, matrix_params
from tests.helpers import run_updates

# Slow (CI runs it): trajectories against Optax and the papers.
pytestmark = pytest.mark.slow

contrib = gradtx.contrib


def _root(s, p, eps):
    w, v = np.linalg.eigh(s)
    return (v * (np.maximum(w, 0) + eps) ** (-1 / p)) @ v.T


def _reference_shampoo(grads, b1, b2, bs, k, start, p, eps, graft, geps):
    """One [m, n] leaf: blocks of ``bs`` (zero padded), per block L, R and their roots
    (refreshed at steps 1, 1 + k, ...), the grafted norm, momentum on the result."""
    m, n = grads[0].shape
    mb, nb = -(-m // bs), -(-n // bs)
    L = np.zeros((mb, nb, bs, bs))
    R = np.zeros((mb, nb, bs, bs))
    RL = np.broadcast_to(np.eye(bs), L.shape).copy()
    RR = RL.copy()
    acc = np.zeros((m, n))
    mu = np.zeros((m, n))
    out = []
    for t, g in enumerate(grads, start=1):
        if graft == "adagrad":
            acc = acc + g * g
            a = g / (np.sqrt(acc) + geps)
        else:
            a = g
        gp = np.zeros((mb * bs, nb * bs))
        gp[:m, :n] = g
        ap = np.zeros_like(gp)
        ap[:m, :n] = a
        d = np.zeros_like(gp)
        for i in range(mb):
            for j in range(nb):
                blk = gp[i * bs : (i + 1) * bs, j * bs : (j + 1) * bs]
                ablk = ap[i * bs : (i + 1) * bs, j * bs : (j + 1) * bs]
                L[i, j] = b2 * L[i, j] + (1 - b2) * blk @ blk.T
                R[i, j] = b2 * R[i, j] + (1 - b2) * blk.T @ blk
                if (t - 1) % k == 0:
                    RL[i, j], RR[i, j] = _root(L[i, j], p, eps), _root(R[i, j], p, eps)
                pre = RL[i, j] @ blk @ RR[i, j]
                if graft != "none":
                    pre = pre * np.linalg.norm(ablk) / np.linalg.norm(pre)
                d[i * bs : (i + 1) * bs, j * bs : (j + 1) * bs] = pre if t >= start else ablk
        mu = b1 * mu + (1 - b1) * d[:m, :n]
        out.append(mu)
    return out


@pytest.mark.parametrize("graft", ["adagrad", "sgd", "none"])
def test_matches_the_transcription(x64, graft):
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=(5, 3)) for _ in range(12)]
    args = dict(b1=0.5, b2=0.9, bs=2, k=3, start=4, p=4.0, eps=1e-4, graft=graft, geps=1e-8)
    expected = _reference_shampoo(grads, **args)
    tx = contrib.scale_by_shampoo(
        0.5,
        0.9,
        block_size=2,
        preconditioning_compute_steps=3,
        start_preconditioning_step=4,
        matrix_eps=1e-4,
        graft_type=graft,
    )
    history, _, _ = run_updates(tx, jnp.zeros((5, 3)), [jnp.asarray(g) for g in grads])
    for t, (u, e) in enumerate(zip(history, expected, strict=True)):
        np.testing.assert_allclose(u, e, rtol=1e-9, atol=1e-12, err_msg=f"step {t}")


@pytest.mark.parametrize("shape", [(4, 4), (3, 6), (6, 3)])
def test_without_betas_and_grafting_the_step_is_the_orthogonal_factor(x64, shape):
    rng = np.random.default_rng(1)
    g = rng.normal(size=shape)
    u_, _, vt = np.linalg.svd(g, full_matrices=False)
    tx = contrib.scale_by_shampoo(0.0, 0.0, block_size=8, graft_type="none", matrix_eps=1e-24)
    state = tx.init(jnp.zeros(shape))
    for _ in range(3):  # every step is preconditioned by its own gradient alone
        u, state = tx.update(jnp.asarray(g), state)
        np.testing.assert_allclose(u, u_ @ vt, atol=1e-8)


def test_non_matrix_leaves_take_the_grafted_step():
    params = {"b": jnp.zeros(3), "s": jnp.zeros([])}
    g = {"b": jnp.array([1.0, -2.0, 0.5]), "s": jnp.asarray(3.0)}
    tx = contrib.scale_by_shampoo(0.0, graft_type="adagrad", graft_eps=0.0)
    u, state = tx.update(g, tx.init(params))
    np.testing.assert_allclose(u["b"], [1.0, -1.0, 1.0])
    assert state.stats["b"] is None and float(u["s"]) == 1.0


def test_the_roots_are_computed_under_a_cond():
    tx = contrib.scale_by_shampoo(block_size=2)
    params = {"w": jnp.ones((3, 4))}
    jaxpr = jax.make_jaxpr(tx.update)(params, tx.init(params))
    top = {e.primitive.name for e in jaxpr.jaxpr.eqns}
    assert "cond" in top and "eigh" not in top


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_keeps_dtypes_and_none_leaves(dtype):
    params = dict(matrix_params(dtype), n=None)
    tx = contrib.shampoo(0.1, block_size=2, graft_type="adam")
    state, update = tx.init(params), jax.jit(tx.update)
    for _ in range(2):
        u, state = update(params, state, params)
    assert u["n"] is None
    for x in jax.tree.leaves(u):
        assert x.dtype == dtype and bool(jnp.all(jnp.isfinite(x.astype(jnp.float32))))
    assert state[0].stats["w"][0].dtype == jnp.float32


def test_validation():
    with pytest.raises(ValueError, match=r"scale_by_shampoo\(b2=1\.0\)"):
        contrib.scale_by_shampoo(b2=1.0)
    with pytest.raises(ValueError, match="graft_type"):
        contrib.shampoo(0.1, graft_type="rmsprop")
    with pytest.raises(ValueError, match="block_size"):
        contrib.scale_by_shampoo(block_size=0)
    with pytest.raises(ValueError, match=r"scale_by_shampoo\(matrix_eps=0\.0\)"):
        contrib.scale_by_shampoo(matrix_eps=0.0)


@pytest.mark.parametrize("graft", ["adagrad", "adam", "none"])
@pytest.mark.parametrize(("shape", "axes", "take"), STACKED_LAYOUTS)
def test_stacked_matrices_are_separate_matrices(shape, axes, take, graft):
    # roots at steps 1, 3, 5 (stale in between), preconditioned from step 2, blocks of 3
    def make(**kw):
        return contrib.scale_by_shampoo(
            block_size=3,
            preconditioning_compute_steps=2,
            start_preconditioning_step=2,
            graft_type=graft,
            **kw,
        )

    assert_stacked_is_separate(make, shape, axes, take)


def test_stacked_roots_stay_under_one_cond():
    tx = contrib.shampoo(0.1, block_size=2, dimension_numbers=contrib.MuonDimensionNumbers(1, 2))
    params = jnp.ones((3, 4, 5))
    state = tx.init(params)
    assert [x.shape for x in state[0].roots] == [(3, 2, 3, 2, 2)] * 2
    jaxpr = jax.make_jaxpr(tx.update)(params, state, params)
    top = {e.primitive.name for e in jaxpr.jaxpr.eqns}
    assert "cond" in top and "eigh" not in top


@pytest.mark.parametrize(
    ("axes", "match"), [((-4, 2), "in \\[-3, 3\\)"), ((2, 2), "twice"), ((0, (1, -3)), "twice")]
)
def test_bad_dimension_numbers(axes, match):
    tx = contrib.scale_by_shampoo(dimension_numbers={"w": contrib.MuonDimensionNumbers(*axes)})
    with pytest.raises(ValueError, match="scale_by_shampoo: .*" + match):
        tx.init({"w": jnp.zeros((2, 3, 4))})
