"""``gradtx.contrib.reduce_on_plateau`` is the one in ``gradtx.schedules``; it must also
reduce when the monitored value is negative (optax PR #1767)."""

from __future__ import annotations

import jax.numpy as jnp
import pytest

import gradtx

# Slow (CI runs it): trajectories against Optax and the papers.
pytestmark = pytest.mark.slow


def test_is_the_schedules_transform():
    assert gradtx.contrib.reduce_on_plateau is gradtx.schedules.reduce_on_plateau
    assert gradtx.contrib.ReduceLROnPlateauState is gradtx.schedules.ReduceLROnPlateauState


def _scales(values, **kwargs):
    tx = gradtx.contrib.reduce_on_plateau(patience=2, **kwargs)
    state = tx.init(jnp.zeros(1))
    out = []
    for v in values:
        _, state = tx.update(jnp.ones(1), state, value=jnp.asarray(v, jnp.float32))
        out.append(float(state.scale))
    return out


def test_reduces_on_a_positive_plateau():
    assert _scales([1.0] * 6)[-1] < 1.0


def test_reduces_on_a_negative_plateau():
    # Flat at -1 with noise far below rtol * |best| = 1e-4: a plateau.
    assert _scales([-1.0, -0.99999, -0.99998, -0.99999, -0.99998, -0.99999])[-1] < 1.0
