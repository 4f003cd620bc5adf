"""experiments.compare and steps_to_tolerance: the numbers and the printed table."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

import gradtx
from gradtx import experiments, landscapes

# Slow (CI runs it): compiled per case.
pytestmark = pytest.mark.slow

QUAD = landscapes.ill_conditioned_quadratic(condition_number=10.0, dim=2)
TXS = {"gd": gradtx.scale(-0.1), "adam": gradtx.adam(0.1)}


def test_rows_match_the_closed_form_for_gradient_descent():
    result = experiments.compare(TXS, QUAD, 60, tol=1e-3)
    assert [r.optimizer for r in result] == ["gd", "adam"] and len(result) == 2
    gd = result["gd"]
    # lr 0.1 on f = 0.5 (x^2 + 10 y^2) from (1, 1): y_t = 0 for t >= 1, x_t = 0.9^t.
    t = np.arange(61)
    gap = 0.5 * 0.81**t
    assert gd.steps_to_tol == int(np.flatnonzero(gap <= 1e-3)[0]) == 30
    assert gd.final_loss == pytest.approx(gap[-1], rel=1e-4)
    assert gd.final_distance == pytest.approx(0.9**60, rel=1e-4)
    assert gd.compile_s > 0 and gd.run_s > 0
    assert set(result.trajectories) == {"gd", "adam"}
    assert result.trajectories["gd"].losses.shape == (61,)
    assert result.target == 0.0 and result.landscape == "ill_conditioned_quadratic"
    with pytest.raises(KeyError):
        result["sgd"]


def test_table_is_fixed_width():
    result = experiments.compare(TXS, QUAD, 60, tol=1e-3)
    text = str(result)
    lines = text.splitlines()
    assert lines[0].startswith("ill_conditioned_quadratic: 60 steps, tol 0.001")
    header, rule, *rows = lines[1:]
    for title in ("optimizer", "steps to tol", "final loss", "dist to min", "compile s", "run ms"):
        assert title in header
    assert set(rule) <= {"-", " "} and len(rows) == 2
    # Right-aligned numeric columns end where their header ends.
    end = header.index("steps to tol") + len("steps to tol")
    assert rows[0][:end].rstrip().endswith("30") and rows[0].startswith("gd ")
    assert len({len(line) for line in lines[1:]}) == 1


def test_saddle_has_no_minimum_but_a_target_counts_the_escape():
    L = landscapes.saddle()
    plain = experiments.compare({"gd": gradtx.scale(-0.05)}, L, 80)
    assert plain["gd"].steps_to_tol is None and plain["gd"].final_distance is None
    assert "unbounded below" in str(plain) and " - " in str(plain).splitlines()[-1] + " "
    escape = experiments.compare({"gd": gradtx.scale(-0.05)}, L, 80, target=-1.0, tol=0.0)
    # Closed form: x_t = 0.9^t, y_t = 1e-3 * 1.1^t; first t with x^2 - y^2 <= -1.
    t = np.arange(81)
    f = 0.81**t - 1e-6 * 1.21**t
    assert escape["gd"].steps_to_tol == int(np.flatnonzero(f <= -1.0)[0])


def test_custom_start_and_noise_are_deterministic():
    key = jax.random.key(3)
    a = experiments.compare(TXS, QUAD, 30, x0=[0.5, 0.5], noise_scale=0.1, key=key)
    b = experiments.compare(TXS, QUAD, 30, x0=[0.5, 0.5], noise_scale=0.1, key=key)
    assert [r.final_loss for r in a] == [r.final_loss for r in b]
    np.testing.assert_allclose(np.asarray(a.trajectories["gd"].params[0]), [0.5, 0.5])
    with pytest.raises(ValueError, match="needs a PRNG key"):
        experiments.compare(TXS, QUAD, 30, noise_scale=0.1)


def test_argument_errors():
    with pytest.raises(ValueError, match="at least one optimizer"):
        experiments.compare({}, QUAD, 10)
    with pytest.raises(ValueError, match=r"compare\(tol=-1.0\)"):
        experiments.compare(TXS, QUAD, 10, tol=-1.0)
    with pytest.raises(ValueError, match=r"compare\(steps=-2\)"):
        experiments.compare(TXS, QUAD, -2)


def test_steps_to_tolerance():
    assert experiments.steps_to_tolerance([3.0, 2.0, 1.0], 0.0, 1.0) == 2
    assert experiments.steps_to_tolerance([3.0, 2.0, 1.0], 0.0, 5.0) == 0
    assert experiments.steps_to_tolerance([3.0, 2.0], 0.0, 0.5) is None
    assert experiments.steps_to_tolerance([math.nan, 0.0], 0.0, 0.1) == 1
    assert experiments.steps_to_tolerance([-5.0], -math.inf, 0.1) is None
