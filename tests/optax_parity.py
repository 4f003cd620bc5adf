"""The one Optax parity harness: jitted trajectories of gradtx and Optax on the same
gradients, the signature comparison, and the builder of a registry parity case.

Every Optax parity test uses ``assert_optax_parity``; the registry-driven ones
(tests/test_optax_parity.py) build each side with ``build(lib, entry, case)``.
"""

from __future__ import annotations

import enum
import inspect
import types
import warnings
from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax

from tests.api_walk import resolve
from tests.helpers import example_params, gradient_sequence, run_updates


def standard(tx):
    """An Optax transform run under standard promotion (the suite runs strict)."""

    def init(params):
        with jax.numpy_dtype_promotion("standard"):
            return tx.init(params)

    def update(updates, state, params=None, **extra_args):
        with jax.numpy_dtype_promotion("standard"):
            return tx.update(updates, state, params, **extra_args)

    return optax.GradientTransformationExtraArgs(init, update)


def _stack(trees):
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def _jitted_trajectories(txs, params, grads, extra):
    """The updates of each transform over ``grads`` (stacked on axis 0), params following
    its own updates, and its final state; all runs are one ``lax.scan`` each inside a
    single compiled call."""

    def trajectory(tx, params, stacked):
        def step(carry, g):
            p, state = carry
            u, state = tx.update(g, state, p, **(extra(p) if extra else {}))
            return (jax.tree.map(lambda x, d: x + d.astype(x.dtype), p, u), state), u

        (_, state), updates = jax.lax.scan(step, (params, tx.init(params)), stacked)
        return updates, state

    run = jax.jit(lambda p, gs: [trajectory(tx, p, gs) for tx in txs])
    return run(params, _stack(grads))


def _as_float64(tree):
    return jax.tree.map(lambda x: np.asarray(x, np.float64), tree)


def assert_close(actual, expected, rtol=1e-6, atol=0.0):
    """Same structure and every leaf close, compared in float64 (``chex``)."""
    chex.assert_trees_all_close(_as_float64(actual), _as_float64(expected), rtol=rtol, atol=atol)


def assert_optax_parity(
    ours,
    theirs,
    params=None,
    steps=30,
    rtol=1e-6,
    atol=0.0,
    eager=False,
    grads=None,
    extra=None,
    seed=1,
):
    """``steps`` updates on the same gradients, jitted (one scan each); gradtx runs under
    the suite's strict promotion, Optax under standard promotion. ``extra(params)`` gives
    the extra update arguments (``value=`` ...). With ``eager``, the gradtx updates are
    also computed op by op and compared with Optax's jitted ones; XLA fuses differently
    there, so tiny elements get ``rtol`` of the largest update as atol.

    Returns the two final states ``(gradtx's, Optax's)``.
    """
    params = example_params() if params is None else params
    grads = gradient_sequence(params, steps, seed=seed) if grads is None else grads
    (ours_u, ours_s), (theirs_u, theirs_s) = _jitted_trajectories(
        [ours, standard(theirs)], params, grads, extra
    )
    assert_close(ours_u, theirs_u, rtol=rtol, atol=atol)
    if eager:
        ours_u = _stack(run_updates(ours, params, grads, jit=False, extra=extra)[0])
        scale = max((float(jnp.max(jnp.abs(x))) for x in jax.tree.leaves(theirs_u)), default=0.0)
        assert_close(ours_u, theirs_u, rtol=rtol, atol=max(atol, rtol * scale))
    return ours_s, theirs_s


def build(lib: types.ModuleType, entry, case):
    """The transform of a registry parity ``case`` on ``lib`` (``gradtx`` or ``optax``):
    the factory at ``entry.optax`` called with the case's arguments, then ``case.wrap``."""
    args = case.args(lib) if callable(case.args) else case.args
    kwargs = case.kwargs(lib) if callable(case.kwargs) else case.kwargs
    with warnings.catch_warnings():
        # Optax's deprecated names (optimistic_adam) are compared all the same.
        warnings.simplefilter("ignore", DeprecationWarning)
        tx = resolve(lib, entry.optax)(*args, **kwargs)
    return case.wrap(lib, tx) if case.wrap else tx


# --- signatures -------------------------------------------------------------------------


