"""Optax's conditional wrappers, selective_transform and measurement transforms (issue 15):
Optax parity over 30 steps, state structure, jit/scan and validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from tests.helpers import assert_trees_close, example_params, gradient_sequence
from tests.optax_parity import assert_optax_parity

# Slow (CI runs it): wrapper trajectories, compiled per case.
pytestmark = pytest.mark.slow


def _every_third(step):
    return step % 3 == 0


def _wrapper_cases(lib):
    return {
        "conditionally_mask": lib.conditionally_mask(lib.scale_by_adam(b1=0.5), _every_third),
        "conditionally_transform": lib.conditionally_transform(
            lib.chain(lib.scale_by_adam(), lib.scale(-0.1)), lambda step: step >= 5
        ),
        "selective_transform": lib.selective_transform(
            lib.adam(0.1), freeze_mask={"dense": {"w": False, "b": True}, "scalar": False}
        ),
        "snapshot": lib.chain(
            lib.snapshot("sq", lambda u: jax.tree.map(jnp.square, u)), lib.sgd(0.1)
        ),
        "measure_chain": lib.chain(
            lib.monitor(
                {
                    "norm": lambda u: jnp.sqrt(sum(jnp.sum(x**2) for x in jax.tree.leaves(u))),
                    "max_ema": lib.measure_with_ema(
                        lambda u: jnp.max(jnp.abs(jax.tree.leaves(u)[0])), decay=0.7
                    ),
                }
            ),
            lib.sgd(0.1),
        ),
    }


# Optax's monitor state grows on its first update (an empty dict of measurements), so it
# cannot be a scan carry: the measure chain is compared step by step below instead.
@pytest.mark.parametrize("name", sorted(set(_wrapper_cases(gradtx)) - {"measure_chain"}))
def test_updates_match_optax(name):
    assert_optax_parity(_wrapper_cases(gradtx)[name], _wrapper_cases(optax)[name], steps=30)


def test_measurements_match_optax():
    ours, theirs = _wrapper_cases(gradtx)["measure_chain"], _wrapper_cases(optax)["measure_chain"]
    params = example_params()
    s_ours, s_theirs = ours.init(params), theirs.init(params)
    for g in gradient_sequence(params, 30, seed=3):
        u_ours, s_ours = jax.jit(ours.update)(g, s_ours)
        with jax.numpy_dtype_promotion("standard"):
            u_theirs, s_theirs = jax.jit(theirs.update)(g, s_theirs)
        assert_trees_close(u_ours, u_theirs, rtol=1e-6)
        for key in ("norm", "max_ema"):
            np.testing.assert_allclose(
                gradtx.tree.get(s_ours, key), optax.tree.get(s_theirs, key), rtol=1e-6
            )
    assert type(s_ours[0]).__name__ == type(s_theirs[0]).__name__ == "MonitorState"
    assert s_ours[0]._fields == s_theirs[0]._fields


def test_conditional_states_match_optax():
    for name, cls in [
        ("conditionally_mask", "ConditionallyMaskState"),
        ("conditionally_transform", "ConditionallyTransformState"),
    ]:
        ours = getattr(gradtx, name)(gradtx.scale_by_adam(), _every_third).init(jnp.ones(2))
        theirs = getattr(optax, name)(optax.scale_by_adam(), _every_third).init(jnp.ones(2))
        assert type(ours).__name__ == cls and ours._fields == theirs._fields
        assert ours.step.dtype == theirs.step.dtype == jnp.int32


def test_monitor_state_structure_is_fixed_so_it_scans():
    """Optax starts from an empty dict of measurements; gradtx from zeros of their shape."""
    tx = gradtx.chain(gradtx.monitor({"norm": gradtx.tree.l2_norm}), gradtx.sgd(0.1))
    params = {"w": jnp.ones(3)}
    state0 = tx.init(params)
    assert float(gradtx.tree.get(state0, "norm")) == 0.0

    def body(carry, _):
        p, s = carry
        u, s = tx.update(p, s, p)
        return (gradtx.apply_updates(p, u), s), gradtx.tree.get(s, "norm")

    (_, state), norms = jax.lax.scan(body, (params, state0), length=5)
    np.testing.assert_allclose(norms, np.sqrt(3) * 0.9 ** np.arange(5), rtol=1e-6)
    assert jax.tree.structure(state) == jax.tree.structure(state0)


def test_measure_with_ema_debiases():
    tx = gradtx.measure_with_ema(lambda u: jnp.sum(u), decay=0.5)
    state = tx.init(jnp.zeros(2))
    outs = []
    for v in (2.0, 4.0):
        m, state = tx.update(jnp.full(2, v / 2), state)
        outs.append(float(m))
    # m1 = 0.5*2 = 1, /(1-0.5) = 2; m2 = 0.5*1 + 0.5*4 = 2.5, /(1-0.25) = 10/3
    assert outs == pytest.approx([2.0, 10 / 3])


def test_conditionally_transform_counts_inner_steps_only_when_applied():
    tx = gradtx.conditionally_transform(gradtx.scale_by_adam(), _every_third)
    state = tx.init(jnp.ones(2))
    for _ in range(7):
        _, state = jax.jit(tx.update)(jnp.ones(2), state)
    assert int(state.step) == 7 and int(state.inner_state.count) == 3


def test_condition_sees_extra_args_only_when_forwarded():
    seen = []

    def cond(step, **extra):
        seen.append(sorted(extra))
        return step >= 0

    for forward in (False, True):
        tx = gradtx.conditionally_mask(gradtx.scale(1.0), cond, forward_extra_args=forward)
        tx.update(jnp.ones(1), tx.init(jnp.ones(1)), None, loss=jnp.array(1.0))
    assert seen == [[], ["loss"]]


def test_selective_transform_freezes_the_masked_leaves():
    params = {"a": jnp.ones(2), "b": jnp.ones(3)}
    tx = gradtx.selective_transform(gradtx.adam(0.1), freeze_mask={"a": True, "b": False})
    u, _ = tx.update(params, tx.init(params), params)
    np.testing.assert_array_equal(u["a"], 0.0)
    assert bool(jnp.all(u["b"] < 0))


def test_one_implementation_behind_each_transforms_name():
    for name in ["monitor", "snapshot", "masked", "MultiSteps", "chain", "conditionally_mask"]:
        assert getattr(gradtx.transforms, name) is getattr(gradtx, name)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (
            lambda: gradtx.conditionally_mask(3, _every_third),
            TypeError,
            r"conditionally_mask\(inner=3",
        ),
        (
            lambda: gradtx.conditionally_transform(gradtx.scale(1.0), 3),
            TypeError,
            r"conditionally_transform\(should_transform_fn=3\)",
        ),
        (lambda: gradtx.snapshot("x", 3), TypeError, r"snapshot\(measure=3\)"),
        (lambda: gradtx.measure_with_ema(3, 0.9), TypeError, r"measure_with_ema\(measure=3\)"),
        (lambda: gradtx.measure_with_ema(jnp.sum, 1.5), ValueError, r"ema\(decay=1.5\)"),
        (lambda: gradtx.monitor({1: jnp.sum}), TypeError, "must be strings"),
        (
            lambda: gradtx.selective_transform(3, freeze_mask=True),
            TypeError,
            r"selective_transform\(optimizer=3",
        ),
    ],
)
def test_bad_arguments_raise(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_snapshot_keeps_the_dtype_of_its_first_measurement():
    tx = gradtx.snapshot("n", gradtx.tree.l2_norm)
    params = {"w": jnp.ones(2, jnp.bfloat16)}
    state = tx.init(params)
    _, new = jax.jit(tx.update)(params, state)
    assert jax.tree.map(lambda x: x.dtype, new) == jax.tree.map(lambda x: x.dtype, state)
    assert_trees_close(new.measurement["n"], jnp.sqrt(2.0))
