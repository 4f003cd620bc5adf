"""Property: random *valid* hyperparameters never give wrong dtypes or non-finite updates.

Each factory below is drawn with hyperparameters anywhere in their documented ranges
(decays in [0, 1), positive eps and norms, learning rates of either sign and many orders
of magnitude, ...), on random float32 / bfloat16 gradients of random magnitude, for a few
steps. Properties: the construction is accepted (the validators do not reject a valid
value), the update keeps the gradients' shapes and dtypes, the state keeps its shapes and
dtypes, and updates and state stay finite.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradtx
from tests.helpers import all_finite, assert_same_shapes_and_dtypes, shapes_and_dtypes
from tests.reliability.conftest import PROFILE

# Slow (CI runs it): hypothesis draws of hyperparameters, one compilation each.
pytestmark = pytest.mark.slow

_decay = st.floats(0.0, 0.9999)
_eps = st.floats(1e-10, 1e-1)
_lr = st.sampled_from([-1.0, 1.0]).flatmap(
    lambda sign: st.floats(1e-6, 1.0).map(lambda x: sign * x)
)
_positive = st.floats(1e-3, 1e3)
_non_negative = st.floats(0.0, 1.0)

# factory name -> strategy of keyword arguments inside the documented valid ranges.
FACTORIES = {
    "adam": st.fixed_dictionaries(
        {"learning_rate": _lr, "b1": _decay, "b2": _decay, "eps": _eps, "nesterov": st.booleans()}
    ),
    "adamw": st.fixed_dictionaries(
        {
            "learning_rate": _lr,
            "b1": _decay,
            "b2": _decay,
            "eps": _eps,
            "weight_decay": _non_negative,
        }
    ),
    "amsgrad": st.fixed_dictionaries(
        {"learning_rate": _lr, "b1": _decay, "b2": _decay, "eps": _eps}
    ),
    "adabelief": st.fixed_dictionaries({"learning_rate": _lr, "b1": _decay, "b2": _decay}),
    "adamax": st.fixed_dictionaries(
        {"learning_rate": _lr, "b1": _decay, "b2": _decay, "eps": _eps}
    ),
    "lion": st.fixed_dictionaries({"learning_rate": _lr, "b1": _decay, "b2": _decay}),
    "sgd": st.fixed_dictionaries(
        {"learning_rate": _lr, "momentum": st.none() | _decay, "nesterov": st.booleans()}
    ),
    "rmsprop": st.fixed_dictionaries(
        {"learning_rate": _lr, "decay": _decay, "eps": _eps, "centered": st.booleans()}
    ),
    "adagrad": st.fixed_dictionaries({"learning_rate": _lr, "eps": _eps}),
    "adafactor": st.fixed_dictionaries({"learning_rate": _lr, "decay_rate": st.floats(0.1, 0.99)}),
    "lamb": st.fixed_dictionaries(
        {"learning_rate": _lr, "b1": _decay, "b2": _decay, "weight_decay": _non_negative}
    ),
    "clip_by_global_norm": st.fixed_dictionaries({"max_norm": _positive}),
    "clip": st.fixed_dictionaries({"max_delta": _positive}),
    "scale_by_adam": st.fixed_dictionaries(
        {"b1": _decay, "b2": _decay, "eps": _eps, "eps_root": st.floats(0.0, 1e-6)}
    ),
    "add_decayed_weights": st.fixed_dictionaries({"weight_decay": _non_negative}),
    "trace": st.fixed_dictionaries({"decay": _decay, "nesterov": st.booleans()}),
    "ema": st.fixed_dictionaries({"decay": _decay, "debias": st.booleans()}),
}

_factory = st.sampled_from(sorted(FACTORIES)).flatmap(
    lambda name: FACTORIES[name].map(lambda kwargs: (name, kwargs))
)


@settings(settings.get_profile(PROFILE), max_examples=40)
@given(
    drawn=_factory,
    dtype=st.sampled_from([jnp.float32, jnp.bfloat16]),
    magnitude=st.sampled_from([0.0, 1e-3, 1.0, 100.0]),
    seed=st.integers(0, 99),
)
def test_valid_hyperparameters_keep_dtypes_and_finiteness(drawn, dtype, magnitude, seed):
    name, kwargs = drawn
    tx = getattr(gradtx, name)(**kwargs)  # a valid value is never rejected
    rng = np.random.default_rng(seed)
    params = {
        "w": jnp.asarray(rng.standard_normal((3, 4)), dtype),
        "b": [jnp.asarray(rng.standard_normal((4,)), dtype)],
    }
    state = state0 = tx.init(params)
    step = jax.jit(lambda g, s, p: tx.update(g, s, p))
    for _ in range(3):
        grads = jax.tree.map(
            lambda p: jnp.asarray(magnitude * rng.standard_normal(p.shape), dtype), params
        )
        updates, state = step(grads, state, params)
        assert_same_shapes_and_dtypes(updates, grads)
        assert shapes_and_dtypes(state) == shapes_and_dtypes(state0), (name, kwargs)
        assert all_finite(updates), (name, kwargs, updates)
        assert all_finite(state), (name, kwargs)
        params = gradtx.apply_updates(params, updates)
