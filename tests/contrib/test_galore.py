"""GaLore: Optax parity (2-D, dimension numbers, callables), the reference implementation
(jiaweizzhao/GaLore, proj_type="std") in float64 NumPy, the projection's known answer,
state structure, validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from tests.contrib._common import matrix_params, state_structure
from tests.helpers import assert_trees_close, gradient_sequence, schedule
from tests.optax_parity import assert_optax_parity

# Slow (CI runs it): trajectories against Optax and the papers.
pytestmark = pytest.mark.slow

contrib = gradtx.contrib


def _with_3d(dtype=jnp.float32):
    params = matrix_params(dtype)
    params["attn"] = jnp.linspace(-1.0, 1.0, 24, dtype=dtype).reshape(4, 2, 3)
    return params


def _dims_3d(tree):
    def one(path, x):
        if jax.tree_util.keystr(path) == "['attn']":
            return contrib.GaLoreDimensionNumbers(reduction_axis=0, output_axis=(1, 2))
        return contrib.GaLoreDimensionNumbers() if x.ndim == 2 else None

    return jax.tree_util.tree_map_with_path(one, tree)


def _cases(m):
    dims = m.contrib.GaLoreDimensionNumbers
    return [
        ({}, matrix_params()),
        (
            dict(
                learning_rate=schedule,
                rank=2,
                update_proj_gap=5,
                scale=0.5,
                base_optimizer=m.scale_by_adam(b1=0.8, b2=0.95),
                weight_decay=0.01,
            ),
            matrix_params(),
        ),
        (dict(rank=1, update_proj_gap=3, base_optimizer=m.scale_by_lion()), matrix_params()),
        (dict(rank=2, update_proj_gap=4, weight_dimension_numbers=_dims_3d), _with_3d()),
        (
            dict(
                rank=3,
                update_proj_gap=7,
                weight_dimension_numbers=dims(reduction_axis=-1, output_axis=(0,)),
            ),
            matrix_params(),
        ),
    ]


@pytest.mark.parametrize("i", [0, pytest.param(1, marks=pytest.mark.slow), 2, 3, 4])
def test_galore_matches_optax(i):
    (ours_kw, params), (theirs_kw, _) = _cases(gradtx)[i], _cases(optax)[i]
    lr = ours_kw.pop("learning_rate", 0.05)
    theirs_kw.pop("learning_rate", None)
    assert_optax_parity(
        contrib.galore(lr, **ours_kw),
        optax.contrib.galore(lr, **theirs_kw),
        params=params,
        steps=25,
        rtol=1e-4,
        atol=1e-6,
        eager=i == 1,
    )


@pytest.mark.parametrize("i", [0, 3])
def test_state_structure_matches_optax(i):
    (ours_kw, params), (theirs_kw, _) = _cases(gradtx)[i], _cases(optax)[i]
    ours_kw.pop("learning_rate", None)
    theirs_kw.pop("learning_rate", None)
    ours = contrib.scale_by_galore(**ours_kw).init(params)
    theirs = optax.contrib.scale_by_galore(**theirs_kw).init(params)
    assert state_structure(ours) == state_structure(theirs)


def _reference_galore_adamw(p, grads, lr, rank, gap, scale, b1, b2):
    """jiaweizzhao/GaLore ``galore_torch/adamw.py`` with ``galore_projector.py``
    ``proj_type="std"`` and eps = 0 (float64): project (right when m >= n, else left),
    Adam on the projection with step ``lr sqrt(1-b2^t)/(1-b1^t)``, project back, scale."""
    m_dim, n_dim = p.shape
    exp_avg = exp_avg_sq = ortho = None
    for step, g in enumerate(grads):
        if step % gap == 0:
            u, _, vh = np.linalg.svd(g, full_matrices=False)
            ortho = vh[:rank, :] if m_dim >= n_dim else u[:, :rank]
        low = g @ ortho.T if m_dim >= n_dim else ortho.T @ g
        if exp_avg is None:
            exp_avg, exp_avg_sq = np.zeros_like(low), np.zeros_like(low)
        t = step + 1
        exp_avg = b1 * exp_avg + (1 - b1) * low
        exp_avg_sq = b2 * exp_avg_sq + (1 - b2) * low * low
        step_size = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        norm_grad = exp_avg / np.sqrt(exp_avg_sq)
        back = norm_grad @ ortho if norm_grad.shape[0] >= norm_grad.shape[1] else ortho @ norm_grad
        p = p - step_size * back * scale
    return p


@pytest.mark.slow
@pytest.mark.parametrize("shape", [(6, 4), (3, 5)])
def test_std_matches_the_reference_implementation(x64, shape):
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=shape)
    grads = [rng.normal(size=shape) for _ in range(25)]
    lr, rank, gap, scale, b1, b2 = 0.01, 2, 6, 0.25, 0.9, 0.99
    expected = _reference_galore_adamw(p0, grads, lr, rank, gap, scale, b1, b2)
    tx = contrib.galore(
        lr,
        rank=rank,
        update_proj_gap=gap,
        scale=scale,
        base_optimizer=gradtx.scale_by_adam(b1, b2, eps=0.0),
        proj_type="std",
    )
    params = jnp.asarray(p0)
    state = tx.init(params)
    for g in grads:
        u, state = tx.update(jnp.asarray(g), state, params)
        params = params + u
    np.testing.assert_allclose(params, expected, rtol=1e-10, atol=1e-12)


def test_std_and_reverse_std_choose_opposite_sides():
    params = matrix_params()  # w: 3 x 4 (wide), v: 5 x 4 (tall)
    ours = contrib.scale_by_galore(rank=2).init(params).projector
    ref = contrib.scale_by_galore(rank=2, proj_type="std").init(params).projector
    assert ours["w"].shape == (4, 2) and ours["v"].shape == (5, 2)
    assert ref["w"].shape == (3, 2) and ref["v"].shape == (4, 2)


def test_full_rank_identity_base_is_the_identity(x64):
    """Known answer: with r = min(m, n) and the identity as base, P P^T G = G."""
    params = _with_3d(jnp.float64)
    tx = contrib.scale_by_galore(
        rank=8, base_optimizer=gradtx.identity(), weight_dimension_numbers=_dims_3d
    )
    g = gradient_sequence(params, 1, seed=4)[0]
    u, _ = tx.update(g, tx.init(params))
    assert_trees_close(u, g, rtol=1e-12, atol=1e-12)


def test_projector_refreshes_only_every_gap_steps():
    params = matrix_params()
    tx = contrib.scale_by_galore(rank=2, update_proj_gap=3)
    state = tx.init(params)
    seen = []
    for g in gradient_sequence(params, 7, seed=2):
        _, state = jax.jit(tx.update)(g, state)
        seen.append(np.asarray(state.projector["v"]))
    assert np.array_equal(seen[0], seen[2]) and not np.allclose(seen[2], seen[3])
    assert np.array_equal(seen[3], seen[5]) and not np.allclose(seen[5], seen[6])


def test_dtypes_none_leaves_and_empty_tree():
    params = {"w": jnp.ones((4, 3), jnp.bfloat16), "none": None, "b": jnp.ones(3, jnp.bfloat16)}
    tx = contrib.galore(0.1, rank=2)
    state = tx.init(params)
    u, state = jax.jit(tx.update)(params, state, params)
    assert u["w"].dtype == jnp.bfloat16 and u["none"] is None
    assert state[0].projector["w"].dtype == jnp.bfloat16
    u, _ = tx.update({}, tx.init({}), {})
    assert u == {}


def test_validation():
    with pytest.raises(TypeError, match="rank"):
        contrib.scale_by_galore(rank=2.0)
    with pytest.raises(ValueError, match=r"scale_by_galore\(rank=0\)"):
        contrib.galore(0.1, rank=0)
    with pytest.raises(ValueError, match="update_proj_gap"):
        contrib.scale_by_galore(update_proj_gap=0)
    with pytest.raises(ValueError, match="proj_type"):
        contrib.scale_by_galore(proj_type="up")
    with pytest.raises(ValueError, match="all axes must be specified"):
        contrib.scale_by_galore(weight_dimension_numbers=contrib.GaLoreDimensionNumbers()).init(
            {"x": jnp.ones((2, 3, 4))}
        )
    with pytest.raises(ValueError, match="disjoint"):
        dims = contrib.GaLoreDimensionNumbers(0, (0, 1))
        contrib.scale_by_galore(weight_dimension_numbers=dims).init({"x": jnp.ones((2, 3))})
