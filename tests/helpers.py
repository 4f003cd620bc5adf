"""Shared test helpers: tree comparison, trajectories, standard problems (the Optax
parity harness is tests/optax_parity.py)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np


def assert_trees_close(actual: Any, expected: Any, rtol: float = 1e-6, atol: float = 0.0, msg=""):
    """Same structure, and every leaf close (compared in float64 NumPy, by ``chex``)."""
    a_def, e_def = jax.tree.structure(actual), jax.tree.structure(expected)
    assert a_def == e_def, f"{msg} structures differ:\n{a_def}\n{e_def}"
    as64 = functools.partial(jax.tree.map, lambda x: np.asarray(x, np.float64))
    try:
        chex.assert_trees_all_close(as64(actual), as64(expected), rtol=rtol, atol=atol)
    except AssertionError as error:
        raise AssertionError(f"{msg} {error}") from None


def shapes_and_dtypes(tree: Any) -> Any:
    """The tree with each leaf replaced by ``(shape, dtype)``: comparable with ``==``."""
    return jax.tree.map(lambda x: (jnp.shape(x), jnp.result_type(x)), tree)


def assert_same_shapes_and_dtypes(actual: Any, expected: Any):
    """Same structure, shapes and dtypes."""
    a, e = shapes_and_dtypes(actual), shapes_and_dtypes(expected)
    assert a == e, f"\n{a}\n!=\n{e}"


def all_finite(tree: Any) -> bool:
    """Every floating leaf finite (integer leaves count as finite)."""
    return all(
        bool(jnp.all(jnp.isfinite(x)))
        for x in jax.tree.leaves(tree)
        if jnp.issubdtype(jnp.result_type(x), jnp.inexact)
    )


def example_params(dtype=jnp.float32) -> dict[str, Any]:
    """A small nested parameter tree with a matrix, a vector and a scalar."""
    return {
        "dense": {
            "w": jnp.linspace(-1.0, 1.0, 12, dtype=dtype).reshape(3, 4),
            "b": jnp.full((4,), 0.1, dtype),
        },
        "scalar": jnp.asarray(0.5, dtype),
    }


def schedule(count):
    """A decaying step size (written so it also runs under strict promotion)."""
    return 0.1 / (1.0 + 0.1 * count.astype(jnp.float32))


def not_vector(tree):
    """Mask function: true for every leaf that is not 1-D."""
    return jax.tree.map(lambda x: jnp.ndim(x) != 1, tree)


def no_scalar_params():
    """Two matrices and a 3-D leaf, no scalar (Optax's SM3 cannot take one)."""
    params = example_params()
    return {"dense": params["dense"], "cube": jnp.linspace(0.1, 1.0, 24).reshape(2, 3, 4)}


def tensor_params():
    """Factorable leaves (a 6x4 matrix, a 3x4x5 tensor), a vector and a scalar."""
    return {
        "dense": {"w": jnp.linspace(-1.0, 1.0, 24).reshape(6, 4), "b": jnp.full((4,), 0.1)},
        "conv": jnp.linspace(-0.5, 0.5, 60).reshape(3, 4, 5),
        "scalar": jnp.asarray(0.5),
    }


def gradient_sequence(params: Any, steps: int, seed: int = 0) -> list[Any]:
    """Deterministic pseudo-random gradients shaped like ``params`` (same dtypes)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        out.append(
            jax.tree.map(
                lambda p: jnp.asarray(rng.normal(size=np.shape(p)), jnp.result_type(p)), params
            )
        )
    return out


def run_updates(
    tx,
    params: Any,
    grads: list[Any],
    *,
    apply: bool = True,
    extra: Callable[[Any], dict[str, Any]] | None = None,
    jit: bool = True,
) -> tuple[list[Any], Any, Any]:
    """Run ``tx`` over ``grads``; return (updates per step, final params, final state).

    ``extra(params)`` supplies extra update arguments (e.g. ``value=``) at each step.
    """
    update = jax.jit(tx.update) if jit else tx.update
    state = tx.init(params)
    history = []
    for g in grads:
        kwargs = extra(params) if extra else {}
        updates, state = update(g, state, params, **kwargs)
        history.append(updates)
        if apply:
            params = jax.tree.map(lambda p, u: p + u.astype(p.dtype), params, updates)
    return history, params, state


def quadratic_problem(dtype=jnp.float32, condition_number: float = 10.0):
    """An ill-conditioned quadratic on a nested tree: ``(loss_fn, initial params)``."""
    params = {"a": jnp.ones((3,), dtype), "b": {"c": jnp.full((2, 2), -1.0, dtype)}}

    def loss_fn(p):
        a = p["a"].astype(jnp.float32)
        c = p["b"]["c"].astype(jnp.float32)
        scales_a = jnp.asarray([1.0, condition_number**0.5, condition_number], jnp.float32)
        return 0.5 * jnp.sum(scales_a * a * a) + 0.5 * jnp.sum(c * c)

    return loss_fn, params
