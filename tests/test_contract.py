"""The protocol properties, checked for every entry of ``tests/registry.py``.

For each public transform, optimizer and wrapper: eager and jit agree; updates keep the
gradients' structure, shapes and dtypes (float32, bfloat16, float64 under x64); the
state's shapes and dtypes are stable across updates and a second jitted call does not
retrace; unknown extra arguments are accepted; it composes in ``chain``; ``None`` leaves,
scalar params and empty trees work; it runs under ``vmap``; it lowers an
ill-conditioned quadratic; ``MultiSteps(tx, every_k_schedule=1)`` is ``tx``; and, as in
Optax's alias tests, a public factory wrapped in ``inject_hyperparams`` gives the same
numbers.
"""

from __future__ import annotations

import inspect

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from tests.api_walk import public_api
from tests.helpers import (
    assert_same_shapes_and_dtypes,
    assert_trees_close,
    example_params,
    gradient_sequence,
    quadratic_problem,
)
from tests.registry import ENTRIES, Entry, sample


def _loss(params):
    leaves = [jnp.asarray(x).astype(jnp.float32) for x in jax.tree.leaves(params)]
    return sum((0.5 * jnp.sum(x * x) for x in leaves), jnp.zeros([], jnp.float32))


def _extra(entry: Entry, params, grads, loss_fn=_loss) -> dict:
    if entry.extra == "value":
        return {"value": loss_fn(params)}
    if entry.extra == "value_fn":
        return {"value": loss_fn(params), "grad": grads, "value_fn": loss_fn}
    return {}


def _make(entry: Entry):
    return entry.factory(**entry.kwargs)


def _step_fn(entry: Entry, tx, loss_fn=_loss, **unknown):
    if entry.extra == "value_fn":
        # As in Optax, a line search raises TypeError for keyword arguments its
        # value_fn does not consume (tests/second_order/test_linesearch.py).
        unknown = {}

    def step(grads, state, params):
        return tx.update(grads, state, params, **_extra(entry, params, grads, loss_fn), **unknown)

    return step


def _grads(params, seed=0):
    return gradient_sequence(params, 1, seed)[0]


@pytest.mark.parametrize("entry", sample(ENTRIES))
def test_jit_matches_eager_and_state_is_stable(entry: Entry):
    tx = _make(entry)
    params = example_params(jnp.float32)
    state0 = tx.init(params)
    # A second trace means the state's avals changed between updates (chex counts traces
    # per function code, shared by every entry's step: start from zero).
    chex.clear_trace_counter()
    jitted = jax.jit(
        chex.assert_max_traces(_step_fn(entry, tx, unknown_extra_arg=jnp.ones(())), n=1)
    )
    eager_step = _step_fn(entry, tx, unknown_extra_arg=jnp.ones(()))
    s_jit = s_eager = state0
    for t in range(3):
        g = _grads(params, seed=t)
        u_jit, s_jit = jitted(g, s_jit, params)
        u_eager, s_eager = eager_step(g, s_eager, params)
        assert_same_shapes_and_dtypes(u_jit, g)
        assert_trees_close(u_jit, u_eager, rtol=entry.jit_rtol, atol=1e-6, msg=f"step {t}")
        assert_same_shapes_and_dtypes(s_jit, state0)
        assert_same_shapes_and_dtypes(s_eager, state0)


@pytest.mark.parametrize("entry", sample(ENTRIES))
def test_bfloat16_leaves_keep_their_dtype(entry: Entry):
    if not entry.supports_bf16:
        pytest.skip("documented: no bfloat16 support")
    tx = _make(entry)
    params = example_params(jnp.bfloat16)
    state0 = tx.init(params)
    step = jax.jit(_step_fn(entry, tx))
    state = state0
    for t in range(2):
        g = _grads(params, seed=t)
        updates, state = step(g, state, params)
        assert_same_shapes_and_dtypes(updates, g)
        assert_same_shapes_and_dtypes(state, state0)
        assert all(bool(jnp.all(jnp.isfinite(u))) for u in jax.tree.leaves(updates))


@pytest.mark.parametrize("entry", sample(ENTRIES))
def test_float64_leaves_keep_their_dtype(entry: Entry, x64):
    tx = _make(entry)
    params = example_params(jnp.float64)
    state0 = tx.init(params)
    g = _grads(params)
    updates, state = jax.jit(_step_fn(entry, tx))(g, state0, params)
    assert_same_shapes_and_dtypes(updates, g)
    assert_same_shapes_and_dtypes(state, state0)


