"""Property-based tests (hypothesis) over the test registry.

Random pytrees (nested dicts, lists and tuples, empty containers, scalars, ``None``
leaves, zero-size dimensions), random float dtypes (float16, bfloat16, float32, and
float64 under ``jax.enable_x64``) and random gradient magnitudes are drawn for a registry
entry drawn at random. Properties:

* the update has the gradient's structure, shapes and dtypes, and is finite;
* the state's structure, shapes and dtypes are the same after every update;
* jit equals eager (on a smaller sample: every example compiles);
* ``chain(a, identity())`` is ``a`` and ``masked(a, all False)`` is the identity;
* integer leaves pass through with a zero update: directly for the norms, clips and
  structural transforms, and for every entry behind ``masked(tx, float leaves)``;
* ``inject_hyperparams`` keeps hyperparameters in float32 with bfloat16 params (``b2``
  near 1 must not round to 1).

Examples are deterministic (profile in ``conftest.py``) and few: each one runs a
transform eagerly on a tiny tree.
"""

from __future__ import annotations

import contextlib
import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradtx
from tests.api_walk import kind, public_api
from tests.helpers import (
    all_finite,
    assert_same_shapes_and_dtypes,
    assert_trees_close,
    shapes_and_dtypes,
)
from tests.registry import ENTRIES, Entry
from tests.reliability.conftest import PROFILE
from tests.test_contract import _extra

# Slow (CI runs it): hypothesis properties over the whole registry.
pytestmark = pytest.mark.slow

SHAPES = [(), (0,), (3,), (2, 3), (0, 2), (1, 1, 2)]
LOW_PRECISION = ("float16", "bfloat16")

# Entries whose *state* may legitimately hold an infinity: a diagnostic ratio over zero
# params (training_monitor) or the "no best value yet" sentinel (reduce_on_plateau).
STATE_MAY_BE_INF = ("training_monitor", "reduce_on_plateau", "inject_hyperparams_reduce_on_plateau")


class _Leaf:
    """A placeholder for an array leaf of a drawn shape (materialised later)."""

    def __init__(self, shape):
        self.shape = shape

    def __repr__(self):
        return f"Leaf{self.shape}"


_leaf = st.sampled_from(SHAPES).map(_Leaf)
_node = st.one_of(_leaf, _leaf, st.none())
trees = st.recursive(
    _node,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(st.sampled_from(["a", "b", "c"]), children, max_size=3),
    ),
    max_leaves=4,
).filter(lambda tree: tree is not None)  # a bare None is "no params", not a tree


def _is_placeholder(x) -> bool:
    return isinstance(x, _Leaf) or x is None


def _materialise(skeleton, dtype, seed: int, magnitude: float, offset: float = 0.0):
    rng = np.random.default_rng(seed)

    def make(leaf):
        if leaf is None:
            return None
        values = offset + magnitude * rng.standard_normal(leaf.shape)
        return jnp.asarray(values, dtype)

    return jax.tree.map(make, skeleton, is_leaf=_is_placeholder)


def _x64_if(dtype: str):
    return jax.enable_x64(True) if dtype == "float64" else contextlib.nullcontext()


def _update(entry: Entry, tx, grads, state, params):
    return tx.update(grads, state, params, **_extra(entry, params, grads))


_entries = st.sampled_from(ENTRIES)
_dtypes = st.sampled_from(["float16", "bfloat16", "float32", "float64"])
_magnitudes = st.sampled_from([0.0, 1e-3, 1.0, 30.0])
_seeds = st.integers(0, 99)


@settings(settings.get_profile(PROFILE), max_examples=60)
@given(entry=_entries, skeleton=trees, dtype=_dtypes, magnitude=_magnitudes, seed=_seeds)
def test_update_keeps_structure_dtypes_and_finiteness(entry, skeleton, dtype, magnitude, seed):
    if dtype in LOW_PRECISION and not entry.supports_bf16:
        return
    with _x64_if(dtype):
        params = _materialise(skeleton, dtype, seed, 1.0, offset=0.5)
        tx = entry.factory(**entry.kwargs)
        state0 = state = tx.init(params)
        for t in range(2):
            grads = _materialise(skeleton, dtype, seed + 1 + t, magnitude)
            updates, state = _update(entry, tx, grads, state, params)
            assert_same_shapes_and_dtypes(updates, grads)
            assert shapes_and_dtypes(state) == shapes_and_dtypes(state0), (
                f"state drifted at step {t}"
            )
            assert all_finite(updates), f"non-finite update at step {t}: {updates}"
            if not entry.name.startswith(STATE_MAY_BE_INF):
                assert all_finite(state), f"non-finite state at step {t}"


