"""Bad input is refused at once, with a message that says what is wrong.

* Every public factory and schedule with a hyperparameter rejects certainly-wrong values
  (a decay outside [0, 1), a negative ``eps``, ``max_norm=0``, NaN ...) with a
  ``ValueError`` whose message names the function, the argument, the value and the rule,
  e.g. ``scale_by_adam(b1=1.5): b1 must be in [0, 1)``. A negative learning rate is not
  wrong (gradient ascent, as in Optax) and is never listed here.
* Wrong kinds (a string learning rate, a mask that is neither a tree nor a callable, an
  inner "transform" that is a number) raise ``TypeError``.
* ``update`` with a tree that does not match the state raises `gradtx.TreeMismatchError`
  naming the transform and showing both structures; a transform that needs ``params``,
  ``value`` or ``value_fn`` and does not get it names itself and the missing argument.
* A completeness check: every public factory with a hyperparameter has a case below, or
  an entry in ``NO_BAD_VALUE`` saying why it has none.
"""

from __future__ import annotations

import inspect
import math
import re
from typing import Any

import jax
import jax.numpy as jnp
import pytest

import gradtx
from gradtx import second_order
from tests.api_walk import kind, public_api
from tests.registry import ENTRIES, Entry
from tests.test_contract import _extra

# Slow (CI runs it): every public factory and registry entry fed bad input.
pytestmark = pytest.mark.slow

NAN = math.nan
INF = math.inf
_ADAM = gradtx.scale_by_adam()
_LR = {"learning_rate": 0.1}
_TWO_SCHEDULES = [gradtx.constant_schedule(1.0), gradtx.constant_schedule(0.5)]