@pytest.mark.parametrize("entry", sample(ENTRIES))
def test_chain_with_identity_is_the_same(entry: Entry):
    params = example_params()
    g = _grads(params)
    tx = _make(entry)
    chained = gradtx.chain(_make(entry), gradtx.identity())
    u1, _ = _step_fn(entry, tx)(g, tx.init(params), params)
    u2, _ = _step_fn(entry, chained)(g, chained.init(params), params)
    assert_trees_close(u2, u1, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("entry", sample(ENTRIES))
def test_none_leaves_scalars_and_empty_trees(entry: Entry):
    tx = _make(entry)
    # None leaves are passed through.
    params = {"w": jnp.ones((2, 3)), "frozen": None}
    grads = {"w": jnp.full((2, 3), 0.5), "frozen": None}
    updates, _ = _step_fn(entry, tx)(grads, tx.init(params), params)
    assert updates["frozen"] is None
    assert updates["w"].shape == (2, 3)
    # A single scalar parameter.
    scalar = jnp.asarray(1.5)
    u, _ = _step_fn(entry, tx)(jnp.asarray(0.3), tx.init(scalar), scalar)
    assert jnp.shape(u) == () and u.dtype == jnp.float32
    # An empty tree.
    u, _ = _step_fn(entry, tx)({}, tx.init({}), {})
    assert u == {}


@pytest.mark.parametrize("entry", sample(ENTRIES))
def test_vmap_over_stacked_params(entry: Entry):
    tx = _make(entry)
    params = {"w": jnp.arange(12.0).reshape(3, 4) / 10.0, "b": jnp.ones((3, 2))}
    grads = {"w": jnp.cos(params["w"]), "b": jnp.sin(params["b"])}
    states = jax.vmap(tx.init)(params)
    step = _step_fn(entry, tx)
    batched, _ = jax.jit(jax.vmap(step))(grads, states, params)
    for i in range(3):
        p_i = jax.tree.map(lambda x, i=i: x[i], params)
        g_i = jax.tree.map(lambda x, i=i: x[i], grads)
        u_i, _ = step(g_i, tx.init(p_i), p_i)
        assert_trees_close(jax.tree.map(lambda x, i=i: x[i], batched), u_i, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("entry", sample([e for e in ENTRIES if e.descends]))
def test_lowers_an_ill_conditioned_quadratic(entry: Entry):
    loss_fn, params = quadratic_problem()
    tx = _make(entry)
    if not entry.is_optimizer:
        tx = gradtx.chain(tx, gradtx.scale_by_learning_rate(0.05))
    step = _step_fn(entry, tx, loss_fn=loss_fn)

    def body(carry, _):
        p, s = carry
        g = jax.grad(loss_fn)(p)
        u, s = step(g, s, p)
        return (gradtx.apply_updates(p, u), s), loss_fn(p)

    (final, _), losses = jax.jit(lambda p: jax.lax.scan(body, (p, tx.init(p)), length=300))(params)
    initial = float(loss_fn(params))
    assert np.isfinite(float(loss_fn(final)))
    assert float(loss_fn(final)) < 0.1 * initial, (initial, np.asarray(losses)[::30])


def _trajectory(entry: Entry, tx, steps: int = 4):
    """The jitted updates of ``steps`` steps, params following them."""
    params = example_params()
    step = jax.jit(_step_fn(entry, tx))
    state, out = tx.init(params), []
    for t in range(steps):
        updates, state = step(_grads(params, seed=t), state, params)
        params = gradtx.apply_updates(params, updates)
        out.append(updates)
    return out


@pytest.mark.parametrize("entry", sample(ENTRIES))
def test_multi_steps_of_one_is_the_transform(entry: Entry):
    every_step = gradtx.MultiSteps(_make(entry), every_k_schedule=1).gradient_transformation()
    expected = _trajectory(entry, _make(entry))
    assert_trees_close(_trajectory(entry, every_step), expected, rtol=1e-6, atol=1e-7)


def _is_alias(entry: Entry) -> bool:
    """An optimizer alias (a public factory of ``gradtx.optimizers`` or ``gradtx.contrib``
    that includes the learning rate), built from hyperparameters only."""
    paths = [p for p, obj in public_api().items() if obj is entry.factory]
    return (
        entry.is_optimizer
        and any(p.startswith(("optimizers.", "contrib.")) for p in paths)
        and not any(hasattr(v, "init") and hasattr(v, "update") for v in entry.kwargs.values())
    )


def _static_args(entry: Entry) -> list[str]:
    """As Optax's alias tests: the floats (and a learning-rate schedule) become state;
    integers (sizes, step counts), dtypes, flags, strings and masks stay static."""
    out = []
    for name, p in inspect.signature(entry.factory).parameters.items():
        value = entry.kwargs.get(name, p.default)
        if isinstance(value, float) or (name == "learning_rate" and callable(value)):
            continue
        out.append(name)
    return out


INJECTABLE = [e for e in ENTRIES if _is_alias(e)]


@pytest.mark.parametrize("entry", sample(INJECTABLE))
def test_inject_hyperparams_gives_the_same_numbers(entry: Entry):
    injected = gradtx.inject_hyperparams(entry.factory, static_args=_static_args(entry))
    expected = _trajectory(entry, _make(entry))
    assert_trees_close(_trajectory(entry, injected(**entry.kwargs)), expected, rtol=1e-5, atol=1e-7)
