"""The applied learning rate is readable from any optimizer's state."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

SCHEDULE = gradtx.warmup_cosine_decay_schedule(
    0.0, 1e-2, warmup_steps=3, decay_steps=12, end_value=1e-4
)


def _check_reads_schedule(tx):
    params = {"w": jnp.ones((2, 3)), "b": jnp.zeros(3)}
    state = tx.init(params)
    # Before any update: the rate the first update will apply.
    assert float(gradtx.tree.get(state, "learning_rate")) == pytest.approx(float(SCHEDULE(0)))
    step = jax.jit(tx.update)
    grads = jax.tree.map(jnp.ones_like, params)
    seen = []
    for _ in range(15):
        _, state = step(grads, state, params)
        seen.append(float(gradtx.tree.get(state, "learning_rate")))
    expected = [float(SCHEDULE(t)) for t in range(15)]
    np.testing.assert_allclose(seen, expected, rtol=1e-6, atol=1e-12)
    assert max(seen) == pytest.approx(1e-2) and seen[-1] == pytest.approx(1e-4)


def test_chain_of_adam_and_scheduled_learning_rate():
    tx = gradtx.chain(gradtx.scale_by_adam(), gradtx.scale_by_learning_rate(SCHEDULE))
    _check_reads_schedule(tx)


def test_applied_rate_is_the_one_in_the_state():
    tx = gradtx.chain(gradtx.scale_by_learning_rate(SCHEDULE))
    params = jnp.zeros(2)
    state = tx.init(params)
    for t in range(6):
        updates, state = tx.update(jnp.ones(2), state, params)
        lr = float(gradtx.tree.get(state, "learning_rate"))
        np.testing.assert_allclose(np.asarray(updates), -lr * np.ones(2), rtol=1e-6)
        assert lr == pytest.approx(float(SCHEDULE(t)))


def test_adamw_alias_when_available():
    if not hasattr(gradtx, "adamw"):
        pytest.skip("gradtx.adamw is not written yet")
    _check_reads_schedule(gradtx.adamw(SCHEDULE, weight_decay=1e-4))
