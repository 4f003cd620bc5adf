"""The protocol: chain, named_chain, apply_updates, trivial transforms, validation, numerics."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from gradtx.core import masks, numerics, validate


def test_chain_threads_updates_and_forwards_extra_args():
    seen = []

    def record(updates, state, params=None, **extra):
        seen.append(sorted(extra))
        return jax.tree.map(lambda u: 2.0 * u, updates), state

    doubler = gradtx.GradientTransformation(lambda p: gradtx.EmptyState(), record)
    tx = gradtx.chain(doubler, gradtx.scale(-0.5), doubler)
    params = {"w": jnp.ones(3)}
    state = tx.init(params)
    assert isinstance(state, tuple) and len(state) == 3
    updates, _ = tx.update({"w": jnp.full(3, 1.5)}, state, params, value=1.0)
    np.testing.assert_allclose(updates["w"], -3.0 * np.ones(3))
    assert seen == [["value"], ["value"]]


def test_chain_accepts_update_functions_without_extra_args():
    legacy = gradtx.GradientTransformation(
        lambda p: gradtx.EmptyState(), lambda u, s, p=None: (jax.tree.map(lambda x: -x, u), s)
    )
    tx = gradtx.chain(legacy)
    u, _ = tx.update(jnp.ones(2), tx.init(jnp.ones(2)), None, value=3.0)
    assert u.tolist() == [-1.0, -1.0]


def test_chain_rejects_a_state_of_another_chain():
    tx = gradtx.chain(gradtx.identity(), gradtx.identity())
    with pytest.raises(ValueError, match="2 transforms"):
        tx.update(jnp.ones(2), (gradtx.EmptyState(),))


def test_named_chain_state_is_a_dict_and_names_are_unique():
    tx = gradtx.named_chain(("clip", gradtx.identity()), ("lr", gradtx.scale(2.0)))
    state = tx.init(jnp.ones(2))
    assert set(state) == {"clip", "lr"}
    u, _ = tx.update(jnp.ones(2), state)
    assert u.tolist() == [2.0, 2.0]
    with pytest.raises(ValueError, match="duplicates"):
        gradtx.named_chain(("a", gradtx.identity()), ("a", gradtx.identity()))


def test_apply_updates_keeps_param_dtype_and_skips_none():
    params = {"a": jnp.ones(2, jnp.bfloat16), "b": jnp.ones(2), "c": None}
    updates = {"a": jnp.full(2, 0.5, jnp.float32), "b": jnp.full(2, 0.25), "c": None}
    new = gradtx.apply_updates(params, updates)
    assert new["a"].dtype == jnp.bfloat16 and new["a"].tolist() == [1.5, 1.5]
    assert new["b"].tolist() == [1.25, 1.25]
    assert new["c"] is None
    assert gradtx.apply_updates({"a": jnp.ones(2), "n": None}, {"a": None, "n": None})[
        "a"
    ].tolist() == [1, 1]


def test_identity_set_to_zero_stateless():
    g = {"w": jnp.arange(3.0)}
    assert gradtx.identity().update(g, gradtx.EmptyState())[0] is g
    zeros, _ = gradtx.set_to_zero().update(g, gradtx.EmptyState())
    assert zeros["w"].tolist() == [0.0, 0.0, 0.0]
    tx = gradtx.stateless(lambda u, p: jax.tree.map(lambda x, y: x + y, u, p))
    out, _ = tx.update(g, tx.init(g), g)
    assert out["w"].tolist() == [0.0, 2.0, 4.0]
    tx = gradtx.stateless_with_tree_map(lambda u, p: u * 3.0)
    assert tx.update(g, tx.init(g))[0]["w"].tolist() == [0.0, 3.0, 6.0]


def test_safe_increment_saturates_instead_of_wrapping():
    top = jnp.iinfo(jnp.int32).max
    c = jnp.asarray(top - 1, jnp.int32)
    c = numerics.safe_increment(c)
    assert int(c) == top
    c = numerics.safe_increment(c)
    assert int(c) == top and c.dtype == jnp.int32


def test_bias_correction_reference():
    count = jnp.asarray(3, jnp.int32)
    out = numerics.bias_correction(jnp.asarray([1.0, 2.0]), 0.9, count)
    np.testing.assert_allclose(out, np.array([1.0, 2.0]) / (1 - 0.9**3), rtol=1e-6)


def test_update_moment_keeps_bfloat16_products_in_the_moment_dtype():
    g = jnp.asarray([1.0, 2.0], jnp.float32)
    m = jnp.asarray([0.5, 0.25], jnp.bfloat16)
    out = numerics.update_moment(g, m, 0.9, 1)
    assert out.dtype == jnp.float32
    np.testing.assert_allclose(
        out, 0.1 * np.array([1.0, 2.0]) + 0.9 * np.array([0.5, 0.25]), rtol=1e-2
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: validate.decay("f", b1=1.0), r"f\(b1=1.0\): b1 must be in \[0, 1\)"),
        (lambda: validate.decay("f", b2=float("nan")), r"f\(b2=nan\): b2 must be in \[0, 1\)"),
        (lambda: validate.non_negative("f", eps=-1e-3), r"f\(eps=-0.001\): eps must be >= 0"),
        (lambda: validate.positive("f", max_norm=0.0), r"f\(max_norm=0.0\): max_norm must be > 0"),
        (
            lambda: validate.finite("f", learning_rate=float("inf")),
            r"learning_rate must be finite",
        ),
        (lambda: validate.integer("f", "k", 0, 1), r"f\(k=0\): k must be an integer >= 1"),
        (lambda: validate.one_of("f", "mode", "x", ("a", "b")), r"mode must be one of"),
    ],
)
def test_validation_messages_name_function_argument_value_and_rule(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_validation_type_errors_and_tracers_skipped():
    with pytest.raises(TypeError, match="learning_rate must be a number"):
        validate.finite("f", learning_rate="0.1")
    with pytest.raises(TypeError, match="mask must be a pytree"):
        masks.check("f", "all")
    # Traced values and schedules are not checked.
    jax.jit(lambda b: validate.decay("f", b1=b) or b)(jnp.asarray(2.0))
    validate.decay("f", b1=lambda step: 2.0)


def test_tree_match_shows_both_structures_and_shapes():
    with pytest.raises(gradtx.TreeMismatchError, match=r"updates: .*\n.*state: "):
        validate.tree_match("t", {"a": 1.0}, {"b": 1.0})
    with pytest.raises(gradtx.TreeMismatchError, match=r"\['a'\] has shape \(3,\).*\(1,\)"):
        validate.tree_match("t", {"a": jnp.ones(3)}, {"a": jnp.ones(1)})


def test_adam_rejects_a_mismatched_tree_instead_of_broadcasting():
    tx = gradtx.scale_by_adam()
    state = tx.init({"w": jnp.ones(3)})
    with pytest.raises(gradtx.TreeMismatchError):
        tx.update({"w": jnp.ones(1)}, state)
    with pytest.raises(gradtx.TreeMismatchError):
        tx.update({"v": jnp.ones(3)}, state)


def test_incremental_update_with_none_new_tensors_is_none_as_optax():
    import optax

    x = {"a": jnp.ones(2), "b": None}
    assert gradtx.incremental_update(None, x, 1) is None
    assert optax.incremental_update(None, x, 1) is None
    ours = gradtx.incremental_update({"a": jnp.zeros(2), "b": None}, x, 0.5)
    assert ours["b"] is None and ours["a"].tolist() == [0.5, 0.5]
    assert gradtx.incremental_update({"a": None}, {"a": jnp.ones(2)}, 0.5) == {"a": None}


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16, jnp.float32])
def test_array_hyperparameters_of_every_dtype_are_validated_alike(dtype):
    # Issue 14 item 14: a bfloat16 array skipped the checks that float16/32 arrays get.
    with pytest.raises(ValueError, match=r"scale_by_adam\(b1="):
        gradtx.scale_by_adam(b1=jnp.asarray(1.5, dtype))
    gradtx.scale_by_adam(b1=jnp.asarray(0.5, dtype))
