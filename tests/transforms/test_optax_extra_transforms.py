"""Rprop, SM3, Polyak, optimistic gradient, DoG, block scalings, per-example layer clipping
and unit-wise norms (issue 15): float64 references from the papers, Optax parity over 30
steps, dtypes and validation."""

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
    run_updates,
)
from tests.optax_parity import standard

# Slow (CI runs it): references and dtype checks, one compilation each.
pytestmark = pytest.mark.slow


def _matrix_params():
    """No scalar leaf: Optax's SM3 cannot take one."""
    params = example_params()
    return {"dense": params["dense"], "cube": jnp.linspace(0.1, 1.0, 24).reshape(2, 3, 4)}


# --- float64 NumPy references -------------------------------------------------------


def np_irprop_minus(gs, lr, eta_minus=0.5, eta_plus=1.2, lo=1e-6, hi=50.0):
    """Riedmiller & Braun 1993 with Igel & Hüsken's iRprop- sign-change rule."""
    step = np.full_like(gs[0], lr)
    prev = np.zeros_like(gs[0])
    out = []
    for g in gs:
        s = g * prev
        step = np.where(s > 0, np.clip(step * eta_plus, lo, hi), step)
        step = np.where(s < 0, np.clip(step * eta_minus, lo, hi), step)
        prev = np.where(s < 0, 0.0, step * np.sign(g))
        out.append(prev.copy())
    return out


def np_sm3_matrix(gs, b1=0.9, b2=1.0, eps=1e-8):
    """Anil et al. 2019, Algorithm SM3-II for a matrix (row and column covers)."""
    rows = np.zeros(gs[0].shape[0])
    cols = np.zeros(gs[0].shape[1])
    m = np.zeros_like(gs[0])
    c = 1.0 if b2 == 1.0 else 1.0 - b2
    out = []
    for g in gs:
        nu = c * g**2 + b2 * np.minimum(rows[:, None], cols[None, :])
        rows, cols = nu.max(axis=1), nu.max(axis=0)
        scaled = np.where(nu > 0, g / np.sqrt(nu + eps), 0.0)
        m = (1 - b1) * scaled + b1 * m
        out.append(m.copy())
    return out


def np_ldog(xs, gs, reps_rel=1e-6, eps=1e-8):
    """Ivgi et al. 2023, DoG per layer: r_t = max(r, |x_t - x_0|), eta = r / sqrt(G_t)."""
    x0 = xs[0]
    r = reps_rel * (1 + np.linalg.norm(x0))
    big_g = 0.0
    out = []
    for x, g in zip(xs, gs, strict=True):
        r = max(r, np.linalg.norm(x - x0))
        big_g += np.sum(g**2)
        out.append(r / np.sqrt(big_g + eps) * g)
    return out


def test_rprop_paper_form_matches_irprop_minus():
    rng = np.random.default_rng(0)
    gs = [rng.normal(size=(5,)) for _ in range(30)]
    ref = np_irprop_minus(gs, 0.1, 0.4, 1.3, 1e-3, 0.5)
    tx = gradtx.scale_by_rprop(0.1, 0.4, 1.3, 1e-3, 0.5, lagged=False)
    ours, _, _ = run_updates(tx, jnp.zeros(5), [jnp.asarray(g, jnp.float32) for g in gs])
    np.testing.assert_allclose(np.stack(ours), np.stack(ref), rtol=1e-5)


def test_rprop_lagged_output_is_the_previous_step():
    """Optax's form returns the paper's step one update late (zero after a sign change)."""
    rng = np.random.default_rng(1)
    gs = [jnp.asarray(rng.normal(size=(4,)), jnp.float32) for _ in range(10)]
    paper, _, _ = run_updates(gradtx.scale_by_rprop(0.1, lagged=False), jnp.zeros(4), gs)
    lagged, _, _ = run_updates(gradtx.scale_by_rprop(0.1), jnp.zeros(4), gs)
    np.testing.assert_array_equal(lagged[0], 0.0)
    for t in range(1, 10):
        flipped = np.asarray(gs[t] * paper[t - 1]) < 0
        np.testing.assert_allclose(lagged[t], np.where(flipped, 0.0, paper[t - 1]), rtol=1e-6)


def test_sm3_matches_the_paper_on_a_matrix():
    rng = np.random.default_rng(2)
    for kwargs in ({}, {"b1": 0.5, "b2": 0.9, "eps": 1e-3}):
        gs = [rng.normal(size=(3, 4)) for _ in range(25)]
        ref = np_sm3_matrix(gs, **kwargs)
        ours, _, _ = run_updates(
            gradtx.scale_by_sm3(**kwargs),
            jnp.zeros((3, 4)),
            [jnp.asarray(g, jnp.float32) for g in gs],
        )
        np.testing.assert_allclose(np.stack(ours), np.stack(ref), rtol=2e-5, atol=1e-6)


