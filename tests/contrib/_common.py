"""Shared inputs of the contrib tests: a tree with matrices, a vector and a scalar."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def matrix_params(dtype=jnp.float32):
    """Two matrices (one wide, one tall), a vector and a scalar."""
    return {
        "w": jnp.linspace(-1.0, 1.0, 12, dtype=dtype).reshape(3, 4),
        "v": jnp.linspace(0.0, 1.0, 20, dtype=dtype).reshape(5, 4),
        "b": jnp.full((4,), 0.1, dtype),
        "s": jnp.asarray(0.5, dtype),
    }


def state_structure(state):
    """The tree structure (as text: Optax's classes are other classes of the same names)
    with each leaf's shape and dtype, comparable with ``==``."""
    return str(jax.tree.structure(state)), [
        (jnp.shape(x), jnp.result_type(x)) for x in jax.tree.leaves(state)
    ]


# (shape, dimension numbers, the i-th matrix of a leaf): an [L, m, n] stack and a stack
# on a middle axis with the output axis first.
STACKED_LAYOUTS = [
    ((3, 4, 5), (1, 2), lambda x, i: x[i]),
    ((5, 2, 4), (2, 0), lambda x, i: x[:, i, :].T),
]


def assert_stacked_is_separate(make, shape, axes, take, steps=5):
    """``make(dimension_numbers=...)`` on a stacked leaf (next to a vector with ``None``
    dimension numbers) gives bitwise the updates of ``make()`` on its matrices, taken
    apart by ``take``; the stacked leaf's statistics gain its batch axis in front."""
    import numpy as np

    import gradtx

    dims = gradtx.contrib.MuonDimensionNumbers(*axes)
    batch = next(d for a, d in enumerate(shape) if a not in axes)
    stacked = make(dimension_numbers=lambda p: {"w": dims, "b": None})
    separate = make()
    params = {"w": jnp.zeros(shape), "b": jnp.zeros(3)}
    s_state = stacked.init(params)
    p_state = separate.init({"w": [take(params["w"], i) for i in range(batch)], "b": params["b"]})
    for leaf in jax.tree.leaves(s_state.stats["w"]):
        assert leaf.shape[0] == batch
    s_update, p_update = jax.jit(stacked.update), jax.jit(separate.update)
    for key in jax.random.split(jax.random.PRNGKey(0), steps):
        g = {"w": jax.random.normal(key, shape), "b": jnp.arange(3.0)}
        u, s_state = s_update(g, s_state)
        v, p_state = p_update({"w": [take(g["w"], i) for i in range(batch)], "b": g["b"]}, p_state)
        for i in range(batch):
            np.testing.assert_array_equal(take(u["w"], i), v["w"][i])
        np.testing.assert_array_equal(u["b"], v["b"])


__all__ = ["STACKED_LAYOUTS", "assert_stacked_is_separate", "matrix_params", "state_structure"]
