"""Optax conformance of optimizer states: same classes, fields, nesting, shapes and dtypes.

For every name gradtx shares with Optax 0.2.8 (each registry entry whose factory is
gradtx's object of an Optax name, and a table of wrappers built with each library's
own inner transforms), ``init`` builds the same state pytree in both libraries: the
NamedTuple class names and field names, the containers, the leaf shapes and dtypes.
An Optax state saved through ``flax.serialization`` restores into the gradtx state of
every optimizer alias, and the restored state continues with Optax's numbers.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from tests.registry import ENTRIES

optax = pytest.importorskip("optax", reason="optax is in the [test] extra")
serialization = pytest.importorskip("flax.serialization", reason="flax is in the [test] extra")

# Slow (CI runs it): the init state of every registry entry against Optax's.
pytestmark = pytest.mark.slow


def _params():
    return {"w": jnp.ones((3, 2)), "b": jnp.zeros((2,)), "s": jnp.asarray(0.5)}


def structure(tree, path="state"):
    """A library-independent description, one line per node: the path, then the class
    and field names of a NamedTuple, the kind of a container, or a leaf's shape and dtype."""
    if tree is None:
        return [f"{path}: None"]
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        lines = [f"{path}: {type(tree).__name__}{tree._fields}"]
        for f in tree._fields:
            lines += structure(getattr(tree, f), f"{path}.{f}")
        return lines
    if isinstance(tree, (tuple, list)):
        lines = [f"{path}: {type(tree).__name__} of {len(tree)}"]
        for i, x in enumerate(tree):
            lines += structure(x, f"{path}[{i}]")
        return lines
    if isinstance(tree, dict):
        lines = [f"{path}: dict {sorted(tree)}"]
        for k in sorted(tree):
            lines += structure(tree[k], f"{path}[{k!r}]")
        return lines
    x = jnp.asarray(tree) if isinstance(tree, (int, float, bool, np.ndarray)) else tree
    return [f"{path}: {x.dtype}{list(jnp.shape(x))}"]


def _optax_name(entry):
    """The entry's top-level Optax name, when the entry's factory is gradtx's object of it."""
    name = entry.optax
    if name and "." not in name and getattr(gradtx, name, None) is entry.factory:
        return name
    return None


def _translate(value):
    """A gradtx public function given as a hyperparameter becomes Optax's of that name."""
    name = getattr(value, "__name__", None)
    if callable(value) and name and getattr(gradtx, name, None) is value:
        return getattr(optax, name)
    return value


def _is_transform(value):
    return hasattr(value, "init") and hasattr(value, "update")


_AUTO = {
    e.name: e
    for e in ENTRIES
    if _optax_name(e) is not None and not any(_is_transform(v) for v in e.kwargs.values())
}


def _not_vector(tree):
    return jax.tree.map(lambda x: jnp.ndim(x) != 1, tree)


def _labels(tree):
    return jax.tree.map(lambda x: "adam" if jnp.ndim(x) != 1 else "sign", tree)


def _warmup_cosine(lib):
    return lib.warmup_cosine_decay_schedule(0.0, 0.05, warmup_steps=2, decay_steps=40)


def _paired(lib, tx):
    """Lookahead initialised as Optax needs it: with ``LookaheadParams``."""
    return lib.GradientTransformation(
        lambda p: tx.init(lib.LookaheadParams.init_synced(p)), tx.update
    )


