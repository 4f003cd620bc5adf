"""sgd, sign_sgd, noisy_sgd: the documented chains, Optax parity (momentum, Nesterov,
accumulator dtype, schedules), signatures and validation."""

from __future__ import annotations

import inspect

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


def _standard(tx):
    """An Optax transform run under standard promotion (the suite runs strict)."""

    def init(params):
        with jax.numpy_dtype_promotion("standard"):
            return tx.init(params)

    def update(updates, state, params=None):
        with jax.numpy_dtype_promotion("standard"):
            return tx.update(updates, state, params)

    return optax.GradientTransformation(init, update)


def _stack(trees):
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def _jitted_trajectories(txs, params, grads):
    """The updates of each transform over ``grads`` (stacked on axis 0), params following
    its own updates; all runs are one ``lax.scan`` each inside a single compiled call."""

    def trajectory(tx, params, stacked):
        def step(carry, g):
            p, state = carry
            u, state = tx.update(g, state, p)
            return (jax.tree.map(lambda x, d: x + d.astype(x.dtype), p, u), state), u

        return jax.lax.scan(step, (params, tx.init(params)), stacked)[1]

    run = jax.jit(lambda p, gs: [trajectory(tx, p, gs) for tx in txs])
    return run(params, _stack(grads))


def assert_optax_parity(ours, theirs, params=None, steps=30, rtol=1e-6, atol=0.0, eager=False):
    """``steps`` updates on the same gradients, jitted (one scan each); gradtx runs under
    the suite's strict promotion, Optax under standard promotion. With ``eager``, the
    gradtx updates are also computed op by op and compared with Optax's jitted ones; XLA
    fuses differently there, so tiny elements get ``rtol`` of the largest update as atol."""
    params = example_params() if params is None else params
    grads = gradient_sequence(params, steps, seed=1)
    ours_u, theirs_u = _jitted_trajectories([ours, _standard(theirs)], params, grads)
    assert_trees_close(ours_u, theirs_u, rtol=rtol, atol=atol, msg="jit:")
    if eager:
        ours_u = _stack(run_updates(ours, params, grads, jit=False)[0])
        scale = max((float(jnp.max(jnp.abs(x))) for x in jax.tree.leaves(theirs_u)), default=0.0)
        eager_atol = max(atol, rtol * scale)
        assert_trees_close(ours_u, theirs_u, rtol=rtol, atol=eager_atol, msg="eager:")


def first_of_each_name(cases):
    """The first case of each name in a ``[(name, kwargs)]`` table: those also run eagerly."""
    seen, out = set(), []
    for name, _kwargs in cases:
        out.append(name not in seen)
        seen.add(name)
    return out


def _schedule(count):
    return 0.1 / (1.0 + 0.1 * count.astype(jnp.float32))


def _assert_same_signature(ours, theirs):
    """Optax's positional/keyword parameters, in order, with the same defaults; gradtx
    may add keyword-only ones."""
    ours_p = inspect.signature(ours).parameters
    theirs_p = inspect.signature(theirs).parameters
    assert list(ours_p)[: len(theirs_p)] == list(theirs_p)
    for name, p in theirs_p.items():
        assert ours_p[name].kind == p.kind, name
        if p.default is not inspect.Parameter.empty and not callable(p.default):
            assert ours_p[name].default == p.default, name


PARITY = [
    ("sgd", {"learning_rate": 0.05}),
    ("sgd", {"learning_rate": 0.02, "momentum": 0.9}),
    ("sgd", {"learning_rate": _schedule, "momentum": 0.8, "nesterov": True}),
    ("sgd", {"learning_rate": 0.02, "momentum": 0.9, "accumulator_dtype": jnp.bfloat16}),
    ("sign_sgd", {"learning_rate": 0.01}),
    ("sign_sgd", {"learning_rate": _schedule}),
    ("noisy_sgd", {"learning_rate": 0.05, "key": jax.random.key(3)}),
    ("noisy_sgd", {"learning_rate": _schedule, "eta": 0.1, "gamma": 1.0, "key": 5}),
]


@pytest.mark.parametrize(
    "name,kwargs,eager",
    [(n, k, e) for (n, k), e in zip(PARITY, first_of_each_name(PARITY), strict=True)],
    ids=[f"{n}-{i}" for i, (n, _) in enumerate(PARITY)],
)
def test_optax_parity(name, kwargs, eager):
    assert_optax_parity(
        getattr(gradtx, name)(**kwargs), getattr(optax, name)(**kwargs), eager=eager
    )


@pytest.mark.parametrize("name", ["sgd", "sign_sgd", "noisy_sgd"])
def test_signatures_match_optax(name):
    _assert_same_signature(getattr(gradtx, name), getattr(optax, name))


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
        u, state = opt.update({"w": jnp.ones(2)}, state, params)
        np.testing.assert_allclose(u["w"], -0.1 / (1 + 0.1 * t), rtol=1e-6)
        assert float(gradtx.tree.get(state, "learning_rate")) == pytest.approx(0.1 / (1 + 0.1 * t))


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
