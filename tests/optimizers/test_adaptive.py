"""adagrad, rmsprop, adadelta, adafactor: the documented chains, Optax parity with non-default
hyperparameters, schedules and masks, signatures and validation."""

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

# Slow (CI runs it): trajectories and dtype checks of each alias.
pytestmark = pytest.mark.slow


def _not_vector(tree):
    return jax.tree.map(lambda x: jnp.ndim(x) != 1, tree)


def _tensor_params():
    return {
        "dense": {"w": jnp.linspace(-1.0, 1.0, 24).reshape(6, 4), "b": jnp.full((4,), 0.1)},
        "conv": jnp.linspace(-0.5, 0.5, 60).reshape(3, 4, 5),
        "scalar": jnp.asarray(0.5),
    }


def test_adadelta_without_learning_rate_descends():
    # Optax 0.2.8 returns +scale_by_adadelta (ascent) here; gradtx uses a unit rate.
    params = {"w": jnp.array([1.0, -2.0])}
    opt = gradtx.adadelta()
    u, _ = opt.update(params, opt.init(params), params)
    expected, _ = gradtx.scale_by_adadelta().update(params, gradtx.scale_by_adadelta().init(params))
    assert_trees_close(u, jax.tree.map(lambda x: -x, expected), rtol=0.0)
    assert isinstance(opt.init(params)[-1], gradtx.EmptyState)  # scale_by_learning_rate(1.0)


def test_rmsprop_is_the_documented_chain():
    params = example_params()
    grads = gradient_sequence(params, 5)
    ours, _, _ = run_updates(
        gradtx.rmsprop(0.01, centered=True, momentum=0.9, nesterov=True), params, grads
    )
    chain = gradtx.chain(
        gradtx.scale_by_stddev(),
        gradtx.scale_by_learning_rate(0.01),
        gradtx.trace(0.9, nesterov=True),
    )
    expected, _, _ = run_updates(chain, params, grads)
    for a, b in zip(ours, expected, strict=True):
        assert_trees_close(a, b, rtol=0.0)


def test_adagrad_first_step_closed_form():
    # G_1 = a + g^2, so u_1 = -lr * g / sqrt(a + g^2 + eps).
    opt = gradtx.adagrad(0.5, initial_accumulator_value=1.0, eps=0.0)
    g = jnp.array([0.0, 3.0])
    u, _ = opt.update(g, opt.init(g))
    np.testing.assert_allclose(u, [0.0, -0.5 * 3.0 / np.sqrt(10.0)], rtol=1e-6)


def test_adafactor_state_is_sublinear():
    params = {"w": jnp.zeros((256, 512)), "b": jnp.zeros((512,))}
    state = gradtx.adafactor(0.01).init(params)
    factored = gradtx.tree.get(state, "v_row")["w"].size + gradtx.tree.get(state, "v_col")["w"].size
    assert factored == 256 + 512
    assert gradtx.tree.get(state, "v")["b"].shape == (512,)


FACTORIES = [
    lambda: gradtx.adagrad(0.1),
    lambda: gradtx.rmsprop(0.01, centered=True, momentum=0.9),
    lambda: gradtx.adadelta(0.5, weight_decay=0.01),
    lambda: gradtx.adafactor(0.05, min_dim_size_to_factor=3, momentum=0.9, weight_decay_rate=0.01),
]


@pytest.mark.parametrize("factory", FACTORIES, ids=["adagrad", "rmsprop", "adadelta", "adafactor"])
@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float32])
def test_dtypes_are_preserved(factory, dtype):
    params = example_params(dtype)
    opt = factory()
    state0 = opt.init(params)
    u, state = jax.jit(opt.update)(gradient_sequence(params, 1)[0], state0, params)
    assert_same_shapes_and_dtypes(u, params)
    assert_same_shapes_and_dtypes(state, state0)
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(u))


@pytest.mark.parametrize("factory", FACTORIES, ids=["adagrad", "rmsprop", "adadelta", "adafactor"])
def test_float64_and_empty_trees(x64, factory):
    params = example_params(jnp.float64)
    opt = factory()
    u, _ = opt.update(gradient_sequence(params, 1)[0], opt.init(params), params)
    assert_same_shapes_and_dtypes(u, params)
    assert opt.update({}, opt.init({}), {})[0] == {}


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda: gradtx.adagrad(float("nan")), ValueError, r"adagrad\(learning_rate=nan\)"),
        (lambda: gradtx.rmsprop(0.1, momentum=1.5), ValueError, r"rmsprop\(momentum=1\.5\)"),
        (lambda: gradtx.rmsprop(0.1, decay=1.0), ValueError, r"scale_by_rms\(decay=1\.0\)"),
        (
            lambda: gradtx.adadelta(weight_decay_mask="bias"),
            TypeError,
            r"adadelta\(weight_decay_mask='bias'\): weight_decay_mask must",
        ),
        (lambda: gradtx.adafactor(momentum=-0.1), ValueError, r"adafactor\(momentum=-0\.1\)"),
        (
            lambda: gradtx.adafactor(clipping_threshold=0.0),
            ValueError,
            r"clip_by_block_rms\(threshold=0\.0\)",
        ),
    ],
)
def test_validation(call, error, match):
    with pytest.raises(error, match=match):
        call()


TRACED = [
    ("adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.1, "eps": 1e-7}),
    ("rmsprop", {"learning_rate": 0.1, "decay": 0.9, "eps": 1e-8, "momentum": 0.9}),
    ("adadelta", {"learning_rate": 0.1, "rho": 0.9, "eps": 1e-6, "weight_decay": 0.1}),
    (
        "adafactor",
        {
            "learning_rate": 0.1,
            "decay_rate": 0.8,
            "momentum": 0.9,
            "weight_decay_rate": 0.1,
            "clipping_threshold": 1.0,
        },
    ),
]


@pytest.mark.parametrize("name,kwargs", TRACED, ids=[n for n, _ in TRACED])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_traced_hyperparameters(name, kwargs, dtype):
    """As inject_hyperparams does: float32 arrays under jit, even for bfloat16 leaves."""
    params = example_params(dtype)
    g = gradient_sequence(params, 1)[0]
    plain = getattr(gradtx, name)(**kwargs)
    expected, _ = plain.update(g, plain.init(params), params)

    @jax.jit
    def run(hparams):
        tx = getattr(gradtx, name)(**hparams)
        return tx.update(g, tx.init(params), params)[0]

    got = run({k: jnp.asarray(v, jnp.float32) for k, v in kwargs.items()})
    assert_same_shapes_and_dtypes(got, g)
    assert_trees_close(got, expected, rtol=2e-2 if dtype == jnp.bfloat16 else 1e-6, atol=1e-7)