def _same_default(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if hasattr(a, "init") and hasattr(b, "init") and hasattr(a, "update"):
        # A transform as a default (lbfgs's linesearch): the same factory built it.
        return all(
            getattr(getattr(a, f), "__qualname__", a) == getattr(getattr(b, f), "__qualname__", b)
            for f in ("init", "update")
        )
    if isinstance(a, enum.Enum) and isinstance(b, enum.Enum):
        # An enum default (microbatching.AccumulationType.MEAN): the same member name of
        # a class of the same name.
        return (type(a).__name__, a.name) == (type(b).__name__, b.name)
    if hasattr(a, "__dict__") and not vars(a) and not hasattr(a, "__name__"):
        # A stateless object (perturbations.Gumbel()): an instance of a class of that name.
        return type(a).__name__ == type(b).__name__ and not vars(b)
    if callable(a) and callable(b) and not inspect.isclass(a):
        if "<lambda>" in (getattr(a, "__name__", None), getattr(b, "__name__", None)):
            # An anonymous default (adopt's clip_value_fn=lambda x: x**0.25): the same
            # function, value for value.
            return _same_values(a, b)
        return getattr(a, "__name__", None) == getattr(b, "__name__", None)
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 (arrays, exotic objects)
        return repr(a) == repr(b)


def _same_values(a: Any, b: Any) -> bool:
    """Whether two one-argument callables agree on a few steps (int32 counts)."""
    xs = np.array([0, 1, 2, 7, 100], np.int32)
    try:
        ra, rb = a(xs), b(xs)
        if ra is None or rb is None:
            return ra is rb
        return bool(np.allclose(np.asarray(ra), np.asarray(rb), rtol=1e-6, equal_nan=True))
    except Exception:  # noqa: BLE001 (not a function of one array)
        return False


def _name(p: inspect.Parameter) -> str:
    """A parameter's name as callers see it (``*args``/``**kwargs`` cannot be named)."""
    if p.kind is inspect.Parameter.VAR_POSITIONAL:
        return "*"
    if p.kind is inspect.Parameter.VAR_KEYWORD:
        return "**"
    return p.name


def signature_problem(ours: Any, theirs: Any, extras_keyword_only: bool = False) -> str | None:
    """Why ``ours`` does not have ``theirs``'s signature, or ``None``.

    Optax's parameters must come first, in order, of the same kinds and with the same
    defaults; gradtx may add parameters after them, each with a default (keyword-only
    ones when ``extras_keyword_only``). For a NamedTuple the fields must match.
    """
    if isinstance(theirs, types.ModuleType):
        return None if isinstance(ours, types.ModuleType) else "is not a module"
    if inspect.isclass(theirs):
        if hasattr(theirs, "_fields"):
            fields = getattr(ours, "_fields", None)
            return None if fields == theirs._fields else f"fields {fields} != {theirs._fields}"
        if getattr(theirs, "_is_protocol", False) or not callable(ours):
            return None
    if not callable(theirs) or getattr(theirs, "__module__", "") == "typing":
        return None
    try:
        theirs_sig = inspect.signature(theirs)
    except (TypeError, ValueError):
        return None
    try:
        ours_sig = inspect.signature(ours)
    except (TypeError, ValueError):
        return "has no signature"
    o, t = list(ours_sig.parameters.values()), list(theirs_sig.parameters.values())
    if [_name(p) for p in o[: len(t)]] != [_name(p) for p in t]:
        return f"parameters {[p.name for p in o]} != {[p.name for p in t]}"
    for po, pt in zip(o, t, strict=False):
        if po.kind != pt.kind:
            return f"{pt.name} is {po.kind.description}, Optax: {pt.kind.description}"
        if (po.default is inspect.Parameter.empty) != (pt.default is inspect.Parameter.empty):
            return f"{pt.name}: default {po.default!r}, Optax: {pt.default!r}"
        if pt.default is not inspect.Parameter.empty and not _same_default(po.default, pt.default):
            return f"{pt.name}: default {po.default!r}, Optax: {pt.default!r}"
    for extra in o[len(t) :]:
        if extra.kind in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL):
            continue
        if extra.default is inspect.Parameter.empty:
            return f"extra parameter {extra.name} has no default"
        if extras_keyword_only and extra.kind is not inspect.Parameter.KEYWORD_ONLY:
            return f"extra parameter {extra.name} is not keyword-only"
    return None


def assert_same_signature(ours, theirs):
    """``signature_problem`` as an assertion (for the names outside the registry)."""
    problem = signature_problem(ours, theirs)
    assert problem is None, problem