def test_sm3_memory_is_one_vector_per_axis():
    state = gradtx.scale_by_sm3().init({"w": jnp.zeros((300, 200)), "s": jnp.zeros([])})
    assert [m.shape for m in state.mu["w"]] == [(300,), (200,)]
    # A scalar keeps no accumulator (Optax's state): its nu_t is g_t^2 alone.
    assert state.mu["s"] == []
    tx = gradtx.scale_by_sm3(b1=0.0, eps=0.0)
    state = tx.init(jnp.zeros([]))
    for g in (3.0, -0.5):
        u, state = tx.update(jnp.asarray(g), state)
        assert float(u) == np.sign(g) and state.mu == []


def test_dog_matches_the_paper_per_layer():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6,))
    tx = gradtx.chain(gradtx.scale_by_distance_over_gradients(reps_rel=1e-2), gradtx.scale(-1.0))
    state = tx.init(jnp.asarray(x, jnp.float32))
    xs, gs, ours = [], [], []
    for _ in range(25):
        g = 2 * x + rng.normal(size=(6,)) * 0.1
        xs.append(x.copy())
        gs.append(g)
        u, state = tx.update(jnp.asarray(g, jnp.float32), state, jnp.asarray(x, jnp.float32))
        ours.append(-np.asarray(u, np.float64))
        x = x + np.asarray(u, np.float64)
    ref = np_ldog(xs, gs, reps_rel=1e-2)
    np.testing.assert_allclose(np.stack(ours), np.stack(ref), rtol=1e-4)


def test_polyak_step_closed_form():
    g = {"a": jnp.array([3.0]), "b": jnp.array([4.0])}
    tx = gradtx.scale_by_polyak(f_min=1.0, max_learning_rate=100.0, eps=5.0)
    u, _ = tx.update(g, tx.init(g), value=jnp.array(16.0))
    # (16 - 1) / (25 + 5) = 0.5
    assert_trees_close(u, {"a": jnp.array([1.5]), "b": jnp.array([2.0])})
    u, _ = tx.update(g, tx.init(g), value=jnp.array(1e6))
    assert_trees_close(u, {"a": jnp.array([300.0]), "b": jnp.array([400.0])})
    zero = {"a": jnp.zeros(1), "b": jnp.zeros(1)}
    u, _ = gradtx.scale_by_polyak().update(zero, gradtx.EmptyState(), value=jnp.array(3.0))
    assert_trees_close(u, zero)


def test_polyak_plus_clamps_a_negative_gap():
    g = jnp.array([1.0])
    u, _ = gradtx.scale_by_polyak(f_min=2.0, variant="sps+").update(
        g, gradtx.EmptyState(), value=jnp.array(1.0)
    )
    np.testing.assert_array_equal(u, 0.0)
    u, _ = gradtx.scale_by_polyak(f_min=2.0).update(g, gradtx.EmptyState(), value=jnp.array(1.0))
    np.testing.assert_allclose(u, -1.0)


def test_polyak_needs_value():
    # a TypeError as in Optax (its update takes value as a required keyword), still a
    # ValueError as before
    for error in (TypeError, ValueError):
        with pytest.raises(error, match="scale_by_polyak: update\\(\\) needs value="):
            gradtx.scale_by_polyak().update(jnp.ones(1), gradtx.EmptyState())
    with pytest.raises(TypeError):
        optax.scale_by_polyak().update(jnp.ones(1), optax.EmptyState())


def test_optimistic_gradient_closed_form():
    tx = gradtx.scale_by_optimistic_gradient(alpha=0.5, beta=2.0)
    state = tx.init(jnp.zeros(1))
    outs = []
    for g in (1.0, 3.0, -1.0):
        u, state = tx.update(jnp.array([g]), state)
        outs.append(float(u[0]))
    # (a + b) g_t - b g_{t-1}, with g_{-1} = g_0.
    assert outs == pytest.approx([0.5, 2.5 * 3 - 2 * 1, 2.5 * -1 - 2 * 3])


