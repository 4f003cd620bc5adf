"""sgd, sign_sgd, noisy_sgd: the documented chains, Optax parity (momentum, Nesterov,
accumulator dtype, schedules), signatures and validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from tests.helpers import (
    assert_same_shapes_and_dtypes,
    assert_trees_close,
    example_params,
    gradient_sequence,
    run_updates,
)
from tests.helpers import schedule as _schedule


def test_sgd_is_the_documented_chain():
    params = example_params()
    grads = gradient_sequence(params, 5)
    ours, _, _ = run_updates(gradtx.sgd(0.1, momentum=0.9, nesterov=True), params, grads)
    chain = gradtx.chain(gradtx.trace(0.9, nesterov=True), gradtx.scale_by_learning_rate(0.1))
    expected, _, _ = run_updates(chain, params, grads)
    for a, b in zip(ours, expected, strict=True):
        assert_trees_close(a, b, rtol=0.0)


def test_sgd_closed_form_and_readable_learning_rate():
    opt = gradtx.sgd(_schedule)
    params = {"w": jnp.ones(2)}
    state = opt.init(params)
    for t in range(3):
        lr = float(gradtx.current_learning_rate(_schedule, state))
        assert lr == pytest.approx(0.1 / (1 + 0.1 * t))
        u, state = opt.update({"w": jnp.ones(2)}, state, params)
        np.testing.assert_allclose(u["w"], -0.1 / (1 + 0.1 * t), rtol=1e-6)


def test_sign_sgd_uses_only_signs():
    opt = gradtx.sign_sgd(0.5)
    g = {"w": jnp.array([1e-6, -3.0, 0.0])}
    u, _ = opt.update(g, opt.init(g))
    np.testing.assert_array_equal(u["w"], [-0.5, 0.5, 0.0])


@pytest.mark.parametrize(
    "factory",
    [
        lambda: gradtx.sgd(0.1, momentum=0.9, accumulator_dtype=jnp.float32),
        lambda: gradtx.sign_sgd(0.1),
        lambda: gradtx.noisy_sgd(0.1, key=0),
    ],
    ids=["sgd", "sign_sgd", "noisy_sgd"],
)
@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float32])
def test_dtypes_are_preserved(factory, dtype):
    params = example_params(dtype)
    opt = factory()
    state0 = opt.init(params)
    u, state = jax.jit(opt.update)(gradient_sequence(params, 1)[0], state0, params)
    assert_same_shapes_and_dtypes(u, params)
    assert_same_shapes_and_dtypes(state, state0)


def test_float64_and_empty_trees(x64):
    params = example_params(jnp.float64)
    for opt in (gradtx.sgd(0.1, momentum=0.5), gradtx.sign_sgd(0.1), gradtx.noisy_sgd(0.1)):
        u, _ = opt.update(gradient_sequence(params, 1)[0], opt.init(params), params)
        assert_same_shapes_and_dtypes(u, params)
        assert opt.update({}, opt.init({}), {})[0] == {}


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: gradtx.sgd(float("nan")), r"sgd\(learning_rate=nan\)"),
        (lambda: gradtx.sgd(0.1, momentum=1.0), r"sgd\(momentum=1\.0\)"),
        (lambda: gradtx.sign_sgd(float("inf")), r"sign_sgd\(learning_rate=inf\)"),
        (lambda: gradtx.noisy_sgd(0.1, eta=-1.0), r"add_noise\(eta=-1\.0\)"),
    ],
)
def test_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()
