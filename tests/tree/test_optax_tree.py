"""Every ``optax.tree`` function against gradtx's of the same name: values, dtypes, errors.

The intent of Optax's own ``tree_utils/_tree_math_test.py``, ``_casting_test.py`` and
``_random_test.py``, written against Optax 0.2.8 itself as the reference.
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from gradtx import tree


def _nested(seed=0, int_leaf=True):
    k = jax.random.split(jax.random.key(seed), 3)
    out = {
        "a": jax.random.normal(k[0], (2, 3)),
        "b": [jax.random.normal(k[1], ()), {"c": jax.random.uniform(k[2], (4,)) + 0.5}],
    }
    if int_leaf:
        out["n"] = jnp.arange(1, 4, dtype=jnp.int32)
    return out


X, Y = _nested(0), _nested(1)
XF, YF = _nested(0, int_leaf=False), _nested(1, int_leaf=False)
EMPTY_TREES = [{}, (), [], None, {"key": [None, [None]]}]


def _standard(fn, *args, **kwargs):
    with jax.numpy_dtype_promotion("standard"):
        return fn(*args, **kwargs)


def assert_same(ours, theirs, rtol=1e-6):
    """Same structure, same leaf dtypes (and Python types), values close."""
    o_leaves, o_def = jax.tree.flatten(ours)
    t_leaves, t_def = jax.tree.flatten(theirs)
    assert o_def == t_def, (o_def, t_def)
    for o, t in zip(o_leaves, t_leaves, strict=True):
        assert jnp.result_type(o) == jnp.result_type(t), (o, t)
        assert isinstance(o, jax.Array) == isinstance(t, jax.Array), (type(o), type(t))
        np.testing.assert_allclose(np.asarray(o), np.asarray(t), rtol=rtol)


# (name, args) run with gradtx.tree.NAME and optax.tree.NAME; the result must agree.
CASES = [
    ("add", (X, Y)),
    ("add", (X, Y, X, Y)),
    ("sub", (X, Y)),
    ("mul", (X, Y)),
    ("div", (XF, YF)),
    ("scale", (0.5, X)),
    ("scale", (jnp.asarray(-2.0), XF)),
    ("add_scale", (X, 0.5, Y)),
    ("add_scale", (3, 0.1, 2)),
    ("vdot", (XF, YF)),
    (
        "vdot",
        (
            {"a": jnp.array([1, 2]), "b": jnp.array([1, 2])},
            {"a": -jnp.ones(2, int), "b": jnp.ones(2, int)},
        ),
    ),
    ("sum", (X,)),
    ("sum", (XF,)),
    ("max", (X,)),
    ("min", (X,)),
    ("min", ([jnp.ones([2, 3]), jnp.zeros([4, 0, 5])],)),
    ("max", ([7, jnp.zeros(0, jnp.int8)],)),
    ("size", (X,)),
    ("conj", ({"z": jnp.array([1 + 2j, 3 - 1j]), "r": jnp.ones(2)},)),
    ("real", ({"z": jnp.array([1 + 2j, 3 - 1j]), "r": jnp.ones(2)},)),
    ("norm", (XF,)),
    ("norm", (XF, 2, True)),
    ("norm", (XF, 1)),
    ("norm", (XF, 1, True)),
    ("norm", (XF, jnp.inf)),
    ("norm", (XF, "inf")),
    ("norm", (XF, "infinity", True)),
    ("norm", ({"z": jnp.array([3 + 4j]), "r": jnp.array([12.0 + 0j])},)),
    ("batch_shape", (X, (2, 1))),
    ("batch_shape", (X,)),
    ("zeros_like", (X,)),
    ("zeros_like", (X, jnp.bfloat16)),
    ("ones_like", (X, jnp.float16)),
    ("full_like", (X, 7)),
    ("full_like", (X, 0.25, jnp.float32)),
    ("clip", (X, 0.0, 0.5)),
    ("clip", (X, None, 0.5)),
    ("clip", (X, 2.0, None)),
    ("where", (True, X, Y)),
    ("where", (jnp.asarray(False), X, Y)),
    ("cast", (X, jnp.bfloat16)),
    ("cast", (X, None)),
    ("cast_like", (X, jax.tree.map(lambda x: x.astype(jnp.float16), X))),
    ("dtype", (XF,)),
    ("dtype", ({"a": jnp.ones(1, jnp.float16), "b": jnp.ones(1)}, "promote")),
    ("dtype", ({"a": jnp.ones(1, jnp.float16), "b": jnp.ones(1)}, "highest")),
    ("dtype", ({"a": jnp.ones(1, jnp.float16), "b": jnp.ones(1)}, "lowest")),
    ("dtype", ({"a": jnp.ones(1, jnp.int32), "b": jnp.ones(1, jnp.uint32)}, "promote")),
    ("update_moment", (XF, YF, 0.9, 1)),
    ("update_moment", (XF, YF, 0.99, 2)),
    ("update_moment_per_elem_norm", (XF, YF, 0.9, 2)),
    ("update_moment_per_elem_norm", (XF, YF, 0.9, 1)),
    ("update_moment_per_elem_norm", (XF, YF, 0.9, 3)),
    ("update_moment_per_elem_norm", ({"z": jnp.array([3 + 4j])}, {"z": jnp.ones(1)}, 0.5, 3)),
    ("update_infinity_moment", (XF, YF, 0.9, 1e-3)),
    ("bias_correction", (XF, 0.9, jnp.asarray(3))),
    ("bias_correction", (XF, 0.999, 1)),
]


@pytest.mark.parametrize(("name", "args"), CASES, ids=lambda v: v if isinstance(v, str) else "")
def test_matches_optax(name, args):
    """Both under standard promotion (Optax's own tests' mode; with mixed int/float leaves
    both libraries raise under the suite's strict mode, as JAX does)."""
    ours = _standard(getattr(tree, name), *args)
    theirs = _standard(getattr(optax.tree, name), *args)
    if name == "dtype" or name == "size":
        assert ours == theirs and type(ours) is type(theirs)
    else:
        assert_same(ours, theirs)


@pytest.mark.parametrize(
    "name", ["add", "sub", "mul", "div", "scale", "clip", "norm", "sum", "max", "vdot"]
)
def test_float_trees_match_optax_jitted_under_strict_promotion(name):
    args = {"scale": (0.5, XF), "clip": (XF, -0.1, 0.1), "norm": (XF,), "sum": (XF,)}
    args = args.get(name, (XF,) if name == "max" else (XF, YF))
    ours = jax.jit(getattr(tree, name))(*args)
    assert_same(ours, _standard(getattr(optax.tree, name), *args))


def test_allclose_matches_optax():
    close = jax.tree.map(lambda x: x + 1e-7 * jnp.ones_like(x), XF)
    far = jax.tree.map(lambda x: x + 1e-2, XF)
    for a, b in [(XF, close), (XF, far), ({}, {})]:
        assert bool(tree.allclose(a, b)) == bool(optax.tree.allclose(a, b))
    nan = {"a": jnp.array([jnp.nan, 1.0])}
    assert not bool(tree.allclose(nan, nan))
    assert bool(tree.allclose(nan, nan, equal_nan=True))
    assert bool(tree.allclose(XF, far, atol=0.1)) == bool(optax.tree.allclose(XF, far, atol=0.1))
    assert tree.allclose({}, {}) is optax.tree.allclose({}, {}) is True


def test_sum_associative_reduction_matches_the_plain_sum():
    np.testing.assert_allclose(tree.sum(XF, associative_reduction=True), tree.sum(XF), rtol=1e-6)


@pytest.mark.parametrize("empty", EMPTY_TREES, ids=str)
def test_empty_trees_reduce_to_optax_identities(empty):
    assert tree.sum(empty) == optax.tree.sum(empty) == 0
    assert tree.vdot(empty, empty) == 0
    assert tree.size(empty) == optax.tree.size(empty) == 0
    assert tree.max(empty) == optax.tree.max(empty) == -float("inf")
    assert tree.min(empty) == optax.tree.min(empty) == float("inf")
    assert tree.dtype(empty) == optax.tree.dtype(empty)
    assert float(tree.norm(empty)) == float(optax.tree.norm(empty)) == 0.0


@pytest.mark.parametrize(
    "fn",
    [
        lambda t, m: t.add_scale(None, 1, m),
        lambda t, m: t.update_moment(None, m, 1, 1),
        lambda t, m: t.update_infinity_moment(None, m, 1, 1),
        lambda t, m: t.update_moment_per_elem_norm(None, m, 1, 1),
    ],
)
def test_none_updates_stay_none(fn):
    m = jnp.array([1.0, 2.0, 3.0])
    assert fn(tree, m) is None and fn(optax.tree, m) is None


def test_none_leaves_of_the_updates_stay_none():
    m = {"a": jnp.ones(2), "b": jnp.ones(2)}
    g = {"a": None, "b": jnp.full(2, 2.0)}
    for fn in (tree.update_moment, tree.update_moment_per_elem_norm):
        assert_same(fn(g, m, 0.5, 2), _standard(getattr(optax.tree, fn.__name__), g, m, 0.5, 2))
    assert_same(
        tree.update_infinity_moment(g, m, 0.5, 0.1),
        optax.tree.update_infinity_moment(g, m, 0.5, 0.1),
    )
    assert_same(tree.add_scale(g, 2.0, m), optax.tree.add_scale(g, 2.0, m))


def test_update_infinity_moment_properties():
    """Optax's checks: a fixed point, decayed max, absolute values, at least eps."""
    v, d = jnp.array([5.0, 7.0]), 0.9
    fn = tree.update_infinity_moment
    np.testing.assert_allclose(fn(v, v, decay=d, eps=0.0), v)
    np.testing.assert_allclose(fn(jnp.zeros(2), v, decay=d, eps=0.0), d * v, rtol=1e-6)
    np.testing.assert_allclose(fn(-v, jnp.zeros(2), decay=d, eps=0.0), v)
    np.testing.assert_allclose(fn(jnp.zeros(2), jnp.zeros(2), decay=d, eps=1e-2), [1e-2] * 2)
    bf = fn(jnp.ones(2, jnp.bfloat16), jnp.zeros(2, jnp.bfloat16), decay=d, eps=1e-8)
    assert bf.dtype == jnp.bfloat16


def test_bias_correction_of_bfloat16_stays_finite_and_bfloat16():
    m = jnp.logspace(-10, 10, num=21, dtype=jnp.bfloat16)
    for decay in (0.9, 0.99, 0.999, 0.9995):
        for count in (1, 10, 100, 1000):
            out = tree.bias_correction(m, decay, count)
            assert out.dtype == jnp.bfloat16 and bool(jnp.all(jnp.isfinite(out))), (decay, count)


def test_dtype_errors_match_optax():
    mixed = {"a": jnp.ones(1, jnp.float16), "b": jnp.ones(1)}
    for mod in (tree, optax.tree):
        with pytest.raises(ValueError, match="Expected dtype"):
            mod.dtype(mixed)
        with pytest.raises(ValueError, match="mixed_dtype_handler"):
            mod.dtype(mixed, "largest")
    uneven = {"a": jnp.ones(1, jnp.int8), "b": jnp.ones(1, jnp.uint8)}
    with pytest.raises(ValueError, match="promote"):
        tree.dtype(uneven, "highest")
    with pytest.raises(ValueError):
        _standard(optax.tree.dtype, uneven, "highest")
    assert tree.dtype(uneven, "promote") == _standard(optax.tree.dtype, uneven, "promote")


def test_norm_rejects_an_unknown_ord_as_optax():
    for mod in (tree, optax.tree):
        with pytest.raises(ValueError, match="Unsupported ord"):
            mod.norm(XF, ord=3)


def test_norm_and_vdot_accumulate_bfloat16_in_float32():
    """A deliberate difference: Optax returns bfloat16 (and loses the sum's precision)."""
    x = {"a": jnp.full((300,), 1.0, jnp.bfloat16)}
    assert tree.norm(x).dtype == tree.vdot(x, x).dtype == jnp.float32
    np.testing.assert_allclose(tree.norm(x, squared=True), 300.0)


def test_scale_keeps_a_floating_leaf_dtype_and_promotes_an_integer_one():
    out = tree.scale(jnp.asarray(0.5), {"b": jnp.ones(2, jnp.bfloat16), "i": jnp.arange(2)})
    assert out["b"].dtype == jnp.bfloat16
    assert out["i"].dtype == jnp.float32 and out["i"].tolist() == [0.0, 0.5]  # not truncated


def test_split_key_like_and_random_like_equal_optax():
    key = jax.random.key(3)
    ours, theirs = tree.split_key_like(key, XF), optax.tree.split_key_like(key, XF)
    assert_same(jax.random.key_data(ours["a"]), jax.random.key_data(theirs["a"]))
    assert jax.tree.structure(ours) == jax.tree.structure(theirs)
    for sampler, dtype in [(jax.random.normal, None), (jax.random.uniform, jnp.bfloat16)]:
        assert_same(
            tree.random_like(key, XF, sampler, dtype),
            optax.tree.random_like(key, XF, sampler, dtype),
        )
    rademacher = tree.random_like(key, {"i": jnp.zeros(5, jnp.int32)}, jax.random.rademacher)
    assert rademacher["i"].dtype == jnp.int32
    assert_same(
        rademacher,
        optax.tree.random_like(key, {"i": jnp.zeros(5, jnp.int32)}, jax.random.rademacher),
    )


def test_random_like_under_jit_gives_independent_leaves():
    t = {"a": jnp.zeros(3), "b": jnp.zeros(3)}
    r = jax.jit(tree.random_like)(jax.random.key(0), t)
    assert not bool(jnp.all(r["a"] == r["b"]))


def test_random_like_passes_the_leaf_sharding_to_a_sampler_that_takes_it():
    seen = []

    def sampler(key, shape, dtype, out_sharding=None):
        seen.append(out_sharding)
        return jnp.zeros(shape, dtype)

    tree.random_like(jax.random.key(0), {"a": jnp.zeros(2)}, sampler)
    assert seen and seen[0] is not None


def test_unwrap_random_key_data_matches_optax():
    t = {"k": jax.random.key(0), "x": jnp.ones(2), "old": jax.random.PRNGKey(1)}
    assert_same(tree.unwrap_random_key_data(t), optax.tree.unwrap_random_key_data(t))


def test_signatures_match_optax():
    for name in optax.tree.__dict__:
        if name.startswith("_") or not callable(getattr(optax.tree, name)):
            continue
        theirs = inspect.signature(getattr(optax.tree, name))
        ours = inspect.signature(getattr(tree, name))
        got = [(p.name, p.kind, p.default) for p in ours.parameters.values()]
        want = [(p.name, p.kind, p.default) for p in theirs.parameters.values()]
        assert got == want, name


def test_every_optax_tree_name_is_in_gradtx_tree():
    public = {n for n in dir(optax.tree) if not n.startswith("_")}
    assert public <= set(tree.__all__)
    assert gradtx.tree is tree
