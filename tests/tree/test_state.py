"""``get`` / ``set`` / ``get_all_with_path`` / ``map_params`` with Optax's semantics.

The intent of Optax's ``tree_utils/_state_utils_test.py``: the same searches run on the
same trees with ``optax.tree`` give the same paths, values and errors.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from gradtx import tree


class Inner(NamedTuple):
    count: jax.Array
    mu: dict


class Outer(NamedTuple):
    count: jax.Array
    hyperparams: dict
    inner_state: tuple


def _state():
    inner = Inner(jnp.asarray(3), {"w": jnp.ones(2)})
    return Outer(
        jnp.asarray(1),
        {"learning_rate": jnp.asarray(0.1), "b1": 0.9},
        (inner, [{"learning_rate": "nested", "count": jnp.asarray(7)}], None),
    )


TREES = [
    (),
    jnp.ones(3),
    _state(),
    {"a": 1.0, "b": [{"a": 2.0, "c": {"a": 3.0}}], "d": ({"a": 4.0},)},
    {"a": {"a": {"a": 1.0}}},
]
KEYS = ["count", "learning_rate", "a", "mu", "Inner", "Outer", "w", "nothing"]


def _readable(found):
    return [(jax.tree_util.keystr(p), repr(jax.tree.map(np.asarray, v))) for p, v in found]


@pytest.mark.parametrize("t", TREES, ids=range(len(TREES)))
@pytest.mark.parametrize("key", KEYS)
def test_get_all_with_path_equals_optax(t, key):
    ours = tree.get_all_with_path(t, key)
    assert _readable(ours) == _readable(optax.tree.get_all_with_path(t, key))
    for path, _ in ours:  # the NamedTupleKey entries carry the class and field name
        for entry in path:
            if isinstance(entry, tree.NamedTupleKey):
                assert str(entry) == f"{entry.tuple_name}.{entry.name}"


@pytest.mark.parametrize("t", TREES, ids=range(len(TREES)))
@pytest.mark.parametrize("key", KEYS)
def test_get_equals_optax_value_or_error(t, key):
    try:
        theirs = optax.tree.get(t, key, default="missing")
    except KeyError:
        with pytest.raises(KeyError, match="multiple values"):
            tree.get(t, key, default="missing")
        return
    ours = tree.get(t, key, default="missing")
    assert _readable([((), ours)]) == _readable([((), theirs)])


def test_get_returns_none_when_missing_and_raises_across_depths():
    state = _state()
    assert tree.get(state, "ema") is None  # the issue: gradtx raised KeyError
    assert tree.get(state, "ema", 5) == 5
    # "count" at three depths: Optax raises instead of picking the shallowest
    with pytest.raises(KeyError):
        tree.get(state, "count")


def test_get_with_filtering_picks_one_match():
    state = _state()
    only_inner = tree.get(state, "count", filtering=lambda p, v: "Inner" in str(p[-1]))
    assert int(only_inner) == 3
    lr = tree.get(state, "learning_rate", filtering=lambda p, v: isinstance(v, jax.Array))
    assert float(lr) == pytest.approx(0.1)


def test_get_finds_a_sub_state_by_class_name():
    for mod in (gradtx, optax):
        tx = mod.chain(mod.add_noise(1.0, 0.9, key=0), mod.scale_by_adam())
        noise = mod.tree.get(tx.init(jnp.zeros(3)), "AddNoiseState")
        assert type(noise).__name__ == "AddNoiseState" and int(noise.count) == 0


SET_CASES = [
    (_state(), None, {"count": jnp.asarray(9)}),
    (_state(), lambda p, v: "Inner" in str(p[-1]), {"count": jnp.asarray(9)}),
    (_state(), lambda p, v: isinstance(v, jax.Array), {"learning_rate": jnp.asarray(0.5)}),
    (_state(), None, {"Inner": "replaced", "b1": 0.5}),
    (
        {"hparams": {"learning_rate": 1.0}, "learning_rate": "foo"},
        lambda _, v: isinstance(v, float),
        {"learning_rate": 0.5},
    ),
    ({"a": {"a": 1.0}, "b": {"a": 1}}, lambda _, v: isinstance(v, float), {"a": 2.0}),
    ({"a": {"a": 1.0}, "b": {"a": 1}}, lambda _, v: isinstance(v, dict), {"a": {"c": 0.0}}),
    ({"a": {"a": 1.0}, "b": {"a": 1}}, None, {"a": 0}),
]


@pytest.mark.parametrize(("t", "filtering", "kwargs"), SET_CASES, ids=range(len(SET_CASES)))
def test_set_equals_optax(t, filtering, kwargs):
    ours = tree.set(t, filtering, **kwargs)
    theirs = optax.tree.set(t, filtering, **kwargs)
    assert jax.tree.structure(ours) == jax.tree.structure(theirs)
    assert _readable([((), ours)]) == _readable([((), theirs)])


def test_set_raises_for_a_key_not_in_the_state():
    for t in [(), jnp.ones(3), _state()]:
        with pytest.raises(KeyError, match="no values matching 'ema'"):
            tree.set(t, ema=2.0)
    with pytest.raises(KeyError, match="filtering"):
        tree.set(_state(), lambda p, v: False, count=1)


def test_set_replaces_outermost_matches_as_optax_and_works_under_jit():
    state = _state()
    new = tree.set(state, count=jnp.asarray(2))  # the counters inside inner_state stay
    assert [int(v) for _, v in tree.get_all_with_path(new, "count")] == [2, 3, 7]
    both = tree.set((Inner(jnp.asarray(0), {}), [Inner(jnp.asarray(1), {})]), count=5)
    assert [v for _, v in tree.get_all_with_path(both, "count")] == [5, 5]
    arrays_only = state._replace(inner_state=state.inner_state[:1])

    @jax.jit
    def set_lr(s, lr):
        return tree.set(s, lambda p, v: isinstance(v, jax.Array), learning_rate=lr)

    out = set_lr(arrays_only, jnp.asarray(0.25))
    assert float(out.hyperparams["learning_rate"]) == 0.25
    assert int(out.inner_state[0].count) == 3


def test_set_a_sub_state_by_class_name_as_optax():
    params = jnp.zeros(3)
    for mod in (gradtx, optax):
        tx = mod.chain(mod.add_noise(1.0, 0.9, key=0), mod.scale_by_adam())
        state = tx.init(params)
        noise = type(state[0])(count=jnp.asarray(42), rng_key=state[0].rng_key)
        new = mod.tree.set(state, AddNoiseState=noise)
        assert int(new[0].count) == 42 and int(new[1].count) == 0


class _Spec(NamedTuple):
    axis: int | None


def test_map_params_maps_param_shaped_subtrees_as_optax():
    params = {"m": {"w": jnp.zeros((1, 2)), "b": jnp.zeros(3)}}
    specs = {"m": {"w": _Spec(0), "b": _Spec(1)}}
    for make in (lambda m: m.scale_by_adam(), lambda m: m.chain(m.scale_by_rss(), m.scale(-1.0))):
        ours_tx, theirs_tx = make(gradtx), make(optax)
        ours = tree.map_params(
            ours_tx,
            lambda _, s: s,
            ours_tx.init(params),
            specs,
            transform_non_params=lambda _: _Spec(None),
        )
        theirs = optax.tree.map_params(
            theirs_tx,
            lambda _, s: s,
            theirs_tx.init(params),
            specs,
            transform_non_params=lambda _: _Spec(None),
        )
        assert repr(ours) == repr(theirs)


def test_map_params_takes_an_init_function_and_maps_to_none():
    opt = gradtx.scale_by_rss()
    params = {"a": jnp.zeros((1, 2))}
    out = tree.map_params(opt.init, lambda _: None, opt.init(params))
    assert out.sum_of_squares == {"a": None}
    plus_one = tree.map_params(opt, lambda v: v + 1, opt.init(params))
    np.testing.assert_allclose(
        plus_one.sum_of_squares["a"], opt.init(params).sum_of_squares["a"] + 1
    )