# Wrappers and combinators: each built from the library's own inner transforms.
_TABLE = {
    "chain": lambda o: o.chain(o.scale_by_adam(), o.scale_by_learning_rate(0.1)),
    "named_chain": lambda o: o.named_chain(
        ("adam", o.scale_by_adam()), ("lr", o.scale_by_learning_rate(0.1))
    ),
    "with_extra_args_support": lambda o: o.with_extra_args_support(o.sgd(0.1)),
    "stateless": lambda o: o.stateless(lambda u, p: u),
    "MultiSteps": lambda o: o.MultiSteps(o.scale_by_adam(), 2).gradient_transformation(),
    "MultiSteps_skip_not_finite": lambda o: o.MultiSteps(
        o.scale_by_adam(), 2, use_grad_mean=False, should_skip_update_fn=o.skip_not_finite
    ).gradient_transformation(),
    "MultiSteps_adamw_clip": lambda o: o.MultiSteps(
        o.chain(o.clip_by_global_norm(1.0), o.adamw(1e-2)), 3
    ).gradient_transformation(),
    "masked": lambda o: o.masked(o.scale_by_adam(), _not_vector),
    "masked_tree": lambda o: o.masked(o.sgd(0.1, momentum=0.9), {"w": True, "b": False, "s": True}),
    "multi_transform": lambda o: o.multi_transform(
        {"adam": o.scale_by_adam(), "sign": o.scale_by_sign()}, _labels
    ),
    "flatten": lambda o: o.flatten(o.scale_by_adam()),
    "apply_if_finite": lambda o: o.apply_if_finite(o.scale_by_adam(), 2),
    "lookahead": lambda o: _paired(
        o, o.lookahead(o.chain(o.scale_by_adam(), o.scale(-0.05)), 3, 0.5)
    ),
    "lookahead_reset_state": lambda o: _paired(
        o, o.lookahead(o.chain(o.scale_by_adam(), o.scale(-0.05)), 2, 0.5, reset_state=True)
    ),
    "inject_hyperparams": lambda o: o.inject_hyperparams(o.scale_by_adam)(b1=0.9, b2=0.999),
    "inject_hyperparams_scheduled_lr": lambda o: o.inject_hyperparams(o.adam)(
        learning_rate=_warmup_cosine(o), b1=0.8
    ),
    "inject_hyperparams_sgd_momentum": lambda o: o.inject_hyperparams(o.sgd)(
        learning_rate=0.1, momentum=0.9
    ),
    "inject_stateful_hyperparams": lambda o: o.inject_stateful_hyperparams(o.scale)(
        step_size=-0.05
    ),
    "sgd_momentum": lambda o: o.sgd(0.1, momentum=0.9),
    "sgd_schedule": lambda o: o.sgd(o.exponential_decay(0.1, 10, 0.5)),
    "adam_schedule": lambda o: o.adam(_warmup_cosine(o)),
    "adamw_schedule_mask": lambda o: o.adamw(_warmup_cosine(o), mask=_not_vector),
    "scale_by_learning_rate_schedule": lambda o: o.scale_by_learning_rate(_warmup_cosine(o)),
    "lbfgs_scheduled": lambda o: o.lbfgs(learning_rate=0.1, linesearch=None),
    "adafactor_schedule": lambda o: o.adafactor(_warmup_cosine(o)),
    "conditionally_mask": lambda o: o.conditionally_mask(o.scale_by_adam(), lambda n: n % 2 == 0),
    "conditionally_transform": lambda o: o.conditionally_transform(
        o.scale_by_adam(), lambda n: n >= 1
    ),
    "selective_transform": lambda o: o.selective_transform(o.scale_by_adam(), freeze_mask=False),
}

# Registry entries that share an Optax name but have a gradtx-only argument.
_GRADTX_ONLY = {
    "scale_by_adam_low_memory": "nu_dtype and the 8-bit storage are gradtx extensions",
    "monitor_standalone": "Optax's monitor takes no standalone form",
    "lbfgs_learning_rate_no_linesearch": "covered by lbfgs_scheduled",
    # Deliberate (README "Other deliberate differences"): Optax's monitor(measures) starts
    # from measurements={}; gradtx's from zeros of the measurements' shapes, so the state's
    # structure is fixed (a scan carry, a cond operand). After one update they agree.
    "monitor": "the measures mode starts from zero measurements, not Optax's empty dict",
    "scale_by_rprop_paper": "lagged=False (the paper's iRprop- step) is a gradtx argument",
}


def _build_auto(entry, lib):
    name = _optax_name(entry)
    kwargs = entry.kwargs if lib is gradtx else {k: _translate(v) for k, v in entry.kwargs.items()}
    return getattr(lib, name)(**kwargs)


_CASES = sorted(set(_AUTO) - set(_GRADTX_ONLY)) + sorted(_TABLE)


def _pair(case):
    if case in _TABLE:
        return _TABLE[case](gradtx), _TABLE[case](optax)
    entry = _AUTO[case]
    return _build_auto(entry, gradtx), _build_auto(entry, optax)


def _init(tx, params):
    with jax.numpy_dtype_promotion("standard"):
        return tx.init(params)


def test_every_shared_registry_entry_is_compared():
    shared = {e.name for e in ENTRIES if _optax_name(e) is not None}
    missing = shared - set(_CASES) - set(_GRADTX_ONLY)
    assert not missing, f"registry entries with an Optax name but no state comparison: {missing}"