@settings(settings.get_profile(PROFILE), max_examples=8)
@given(entry=_entries, skeleton=trees, seed=_seeds)
def test_jit_equals_eager(entry, skeleton, seed):
    params = _materialise(skeleton, jnp.float32, seed, 1.0, offset=0.5)
    grads = _materialise(skeleton, jnp.float32, seed + 1, 1.0)
    tx = entry.factory(**entry.kwargs)
    state = tx.init(params)
    eager = _update(entry, tx, grads, state, params)
    jitted = jax.jit(lambda g, s, p: _update(entry, tx, g, s, p))(grads, state, params)
    assert_trees_close(jitted[0], eager[0], rtol=entry.jit_rtol, atol=1e-6, msg="updates")
    assert_same_shapes_and_dtypes(jitted[1], eager[1])


@settings(settings.get_profile(PROFILE), max_examples=12)
@given(entry=_entries, skeleton=trees, seed=_seeds)
def test_chain_identity_and_all_false_mask(entry, skeleton, seed):
    params = _materialise(skeleton, jnp.float32, seed, 1.0, offset=0.5)
    grads = _materialise(skeleton, jnp.float32, seed + 1, 1.0)
    tx = entry.factory(**entry.kwargs)
    u, _ = _update(entry, tx, grads, tx.init(params), params)

    chained = gradtx.chain(entry.factory(**entry.kwargs), gradtx.identity())
    u_chained, _ = _update(entry, chained, grads, chained.init(params), params)
    assert_trees_close(u_chained, u, rtol=1e-6, atol=1e-7, msg="chain(a, identity())")

    all_false = jax.tree.map(lambda _: False, params)
    masked = gradtx.masked(entry.factory(**entry.kwargs), all_false)
    u_masked, _ = _update(entry, masked, grads, masked.init(params), params)
    assert_same_shapes_and_dtypes(u_masked, grads)
    assert all(
        a is b for a, b in zip(jax.tree.leaves(u_masked), jax.tree.leaves(grads), strict=True)
    ), "masked(a, all False) must pass every update through untouched"


# --- integer leaves --------------------------------------------------------------------

# Entries that take integer leaves directly (norms, clips, structural transforms).
INTEGER_SAFE = [
    "identity",
    "set_to_zero",
    "scale_by_sign",
    "clip",
    "clip_by_global_norm",
    "clip_by_block_rms",
    "adaptive_grad_clip",
    "centralize",
    "zero_nans",
    "keep_params_nonnegative",
    "scale_by_trust_ratio",
    "scale_by_factored_rms",
    "freeze",
    "apply_every",
    "training_monitor_standalone",
    "scale",
    "scale_by_learning_rate",
    "add_noise",
]
_BY_NAME = {e.name: e for e in ENTRIES}


def _with_int_leaf(tree):
    return {"float": tree, "step": jnp.zeros((3,), jnp.int32)}


def _float_leaves(tree):
    return jax.tree.map(lambda x: bool(jnp.issubdtype(x.dtype, jnp.inexact)), tree)


def _check_int_leaf_zero(updates):
    step = updates["step"]
    assert step.dtype == jnp.int32 and step.shape == (3,)
    assert bool(jnp.all(step == 0))


@pytest.mark.parametrize("name", INTEGER_SAFE)
def test_integer_leaves_pass_through_norms_clips_and_structure(name):
    entry = _BY_NAME[name]
    params = _with_int_leaf({"w": jnp.linspace(-1.0, 1.0, 6).reshape(2, 3)})
    grads = _with_int_leaf({"w": jnp.full((2, 3), 0.5)})
    tx = entry.factory(**entry.kwargs)
    updates, _ = _update(entry, tx, grads, tx.init(params), params)
    _check_int_leaf_zero(updates)
    assert all_finite(updates["float"])


# Under JAX's default ("standard") dtype promotion every entry takes integer leaves
# directly, except those whose numbers are the user's own function (the registry's
# `stateless*` entries scale by a float) and those that evaluate the loss at the whole
# params (line searches, curvature steps). (Under "strict" promotion, as in this suite,
# float arithmetic on an integer leaf is an error: there, only INTEGER_SAFE takes them.)
USER_FUNCTIONS = ("stateless", "stateless_with_tree_map", "with_extra_args_support")
INTEGER_LEAF_ENTRIES = [
    e for e in ENTRIES if e.name not in USER_FUNCTIONS and e.extra != "value_fn"
]