# name -> (valid keyword arguments, [(argument, certainly-wrong value), ...])
BAD: dict[str, tuple[dict[str, Any], list[tuple[str, Any]]]] = {
    # transforms
    "scale": ({"step_size": 0.1}, [("step_size", NAN), ("step_size", INF)]),
    "scale_by_learning_rate": (_LR, [("learning_rate", NAN), ("learning_rate", -INF)]),
    "trace": ({"decay": 0.9}, [("decay", 1.5), ("decay", -0.1)]),
    "ema": ({"decay": 0.9}, [("decay", 2.0), ("decay", NAN)]),
    "scale_by_adam": (
        {},
        [("b1", 1.5), ("b2", -0.1), ("b2", 1.0), ("eps", -1.0), ("eps_root", -1.0), ("b1", NAN)],
    ),
    "scale_by_amsgrad": ({}, [("b1", 1.5), ("b2", 2.0), ("eps", -1.0)]),
    "scale_by_adamax": ({}, [("b1", 1.5), ("b2", 2.0), ("eps", -1.0)]),
    "scale_by_belief": ({}, [("b1", 1.5), ("b2", 2.0), ("eps", -1.0), ("eps_root", -1.0)]),
    "scale_by_lion": ({}, [("b1", 1.5), ("b2", 2.0)]),
    "scale_by_rms": ({}, [("decay", 2.0), ("eps", -1.0), ("initial_scale", -1.0)]),
    "scale_by_stddev": ({}, [("decay", 2.0), ("eps", -1.0), ("initial_scale", -1.0)]),
    "scale_by_rss": ({}, [("initial_accumulator_value", -1.0), ("eps", -1.0)]),
    "scale_by_radam": ({}, [("b1", 1.5), ("b2", 2.0), ("eps", -1.0), ("threshold", NAN)]),
    "scale_by_yogi": (
        {},
        [("b1", 1.5), ("b2", 2.0), ("eps", -1.0), ("initial_accumulator_value", -1.0)],
    ),
    "scale_by_adadelta": ({}, [("rho", 2.0), ("eps", -1.0)]),
    "scale_by_novograd": (
        {},
        [("b1", 1.5), ("b2", 2.0), ("eps", -1.0), ("weight_decay", -1.0)],
    ),
    "scale_by_adan": ({}, [("b1", 1.5), ("b2", 2.0), ("b3", 2.0), ("eps", -1.0)]),
    "scale_by_trust_ratio": (
        {},
        [("min_norm", -1.0), ("eps", -1.0), ("trust_coefficient", NAN)],
    ),
    "scale_by_factored_rms": (
        {},
        [
            ("decay_rate", NAN),
            ("epsilon", -1.0),
            ("min_dim_size_to_factor", -1),
            ("step_offset", -1),
        ],
    ),
    "scale_by_lbfgs": ({}, [("memory_size", 0)]),
    "add_decayed_weights": ({}, [("weight_decay", NAN)]),
    "add_noise": ({"eta": 0.01, "gamma": 0.55, "key": 0}, [("eta", -1.0), ("gamma", NAN)]),
    "clip": ({"max_delta": 1.0}, [("max_delta", -1.0), ("max_delta", NAN)]),
    "clip_by_global_norm": (
        {"max_norm": 1.0},
        [("max_norm", 0.0), ("max_norm", -1.0), ("max_norm", NAN)],
    ),
    "clip_by_block_rms": ({"threshold": 1.0}, [("threshold", 0.0), ("threshold", NAN)]),
    "adaptive_grad_clip": (
        {"clipping": 0.1},
        [("clipping", -1.0), ("clipping", NAN), ("eps", -1.0)],
    ),
    "scale_by_zoom_linesearch": (
        {"max_linesearch_steps": 10},
        [("max_linesearch_steps", 0), ("slope_rtol", -1.0), ("increase_factor", 0.5)],
    ),
    "scale_by_backtracking_linesearch": (
        {"max_backtracking_steps": 10},
        [
            ("max_backtracking_steps", -1),
            ("decrease_factor", 2.0),
            ("slope_rtol", -1.0),
            ("max_learning_rate", -1.0),
        ],
    ),
    # optimizers
    "sgd": (_LR, [("learning_rate", NAN), ("momentum", 1.5), ("momentum", -0.5)]),
    "noisy_sgd": ({**_LR, "key": 0}, [("eta", -1.0), ("gamma", NAN)]),
    "adagrad": (_LR, [("initial_accumulator_value", -1.0), ("eps", -1.0)]),
    "rmsprop": (_LR, [("decay", 2.0), ("eps", -1.0), ("momentum", 1.5)]),
    "adam": (_LR, [("b1", 1.5), ("b2", 2.0), ("eps", -1.0), ("learning_rate", NAN)]),
    "adamw": (_LR, [("b1", 1.5), ("weight_decay", NAN)]),
    "nadam": (_LR, [("b1", 1.5), ("eps", -1.0)]),
    "nadamw": (_LR, [("b1", 1.5), ("weight_decay", NAN)]),
    "adamax": (_LR, [("b1", 1.5), ("eps", -1.0)]),
    "adamaxw": (_LR, [("b1", 1.5), ("weight_decay", NAN)]),
    "amsgrad": (_LR, [("b1", 1.5), ("eps", -1.0)]),
    "adabelief": (_LR, [("b1", 1.5), ("eps", -1.0)]),
    "lion": (_LR, [("b1", 1.5), ("b2", 2.0), ("weight_decay", NAN)]),
    "radam": (_LR, [("b1", 1.5), ("threshold", NAN)]),
    "yogi": (_LR, [("b1", 1.5), ("eps", -1.0)]),
    "adadelta": ({}, [("rho", 2.0), ("eps", -1.0)]),
    "novograd": (_LR, [("b1", 1.5), ("eps", -1.0)]),
    "adan": (_LR, [("b3", 2.0), ("eps", -1.0)]),
    "lamb": (_LR, [("b1", 1.5), ("eps", -1.0)]),
    "lars": (_LR, [("momentum", 1.5), ("eps", -1.0), ("trust_coefficient", NAN)]),
    "adafactor": (
        {},
        [("decay_rate", NAN), ("eps", -1.0), ("min_dim_size_to_factor", -1), ("momentum", 1.5)],
    ),
    "lbfgs": ({}, [("memory_size", 0)]),
    # wrappers
    "MultiSteps": ({"opt": _ADAM, "every_k_schedule": 2}, [("every_k_schedule", 0)]),
    "apply_every": ({}, [("k", 0)]),
    "apply_if_finite": (
        {"inner": _ADAM, "max_consecutive_errors": 2},
        [("max_consecutive_errors", -1)],
    ),
    "lookahead": (
        {"fast_optimizer": _ADAM, "sync_period": 2, "slow_step_size": 0.5},
        [("sync_period", 0), ("slow_step_size", 2.0), ("slow_step_size", NAN)],
    ),
    "average_params": ({"inner": _ADAM}, [("decay", 2.0), ("decay", NAN)]),
    "dynamic_loss_scale": (
        {"inner": _ADAM},
        [
            ("init_scale", 0.0),
            ("growth_interval", 0),
            ("factor", 0.5),
            ("min_scale", -1.0),
            ("max_scale", INF),
        ],
    ),
    "training_monitor": ({}, [("vanishing_threshold", -1.0), ("exploding_threshold", NAN)]),
    "quantized_state": ({"inner": _ADAM}, [("bits", 3), ("block_size", 0)]),
    "reduce_on_plateau": (
        {},
        [
            ("factor", 2.0),
            ("factor", 0.0),
            ("patience", -1),
            ("rtol", -1.0),
            ("atol", -1.0),
            ("cooldown", -1),
            ("accumulation_size", 0),
            ("min_scale", -1.0),
        ],
    ),
    "inject_hyperparams": ({"inner_factory": gradtx.scale_by_adam}, [("static_args", ["b0"])]),
    "inject_stateful_hyperparams": (
        {"inner_factory": gradtx.scale_by_adam},
        [("static_args", ["b0"])],
    ),
    # second order
    "scale_by_newton_cg": ({}, [("damping", -1.0), ("tol", -1.0), ("maxiter", 0)]),
    "scale_by_trust_region": (
        {},
        [("initial_radius", 0.0), ("max_radius", -1.0), ("eta", 2.0), ("maxiter", 0)],
    ),
    "scale_by_saddle_free_newton": ({}, [("num_lanczos_steps", 0), ("damping", -1.0)]),
    # schedules
    "constant_schedule": ({"value": 1.0}, [("value", NAN)]),
    # transition_steps <= 0 is a constant schedule in linear/polynomial (Optax's docs).
    "linear_schedule": (
        {"init_value": 1.0, "end_value": 0.0, "transition_steps": 10},
        [("transition_begin", -1), ("init_value", NAN)],
    ),
    "polynomial_schedule": (
        {"init_value": 1.0, "end_value": 0.0, "power": 1.0, "transition_steps": 10},
        [("power", NAN), ("transition_begin", -1)],
    ),
    "cosine_decay_schedule": (
        {"init_value": 1.0, "decay_steps": 10},
        [("decay_steps", 0), ("alpha", NAN), ("init_value", NAN)],
    ),
    "exponential_decay": (
        {"init_value": 1.0, "transition_steps": 10, "decay_rate": 0.5},
        [("transition_steps", -1), ("decay_rate", NAN), ("transition_begin", -1)],
    ),
    "piecewise_constant_schedule": ({"init_value": 1.0}, [("init_value", NAN)]),
    "piecewise_interpolate_schedule": (
        {"interpolate_type": "linear", "init_value": 1.0},
        [("interpolate_type", "quadratic"), ("init_value", NAN)],
    ),
    "warmup_cosine_decay_schedule": (
        {"init_value": 0.0, "peak_value": 1.0, "warmup_steps": 2, "decay_steps": 10},
        [("warmup_steps", -1), ("decay_steps", 0), ("peak_value", NAN)],
    ),
    "warmup_exponential_decay_schedule": (
        {
            "init_value": 0.0,
            "peak_value": 1.0,
            "warmup_steps": 2,
            "transition_steps": 10,
            "decay_rate": 0.5,
        },
        [("warmup_steps", -1), ("transition_steps", -1), ("decay_rate", NAN)],
    ),
    "warmup_constant_schedule": (
        {"init_value": 0.0, "peak_value": 1.0, "warmup_steps": 2},
        [("warmup_steps", -1), ("peak_value", NAN)],
    ),
    "inverse_sqrt_schedule": (
        {"peak_value": 1.0, "warmup_steps": 2},
        [("warmup_steps", -1), ("peak_value", NAN)],
    ),
    "cosine_onecycle_schedule": (
        {"transition_steps": 10, "peak_value": 1.0},
        [("transition_steps", 0), ("pct_start", 2.0), ("div_factor", 0.0)],
    ),
    "linear_onecycle_schedule": (
        {"transition_steps": 10, "peak_value": 1.0},
        [("transition_steps", 0), ("pct_start", 2.0), ("pct_final", 2.0), ("div_factor", 0.0)],
    ),
    "cyclic_schedule": (
        {"base_value": 0.1, "max_value": 1.0, "step_size": 2},
        [("step_size", 0), ("mode", "square"), ("gamma", NAN)],
    ),
    "linear_scaling_rule": (
        {"base_lr": 0.1, "base_batch": 32, "batch": 64},
        [("base_batch", 0), ("batch", 0)],
    ),
    # issue 15: the rest of Optax's top level
    "scale_by_rprop": (
        _LR,
        [("learning_rate", -1.0), ("eta_minus", 1.5), ("eta_plus", 0.5), ("min_step_size", -1.0)],
    ),
    "rprop": (_LR, [("learning_rate", NAN), ("eta_minus", -0.5), ("max_step_size", -1.0)]),
    "scale_by_sm3": ({}, [("b1", 1.5), ("b2", 2.0), ("eps", -1.0)]),
    "sm3": (_LR, [("learning_rate", NAN), ("momentum", 1.5)]),
    "fromage": (_LR, [("learning_rate", NAN), ("min_norm", -1.0)]),
    "scale_by_polyak": ({}, [("eps", -1.0), ("max_learning_rate", -1.0), ("variant", "x")]),
    "polyak_sgd": ({}, [("eps", -1.0), ("variant", "x"), ("f_min", NAN)]),
    "scale_by_optimistic_gradient": ({}, [("alpha", NAN), ("beta", INF)]),
    "optimistic_gradient_descent": (_LR, [("learning_rate", NAN), ("alpha", NAN)]),
    "optimistic_adam_v2": (_LR, [("b1", 1.5), ("learning_rate", NAN), ("beta", INF)]),
    "signum": (_LR, [("beta", 1.5), ("learning_rate", NAN)]),
    "scale_by_distance_over_gradients": (
        {},
        [("reps_rel", 0.0), ("eps", -1.0), ("global_scale", NAN)],
    ),
    "normalize_by_update_norm": ({}, [("eps", -1.0), ("scale_factor", NAN)]),
    "scale_by_param_block_norm": ({}, [("min_scale", -1.0)]),
    "scale_by_param_block_rms": ({}, [("min_scale", NAN)]),
    "measure_with_ema": ({"measure": jnp.sum, "decay": 0.9}, [("decay", 1.5)]),
}

