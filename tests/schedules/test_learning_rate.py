"""The current learning rate is readable from any optimizer's (Optax-shaped) state."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

# Slow (CI runs it): compiled per case.
pytestmark = pytest.mark.slow

SCHEDULE = gradtx.warmup_cosine_decay_schedule(
    0.0, 1e-2, warmup_steps=3, decay_steps=12, end_value=1e-4
)


def _check_reads_schedule(tx):
    params = {"w": jnp.ones((2, 3)), "b": jnp.zeros(3)}
    state = tx.init(params)
    step = jax.jit(tx.update)
    grads = jax.tree.map(jnp.ones_like, params)
    seen = []
    for _ in range(15):
        # The rate the next update applies, read before it.
        seen.append(float(gradtx.current_learning_rate(SCHEDULE, state)))
        _, state = step(grads, state, params)
    expected = [float(SCHEDULE(t)) for t in range(15)]
    np.testing.assert_allclose(seen, expected, rtol=1e-6, atol=1e-12)
    assert max(seen) == pytest.approx(1e-2) and seen[-1] == pytest.approx(1e-4)


def test_chain_of_adam_and_scheduled_learning_rate():
    tx = gradtx.chain(gradtx.scale_by_adam(), gradtx.scale_by_learning_rate(SCHEDULE))
    _check_reads_schedule(tx)


def test_applied_rate_is_the_one_read_before_the_update():
    tx = gradtx.chain(gradtx.scale_by_learning_rate(SCHEDULE))
    params = jnp.zeros(2)
    state = tx.init(params)
    for t in range(6):
        lr = float(gradtx.current_learning_rate(SCHEDULE, state))
        updates, state = tx.update(jnp.ones(2), state, params)
        np.testing.assert_allclose(np.asarray(updates), -lr * np.ones(2), rtol=1e-6)
        assert lr == pytest.approx(float(SCHEDULE(t)))


def test_adamw_alias_and_under_multisteps():
    _check_reads_schedule(gradtx.adamw(SCHEDULE, weight_decay=1e-4))
    # Under MultiSteps the schedule counts the applied (outer) steps.
    tx = gradtx.MultiSteps(gradtx.adamw(SCHEDULE), every_k_schedule=2)
    params = jnp.ones(2)
    state = tx.init(params)
    for _ in range(6):
        _, state = tx.update(jnp.ones(2), state, params)
    assert float(gradtx.current_learning_rate(SCHEDULE, state)) == pytest.approx(float(SCHEDULE(3)))


def test_constant_rate_and_state_structure_is_optaxs():
    state = gradtx.sgd(0.1, momentum=0.9).init(jnp.zeros(2))
    assert isinstance(state[-1], gradtx.EmptyState)
    assert float(gradtx.current_learning_rate(0.1, state)) == pytest.approx(0.1)
    assert gradtx.current_learning_rate(jnp.asarray(0.25), state).dtype == jnp.float32


def test_injected_learning_rate_wins_and_follows_assignment():
    tx = gradtx.inject_hyperparams(gradtx.adam)(learning_rate=0.1)
    state = tx.init(jnp.zeros(2))
    assert float(gradtx.current_learning_rate(None, state)) == pytest.approx(0.1)
    state.hyperparams["learning_rate"] = jnp.asarray(0.02, jnp.float32)
    _, state = jax.jit(tx.update)(jnp.ones(2), state)
    assert float(gradtx.current_learning_rate(None, state)) == pytest.approx(0.02)
    scheduled = gradtx.inject_hyperparams(gradtx.adam)(learning_rate=SCHEDULE)
    state = scheduled.init(jnp.zeros(2))
    for _ in range(4):
        _, state = scheduled.update(jnp.ones(2), state)
    # The value used by the last update.
    assert float(gradtx.current_learning_rate(SCHEDULE, state)) == pytest.approx(float(SCHEDULE(3)))


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="exactly one ScaleByScheduleState"):
        gradtx.current_learning_rate(SCHEDULE, gradtx.sgd(0.1).init(jnp.zeros(2)))
    with pytest.raises(ValueError, match="no injected learning_rate"):
        gradtx.current_learning_rate(None, gradtx.sgd(0.1).init(jnp.zeros(2)))