@pytest.mark.parametrize("entry", INTEGER_LEAF_ENTRIES, ids=[e.name for e in INTEGER_LEAF_ENTRIES])
def test_integer_leaves_get_a_zero_update_of_their_dtype(entry):
    params = _with_int_leaf({"w": jnp.linspace(-1.0, 1.0, 6).reshape(2, 3)})
    grads = _with_int_leaf({"w": jnp.full((2, 3), 0.5)})
    with jax.numpy_dtype_promotion("standard"):
        tx = entry.factory(**entry.kwargs)
        state = tx.init(params)
        for _ in range(2):
            updates, state = _update(entry, tx, grads, state, params)
            _check_int_leaf_zero(updates)
            assert all_finite(updates["float"])


def test_tree_norms_accept_integer_leaves():
    tree = {"f": jnp.asarray([3.0], jnp.float32), "i": jnp.asarray([4], jnp.int32)}
    as_float = {"f": jnp.asarray([3.0]), "i": jnp.asarray([4.0])}
    for fn in (gradtx.tree.global_norm, gradtx.tree.l2_norm, gradtx.tree.sum_of_squares):
        assert float(fn(tree)) == float(fn(as_float))
    assert float(gradtx.tree.vdot(tree, tree)) == 25.0


@settings(settings.get_profile(PROFILE), max_examples=12)
@given(entry=_entries, skeleton=trees, seed=_seeds)
def test_integer_leaves_pass_through_behind_a_float_mask(entry, skeleton, seed):
    if entry.extra == "value_fn":
        return  # a line search / curvature step evaluates the loss at the whole params
    params = _with_int_leaf(_materialise(skeleton, jnp.float32, seed, 1.0, offset=0.5))
    grads = _with_int_leaf(_materialise(skeleton, jnp.float32, seed + 1, 1.0))
    tx = gradtx.masked(entry.factory(**entry.kwargs), _float_leaves)
    updates, _ = _update(entry, tx, grads, tx.init(params), params)
    _check_int_leaf_zero(updates)
    assert_same_shapes_and_dtypes(updates, grads)


# --- inject_hyperparams keeps float32 hyperparameters ------------------------------------

INJECTABLE = {
    "adam": lambda b2: {"learning_rate": 0.1, "b2": b2},
    "adamw": lambda b2: {"learning_rate": 0.1, "b2": b2, "weight_decay": 1e-4},
    "scale_by_adam": lambda b2: {"b2": b2},
    "lion": lambda b2: {"learning_rate": 0.01, "b2": b2},
    "rmsprop": lambda b2: {"learning_rate": 0.1, "decay": b2},
    "sgd": lambda b2: {"learning_rate": 0.1, "momentum": b2},
}


@settings(settings.get_profile(PROFILE), max_examples=10)
@given(
    name=st.sampled_from(sorted(INJECTABLE)),
    b2=st.sampled_from([0.999, 0.9999, 0.99951]) | st.floats(0.996, 0.99999),
)
def test_inject_hyperparams_stay_float32_with_bfloat16_params(name, b2):
    kwargs = INJECTABLE[name](b2)
    tx = gradtx.inject_hyperparams(getattr(gradtx, name))(**kwargs)
    params = {"w": jnp.ones((2, 3), jnp.bfloat16), "b": jnp.zeros((3,), jnp.bfloat16)}
    state = tx.init(params)
    updates, state = jax.jit(tx.update)(params, state, params)
    assert jax.tree.map(lambda x: x.dtype, updates) == jax.tree.map(lambda x: x.dtype, params)
    for key, value in kwargs.items():
        held = state.hyperparams[key]
        assert held.dtype == jnp.float32, (key, held.dtype)
        assert float(held) == float(np.float32(value)), (key, float(held), value)
    assert float(state.hyperparams[next(k for k in kwargs if k in ("b2", "decay", "momentum"))]) < 1