# Container-valued arguments: the message names the offending element; (kwargs, shown).
BAD_ELEMENTS: dict[str, list[tuple[dict[str, Any], str, str]]] = {
    "join_schedules": [
        ({"schedules": _TWO_SCHEDULES, "boundaries": [-1]}, "boundaries[0]", "-1"),
    ],
    "piecewise_constant_schedule": [
        ({"init_value": 1.0, "boundaries_and_scales": {-1: 0.5}}, "boundaries_and_scales", "-1"),
    ],
    "sgdr_schedule": [
        (
            {
                "cosine_kwargs": [
                    {"init_value": 0.0, "peak_value": 1.0, "warmup_steps": 1, "decay_steps": 0}
                ]
            },
            "cosine_kwargs[0]",
            "decay_steps=0",
        ),
    ],
}

# An alias is a documented chain of building blocks; a rule that lives in a block may be
# reported under the block's name (with the block's argument name).
DELEGATES: dict[str, tuple[str, ...]] = {
    "noisy_sgd": ("add_noise",),
    "adagrad": ("scale_by_rss",),
    "rmsprop": ("scale_by_rms", "trace"),
    "adam": ("scale_by_adam",),
    "adamw": ("scale_by_adam", "adam"),
    "nadam": ("scale_by_adam", "adam"),
    "nadamw": ("scale_by_adam", "adamw", "adam"),
    "adamax": ("scale_by_adamax",),
    "adamaxw": ("scale_by_adamax", "adamax"),
    "amsgrad": ("scale_by_amsgrad",),
    "adabelief": ("scale_by_belief",),
    "yogi": ("scale_by_yogi",),
    "adadelta": ("scale_by_adadelta",),
    "novograd": ("scale_by_novograd",),
    "adan": ("scale_by_adan",),
    "lamb": ("scale_by_adam",),
    "lars": ("scale_by_trust_ratio", "trace"),
    "adafactor": ("scale_by_factored_rms",),
    "lbfgs": ("scale_by_lbfgs",),
    "rprop": ("scale_by_rprop",),
    "sm3": ("scale_by_sm3",),
    "polyak_sgd": ("scale_by_polyak",),
    "optimistic_gradient_descent": ("scale_by_optimistic_gradient", "scale_by_learning_rate"),
    "optimistic_adam_v2": (
        "scale_by_adam",
        "scale_by_optimistic_gradient",
        "scale_by_learning_rate",
    ),
    "signum": ("ema", "scale_by_learning_rate"),
    "measure_with_ema": ("ema",),
}
ARG_RENAMES: dict[tuple[str, str], str] = {
    ("adafactor", "eps"): "epsilon",
    ("sm3", "momentum"): "b1",
    ("signum", "beta"): "decay",
}

