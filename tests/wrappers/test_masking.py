"""masked, multi_transform, freeze: Optax parity, prefixes, callables, None leaves, errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from tests.helpers import assert_trees_close, example_params, gradient_sequence
from tests.optax_parity import assert_optax_parity
from tests.wrappers._common import adam_chain

MASK_TREE = {"dense": {"w": True, "b": False}, "scalar": True}
MASK_PREFIX = {"dense": True, "scalar": False}


def not_vector(tree):
    return jax.tree.map(lambda x: jnp.ndim(x) != 1, tree)


@pytest.mark.parametrize("mask", [MASK_TREE, MASK_PREFIX, not_vector], ids=["tree", "prefix", "fn"])
def test_masked_matches_optax(mask):
    ours = gradtx.chain(gradtx.masked(gradtx.scale_by_adam(), mask), gradtx.scale(-1e-2))
    theirs = optax.chain(optax.masked(optax.scale_by_adam(), mask), optax.scale(-1e-2))
    s_ours, s_theirs = assert_optax_parity(ours, theirs, steps=25, rtol=1e-6)
    # Same inner state, with MaskedNode where the mask is false.
    inner_ours, inner_theirs = s_ours[0].inner_state, s_theirs[0].inner_state
    # (the two libraries' MaskedNode classes differ, so compare the leaves)
    assert_trees_close(jax.tree.leaves(inner_ours.mu), jax.tree.leaves(inner_theirs.mu), rtol=1e-6)


def test_masked_leaves_pass_through_and_keep_no_state():
    params = example_params()
    tx = gradtx.masked(gradtx.scale_by_adam(), MASK_TREE)
    state = tx.init(params)
    assert isinstance(state.inner_state.mu["dense"]["b"], gradtx.MaskedNode)
    g = gradient_sequence(params, 1)[0]
    u, _ = jax.jit(tx.update)(g, state)
    np.testing.assert_array_equal(u["dense"]["b"], g["dense"]["b"])
    assert not np.allclose(u["dense"]["w"], g["dense"]["w"])


def test_masked_with_none_leaves_and_bfloat16():
    bf16 = jnp.bfloat16
    params = {"w": jnp.ones((2, 2), bf16), "frozen": None, "b": jnp.ones(3, bf16)}
    grads = {"w": jnp.full((2, 2), 0.5, bf16), "frozen": None, "b": jnp.ones(3, bf16)}
    tx = gradtx.masked(adam_chain(), not_vector)
    u, _ = jax.jit(tx.update)(grads, tx.init(params))
    assert u["frozen"] is None
    assert u["w"].dtype == jnp.bfloat16 and u["b"].dtype == jnp.bfloat16
    np.testing.assert_array_equal(u["b"], grads["b"])


def test_masked_extra_args_are_masked_when_asked():
    seen = {}

    def spy_update(updates, state, params=None, **extra):
        seen.update(extra)
        return updates, state

    spy = gradtx.GradientTransformation(lambda p: gradtx.EmptyState(), spy_update)
    g = {"a": jnp.ones(1), "b": jnp.ones(1)}
    tx = gradtx.masked(spy, {"a": True, "b": False}, mask_compatible_extra_args=True)
    tx.update(g, tx.init(g), tags=g, other=jnp.ones(3))
    assert isinstance(seen["tags"]["b"], gradtx.MaskedNode)
    assert seen["other"].shape == (3,)


@pytest.mark.parametrize("labels", ["tree", "fn"])
def test_multi_transform_matches_optax(labels):
    label_tree = {"dense": {"w": "adam", "b": "sgd"}, "scalar": "sgd"}
    param_labels = (
        label_tree
        if labels == "tree"
        else (lambda t: jax.tree.map(lambda x: "adam" if jnp.ndim(x) == 2 else "sgd", t))
    )

    def make(lib):
        return lib.multi_transform(
            {"adam": adam_chain(lib), "sgd": lib.chain(lib.trace(0.9), lib.scale(-0.1))},
            param_labels,
        )

    s_ours, s_theirs = assert_optax_parity(make(gradtx), make(optax), steps=25, rtol=1e-6)
    assert set(s_ours.inner_states) == set(s_theirs.inner_states)
    assert_trees_close(
        jax.tree.leaves(s_ours.inner_states["sgd"].inner_state[0].trace),
        jax.tree.leaves(s_theirs.inner_states["sgd"].inner_state[0].trace),
        rtol=1e-6,
    )
    assert gradtx.partition is gradtx.multi_transform
    assert gradtx.MultiTransformState is gradtx.PartitionState


def test_multi_transform_rejects_unknown_labels():
    with pytest.raises(ValueError, match=r"multi_transform: parameter labels \['b'\]"):
        gradtx.multi_transform({"a": gradtx.identity()}, {"x": "a", "y": "b"})
    tx = gradtx.multi_transform({"a": gradtx.identity()}, lambda p: jax.tree.map(lambda _: "c", p))
    with pytest.raises(ValueError, match="have no transform"):
        tx.init({"x": jnp.ones(1)})


def test_multi_transform_rejects_non_mappings():
    with pytest.raises(TypeError, match=r"multi_transform\(transforms="):
        gradtx.multi_transform([gradtx.identity()], "a")
    with pytest.raises(TypeError, match=r"transforms\['a'\]"):
        gradtx.multi_transform({"a": 1.0}, "a")


@pytest.mark.parametrize("mask", [MASK_TREE, True, not_vector], ids=["tree", "bool", "fn"])
def test_freeze_matches_optax(mask):
    ours = gradtx.chain(gradtx.freeze(mask), adam_chain())
    theirs = optax.chain(optax.freeze(mask), adam_chain(optax))
    assert_optax_parity(ours, theirs, steps=25, rtol=1e-6)


def test_freeze_zeroes_frozen_leaves():
    params = example_params()
    tx = gradtx.freeze(MASK_TREE)
    g = gradient_sequence(params, 1)[0]
    u, _ = tx.update(g, tx.init(params))
    assert not np.any(np.asarray(u["dense"]["w"])) and not np.any(np.asarray(u["scalar"]))
    np.testing.assert_array_equal(u["dense"]["b"], g["dense"]["b"])


@pytest.mark.parametrize("mask", ["w", 1.0, {"w": 1}, {"w": jnp.ones(2, bool)}, [None, 0.5]])
def test_masks_must_be_bool_trees_or_callables(mask):
    with pytest.raises(TypeError, match=r"masked\(mask="):
        gradtx.masked(gradtx.identity(), mask)
    with pytest.raises(TypeError, match=r"freeze\(mask="):
        gradtx.freeze(mask)


def test_callable_mask_returning_non_bools_raises_at_init():
    tx = gradtx.masked(gradtx.identity(), lambda p: jax.tree.map(lambda x: x, p))
    with pytest.raises(TypeError, match="returned"):
        tx.init({"w": jnp.ones(2)})


def test_inner_must_be_a_transform():
    with pytest.raises(TypeError, match=r"masked\(inner="):
        gradtx.masked("adam", {"w": True})


@jax.tree_util.register_pytree_node_class
class _CallableBools:
    """A pytree of bools that is also callable, as an Equinox Module of bools is."""

    def __init__(self, w, b):
        self.w, self.b = w, b

    def __call__(self, *args):
        raise AssertionError("a callable pytree of bools must be used as the mask tree")

    def tree_flatten(self):
        return (self.w, self.b), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*children)


def test_a_callable_pytree_of_bools_is_the_mask_tree_as_in_optax():
    params = _CallableBools(jnp.ones(2), jnp.ones(3))
    grads = _CallableBools(jnp.full(2, 2.0), jnp.full(3, 4.0))
    mask = _CallableBools(True, False)
    for mod in (gradtx, optax):
        tx = mod.masked(mod.scale(-1.0), mask)
        updates, _ = tx.update(grads, tx.init(params), params)
        assert updates.w.tolist() == [-2.0, -2.0] and updates.b.tolist() == [4.0] * 3
    frozen = gradtx.freeze(mask)
    updates, _ = frozen.update(grads, frozen.init(params))
    assert updates.w.tolist() == [0.0, 0.0] and updates.b.tolist() == [4.0] * 3


def test_masked_gives_an_extra_args_transform_as_in_optax():
    tx = gradtx.masked(gradtx.scale(-1.0), {"w": True})
    assert isinstance(tx, gradtx.GradientTransformationExtraArgs)
    assert isinstance(
        optax.masked(optax.scale(-1.0), {"w": True}), optax.GradientTransformationExtraArgs
    )


def test_tree_map_params_sees_through_masked_as_in_optax():
    params = {"w": jnp.ones(2), "b": jnp.ones(3)}
    mask = {"w": True, "b": False}
    out = {}
    for mod in (gradtx, optax):
        tx = mod.masked(mod.scale_by_adam(), mask)
        state = tx.init(params)
        out[mod.__name__] = mod.tree.map_params(
            tx, lambda x: "param", state, transform_non_params=lambda _: "other"
        )
    assert repr(out["gradtx"]) == repr(out["optax"])
