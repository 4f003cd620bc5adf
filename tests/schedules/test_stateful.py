"""StatefulSchedule and WrappedSchedule (issue 15): the protocol, and a wrapped schedule
driving inject_stateful_hyperparams like a plain one."""

from __future__ import annotations

import jax.numpy as jnp
import optax
import pytest

import gradtx

# Slow (CI runs it): compiled per case.
pytestmark = pytest.mark.slow


def _schedule(count):
    return 0.1 / (1.0 + count.astype(jnp.float32))


def test_wrapped_schedule_counts_like_optax():
    ours, theirs = gradtx.schedules.WrappedSchedule(_schedule), optax.WrappedSchedule(_schedule)
    s_ours, s_theirs = ours.init(), theirs.init()
    for _ in range(30):
        assert float(ours(s_ours, loss=1.0)) == float(theirs(s_theirs))
        s_ours, s_theirs = ours.update(s_ours, loss=1.0), theirs.update(s_theirs)
    assert int(s_ours.count) == int(s_theirs.count) == 30
    assert s_ours.count.dtype == jnp.int32


def test_protocol_and_schedule_names():
    assert isinstance(gradtx.schedules.WrappedSchedule(_schedule), gradtx.StatefulSchedule)
    assert not isinstance(_schedule, gradtx.StatefulSchedule)
    assert gradtx.schedules.Schedule is gradtx.Schedule


def test_wrapped_schedule_drives_an_injected_hyperparameter():
    tx = gradtx.inject_stateful_hyperparams(gradtx.sgd)(
        learning_rate=gradtx.schedules.WrappedSchedule(_schedule)
    )
    plain = gradtx.inject_hyperparams(gradtx.sgd)(learning_rate=_schedule)
    g = jnp.ones(2)
    s, p = tx.init(g), plain.init(g)
    for _ in range(5):
        u, s = tx.update(g, s)
        v, p = plain.update(g, p)
        assert float(u[0]) == float(v[0])