# Public factories with arguments but no certainly-wrong *value*, and why.
NO_BAD_VALUE: dict[str, str] = {
    "optimistic_adam": "deprecated in Optax (warns); its checks are optimistic_adam_v2's blocks",
    "conditionally_mask": "takes a transform and a condition; kinds are tested in "
    "tests/wrappers/test_optax_monitoring.py",
    "conditionally_transform": "as conditionally_mask",
    "selective_transform": "takes a transform and a mask (any pytree of bools)",
    "snapshot": "takes a name and a function; kinds are tested in test_optax_monitoring.py",
    "monitor": "takes a dict of measures; kinds are tested in test_optax_monitoring.py",
    "chain": "takes transforms only; wrong kinds are in test_wrong_kinds_raise_type_error",
    "named_chain": "takes (name, transform) pairs; kinds and duplicates are tested elsewhere",
    "stateless": "takes a function; any callable is valid",
    "stateless_with_tree_map": "takes a function; any callable is valid",
    "with_extra_args_support": "takes a transform only",
    "scale_by_schedule": "takes a schedule; any callable is valid",
    "masked": "structural: the mask kind is tested in test_wrong_kinds_raise_type_error",
    "multi_transform": "structural: labels may be any pytree (a prefix, even a lone string)",
    "partition": "an alias of multi_transform",
    "freeze": "structural: the mask kind is tested in test_wrong_kinds_raise_type_error",
    "flatten": "takes a transform only",
}


