"""Schedules beyond Optax: inverse-sqrt warmup, cyclical rates, the linear scaling rule."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

# Slow (CI runs it): compiled per case.
pytestmark = pytest.mark.slow

T = np.arange(0, 200)


def _smith_clr(t, base, top, step_size, mode, gamma):
    """Smith (2017), Section 3.1, written out per iteration in float64."""
    out = []
    for it in t:
        cycle = np.floor(1 + it / (2 * step_size))
        x = np.abs(it / step_size - 2 * cycle + 1)
        scale = {"triangular": 1.0, "triangular2": 1 / 2 ** (cycle - 1), "exp_range": gamma**it}
        out.append(base + (top - base) * max(0.0, 1 - x) * scale[mode])
    return np.asarray(out)


@pytest.mark.parametrize(
    ("base", "top", "step_size", "mode", "gamma"),
    [
        (0.001, 0.006, 20, "triangular", 1.0),
        (0.001, 0.006, 7, "triangular2", 1.0),
        (0.1, 1.0, 10, "exp_range", 0.99),
        (0.95, 0.85, 15, "triangular", 1.0),  # inverted cycle (cyclical momentum)
    ],
)
def test_cyclic_matches_smith_formula(base, top, step_size, mode, gamma):
    sched = gradtx.cyclic_schedule(base, top, step_size, mode=mode, gamma=gamma)
    ref = _smith_clr(T, base, top, step_size, mode, gamma)
    np.testing.assert_allclose(np.asarray(sched(jnp.asarray(T))), ref, rtol=1e-5, atol=1e-7)


def test_cyclic_hand_values():
    tri = gradtx.cyclic_schedule(1.0, 3.0, step_size=2)
    assert [float(tri(t)) for t in range(9)] == [1.0, 2.0, 3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0]
    tri2 = gradtx.cyclic_schedule(1.0, 3.0, step_size=2, mode="triangular2")
    # Peaks at 3, 2, 1.5: the amplitude halves every cycle.
    assert [float(tri2(t)) for t in (2, 6, 10)] == [3.0, 2.0, 1.5]
    exp = gradtx.cyclic_schedule(1.0, 3.0, step_size=2, mode="exp_range", gamma=0.5)
    assert float(exp(2)) == pytest.approx(1.0 + 2.0 * 0.25)


def test_inverse_sqrt_matches_the_transformer_formula():
    d_model, warmup = 512, 4000
    sched = gradtx.inverse_sqrt_schedule(peak_value=(d_model * warmup) ** -0.5, warmup_steps=warmup)
    s = np.arange(1, 20_000, 37, dtype=np.float64)
    vaswani = d_model**-0.5 * np.minimum(s**-0.5, s * warmup**-1.5)
    np.testing.assert_allclose(np.asarray(sched(jnp.asarray(s))), vaswani, rtol=2e-5)


def test_inverse_sqrt_shape():
    sched = gradtx.inverse_sqrt_schedule(2.0, warmup_steps=10, init_value=0.2)
    assert float(sched(0)) == pytest.approx(0.2)
    assert float(sched(5)) == pytest.approx(1.1)
    assert float(sched(10)) == pytest.approx(2.0)
    assert float(sched(40)) == pytest.approx(1.0)
    assert float(sched(1000)) == pytest.approx(2.0 * np.sqrt(10 / 1000))
    values = np.asarray(sched(jnp.arange(10, 500)))
    assert np.all(np.diff(values) < 0), "decays monotonically after the warmup"


def test_linear_scaling_rule():
    assert gradtx.linear_scaling_rule(0.1, 256, 8192) == pytest.approx(3.2)
    assert gradtx.linear_scaling_rule(0.1, 256, 64) == pytest.approx(0.025)
    sched = gradtx.linear_scaling_rule(gradtx.linear_schedule(0.0, 0.1, 10), 256, 1024)
    assert float(sched(10)) == pytest.approx(0.4)
    assert float(sched(5)) == pytest.approx(0.2)
    with pytest.raises(ValueError, match=r"linear_scaling_rule\(batch=0\)"):
        gradtx.linear_scaling_rule(0.1, 256, 0)
    with pytest.raises(ValueError, match=r"linear_scaling_rule\(base_lr=nan\)"):
        gradtx.linear_scaling_rule(float("nan"), 256, 512)
    with pytest.raises(TypeError, match=r"linear_scaling_rule\(batch=2\.5\)"):
        gradtx.linear_scaling_rule(0.1, 256, 2.5)
