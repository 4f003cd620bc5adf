"""inject_hyperparams: runtime hyperparameters, schedules, no recompilation, Optax parity."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from tests.helpers import assert_trees_close, example_params, gradient_sequence

# Slow (CI runs it): compiled per case.
pytestmark = pytest.mark.slow


def ours_adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8):
    return gradtx.chain(
        gradtx.scale_by_adam(b1=b1, b2=b2, eps=eps), gradtx.scale_by_learning_rate(learning_rate)
    )


def optax_adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8):
    return optax.chain(
        optax.scale_by_adam(b1=b1, b2=b2, eps=eps), optax.scale_by_learning_rate(learning_rate)
    )


def ours_sgd(step_size, b1=0.9):
    return gradtx.chain(gradtx.scale_by_adam(b1=b1, b2=0.5), gradtx.scale(step_size))


def optax_sgd(step_size, b1=0.9):
    return optax.chain(optax.scale_by_adam(b1=b1, b2=0.5), optax.scale(step_size))


def _run(tx, params, grads, overrides=None, jit=True, promotion="strict"):
    """Updates per step; ``overrides[t] = {name: value}`` is set before step t."""
    update = jax.jit(tx.update) if jit else tx.update
    with jax.numpy_dtype_promotion(promotion):
        state = tx.init(params)
        history = []
        for t, g in enumerate(grads):
            for name, value in (overrides or {}).get(t, {}).items():
                state.hyperparams[name] = jnp.asarray(value, jnp.float32)
            u, state = update(g, state, params)
            history.append(u)
    return history, state


SCHED = optax.piecewise_interpolate_schedule("linear", 0.05, {5: 0.2, 15: 4.0})
OURS_SCHED = gradtx.piecewise_interpolate_schedule("linear", 0.05, {5: 0.2, 15: 4.0})

PARITY = [
    (
        "adam-constant",
        ours_adam,
        optax_adam,
        dict(learning_rate=0.03, b2=0.99),
        dict(learning_rate=0.03, b2=0.99),
    ),
    (
        "adam-schedule",
        ours_adam,
        optax_adam,
        dict(learning_rate=OURS_SCHED, b1=0.8),
        dict(learning_rate=SCHED, b1=0.8),
    ),
    ("sgd-like", ours_sgd, optax_sgd, dict(step_size=-0.1), dict(step_size=-0.1)),
]


@pytest.mark.parametrize(
    ("ours", "theirs", "ours_kw", "theirs_kw"),
    [p[1:] for p in PARITY],
    ids=[p[0] for p in PARITY],
)
def test_matches_optax_inject_hyperparams(ours, theirs, ours_kw, theirs_kw):
    params = example_params()
    grads = gradient_sequence(params, 20)
    name = next(iter(ours_kw))
    overrides = {} if callable(ours_kw[name]) else {8: {name: 0.5 * ours_kw[name]}}
    overrides.setdefault(12, {})["b1"] = 0.5
    ours_u, ours_state = _run(gradtx.inject_hyperparams(ours)(**ours_kw), params, grads, overrides)
    theirs_u, theirs_state = _run(
        optax.inject_hyperparams(theirs)(**theirs_kw),
        params,
        grads,
        overrides,
        promotion="standard",
    )
    for t, (a, b) in enumerate(zip(ours_u, theirs_u, strict=True)):
        assert_trees_close(a, b, rtol=2e-6, atol=1e-9, msg=f"step {t}")
    assert sorted(ours_state.hyperparams) == sorted(theirs_state.hyperparams)
    for k in ours_state.hyperparams:
        np.testing.assert_allclose(ours_state.hyperparams[k], theirs_state.hyperparams[k], 1e-6)


def test_matches_optax_for_the_aliases():
    params = example_params()
    grads = gradient_sequence(params, 8)
    for ours, theirs, kw in [
        (gradtx.adam, optax.adam, dict(learning_rate=0.01, b1=0.8)),
        (gradtx.sgd, optax.sgd, dict(learning_rate=0.1, momentum=0.9)),
    ]:
        a, _ = _run(gradtx.inject_hyperparams(ours)(**kw), params, grads)
        b, _ = _run(optax.inject_hyperparams(theirs)(**kw), params, grads, promotion="standard")
        for t, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_trees_close(x, y, rtol=2e-6, atol=1e-9, msg=f"{ours.__name__} step {t}")


def test_plain_transform_equals_injected_one_under_jit():
    params = example_params()
    grads = gradient_sequence(params, 5)
    plain, _ = _run(ours_adam(0.01, b1=0.7), params, grads)
    injected, _ = _run(gradtx.inject_hyperparams(ours_adam)(0.01, b1=0.7), params, grads)
    # 1 - b2 computed from a float32 b2 (0.999) carries ~1e-5 relative error against the
    # Python-float arithmetic of the plain transform (the same holds in Optax).
    for a, b in zip(plain, injected, strict=True):
        assert_trees_close(a, b, rtol=2e-5)


def test_changing_a_hyperparameter_takes_effect_without_recompiling():
    tx = gradtx.inject_hyperparams(ours_adam)(learning_rate=0.1)
    params = jnp.zeros(3)
    traces = []

    def update(g, s, p):
        traces.append(None)
        return tx.update(g, s, p)

    update = jax.jit(update)
    state = tx.init(params)
    g = jnp.asarray([1.0, -2.0, 3.0])
    u0, state = update(g, state, params)
    for lr in (0.01, 0.5, 3.0):
        state.hyperparams["learning_rate"] = jnp.asarray(lr, jnp.float32)
        u, state = update(g, state, params)
        # Adam's direction is unchanged for a constant gradient, only the rate moves.
        np.testing.assert_allclose(np.asarray(u), np.asarray(u0) * lr / 0.1, rtol=1e-5)
        assert float(gradtx.current_learning_rate(None, state)) == pytest.approx(lr)
    state.hyperparams["b1"] = jnp.asarray(0.0, jnp.float32)
    update(g, state, params)
    assert len(traces) == 1, "changing a hyperparameter recompiled the update"


def test_schedule_is_evaluated_at_the_step_count():
    sched = gradtx.warmup_cosine_decay_schedule(0.0, 1.0, 2, 10)
    tx = gradtx.inject_hyperparams(ours_adam)(learning_rate=sched)
    params = jnp.zeros(2)
    state = tx.init(params)
    assert float(state.hyperparams["learning_rate"]) == pytest.approx(float(sched(0)))
    update = jax.jit(tx.update)
    for t in range(12):
        _, state = update(jnp.ones(2), state, params)
        assert float(state.hyperparams["learning_rate"]) == pytest.approx(float(sched(t)))
        assert int(state.count) == t + 1
    # Assigning a scheduled hyperparameter by hand is overwritten by the schedule.
    state.hyperparams["learning_rate"] = jnp.asarray(123.0, jnp.float32)
    _, state = update(jnp.ones(2), state, params)
    assert float(state.hyperparams["learning_rate"]) == pytest.approx(float(sched(12)))


def test_bfloat16_params_keep_float32_hyperparameters():
    params = {"w": jnp.ones((4,), jnp.bfloat16)}
    tx = gradtx.inject_hyperparams(gradtx.scale_by_adam)(b1=0.9, b2=0.999)
    state = tx.init(params)
    assert state.hyperparams["b2"].dtype == jnp.float32
    assert float(state.hyperparams["b2"]) == pytest.approx(0.999)  # not rounded to 1
    update = jax.jit(tx.update)
    g = {"w": jnp.full((4,), 0.5, jnp.bfloat16)}
    for _ in range(3):
        u, state = update(g, state, params)
    assert u["w"].dtype == jnp.bfloat16
    assert state.inner_state.mu["w"].dtype == jnp.bfloat16
    assert state.hyperparams["b2"].dtype == jnp.float32
    # Optax stores them in the parameters' dtype, where 0.999 rounds to 1.
    with jax.numpy_dtype_promotion("standard"):
        theirs = optax.inject_hyperparams(optax.scale_by_adam)(b2=0.999).init(params)
    assert float(theirs.hyperparams["b2"]) == 1.0


def test_hyperparam_dtype_override_and_float64(x64):
    tx = gradtx.inject_hyperparams(gradtx.scale_by_adam, hyperparam_dtype=jnp.bfloat16)(b1=0.5)
    assert tx.init(jnp.zeros(2)).hyperparams["b1"].dtype == jnp.bfloat16
    tx = gradtx.inject_hyperparams(gradtx.scale_by_adam)(b1=0.5)
    state = tx.init(jnp.zeros(2, jnp.float64))
    assert state.hyperparams["b1"].dtype == jnp.float64
    u, state = jax.jit(tx.update)(jnp.ones(2, jnp.float64), state)
    assert u.dtype == jnp.float64 and state.hyperparams["b1"].dtype == jnp.float64


def test_state_fields_are_optaxs():
    # Optax 0.2.8: always InjectStatefulHyperparamsState; a plain schedule keeps its
    # count in a WrappedScheduleState.
    tx = gradtx.inject_hyperparams(gradtx.scale)(step_size=0.5)
    state = tx.init(jnp.zeros(2))
    assert (
        type(state).__name__
        == type(optax.inject_hyperparams(optax.scale)(0.5).init(jnp.zeros(2))).__name__
    )
    assert isinstance(state, gradtx.InjectStatefulHyperparamsState)
    assert state._fields == optax.InjectStatefulHyperparamsState._fields
    assert state.hyperparams_states == {}
    assert gradtx.InjectHyperparamsState._fields == optax.InjectHyperparamsState._fields
    scheduled = gradtx.inject_hyperparams(gradtx.scale)(
        step_size=lambda c: -0.1 * c.astype(jnp.float32)
    )
    state = scheduled.init(jnp.zeros(2))
    assert isinstance(state.hyperparams_states["step_size"], gradtx.WrappedScheduleState)
    for _ in range(3):
        _, state = scheduled.update(jnp.ones(2), state)
    assert int(state.hyperparams_states["step_size"].count) == 3
    np.testing.assert_allclose(state.hyperparams["step_size"], -0.2)


def test_explicit_bfloat16_hyperparameter_keeps_its_dtype():
    # Issue 14 item 15: an explicit array dtype is the user's choice (as in Optax);
    # Python floats stay float32 next to bfloat16 parameters.
    params = jnp.ones(2, jnp.bfloat16)
    tx = gradtx.inject_hyperparams(gradtx.scale_by_adam)(
        b1=jnp.asarray(0.5, jnp.bfloat16), b2=0.999
    )
    state = tx.init(params)
    assert state.hyperparams["b1"].dtype == jnp.bfloat16
    assert state.hyperparams["b2"].dtype == jnp.float32
    u, state = jax.jit(tx.update)(params, state)
    assert state.hyperparams["b1"].dtype == jnp.bfloat16 and u.dtype == jnp.bfloat16
    assert state.hyperparams["b2"].dtype == jnp.float32


def test_static_args_keep_callables_and_numbers_static():
    def factory(step_size, fn):
        return gradtx.stateless(lambda u, p: jax.tree.map(lambda x: fn(x) * step_size, u))

    tx = gradtx.inject_hyperparams(factory, static_args="fn")(step_size=2.0, fn=jnp.square)
    state = tx.init(jnp.zeros(2))
    assert list(state.hyperparams) == ["step_size"]
    u, _ = tx.update(jnp.asarray([1.0, 3.0]), state)
    np.testing.assert_allclose(np.asarray(u), [2.0, 18.0])
    # Booleans and strings stay static without being named.
    tx = gradtx.inject_hyperparams(gradtx.scale_by_adam)(nesterov=True)
    assert "nesterov" not in tx.init(jnp.zeros(2)).hyperparams


class CountState(NamedTuple):
    calls: jax.Array


class HalveOnHighLoss:
    """A stateful schedule: 1.0, halved after every update whose loss exceeds 1."""

    def init(self):
        return CountState(jnp.zeros([], jnp.int32))

    def update(self, state, value=None, **extra):
        return CountState(state.calls + (value > 1.0).astype(jnp.int32))

    def __call__(self, state, **extra):
        return 0.5 ** state.calls.astype(jnp.float32)


def test_stateful_schedule():
    tx = gradtx.inject_hyperparams(gradtx.scale)(step_size=HalveOnHighLoss())
    state = tx.init(jnp.zeros(1))
    assert isinstance(state, gradtx.InjectStatefulHyperparamsState)
    update = jax.jit(tx.update)
    seen = []
    for loss in (2.0, 0.5, 3.0, 4.0):
        u, state = update(jnp.ones(1), state, value=jnp.float32(loss))
        seen.append(float(u[0]))
    assert seen == [1.0, 0.5, 0.5, 0.25]


def test_construction_errors():
    with pytest.raises(ValueError, match=r"scale_by_adam\(b1=1\.5\): b1 must be in \[0, 1\)"):
        gradtx.inject_hyperparams(gradtx.scale_by_adam)(b1=1.5)
    with pytest.raises(ValueError, match=r"cosine_decay_schedule\(alpha=2\.0\)"):
        gradtx.inject_hyperparams(gradtx.scale_by_adam)(
            b1=gradtx.cosine_decay_schedule(0.9, 10, alpha=2.0)
        )
    with pytest.raises(ValueError, match=r"inject_hyperparams\(static_args=\['bogus'\]\)"):
        gradtx.inject_hyperparams(gradtx.scale_by_adam, static_args=("bogus",))
    with pytest.raises(TypeError, match=r"inject_hyperparams\(inner_factory=3\)"):
        gradtx.inject_hyperparams(3)
    with pytest.raises(TypeError):
        gradtx.inject_hyperparams(gradtx.scale_by_adam)(bogus=1.0)


def test_reduce_on_plateau_can_be_injected():
    tx = gradtx.inject_hyperparams(gradtx.reduce_on_plateau)(factor=0.5, patience=2)
    state = tx.init(jnp.zeros(2))
    assert state.hyperparams["patience"].dtype == jnp.int32
    update = jax.jit(tx.update)
    for loss in (1.0, 1.0, 1.0):
        u, state = update(jnp.ones(2), state, value=jnp.float32(loss))
    assert float(gradtx.tree.get(state, "scale")) == 0.5
    state.hyperparams["factor"] = jnp.asarray(0.1, jnp.float32)
    for loss in (1.0, 1.0):
        u, state = update(jnp.ones(2), state, value=jnp.float32(loss))
    assert float(gradtx.tree.get(state, "scale")) == pytest.approx(0.05)
    assert update._cache_size() == 1