def _resolve(name: str):
    return getattr(gradtx, name, None) or getattr(second_order, name)


def _call(name: str, kwargs: dict[str, Any]):
    out = _resolve(name)(**kwargs)
    if name.startswith("inject"):
        out = out()  # the static_args check runs when the factory is applied
    return out


def _public_factories() -> dict[str, Any]:
    """The top-level and ``second_order`` factories (of a transform, of any kind, or of a
    schedule) that take a hyperparameter, from the shared API walk."""
    out: dict[str, Any] = {}
    for path, obj in public_api().items():
        namespace, _, name = path.rpartition(".")
        if namespace not in ("", "second_order") or not callable(obj):
            continue
        schedule = kind(obj) == "function" and "Schedule" in str(
            inspect.signature(obj).return_annotation
        )
        if (kind(obj) == "transform" or schedule) and inspect.signature(obj).parameters:
            out[name] = obj
    return out


def _entry_cases() -> dict[str, tuple[dict[str, Any], list[tuple[str, Any]]]]:
    """``Entry.bad`` of the registry entries whose factory is a public one, as ``BAD``."""
    names = {id(obj): name for name, obj in _public_factories().items()}
    return {
        names[id(e.factory)]: (e.kwargs, list(e.bad))
        for e in ENTRIES
        if e.bad and id(e.factory) in names
    }


