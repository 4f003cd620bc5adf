"""scale_by_factored_rms (Adafactor): float64 reference from the paper, Optax parity, state
shapes, dtypes, trees and validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from tests.helpers import (
    assert_same_shapes_and_dtypes,
    gradient_sequence,
    run_updates,
)

# Slow (CI runs it): references and dtype checks, one compilation each.
pytestmark = pytest.mark.slow

# --- float64 NumPy references -------------------------------------------------------


def np_factored_rms(gs, axes=None, decay_rate=0.8, eps=1e-30):
    """Shazeer & Stern 2018, Algorithm 4 (Algorithm 5 for unfactored leaves).

    With ``axes = (i, j)`` the two factored axes; any other axes are independent batch
    axes. The row and column statistics are the paper's sums, R = (G^2 + eps) 1 and
    C = 1^T (G^2 + eps); V = R C / (1^T R).
    """
    out = []
    r = c = v = None
    for t, g in enumerate(gs, start=1):
        beta = 1.0 - t**-decay_rate
        sq = g**2 + eps
        if axes is None:
            v = sq if v is None else beta * v + (1 - beta) * sq
            out.append(g / np.sqrt(v))
            continue
        moved = np.moveaxis(sq, axes, (-2, -1))
        new_r, new_c = moved.sum(-1), moved.sum(-2)
        r = new_r if r is None else beta * r + (1 - beta) * new_r
        c = new_c if c is None else beta * c + (1 - beta) * new_c
        v_hat = r[..., :, None] * c[..., None, :] / r.sum(-1)[..., None, None]
        out.append(g / np.sqrt(np.moveaxis(v_hat, (-2, -1), axes)))
    return out


REFERENCES = [
    ((6, 4), 2, (0, 1)),
    ((4, 6), 2, (0, 1)),
    ((3, 4), 128, None),
    ((5,), 2, None),
    ((2, 3, 4), 3, (1, 2)),
    ((5, 2, 4), 4, (0, 2)),
]


@pytest.mark.parametrize("shape,min_dim,axes", REFERENCES, ids=[str(r[0]) for r in REFERENCES])
def test_matches_float64_reference(x64, shape, min_dim, axes):
    rng = np.random.default_rng(5)
    gs = [rng.normal(size=shape) for _ in range(8)]
    tx = gradtx.scale_by_factored_rms(min_dim_size_to_factor=min_dim, epsilon=1e-12)
    ours, _, _ = run_updates(tx, jnp.zeros(shape), [jnp.asarray(g) for g in gs], jit=False)
    for t, (o, r) in enumerate(zip(ours, np_factored_rms(gs, axes, eps=1e-12), strict=True)):
        assert o.dtype == jnp.float64
        # The decay schedule 1 - t^-c is computed in float32 (as in Optax): ~1e-8 relative.
        np.testing.assert_allclose(np.asarray(o), r, rtol=1e-7, err_msg=f"step {t}")


def test_rank_one_gradient_is_normalised_exactly():
    # For G = a b^T the factored estimate is exact on the first step: u = sign(G).
    a, b = jnp.array([1.0, -2.0, 3.0]), jnp.array([0.5, 4.0])
    g = jnp.outer(a, b)
    tx = gradtx.scale_by_factored_rms(min_dim_size_to_factor=2, epsilon=0.0)
    u, _ = tx.update(g, tx.init(g))
    np.testing.assert_allclose(np.asarray(u), np.sign(np.asarray(g)), rtol=1e-5)


@pytest.mark.parametrize("shape", [(6, 4), (4, 4), (3, 3, 5), (5, 1, 7), (7,), ()])
@pytest.mark.parametrize("min_dim", [1, 4, 128])
@pytest.mark.parametrize("factored", [True, False])
def test_state_shapes_match_optax(shape, min_dim, factored):
    params = jnp.zeros(shape)
    ours = gradtx.scale_by_factored_rms(factored=factored, min_dim_size_to_factor=min_dim)
    theirs = optax.scale_by_factored_rms(factored=factored, min_dim_size_to_factor=min_dim)
    s_ours, s_theirs = ours.init(params), theirs.init(params)
    assert jax.tree.map(jnp.shape, s_ours) == tuple(jax.tree.map(jnp.shape, s_theirs))
    assert gradtx.FactoredState._fields == optax.FactoredState._fields


def _tree_with_tensors():
    return {
        "dense": {"w": jnp.linspace(-1.0, 1.0, 24).reshape(6, 4), "b": jnp.full((4,), 0.1)},
        "conv": jnp.linspace(-0.5, 0.5, 60).reshape(3, 4, 5),
        "scalar": jnp.asarray(0.5),
    }


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_dtypes_are_preserved(dtype):
    params = jax.tree.map(lambda x: x.astype(dtype), _tree_with_tensors())
    tx = gradtx.scale_by_factored_rms(min_dim_size_to_factor=3)
    state0 = tx.init(params)
    assert all(x.dtype == dtype for x in jax.tree.leaves((state0.v_row, state0.v_col, state0.v)))
    state = state0
    step = jax.jit(tx.update)
    for g in gradient_sequence(params, 3):
        u, state = step(g, state)
        assert_same_shapes_and_dtypes(u, g)
        assert_same_shapes_and_dtypes(state, state0)
        assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(u))


def test_float64_nested_and_empty_trees(x64):
    params = jax.tree.map(lambda x: x.astype(jnp.float64), _tree_with_tensors())
    tx = gradtx.scale_by_factored_rms(min_dim_size_to_factor=3)
    g = gradient_sequence(params, 1)[0]
    u, state = tx.update(g, tx.init(params))
    assert_same_shapes_and_dtypes(u, g)
    assert_same_shapes_and_dtypes(state, tx.init(params))
    u, state = tx.update({}, tx.init({}))
    assert u == {} and int(state.count) == 1


def test_params_are_not_needed():
    tx = gradtx.scale_by_factored_rms(min_dim_size_to_factor=2)
    g = jnp.ones((3, 2))
    u, _ = tx.update(g, tx.init(g))  # Optax requires params; gradtx only needs shapes
    assert u.shape == (3, 2)


def test_tree_mismatch_is_reported():
    tx = gradtx.scale_by_factored_rms(min_dim_size_to_factor=2)
    state = tx.init({"w": jnp.ones((3, 4))})
    with pytest.raises(gradtx.TreeMismatchError):
        tx.update({"w": jnp.ones((3, 5))}, state)
    with pytest.raises(gradtx.TreeMismatchError):
        tx.update({"v": jnp.ones((3, 4))}, state)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"min_dim_size_to_factor": 0}, ValueError, r"min_dim_size_to_factor=0"),
        ({"min_dim_size_to_factor": 2.5}, TypeError, r"min_dim_size_to_factor=2\.5"),
        ({"decay_rate": -0.8}, ValueError, r"scale_by_factored_rms\(decay_rate=-0\.8\)"),
        ({"epsilon": -1.0}, ValueError, r"epsilon must be >= 0"),
        ({"step_offset": -3}, ValueError, r"step_offset must be >= 0"),
        ({"decay_rate_fn": 0.8}, TypeError, r"decay_rate_fn must be callable"),
    ],
)
def test_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        gradtx.scale_by_factored_rms(**kwargs)
