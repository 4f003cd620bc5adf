"""apply_if_finite: Optax parity with injected NaN/inf, skipped steps leave the state alone."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from tests.helpers import assert_trees_close, example_params, gradient_sequence, run_updates
from tests.optax_parity import assert_optax_parity
from tests.wrappers._common import adam_chain, grads_with_nans

# Slow (CI runs it): wrapper trajectories, compiled per case.
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("max_errors", [2, 5])
def test_apply_if_finite_matches_optax_with_nans(max_errors):
    # steps 27, 28, 29 are three non-finite steps in a row: with max_errors=2 the last is
    # let through (its updates are NaN, in both libraries); every other one is skipped.
    bad = (3, 10, 11, 20, 27, 28, 29)
    grads = grads_with_nans(steps=30, bad=bad)

    def make(lib):
        return lib.apply_if_finite(adam_chain(lib), max_consecutive_errors=max_errors)

    params = example_params()
    u_ours, _, s_ours = run_updates(make(gradtx), params, grads, apply=False)
    with jax.numpy_dtype_promotion("standard"):
        u_theirs, _, s_theirs = run_updates(make(optax), params, grads, apply=False)
    for t, (a, b) in enumerate(zip(u_ours, u_theirs, strict=True)):
        assert_trees_close(a, b, rtol=1e-6, msg=f"step {t}")
        finite = all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(a))
        assert finite == (t < 29 or max_errors == 5), t
        if t in bad and finite:
            assert all(not np.any(np.asarray(x)) for x in jax.tree.leaves(a)), t
    assert s_ours._fields == s_theirs._fields
    for name in ("notfinite_count", "last_finite", "total_notfinite"):
        assert int(getattr(s_ours, name)) == int(getattr(s_theirs, name)), name
    assert int(s_ours.total_notfinite) == len(bad)


def test_apply_if_finite_parity_on_a_trajectory():
    grads = grads_with_nans(steps=26, bad=(2, 7, 15))
    assert_optax_parity(
        gradtx.apply_if_finite(adam_chain(), 3),
        optax.apply_if_finite(adam_chain(optax), 3),
        grads=grads,
        rtol=1e-6,
    )


def test_skipped_step_returns_zeros_and_keeps_the_inner_state():
    tx = gradtx.apply_if_finite(adam_chain(), max_consecutive_errors=5)
    params = example_params()
    good, bad = gradient_sequence(params, 1)[0], grads_with_nans(steps=1, bad=(0,))[0]
    update = jax.jit(tx.update)
    _, state = update(good, tx.init(params), params)
    u, skipped = update(bad, state, params)
    assert all(not np.any(np.asarray(x)) for x in jax.tree.leaves(u))
    assert_trees_close(skipped.inner_state, state.inner_state, rtol=0.0)
    assert int(skipped.total_notfinite) == 1 and not bool(skipped.last_finite)
    u, after = update(good, skipped, params)
    assert int(after.notfinite_count) == 0 and int(after.total_notfinite) == 1
    assert int(gradtx.tree.get(after.inner_state, "count")) == 2


def test_bfloat16_and_none_leaves():
    bf16 = jnp.bfloat16
    params = {"w": jnp.ones(3, bf16), "none": None}
    tx = gradtx.apply_if_finite(adam_chain(), 1)
    u, state = jax.jit(tx.update)(
        {"w": jnp.array([1.0, jnp.inf, 0.0], bf16), "none": None}, tx.init(params)
    )
    assert u["none"] is None and u["w"].dtype == bf16 and not np.any(np.asarray(u["w"]))
    assert int(state.total_notfinite) == 1


@pytest.mark.parametrize("value", [-1, 1.5, "3"])
def test_max_consecutive_errors_is_validated(value):
    error = ValueError if value == -1 else TypeError
    with pytest.raises(error, match=r"apply_if_finite\(max_consecutive_errors="):
        gradtx.apply_if_finite(gradtx.identity(), value)
