"""MultiSteps and apply_every: Optax parity, big-batch equivalence, real-step schedules."""

from __future__ import annotations

import functools

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
from tests.optax_parity import assert_optax_parity
from tests.wrappers._common import adam_chain, grads_with_nans, run_optax

# Slow (CI runs it): wrapper trajectories, compiled per case.
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("use_grad_mean", [True, False])
def test_multi_steps_matches_optax(use_grad_mean):
    def make(lib):
        return lib.MultiSteps(
            adam_chain(lib), every_k_schedule=3, use_grad_mean=use_grad_mean
        ).gradient_transformation()

    assert_optax_parity(make(gradtx), make(optax), steps=30, rtol=1e-5, atol=1e-7)


def test_multi_steps_matches_optax_with_nans_skipped_and_a_schedule():
    def make(lib):
        return lib.MultiSteps(
            adam_chain(lib),
            every_k_schedule=lambda step: jnp.where(step < 3, 2, 4),
            should_skip_update_fn=lib.skip_not_finite,
        )

    ours, theirs = make(gradtx), make(optax)
    grads = grads_with_nans(steps=40, bad=(1, 5, 6, 20, 33))
    params = example_params()
    u_ours, _, s_ours = run_updates(ours, params, grads)
    u_theirs, _, s_theirs = run_optax(theirs, params, grads)
    for t, (a, b) in enumerate(zip(u_ours, u_theirs, strict=True)):
        assert_trees_close(a, b, rtol=1e-5, atol=1e-7, msg=f"step {t}")
        assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(a))
    assert int(s_ours.gradient_step) == int(s_theirs.gradient_step)
    assert int(s_ours.mini_step) == int(s_theirs.mini_step)
    assert_trees_close(s_ours.acc_grads, s_theirs.acc_grads, rtol=1e-6)
    assert int(s_ours.skip_state["num_not_finite"]) == 0
    assert MultiStepsFields == s_ours._fields


MultiStepsFields = optax.MultiStepsState._fields


def _regression(x64: bool):
    dtype = jnp.float64 if x64 else jnp.float32
    rng = np.random.default_rng(0)
    xs = jnp.asarray(rng.normal(size=(24, 5)), dtype)
    ys = jnp.asarray(rng.normal(size=(24, 2)), dtype)
    params = {"w": jnp.asarray(rng.normal(size=(5, 2)), dtype), "b": jnp.zeros((2,), dtype)}

    def loss(p, x, y):
        return jnp.mean(jnp.sum((x @ p["w"] + p["b"][None, :] - y) ** 2, axis=-1))

    return loss, params, xs, ys


@pytest.mark.parametrize("inner", ["sgd_momentum", "adam"])
def test_accumulating_k_micro_batches_equals_one_big_batch(inner, x64):
    """k micro-batches of b examples (mean) give the update of one batch of k*b examples."""
    loss, params, xs, ys = _regression(x64=True)
    k, micro = 4, 3
    steps = 6

    def make_inner():
        if inner == "adam":
            return adam_chain(lr=0.05)
        return gradtx.chain(gradtx.trace(0.9), gradtx.scale(-0.05))

    big = make_inner()
    # float64 gradients, accumulated in float64 (the default float32 would round them).
    acc = gradtx.MultiSteps(make_inner(), every_k_schedule=k, accumulator_dtype=jnp.float64)
    p_big, s_big = params, big.init(params)
    p_acc, s_acc = params, acc.init(params)
    big_update, acc_update = jax.jit(big.update), jax.jit(acc.update)
    grad = jax.jit(jax.grad(loss))
    for step in range(steps):
        start = (step * k * micro) % (xs.shape[0] - k * micro + 1)
        x_big, y_big = xs[start : start + k * micro], ys[start : start + k * micro]
        u_big, s_big = big_update(grad(p_big, x_big, y_big), s_big, p_big)
        p_big = gradtx.apply_updates(p_big, u_big)
        for j in range(k):
            sl = slice(start + j * micro, start + (j + 1) * micro)
            u, s_acc = acc_update(grad(p_acc, xs[sl], ys[sl]), s_acc, p_acc)
            if j < k - 1:
                assert all(not np.any(np.asarray(x)) for x in jax.tree.leaves(u))
                assert not bool(acc.has_updated(s_acc))
            p_acc = gradtx.apply_updates(p_acc, u)
        assert bool(acc.has_updated(s_acc))
        assert_trees_close(u, u_big, rtol=1e-6, atol=1e-12, msg=f"step {step}")
        assert_trees_close(p_acc, p_big, rtol=1e-6, atol=1e-12, msg=f"step {step}")
    assert int(s_acc.gradient_step) == steps