# In float16, eps = 1e-8 and (1 - b2) g^2 for |g| < ~2e-4 round to 0; the Adam family
# computes half-precision leaves in float32, so zero and tiny gradients stay finite.
ADAM_FAMILY_FLOAT16 = {
    "scale_by_adam": lambda: gradtx.scale_by_adam(),
    "scale_by_adam_nesterov": lambda: gradtx.scale_by_adam(nesterov=True),
    "scale_by_adam_low_memory": lambda: gradtx.scale_by_adam(
        mu_dtype=jnp.bfloat16, nu_dtype=jnp.bfloat16
    ),
    "scale_by_amsgrad": lambda: gradtx.scale_by_amsgrad(),
    "scale_by_adamax": lambda: gradtx.scale_by_adamax(),
    "scale_by_belief": lambda: gradtx.scale_by_belief(),
    "scale_by_belief_nesterov": lambda: gradtx.scale_by_belief(nesterov=True),
    "scale_by_radam": lambda: gradtx.scale_by_radam(),
    "scale_by_yogi": lambda: gradtx.scale_by_yogi(),
    "scale_by_adan": lambda: gradtx.scale_by_adan(),
    "scale_by_lion": lambda: gradtx.scale_by_lion(),
    "scale_by_novograd": lambda: gradtx.scale_by_novograd(),
    "adam": lambda: gradtx.adam(0.1),
    "adamw": lambda: gradtx.adamw(0.1),
    "nadam": lambda: gradtx.nadam(0.1),
    "nadamw": lambda: gradtx.nadamw(0.1),
    "amsgrad": lambda: gradtx.amsgrad(0.1),
    "adabelief": lambda: gradtx.adabelief(0.1),
    "adan": lambda: gradtx.adan(0.1),
    "adamax": lambda: gradtx.adamax(0.1),
    "adamaxw": lambda: gradtx.adamaxw(0.1),
    "radam": lambda: gradtx.radam(0.1),
    "yogi": lambda: gradtx.yogi(0.1),
}


@pytest.mark.parametrize("name", sorted(ADAM_FAMILY_FLOAT16))
def test_float16_small_gradients_give_finite_adam_updates(name):
    tx = ADAM_FAMILY_FLOAT16[name]()
    params = jnp.full((4,), 0.5, jnp.float16)
    grads = jnp.asarray([0.0, 1e-4, 1e-3, 1.0], jnp.float16)
    state0 = state = tx.init(params)
    for step in range(2):
        updates, state = tx.update(grads, state, params)
        assert updates.dtype == jnp.float16 and all_finite(updates), (step, updates)
        assert all_finite(state), (step, state)
        assert shapes_and_dtypes(state) == shapes_and_dtypes(state0)


def test_float16_small_gradients_give_finite_rms_updates():
    """The RMS family computes its denominators in float32 (where eps=1e-8 survives)."""
    params = jnp.full((4,), 0.5, jnp.float16)
    grads = jnp.asarray([0.0, 1e-4, 1e-3, 1.0], jnp.float16)
    for tx in (
        gradtx.scale_by_rms(),
        gradtx.scale_by_rms(eps_in_sqrt=False, bias_correction=True),
        gradtx.scale_by_stddev(),
        gradtx.scale_by_stddev(bias_correction=True),
        gradtx.rmsprop(0.1, centered=True),
    ):
        state = tx.init(params)
        for _ in range(2):
            updates, state = tx.update(grads, state, params)
            assert updates.dtype == jnp.float16 and all_finite(updates), updates


# --- every optimizer at its default settings ----------------------------------------------

# Every alias of gradtx.optimizers, from the shared API walk, but optimistic_adam:
# deprecated in Optax (building it warns); optimistic_adam_v2 is its replacement.
OPTIMIZERS = sorted(
    path.split(".", 1)[1]
    for path, obj in public_api().items()
    if path.startswith("optimizers.")
    and kind(obj) == "transform"
    and path != "optimizers.optimistic_adam"
)


def _loss(params):
    return 0.5 * jnp.sum(params["w"] * params["w"]) + jnp.sum(params["m"] ** 2)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_at_default_settings_stays_finite(name):
    factory = getattr(gradtx, name)
    required = {
        p.name
        for p in inspect.signature(factory).parameters.values()
        if p.default is inspect.Parameter.empty
    }
    tx = factory(**({"learning_rate": 1e-2} if "learning_rate" in required else {}))
    # Zero, tiny, ordinary and large gradients and params, side by side.
    values = jnp.asarray([0.0, 1e-30, 1e-6, 1.0, -1e6], jnp.float32)
    params = {"w": values, "m": jnp.outer(values, values[::-1]) * 1e-6}
    state0 = tx.init(params)

    @jax.jit
    def run(params, state):
        history = []
        for _ in range(3):
            grads = jax.grad(_loss)(params)
            updates, state = tx.update(
                grads, state, params, value=_loss(params), grad=grads, value_fn=_loss
            )
            history.append(updates)
            params = gradtx.apply_updates(params, updates)
        return history, params, state

    history, params, state = run(params, state0)
    assert all_finite(history), (name, history)
    assert all_finite(params)
    assert shapes_and_dtypes(state) == shapes_and_dtypes(state0)
