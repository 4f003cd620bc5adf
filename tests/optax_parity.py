"""Optax parity harness shared by the optimizer tests: jitted trajectories of gradtx and
Optax on the same gradients, signature comparison, the eager-case selector."""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import optax

from tests.helpers import assert_trees_close, example_params, gradient_sequence, run_updates


def standard(tx):
    """An Optax transform run under standard promotion (the suite runs strict)."""

    def init(params):
        with jax.numpy_dtype_promotion("standard"):
            return tx.init(params)

    def update(updates, state, params=None):
        with jax.numpy_dtype_promotion("standard"):
            return tx.update(updates, state, params)

    return optax.GradientTransformation(init, update)


def _stack(trees):
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def _jitted_trajectories(txs, params, grads):
    """The updates of each transform over ``grads`` (stacked on axis 0), params following
    its own updates; all runs are one ``lax.scan`` each inside a single compiled call."""

    def trajectory(tx, params, stacked):
        def step(carry, g):
            p, state = carry
            u, state = tx.update(g, state, p)
            return (jax.tree.map(lambda x, d: x + d.astype(x.dtype), p, u), state), u

        return jax.lax.scan(step, (params, tx.init(params)), stacked)[1]

    run = jax.jit(lambda p, gs: [trajectory(tx, p, gs) for tx in txs])
    return run(params, _stack(grads))


def assert_optax_parity(ours, theirs, params=None, steps=30, rtol=1e-6, atol=0.0, eager=False):
    """``steps`` updates on the same gradients, jitted (one scan each); gradtx runs under
    the suite's strict promotion, Optax under standard promotion. With ``eager``, the
    gradtx updates are also computed op by op and compared with Optax's jitted ones; XLA
    fuses differently there, so tiny elements get ``rtol`` of the largest update as atol."""
    params = example_params() if params is None else params
    grads = gradient_sequence(params, steps, seed=1)
    ours_u, theirs_u = _jitted_trajectories([ours, standard(theirs)], params, grads)
    assert_trees_close(ours_u, theirs_u, rtol=rtol, atol=atol, msg="jit:")
    if eager:
        ours_u = _stack(run_updates(ours, params, grads, jit=False)[0])
        scale = max((float(jnp.max(jnp.abs(x))) for x in jax.tree.leaves(theirs_u)), default=0.0)
        eager_atol = max(atol, rtol * scale)
        assert_trees_close(ours_u, theirs_u, rtol=rtol, atol=eager_atol, msg="eager:")


def first_of_each_name(cases):
    """The first case of each name in a ``[(name, kwargs)]`` table: those also run eagerly."""
    seen, out = set(), []
    for name, _kwargs in cases:
        out.append(name not in seen)
        seen.add(name)
    return out


def schedule(count):
    return 0.1 / (1.0 + 0.1 * count.astype(jnp.float32))


def assert_same_signature(ours, theirs):
    """Optax's positional/keyword parameters, in order, with the same defaults; gradtx
    may add keyword-only ones."""
    ours_p = inspect.signature(ours).parameters
    theirs_p = inspect.signature(theirs).parameters
    assert list(ours_p)[: len(theirs_p)] == list(theirs_p)
    for name, p in theirs_p.items():
        assert ours_p[name].kind == p.kind, name
        if p.default is not inspect.Parameter.empty and not callable(p.default):
            assert ours_p[name].default == p.default, name