# --- Optax parity ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"f_min": -1.0, "max_learning_rate": 0.3, "eps": 0.1}, {"f_min": 0.5, "variant": "sps+"}],
)
def test_polyak_matches_optax(kwargs):
    def loss(p):
        return sum(jnp.sum(jnp.cos(x) + 0.5 * x**2) for x in jax.tree.leaves(p))

    ours, theirs = gradtx.scale_by_polyak(**kwargs), standard(optax.scale_by_polyak(**kwargs))
    params = example_params()
    p_ours = p_theirs = params
    s_ours, s_theirs = ours.init(params), theirs.init(params)
    step_ours, step_theirs = jax.jit(ours.update), jax.jit(optax.scale_by_polyak(**kwargs).update)
    for _ in range(30):
        value, g = jax.value_and_grad(loss)(p_ours)
        u_ours, s_ours = step_ours(g, s_ours, p_ours, value=value)
        with jax.numpy_dtype_promotion("standard"):
            u_theirs, s_theirs = step_theirs(g, s_theirs, p_theirs, value=value)
        assert_trees_close(u_ours, u_theirs, rtol=1e-6)
        p_ours = p_theirs = jax.tree.map(lambda p, u: p - 0.1 * u, p_ours, u_ours)


@pytest.mark.parametrize(
    "name, cls", [("scale_by_rprop", "ScaleByRpropState"), ("scale_by_sm3", "ScaleBySM3State")]
)
def test_state_classes_match_optax(name, cls):
    assert getattr(gradtx, cls)._fields == getattr(optax, cls)._fields
    params = _matrix_params()
    ours = getattr(gradtx, name)(**({"learning_rate": 0.1} if "rprop" in name else {})).init(params)
    theirs = getattr(optax, name)(**({"learning_rate": 0.1} if "rprop" in name else {})).init(
        params
    )
    assert type(ours).__name__ == type(theirs).__name__
    for field in ours._fields:
        assert jax.tree.structure(getattr(ours, field)) == jax.tree.structure(
            getattr(theirs, field)
        )
    assert_trees_close(jax.tree.leaves(ours), jax.tree.leaves(theirs))


@pytest.mark.parametrize("uniform", [True, False])
def test_per_example_layer_norm_clip_matches_optax(uniform):
    rng = np.random.default_rng(4)
    grads = {
        "w": jnp.asarray(rng.normal(size=(8, 3, 2)), jnp.float32),
        "b": jnp.asarray(rng.normal(size=(8, 5)) * 3, jnp.float32),
    }
    ours = gradtx.per_example_layer_norm_clip(grads, 1.5, uniform)
    with jax.numpy_dtype_promotion("standard"):
        theirs = optax.per_example_layer_norm_clip(grads, 1.5, uniform)
    assert_trees_close(ours[0], theirs[0], rtol=1e-6)
    assert jax.tree.map(int, ours[1]) == jax.tree.map(int, theirs[1])


def test_per_example_layer_norm_clip_reference():
    """Uniform split: each layer's bound is C / sqrt(L); every slice is clipped to it."""
    rng = np.random.default_rng(5)
    g = {"a": rng.normal(size=(6, 4)) * 5, "b": rng.normal(size=(6, 2)) * 0.01}
    c = 2.0
    summed, clipped = gradtx.per_example_layer_norm_clip(
        jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), g), c
    )
    for k, x in g.items():
        bound = c / np.sqrt(2)
        norms = np.linalg.norm(x, axis=1)
        ref = (x * np.minimum(1.0, bound / norms)[:, None]).sum(axis=0)
        np.testing.assert_allclose(summed[k], ref, rtol=1e-5)
        assert int(clipped[k]) == int(np.sum(norms > bound))
    with pytest.raises(ValueError, match="batch dimension"):
        gradtx.per_example_layer_norm_clip({"s": jnp.ones([])}, 1.0)


def test_unitwise_norm_and_clip_match_optax():
    rng = np.random.default_rng(6)
    for shape in [(5,), (3, 4), (2, 3, 4), (2, 2, 3, 4)]:
        x = jnp.asarray(rng.normal(size=shape), jnp.float32)
        n = gradtx.unitwise_norm(x)
        with jax.numpy_dtype_promotion("standard"):
            np.testing.assert_allclose(n, optax.transforms.unitwise_norm(x), rtol=1e-6)
            m = jnp.full(shape, 1.0)
            np.testing.assert_allclose(
                gradtx.unitwise_clip(n, m, x), optax.transforms.unitwise_clip(n, m, x), rtol=1e-6
            )
    with pytest.raises(ValueError, match="one shape"):
        gradtx.unitwise_clip(jnp.ones(2), jnp.ones(3), jnp.ones(2))