def test_float32_accumulation_equals_big_batch_to_1e6():
    loss, params, xs, ys = _regression(x64=False)
    k = 4
    grads = [jax.grad(loss)(params, xs[6 * j : 6 * j + 6], ys[6 * j : 6 * j + 6]) for j in range(k)]
    big_grad = jax.grad(loss)(params, xs, ys)
    acc = gradtx.MultiSteps(gradtx.scale(-0.1), every_k_schedule=k)
    state, update = acc.init(params), jax.jit(acc.update)
    for g in grads:
        u, state = update(g, state, params)
    assert_trees_close(u, jax.tree.map(lambda g: -0.1 * g, big_grad), rtol=1e-6, atol=1e-7)


def test_inner_schedule_counts_real_steps_not_micro_steps():
    seen = []
    lr = lambda count: 0.1 * (count + 1).astype(jnp.float32)  # noqa: E731
    opt = gradtx.MultiSteps(gradtx.scale_by_learning_rate(lr), every_k_schedule=3)
    params = jnp.zeros(2)
    state = opt.init(params)
    update = jax.jit(opt.update)
    for _ in range(9):
        u, state = update(jnp.ones(2), state, params)
        seen.append(float(u[0]))
    np.testing.assert_allclose(seen, [0, 0, -0.1, 0, 0, -0.2, 0, 0, -0.3], rtol=1e-6)
    assert int(gradtx.tree.get(state.inner_opt_state, "count")) == 3
    assert int(state.gradient_step) == 3 and int(state.mini_step) == 0


def test_skipped_micro_step_leaves_the_state_untouched():
    opt = gradtx.MultiSteps(
        adam_chain(), every_k_schedule=2, should_skip_update_fn=gradtx.skip_not_finite
    )
    params = {"w": jnp.ones(3)}
    state = opt.init(params)
    state, _ = opt.update({"w": jnp.full(3, 0.5)}, state, params)[1], None
    u, new_state = opt.update({"w": jnp.array([1.0, jnp.nan, 2.0])}, state, params)
    assert not np.any(np.asarray(u["w"]))
    assert int(new_state.skip_state["num_not_finite"]) == 1
    assert_trees_close(new_state._replace(skip_state=()), state._replace(skip_state=()), rtol=0.0)


def test_skip_large_updates_with_partial():
    skip = functools.partial(gradtx.skip_large_updates, max_squared_norm=10.0)
    opt = gradtx.MultiSteps(gradtx.scale(-1.0), every_k_schedule=1, should_skip_update_fn=skip)
    state = opt.init(jnp.zeros(2))
    u, state = opt.update(jnp.array([3.0, 4.0]), state)
    assert u.tolist() == [0.0, 0.0] and float(state.skip_state["norm_squared"]) == 25.0
    u, state = opt.update(jnp.array([1.0, 2.0]), state)
    assert u.tolist() == [-1.0, -2.0]


def test_skip_functions_match_optax():
    grads = grads_with_nans(steps=5, bad=(2, 3))
    for g in grads:
        ours = gradtx.skip_not_finite(g, 0, None)
        theirs = optax.skip_not_finite(g, 0, None)
        assert bool(ours[0]) == bool(theirs[0])
        assert int(ours[1]["num_not_finite"]) == int(theirs[1]["num_not_finite"])
        ours = gradtx.skip_large_updates(g, 0, None, 20.0)
        theirs = optax.skip_large_updates(g, 0, None, 20.0)
        assert bool(ours[0]) == bool(theirs[0])
        np.testing.assert_allclose(ours[1]["norm_squared"], theirs[1]["norm_squared"], rtol=1e-6)


def test_bfloat16_gradients_accumulate_in_float32():
    params = example_params(jnp.bfloat16)
    opt = gradtx.MultiSteps(adam_chain(), every_k_schedule=2)
    state = opt.init(params)
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(state.acc_grads))
    update = jax.jit(opt.update)
    for g in gradient_sequence(params, 4):
        u, state = update(g, state, params)
        assert_same_shapes_and_dtypes(u, g)


