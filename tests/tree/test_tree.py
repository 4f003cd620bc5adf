"""gradtx.tree against NumPy."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from gradtx import tree


@pytest.fixture
def trees():
    x = {"a": jnp.asarray([1.0, -2.0]), "b": [jnp.asarray(3.0), jnp.ones((2, 2))]}
    y = {"a": jnp.asarray([0.5, 0.5]), "b": [jnp.asarray(-1.0), jnp.full((2, 2), 2.0)]}
    return x, y


def test_arithmetic(trees):
    x, y = trees
    assert tree.add(x, y)["a"].tolist() == [1.5, -1.5]
    assert tree.add(x, y, y)["b"][0].tolist() == 1.0
    assert tree.sub(x, y)["b"][1].tolist() == [[-1.0, -1.0], [-1.0, -1.0]]
    assert tree.scale(2.0, x)["a"].tolist() == [2.0, -4.0]
    np.testing.assert_allclose(tree.vdot(x, y), 0.5 - 1.0 - 3.0 + 8.0)


def test_norms(trees):
    x, _ = trees
    flat = np.concatenate([np.ravel(v) for v in jax.tree.leaves(x)])
    np.testing.assert_allclose(tree.global_norm(x), np.linalg.norm(flat), rtol=1e-6)
    np.testing.assert_allclose(tree.l2_norm(x, squared=True), np.sum(flat**2), rtol=1e-6)
    assert tree.global_norm({}).tolist() == 0.0


def test_norm_of_mixed_dtypes_accumulates_in_float32():
    x = {"a": jnp.full((300,), 1.0, jnp.bfloat16), "b": jnp.ones(4, jnp.float32)}
    n = tree.global_norm(x)
    assert n.dtype == jnp.float32
    np.testing.assert_allclose(n, np.sqrt(304.0), rtol=1e-6)


def test_norm_under_x64_is_float64(x64):
    assert tree.global_norm({"a": jnp.ones(2, jnp.float64)}).dtype == jnp.float64


def test_like(trees):
    x, _ = trees
    z = tree.zeros_like(x, dtype=jnp.bfloat16)
    assert z["a"].dtype == jnp.bfloat16 and z["b"][1].shape == (2, 2)
    assert tree.ones_like(x)["b"][0].tolist() == 1.0
    assert tree.full_like(x, 7.0)["a"].tolist() == [7.0, 7.0]
    assert tree.full_like({"i": jnp.arange(2)}, 1)["i"].dtype == jnp.int32
    assert tree.full_like({"i": jnp.arange(2)}, 1, dtype=jnp.float32)["i"].dtype == jnp.float32
    r1 = tree.random_like(jax.random.key(0), x)
    r2 = tree.random_like(jax.random.key(0), x)
    assert jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.all(a == b)), r1, r2))
    assert not bool(jnp.all(r1["b"][1][0] == r1["b"][1][1]))
    c = tree.cast({"f": jnp.ones(2), "i": jnp.arange(2)}, jnp.bfloat16)
    assert c["f"].dtype == c["i"].dtype == jnp.bfloat16  # every leaf, as Optax
    assert tree.cast(x, None) is x


def test_where(trees):
    x, y = trees
    assert tree.where(True, x, y)["a"].tolist() == [1.0, -2.0]
    assert tree.where(jnp.asarray(False), x, y)["a"].tolist() == [0.5, 0.5]
    condition = jax.tree.map(lambda leaf: leaf > 0, x)  # a tree of conditions, per element
    chosen = tree.where(condition, x, y)
    for c, a, b, out in zip(*map(jax.tree.leaves, (condition, x, y, chosen)), strict=True):
        np.testing.assert_array_equal(out, np.where(c, a, b))


def test_get_and_set_on_an_optimizer_state():
    tx = gradtx.chain(gradtx.scale_by_adam(), gradtx.add_noise(0.1, 0.5, key=0))
    state = tx.init({"w": jnp.zeros(2)})
    with pytest.raises(KeyError, match="multiple values"):
        tree.get(state, "count")
    assert tree.get(state, "nothing") is None
    assert int(tree.get(state, "count", filtering=lambda p, v: "Adam" in str(p[-1]))) == 0
    new = tree.set(state, count=jnp.asarray(4))
    assert [int(v) for _, v in tree.get_all_with_path(new, "count")] == [4, 4]
    with pytest.raises(KeyError, match="nothing"):
        tree.set(state, nothing=1)