# --- dtypes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tx",
    [
        gradtx.scale_by_rprop(0.1),
        gradtx.scale_by_sm3(),
        gradtx.scale_by_optimistic_gradient(0.5, 2.0),
        gradtx.scale_by_distance_over_gradients(),
        gradtx.normalize_by_update_norm(),
        gradtx.scale_by_param_block_norm(),
        gradtx.scale_by_param_block_rms(),
    ],
)
def test_bfloat16_updates_stay_bfloat16(tx):
    params = _matrix_params()
    params = jax.tree.map(lambda x: x.astype(jnp.bfloat16), params)
    grads = gradient_sequence(params, 3)
    history, _, state = run_updates(tx, params, grads)
    for u in history:
        assert_same_shapes_and_dtypes(u, grads[0])
    assert jax.tree.structure(state) == jax.tree.structure(tx.init(params))


# --- validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "factory, kwargs, match",
    [
        (gradtx.scale_by_rprop, {"learning_rate": -1.0}, r"scale_by_rprop\(learning_rate=-1.0\)"),
        (gradtx.scale_by_rprop, {"learning_rate": 0.1, "eta_minus": 1.5}, r"eta_minus=1.5"),
        (gradtx.scale_by_rprop, {"learning_rate": 0.1, "eta_plus": 0.5}, r"eta_plus=0.5"),
        (
            gradtx.scale_by_rprop,
            {"learning_rate": 0.1, "min_step_size": 2.0, "max_step_size": 1.0},
            r"max_step_size=1.0\): max_step_size must be >= min_step_size",
        ),
        (gradtx.scale_by_sm3, {"b1": 1.5}, r"scale_by_sm3\(b1=1.5\)"),
        (gradtx.scale_by_sm3, {"eps": -1.0}, r"scale_by_sm3\(eps=-1.0\)"),
        (gradtx.scale_by_polyak, {"variant": "sps++"}, r"scale_by_polyak\(variant='sps\+\+'\)"),
        (gradtx.scale_by_polyak, {"eps": -1.0}, r"scale_by_polyak\(eps=-1.0\)"),
        (
            gradtx.scale_by_optimistic_gradient,
            {"alpha": float("nan")},
            r"scale_by_optimistic_gradient\(alpha=nan\)",
        ),
        (
            gradtx.scale_by_distance_over_gradients,
            {"reps_rel": 0.0},
            r"scale_by_distance_over_gradients\(reps_rel=0.0\)",
        ),
        (gradtx.normalize_by_update_norm, {"eps": -1.0}, r"normalize_by_update_norm\(eps=-1.0\)"),
        (gradtx.scale_by_param_block_norm, {"min_scale": -1.0}, r"min_scale=-1.0"),
        (gradtx.scale_by_param_block_rms, {"min_scale": float("nan")}, r"min_scale=nan"),
    ],
)
def test_bad_hyperparameters_raise(factory, kwargs, match):
    with pytest.raises(ValueError, match=match):
        factory(**kwargs)


@pytest.mark.parametrize(
    "tx",
    [
        gradtx.scale_by_distance_over_gradients(),
        gradtx.scale_by_param_block_norm(),
        gradtx.scale_by_param_block_rms(),
    ],
)
def test_params_are_required(tx):
    with pytest.raises(ValueError, match="needs params"):
        tx.update(jnp.ones(2), tx.init(jnp.ones(2)))


def test_sm3_rejects_complex_params():
    with pytest.raises(ValueError, match="complex"):
        gradtx.scale_by_sm3().init(jnp.ones(2, jnp.complex64))


def test_float64_references_under_x64(x64):
    """In float64 the transforms meet the papers' recursions to round-off."""
    rng = np.random.default_rng(7)
    gs = [rng.normal(size=(3, 4)) for _ in range(25)]
    g64 = [jnp.asarray(g, jnp.float64) for g in gs]
    ours, _, _ = run_updates(
        gradtx.scale_by_sm3(b1=0.5, b2=0.9), jnp.zeros((3, 4), jnp.float64), g64
    )
    assert ours[0].dtype == jnp.float64
    np.testing.assert_allclose(np.stack(ours), np.stack(np_sm3_matrix(gs, 0.5, 0.9)), rtol=1e-10)
    flat = [g.reshape(-1) for g in gs]
    tx = gradtx.scale_by_rprop(0.1, lagged=False)
    ours, _, _ = run_updates(tx, jnp.zeros(12, jnp.float64), [jnp.asarray(g) for g in flat])
    np.testing.assert_allclose(np.stack(ours), np.stack(np_irprop_minus(flat, 0.1)), rtol=1e-12)
