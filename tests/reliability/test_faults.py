"""Faults: non-finite gradients, saturated counters, and run-to-run determinism.

* NaN / Inf gradients under `apply_if_finite` and `dynamic_loss_scale` are skipped: the
  updates are zero, the wrapped optimizer's state is bit-for-bit what it was, and a run
  with bad steps interleaved ends exactly where the clean run ends.
* Every int32 step counter (``count``, Adan's ``t``) saturates at ``2**31 - 1`` instead
  of wrapping to a negative number: each registry entry is started at ``2**31 - 2`` and
  stepped three times, and its updates and float state stay finite.
* Two identical runs (factories called afresh, compiled afresh) are bit-identical.
  Checkpoint-resume bit-identity lives in ``tests/checkpoint/test_resume.py``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from tests.helpers import all_finite, example_params, gradient_sequence
from tests.registry import ENTRIES, Entry
from tests.test_contract import _extra

# Slow (CI runs it): non-finite gradients and determinism over the whole registry.
pytestmark = pytest.mark.slow

INT32_MAX = 2**31 - 1
COUNTER_NAMES = ("count", "t")


def _raw(x):
    if jnp.issubdtype(jnp.result_type(x), jax.dtypes.prng_key):
        return jax.random.key_data(x)
    return x


def _bitwise_equal(a, b) -> bool:
    la, da = jax.tree.flatten(jax.tree.map(_raw, a))
    lb, db = jax.tree.flatten(jax.tree.map(_raw, b))
    if da != db:
        return False
    return all(
        np.asarray(x).dtype == np.asarray(y).dtype
        and np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True)
        for x, y in zip(la, lb, strict=True)
    )


def _step_fn(entry: Entry, tx):
    def step(grads, state, params):
        return tx.update(grads, state, params, **_extra(entry, params, grads))

    return jax.jit(step)


# --- non-finite gradients --------------------------------------------------------------

INNERS = {
    "adam": lambda: gradtx.adam(0.05),
    "sgd_momentum": lambda: gradtx.sgd(0.05, momentum=0.9),
    "adafactor": lambda: gradtx.adafactor(0.05),
    "lion": lambda: gradtx.lion(0.01),
}


def _poison(grads, value):
    leaves, treedef = jax.tree.flatten(grads)
    first = leaves[0].at[(0,) * leaves[0].ndim].set(value)
    return treedef.unflatten([first, *leaves[1:]])


@pytest.mark.parametrize("inner", sorted(INNERS))
def test_apply_if_finite_skips_nan_and_inf_without_touching_state(inner):
    params = example_params()
    clean = gradient_sequence(params, 4, seed=1)
    tx = gradtx.apply_if_finite(INNERS[inner](), max_consecutive_errors=5)
    step = jax.jit(tx.update)
    ref = jax.jit(INNERS[inner]().update)

    state, ref_state = tx.init(params), INNERS[inner]().init(params)
    for t, g in enumerate(clean):
        for bad in (jnp.nan, jnp.inf, -jnp.inf):
            before = state.inner_state
            u, state = step(_poison(g, bad), state, params)
            assert all(bool(jnp.all(x == 0)) for x in jax.tree.leaves(u)), (t, bad)
            assert _bitwise_equal(state.inner_state, before), f"state changed at {t}, {bad}"
            assert not bool(state.last_finite)
        u, state = step(g, state, params)
        ref_u, ref_state = ref(g, ref_state, params)
        assert _bitwise_equal(u, ref_u), f"step {t} differs from the clean run"
        assert _bitwise_equal(state.inner_state, ref_state)
        assert all_finite((u, state))
    assert int(state.total_notfinite) == 3 * len(clean)


@pytest.mark.parametrize("inner", sorted(INNERS))
def test_dynamic_loss_scale_skips_overflow_without_touching_state(inner):
    params = example_params(jnp.float16)
    true_grads = gradient_sequence(params, 4, seed=2)
    tx = gradtx.dynamic_loss_scale(INNERS[inner](), init_scale=2.0**10, growth_interval=1000)
    step = jax.jit(tx.update)
    ref = jax.jit(INNERS[inner]().update)

    state, ref_state = tx.init(params), INNERS[inner]().init(params)
    for t, g in enumerate(true_grads):
        before, scale = state.inner_state, float(gradtx.loss_scale(state))
        u, state = step(_poison(g, jnp.inf), state, params)  # the backward pass overflowed
        assert all(bool(jnp.all(x == 0)) for x in jax.tree.leaves(u)), t
        assert _bitwise_equal(state.inner_state, before), f"state changed at {t}"
        assert float(gradtx.loss_scale(state)) == scale / 2
        # The scale is a power of two, so scaling and unscaling are exact.
        s = gradtx.loss_scale(state)
        scaled = jax.tree.map(lambda x, s=s: (x.astype(jnp.float32) * s).astype(x.dtype), g)
        u, state = step(scaled, state, params)
        ref_u, ref_state = ref(g, ref_state, params)
        assert _bitwise_equal(u, ref_u), f"step {t} differs from the unscaled run"
        assert _bitwise_equal(state.inner_state, ref_state)
        assert all_finite((u, state))
    assert int(state.total_skipped) == len(true_grads)


def test_skip_counters_saturate():
    params = {"w": jnp.ones(3)}
    nan = {"w": jnp.full(3, jnp.nan)}
    for tx, field in (
        (gradtx.apply_if_finite(gradtx.scale_by_adam(), 10), "total_notfinite"),
        (gradtx.dynamic_loss_scale(gradtx.scale_by_adam()), "total_skipped"),
    ):
        state = gradtx.tree.set(tx.init(params), **{field: jnp.asarray(INT32_MAX - 1, jnp.int32)})
        step = jax.jit(tx.update)
        for _ in range(3):
            _, state = step(nan, state, params)
        assert int(gradtx.tree.get(state, field)) == INT32_MAX, field
        assert all_finite(state.inner_state)


# --- saturating counters ---------------------------------------------------------------


def _is_counter(path, leaf) -> bool:
    if not path or not isinstance(leaf, jax.Array):
        return False
    name = getattr(path[-1], "name", getattr(path[-1], "key", None))
    return name in COUNTER_NAMES and leaf.dtype == jnp.int32 and leaf.shape == ()


def _has_counter(entry: Entry) -> bool:
    state = jax.eval_shape(entry.factory(**entry.kwargs).init, example_params())
    paths = jax.tree_util.tree_leaves_with_path(state)
    return any(_is_counter(p, jnp.zeros(x.shape, x.dtype)) for p, x in paths)


# Counters that are cycle positions, reset by design rather than step totals.
CYCLIC: dict[str, str] = {
    "apply_every": "count is the position in the k-step cycle (wraps modulo k)",
    "lookahead_reset_state": "the fast optimizer's state (its count) is reset at every sync",
    "reduce_on_plateau": "count is the position in the accumulation window, <= accumulation_size",
    "reduce_on_plateau_accumulating": "as reduce_on_plateau",
    "inject_hyperparams_reduce_on_plateau": "as reduce_on_plateau",
}
COUNTED = [e for e in ENTRIES if e.name not in CYCLIC and _has_counter(e)]


@pytest.mark.parametrize("entry", COUNTED, ids=[e.name for e in COUNTED])
def test_int32_counters_saturate_instead_of_wrapping(entry: Entry):
    tx = entry.factory(**entry.kwargs)
    params = {"w": jnp.linspace(-1.0, 1.0, 8).reshape(2, 4)}  # one leaf: a quick compile
    near_max = jnp.asarray(INT32_MAX - 1, jnp.int32)
    state = jax.tree_util.tree_map_with_path(
        lambda p, x: near_max if _is_counter(p, x) else x, tx.init(params)
    )
    step = _step_fn(entry, tx)
    for g in gradient_sequence(params, 3, seed=3):
        updates, state = step(g, state, params)
        assert all_finite(updates)
    counters = [x for p, x in jax.tree_util.tree_leaves_with_path(state) if _is_counter(p, x)]
    assert counters and all(int(c) == INT32_MAX for c in counters), counters
    assert all_finite(state) or entry.name.startswith("training_monitor")


def test_cyclic_counter_exemptions_are_registry_entries():
    assert set(CYCLIC) <= {e.name for e in ENTRIES}


# --- determinism -----------------------------------------------------------------------

DETERMINISM = [
    e
    for e in ENTRIES
    if e.name
    in {
        "add_noise",
        "noisy_sgd",
        "adam",
        "lion",
        "adafactor_factored_momentum",
        "lbfgs",
        "lookahead",
        "quantized_state_blocks_of_4",
        "dynamic_loss_scale",
        "scale_by_trust_region",
        "reduce_on_plateau_accumulating",
    }
]


@pytest.mark.parametrize("entry", DETERMINISM, ids=[e.name for e in DETERMINISM])
def test_two_identical_runs_are_bit_identical(entry: Entry):
    params = example_params()
    grads = gradient_sequence(params, 4, seed=4)

    def run():
        tx = entry.factory(**entry.kwargs)  # built and compiled afresh each time
        step = _step_fn(entry, tx)
        state, p, history = tx.init(params), params, []
        for g in grads:
            u, state = step(g, state, p)
            p = gradtx.apply_updates(p, u)
            history.append(u)
        return history, state, p

    assert _bitwise_equal(run(), run())


def test_determinism_sample_names_exist():
    assert len(DETERMINISM) == 11