@pytest.mark.parametrize("case", _CASES)
def test_init_state_matches_optax(case):
    ours, theirs = _pair(case)
    params = _params()
    assert structure(_init(ours, params)) == structure(_init(theirs, params))


@pytest.mark.parametrize("case", _CASES)
def test_transform_kind_matches_optax(case):
    """``GradientTransformationExtraArgs`` where Optax returns one, plain where it does not
    (callers pass ``value=`` ... only to the former)."""
    ours, theirs = _pair(case)
    extra = (gradtx.GradientTransformationExtraArgs, optax.GradientTransformationExtraArgs)
    assert isinstance(ours, extra[0]) == isinstance(theirs, extra[1]), type(ours).__name__


_ALIASES = [
    e.name for e in ENTRIES if e.is_optimizer and e.name in _AUTO and e.name not in _GRADTX_ONLY
] + [
    "sgd_momentum",
    "sgd_schedule",
    "adam_schedule",
    "adamw_schedule_mask",
    "MultiSteps_adamw_clip",
]


def _loss(params):
    return sum(jnp.sum(x**2) for x in jax.tree.leaves(params)) / 2


@pytest.mark.parametrize("case", _ALIASES)
def test_optax_state_restores_into_gradtx_through_flax(case):
    ours, theirs = _pair(case)
    params = _params()
    theirs_state = _init(theirs, params)
    # Take a couple of Optax steps so the restored values are not just init values.
    grads = jax.grad(_loss)(params)
    extra = {"value": _loss(params), "grad": grads, "value_fn": _loss}
    # Optax 0.2.8's scale_by_sm3 update fails on a scalar leaf (IndexError: its state
    # keeps no accumulator for it), so sm3 restores Optax's init state.
    steps = 0 if case == "sm3" else 2
    with jax.numpy_dtype_promotion("standard"):
        for _ in range(steps):
            if case.startswith("lbfgs"):
                _, theirs_state = theirs.update(grads, theirs_state, params, **extra)
            elif case in _AUTO and _AUTO[case].extra == "value":  # polyak_sgd
                _, theirs_state = theirs.update(grads, theirs_state, params, value=extra["value"])
            else:
                _, theirs_state = theirs.update(grads, theirs_state, params)
    saved = serialization.to_state_dict(theirs_state)
    restored = serialization.from_state_dict(_init(ours, params), saved)
    assert structure(restored) == structure(_init(ours, params))
    for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(theirs_state), strict=True):
        if jnp.issubdtype(jnp.result_type(b), jax.dtypes.prng_key):
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_optax_multisteps_adamw_checkpoint_resumes_in_gradtx():
    """An Optax ``MultiSteps(chain(clip_by_global_norm, adamw))`` state saved with
    ``flax.serialization.to_bytes`` mid-accumulation, restored into gradtx's state with
    ``from_bytes``, continues with Optax's numbers."""

    def make(lib):
        schedule = lib.warmup_cosine_decay_schedule(0.0, 1e-2, warmup_steps=3, decay_steps=30)
        inner = lib.chain(lib.clip_by_global_norm(1.0), lib.adamw(schedule, weight_decay=1e-2))
        return lib.MultiSteps(inner, every_k_schedule=3)

    rng = np.random.default_rng(0)
    grads = [
        jax.tree.map(lambda x: jnp.asarray(rng.normal(size=x.shape), jnp.float32), _params())
        for _ in range(25)
    ]
    theirs = make(optax)

    def optax_steps(params, state, gs):
        with jax.numpy_dtype_promotion("standard"):
            for g in gs:
                u, state = theirs.update(g, state, params)
                params = optax.apply_updates(params, u)
        return params, state

    params, state = optax_steps(_params(), theirs.init(_params()), grads[:13])
    assert int(state.mini_step) == 1  # saved mid-accumulation
    saved = serialization.to_bytes(state)
    expected_params, expected_state = optax_steps(params, state, grads[13:])

    ours = make(gradtx)
    restored = serialization.from_bytes(ours.init(_params()), saved)
    update = jax.jit(ours.update)
    for g in grads[13:]:
        u, restored = update(g, restored, params)
        params = gradtx.apply_updates(params, u)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(expected_params), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)
    assert structure(restored) == structure(expected_state)
    for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(expected_state), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)