def _cases():
    for name, (base, bad) in {**BAD, **_entry_cases()}.items():
        for arg, value in bad:
            yield pytest.param(name, base, arg, value, id=f"{name}-{arg}={value!r}")


@pytest.mark.parametrize(("name", "base", "arg", "value"), list(_cases()))
def test_certainly_wrong_values_raise_value_error(name, base, arg, value):
    _call(name, base)  # the valid arguments are accepted
    with pytest.raises(ValueError) as info:
        _call(name, {**base, arg: value})
    message = str(info.value)
    names = (name, *DELEGATES.get(name, ()))
    shown_arg = ARG_RENAMES.get((name, arg), arg)
    pattern = rf"(?<![\w.])({'|'.join(names)})\({re.escape(shown_arg)}={re.escape(repr(value))}\)"
    assert re.search(pattern, message), f"message does not name fn(arg=value): {message!r}"
    assert re.search(r"\bmust\b", message), f"message does not state the rule: {message!r}"


@pytest.mark.parametrize(
    ("name", "kwargs", "where", "shown"),
    [(n, *case) for n, cases in BAD_ELEMENTS.items() for case in cases],
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_certainly_wrong_elements_raise_value_error(name, kwargs, where, shown):
    with pytest.raises(ValueError) as info:
        _call(name, kwargs)
    message = str(info.value)
    assert message.startswith(f"{name}("), message
    assert where in message and shown in message and "must" in message, message


def test_negative_learning_rate_is_allowed():
    """Gradient ascent is meaningful (as in Optax): not an error."""
    params = jnp.ones(2)
    for tx in (gradtx.sgd(-0.1), gradtx.adam(-0.1), gradtx.scale_by_learning_rate(-0.1)):
        updates, _ = tx.update(params, tx.init(params), params)
        assert bool(jnp.all(updates > 0))


def test_every_factory_with_a_hyperparameter_has_a_bad_input_case():
    covered = set(BAD) | set(_entry_cases()) | set(BAD_ELEMENTS) | set(NO_BAD_VALUE)
    missing = sorted(set(_public_factories()) - covered)
    assert not missing, (
        f"add bad=(...) to the registry entry (or a case to BAD, or a reason to NO_BAD_VALUE) "
        f"for: {missing}"
    )
    stale = sorted(set(NO_BAD_VALUE) - set(_public_factories()))
    assert not stale, f"NO_BAD_VALUE names that are not public factories: {stale}"


# --- wrong kinds ------------------------------------------------------------------------

WRONG_KINDS = [
    ("masked", "mask", lambda: gradtx.masked(_ADAM, "abc")),
    ("masked", "mask", lambda: gradtx.masked(_ADAM, 3)),
    ("masked", "inner", lambda: gradtx.masked(3, lambda p: p)),
    ("freeze", "mask", lambda: gradtx.freeze("abc")),
    ("add_decayed_weights", "mask", lambda: gradtx.add_decayed_weights(0.1, mask=1.0)),
    ("add_decayed_weights", "mask", lambda: gradtx.adamw(0.1, mask="abc")),
    ("adam", "learning_rate", lambda: gradtx.adam("0.1")),
    ("sgd", "learning_rate", lambda: gradtx.sgd("0.1")),
    ("scale", "step_size", lambda: gradtx.scale("0.1")),
    ("scale_by_learning_rate", "learning_rate", lambda: gradtx.scale_by_learning_rate("0.1")),
    ("scale_by_learning_rate", "learning_rate", lambda: gradtx.lbfgs(learning_rate="0.1")),
    ("scale_by_adam", "b1", lambda: gradtx.scale_by_adam(b1="0.9")),
    ("trace", "decay", lambda: gradtx.trace([0.9])),
    ("chain", "transforms[0]", lambda: gradtx.chain(3)),
    ("chain", "transforms[1]", lambda: gradtx.chain(_ADAM, "adam")),
    ("named_chain", "transforms[0]", lambda: gradtx.named_chain(_ADAM)),
    ("named_chain", "transforms[0][1]", lambda: gradtx.named_chain(("a", 3))),
    ("apply_if_finite", "max_consecutive_errors", lambda: gradtx.apply_if_finite(_ADAM, "2")),
    ("lookahead", "fast_optimizer", lambda: gradtx.lookahead(3, 2, 0.5)),
    ("inject_hyperparams", "inner_factory", lambda: gradtx.inject_hyperparams(3)),
    ("MultiSteps", "opt", lambda: gradtx.MultiSteps(3, 2)),
    ("MultiSteps", "every_k_schedule", lambda: gradtx.MultiSteps(_ADAM, 2.5)),
]


_KIND_IDS = [f"{f}-{a}-{i}" for i, (f, a, _) in enumerate(WRONG_KINDS)]


@pytest.mark.parametrize(("fn", "arg", "make"), WRONG_KINDS, ids=_KIND_IDS)
def test_wrong_kinds_raise_type_error(fn, arg, make):
    with pytest.raises(TypeError) as info:
        make()
    assert str(info.value).startswith(f"{fn}({arg}"), str(info.value)


# --- update-time structure errors ------------------------------------------------------

_PARAMS = {"a": jnp.ones(3), "b": jnp.ones((2, 2))}
_MISSING_LEAF = {"a": jnp.ones(3)}
_WRONG_SHAPE = {"a": jnp.ones(3), "b": jnp.ones((2, 3))}


def _holds_params_shaped_state(entry: Entry) -> bool:
    state = jax.eval_shape(entry.factory(**entry.kwargs).init, _PARAMS)
    return any(leaf.shape == (2, 2) for leaf in jax.tree.leaves(state))


STATEFUL = [e for e in ENTRIES if _holds_params_shaped_state(e)]


@pytest.mark.parametrize("entry", STATEFUL, ids=[e.name for e in STATEFUL])
def test_mismatched_tree_raises_tree_mismatch_error(entry: Entry):
    assert issubclass(gradtx.TreeMismatchError, ValueError)
    tx = entry.factory(**entry.kwargs)
    state = tx.init(_PARAMS)
    with pytest.raises((ValueError, TypeError)) as info:
        tx.update(_MISSING_LEAF, state, _PARAMS, **_extra(entry, _PARAMS, _MISSING_LEAF))
    assert isinstance(info.value, gradtx.TreeMismatchError), repr(info.value)
    message = str(info.value)
    assert re.match(r"\w+: ", message), message  # names the transform
    assert str(jax.tree.structure(_MISSING_LEAF)) in message, message  # what it got
    assert "'b'" in message.split("updates:")[-1], message  # and what it expected


@pytest.mark.parametrize("entry", STATEFUL, ids=[e.name for e in STATEFUL])
def test_mismatched_shape_never_broadcasts_silently(entry: Entry):
    tx = entry.factory(**entry.kwargs)
    state = tx.init(_PARAMS)
    with pytest.raises((ValueError, TypeError)):
        tx.update(_WRONG_SHAPE, state, _PARAMS, **_extra(entry, _PARAMS, _WRONG_SHAPE))


NEEDS_PARAMS = [e for e in ENTRIES if e.needs_params]


@pytest.mark.parametrize("entry", NEEDS_PARAMS, ids=[e.name for e in NEEDS_PARAMS])
def test_missing_params_names_the_transform(entry: Entry):
    tx = entry.factory(**entry.kwargs)
    state = tx.init(_PARAMS)
    extra = _extra(entry, _PARAMS, _PARAMS)
    with pytest.raises(ValueError, match=r"^\w+: update\(\) needs params"):
        tx.update(_PARAMS, state, None, **extra)


NEEDS_EXTRA = [e for e in ENTRIES if e.extra is not None]


@pytest.mark.parametrize("entry", NEEDS_EXTRA, ids=[e.name for e in NEEDS_EXTRA])
def test_missing_value_or_value_fn_names_the_transform(entry: Entry):
    tx = entry.factory(**entry.kwargs)
    state = tx.init(_PARAMS)
    partial = _extra(entry, _PARAMS, _PARAMS)
    del partial[entry.extra]
    with pytest.raises(ValueError, match=rf"^\w+: update\(\) needs {entry.extra}="):
        tx.update(_PARAMS, state, _PARAMS, **partial)