def test_accumulator_dtype_defaults_to_float32_as_in_optax():
    import inspect

    default = inspect.signature(gradtx.MultiSteps).parameters["accumulator_dtype"].default
    assert default is inspect.signature(optax.MultiSteps).parameters["accumulator_dtype"].default


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float64"])
def test_accumulator_dtypes_and_numbers_match_optax(dtype, x64):
    """float64 gradients add in float64, are stored in float32 and reach the inner optimizer
    in float64, as Optax does; bfloat16 ones are stored in float32 and reach it in bfloat16."""
    params = example_params(jnp.dtype(dtype))

    def make(lib):  # an exact inner step, so only the accumulation's rounding shows
        return lib.MultiSteps(lib.scale(-0.5), every_k_schedule=3).gradient_transformation()

    grads = gradient_sequence(params, 25)
    u_ours, _, s_ours = run_updates(make(gradtx), params, grads)
    u_theirs, _, s_theirs = run_optax(make(optax), params, grads)
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(s_ours.acc_grads))
    assert_same_shapes_and_dtypes(s_ours, s_theirs)
    for t, (a, b) in enumerate(zip(u_ours, u_theirs, strict=True)):
        assert_same_shapes_and_dtypes(a, b)
        assert_trees_close(a, b, rtol=1e-5, atol=1e-7, msg=f"step {t}")
    assert_trees_close(s_ours.acc_grads, s_theirs.acc_grads, rtol=1e-6, atol=1e-7)


def test_accumulator_dtype_none_keeps_float64_and_complex_keeps_its_imaginary_part(x64):
    acc = gradtx.MultiSteps(gradtx.scale(-1.0), every_k_schedule=2, accumulator_dtype=None)
    state = acc.init({"a": jnp.zeros(2, jnp.float64)})
    assert state.acc_grads["a"].dtype == jnp.float64
    acc = gradtx.MultiSteps(gradtx.scale(-1.0), every_k_schedule=2)
    z = jnp.array([1.0 + 2.0j, -3.0j], jnp.complex64)
    state = acc.init(z)
    assert state.acc_grads.dtype == jnp.complex64
    u, state = acc.update(z, state)
    u, state = acc.update(2 * z, state)
    np.testing.assert_allclose(u, -1.5 * z, rtol=1e-6)


def test_jit_equals_eager():
    opt = gradtx.MultiSteps(adam_chain(), every_k_schedule=3).gradient_transformation()
    params = example_params()
    grads = gradient_sequence(params, 4)
    eager, _, _ = run_updates(opt, params, grads, jit=False)
    jitted, _, _ = run_updates(opt, params, grads, jit=True)
    for a, b in zip(eager, jitted, strict=True):
        assert_trees_close(a, b, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("k", [0, -2])
def test_every_k_below_one_is_a_construction_error(k):
    with pytest.raises(ValueError, match=r"MultiSteps\(every_k_schedule=-?\d\)"):
        gradtx.MultiSteps(gradtx.sgd(0.1), every_k_schedule=k)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"opt": "adam", "every_k_schedule": 2},
        {"opt": gradtx.scale(1.0), "every_k_schedule": 2.5},
        {"opt": gradtx.scale(1.0), "every_k_schedule": 2, "should_skip_update_fn": 3},
    ],
)
def test_wrong_kinds_are_type_errors(kwargs):
    with pytest.raises(TypeError, match=r"MultiSteps\("):
        gradtx.MultiSteps(**kwargs)


def test_should_skip_fn_must_return_a_bool_scalar():
    bad = lambda updates, step, params: (jnp.zeros(2, bool), ())  # noqa: E731
    opt = gradtx.MultiSteps(gradtx.scale(1.0), 2, should_skip_update_fn=bad)
    with pytest.raises(ValueError, match="boolean scalar"):
        opt.update(jnp.ones(2), opt.init(jnp.ones(2)))


def test_apply_every_matches_optax():
    ours = gradtx.chain(gradtx.apply_every(3), gradtx.scale(-0.1))
    theirs = optax.chain(optax.apply_every(3), optax.scale(-0.1))
    assert_optax_parity(ours, theirs, steps=26)


def test_apply_every_validates_k():
    with pytest.raises(ValueError, match=r"apply_every\(k=0\)"):
        gradtx.apply_every(0)
