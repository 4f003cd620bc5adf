"""``gradtx.pack`` / ``gradtx.unpack``: exact round trip, dtype groups, buffer cap, autodiff,
and optimizers on packed buffers giving the numbers they give on the tree."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from tests.helpers import assert_trees_close, gradient_sequence


def _mixed_tree():
    rng = np.random.default_rng(0)
    return {
        "dense": {
            "w": jnp.asarray(rng.normal(size=(3, 4)), jnp.float32),
            "b": jnp.asarray(rng.normal(size=(4,)), jnp.float32),
        },
        "emb": jnp.asarray(rng.normal(size=(5, 2)), jnp.bfloat16),
        "scale": jnp.asarray(1.5, jnp.float32),
        "steps": jnp.arange(3, dtype=jnp.int32),
        "empty": jnp.zeros((0, 3), jnp.float32),
        "none": None,
    }


def _assert_same_tree(actual, expected):
    a_leaves, a_def = jax.tree.flatten(actual)
    e_leaves, e_def = jax.tree.flatten(expected)
    assert a_def == e_def
    for a, e in zip(a_leaves, e_leaves, strict=True):
        assert a.shape == e.shape and a.dtype == e.dtype
        np.testing.assert_array_equal(np.asarray(a, np.float64), np.asarray(e, np.float64))


def test_round_trip_is_exact_and_groups_by_dtype():
    tree = _mixed_tree()
    flat, spec = gradtx.pack(tree)
    assert sorted(flat) == ["bfloat16.0", "float32.0", "int32.0"]
    assert flat["float32.0"].shape == (12 + 4 + 0 + 1,)
    assert flat["bfloat16.0"].dtype == jnp.bfloat16 and flat["bfloat16.0"].shape == (10,)
    assert flat["int32.0"].dtype == jnp.int32
    assert spec.num_leaves == 6
    # Leaves appear in jax.tree.leaves order inside each buffer.
    np.testing.assert_array_equal(
        np.asarray(flat["float32.0"]),
        np.concatenate([np.ravel(tree["dense"]["b"]), np.ravel(tree["dense"]["w"]), [1.5]]),
    )
    _assert_same_tree(gradtx.unpack(flat, spec), tree)
    assert "bfloat16.0: 10 elements in 1 leaves" in spec.describe()


def test_max_buffer_size_splits_between_whole_leaves():
    tree = {f"p{i}": jnp.full((3,), float(i)) for i in range(5)}
    tree["big"] = jnp.ones((10,))
    flat, spec = gradtx.pack(tree, max_buffer_size=7)
    # Leaf order: big, p0..p4 -> runs [big], [p0, p1], [p2, p3], [p4].
    assert [flat[k].shape[0] for k in spec.groups] == [10, 6, 6, 3]
    assert spec.group_sizes == (10, 6, 6, 3)
    _assert_same_tree(gradtx.unpack(flat, spec), tree)
    one, spec_one = gradtx.pack(tree, max_buffer_size=None)
    assert list(one) == ["float32.0"] and spec_one.group_sizes == (25,)


def test_auto_buffer_size_follows_the_backend():
    tree = {"a": jnp.ones(3), "b": jnp.ones(4)}
    auto, _ = gradtx.pack(tree)
    expected = 2**20 if jax.default_backend() == "cpu" else None
    explicit, _ = gradtx.pack(tree, max_buffer_size=expected)
    assert list(auto) == list(explicit) == ["float32.0"]
    tiny, _ = gradtx.pack(tree, max_buffer_size=3)
    assert list(tiny) == ["float32.0", "float32.1"]
    with pytest.raises(ValueError, match="auto"):
        gradtx.pack(tree, max_buffer_size="big")


@pytest.mark.parametrize("bad", [0, -3])
def test_bad_max_buffer_size_raises(bad):
    with pytest.raises(ValueError, match="max_buffer_size"):
        gradtx.pack({"a": jnp.ones(2)}, max_buffer_size=bad)
    with pytest.raises(TypeError, match="max_buffer_size"):
        gradtx.pack({"a": jnp.ones(2)}, max_buffer_size=2.5)


def test_unpack_checks_keys_and_lengths():
    flat, spec = gradtx.pack({"a": jnp.ones(2), "b": jnp.ones(3)})
    with pytest.raises(ValueError, match="keys"):
        gradtx.unpack({"float64.0": jnp.ones(5)}, spec)
    with pytest.raises(ValueError, match="shape"):
        gradtx.unpack({"float32.0": jnp.ones(4)}, spec)


def test_empty_tree():
    flat, spec = gradtx.pack({})
    assert flat == {} and spec.num_leaves == 0
    assert gradtx.unpack(flat, spec) == {}


def test_spec_is_static_under_jit_and_grads_come_out_packed():
    tree = {"w": jnp.arange(6.0).reshape(2, 3), "b": jnp.ones(3)}
    flat, spec = gradtx.pack(tree)
    traces = []

    @jax.jit
    def loss_and_grad(flat, spec):
        traces.append(1)

        def loss(f):
            p = gradtx.unpack(f, spec)
            return jnp.sum(p["w"] ** 2) + 3.0 * jnp.sum(p["b"])

        return jax.value_and_grad(loss)(flat)

    value, grads = loss_and_grad(flat, spec)
    loss_and_grad(flat, spec)
    assert len(traces) == 1  # the spec is static and hashable: no retrace
    assert list(grads) == ["float32.0"] and grads["float32.0"].shape == (9,)
    expected = {"w": 2.0 * tree["w"], "b": jnp.full(3, 3.0)}
    _assert_same_tree(gradtx.unpack(grads, spec), expected)
    assert float(value) == pytest.approx(55.0 + 9.0)
    # The backward pass of unpack is a concatenation, not per-leaf scatters.
    hlo = jax.jit(jax.grad(lambda f: jnp.sum(gradtx.unpack(f, spec)["w"]))).lower(flat).as_text()
    assert "scatter" not in hlo


def test_forward_mode_and_vmap():
    tree = {"w": jnp.arange(4.0), "b": jnp.ones(2)}
    flat, spec = gradtx.pack(tree)
    _, tangent = jax.jvp(lambda f: gradtx.unpack(f, spec)["w"] * 2.0, (flat,), (flat,))
    np.testing.assert_allclose(np.asarray(tangent), 2.0 * np.arange(4.0))
    stacked = jax.tree.map(lambda x: jnp.stack([x, 2.0 * x]), flat)
    out = jax.vmap(lambda f: gradtx.unpack(f, spec)["b"])(stacked)
    np.testing.assert_allclose(np.asarray(out), [[1.0, 1.0], [2.0, 2.0]])


def _optimizers():
    schedule = gradtx.warmup_cosine_decay_schedule(0.0, 0.1, 3, 20)
    return {
        "adam": gradtx.adam(0.05),
        "adamw_clip": gradtx.chain(
            gradtx.clip_by_global_norm(0.5), gradtx.adamw(schedule, weight_decay=0.1)
        ),
        "sgd_momentum": gradtx.sgd(0.1, momentum=0.9),
        "lion": gradtx.lion(0.01),
    }


@pytest.mark.parametrize("name", sorted(_optimizers()))
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_optimizer_on_packed_matches_tree(name, dtype):
    """Elementwise optimizers give the same numbers on the buffers as on the tree."""
    tx = _optimizers()[name]
    params = {
        "w": jnp.linspace(-1.0, 1.0, 12, dtype=dtype).reshape(3, 4),
        "b": jnp.full((4,), 0.1, dtype),
        "s": jnp.asarray(0.5, jnp.float32),
    }
    grads = gradient_sequence(params, 6, seed=1)
    flat, spec = gradtx.pack(params)

    def step(p, s, g):
        u, s = tx.update(g, s, p)
        return gradtx.apply_updates(p, u), s

    step = jax.jit(step)
    p_tree, s_tree = params, tx.init(params)
    p_flat, s_flat = flat, tx.init(flat)
    for g in grads:
        p_tree, s_tree = step(p_tree, s_tree, g)
        p_flat, s_flat = step(p_flat, s_flat, gradtx.pack(g)[0])
    # Same formulas; XLA may vectorize the two programs differently (ulp-level changes,
    # visible in absolute terms where a parameter of size ~1 passes near 0), and the
    # clip's norm is summed in another order.
    tol = 2e-2 if dtype == jnp.bfloat16 else 1e-6
    assert_trees_close(gradtx.unpack(p_flat, spec), p_tree, rtol=tol, atol=tol)
    jax.tree.map(lambda a, b: np.testing.assert_equal(a.dtype, b.dtype), p_flat, flat)


def test_global_norm_on_a_wide_tree_matches_leaf_by_leaf():
    """A wide tree's small leaves are reduced as one vector: same norm up to rounding."""
    rng = np.random.default_rng(2)
    tree = {f"p{i:03d}": jnp.asarray(rng.normal(size=(i % 7 + 1,)), jnp.float32) for i in range(80)}
    tree["big"] = jnp.asarray(rng.normal(size=(20_000,)), jnp.float32)
    tree["half"] = jnp.asarray(rng.normal(size=(5,)), jnp.bfloat16)
    expected = np.sqrt(sum(np.sum(np.asarray(x, np.float64) ** 2) for x in jax.tree.leaves(tree)))
    got = jax.jit(gradtx.tree.global_norm)(tree)
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(float(got), expected, rtol=1e-6)
    flat, _ = gradtx.pack(tree)
    np.testing.assert_allclose(float(gradtx.tree.global_norm(flat)), expected, rtol=1e-6)
