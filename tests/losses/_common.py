"""Shared helpers for the loss tests."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np


def rng(seed: int = 0) -> np.random.RandomState:
    """A deterministic NumPy generator."""
    return np.random.RandomState(seed)


def assert_close(actual, expected, rtol=1e-6, atol=0.0):
    """Both arrays as float64, compared elementwise (NaN equal to NaN)."""
    actual = np.asarray(jnp.asarray(actual).astype(jnp.float32), np.float64)
    expected = np.asarray(jnp.asarray(expected).astype(jnp.float32), np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)


def assert_close64(actual, expected, rtol=1e-12, atol=0.0):
    """Like `assert_close` but keeps float64 precision (use under the x64 fixture)."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)


def assert_finite_grads(fn, *args, argnums=0):
    """``jax.grad`` of ``sum(fn(*args))`` (jitted) is finite for every differentiated argument."""
    grads = jax.jit(jax.grad(lambda *a: jnp.sum(fn(*a)), argnums=argnums))(*args)
    for g in jax.tree.leaves(grads):
        assert np.all(np.isfinite(np.asarray(g, np.float64))), g
    return grads


def assert_jit_matches_eager(fn, *args, **kwargs):
    """The jitted function gives the eager result (to float32 rounding)."""
    eager = fn(*args, **kwargs)
    jitted = jax.jit(lambda *a: fn(*a, **kwargs))(*args)
    for e, j in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted), strict=True):
        assert e.dtype == j.dtype and e.shape == j.shape
        assert_close(j, e, rtol=1e-6, atol=1e-6)


def _is_static(value) -> bool:
    return value is None or isinstance(value, (bool, int, float, str, tuple))


@functools.cache
def _jitted(fn, static: tuple[str, ...]):
    return jax.jit(fn, static_argnames=static)


class Jitted:
    """``Jitted(module).name(...)`` calls ``module.name`` under a cached ``jax.jit``.

    Keyword arguments that are Python scalars, strings, tuples or ``None`` are static;
    arrays are traced. Compiling each loss once is several times cheaper than running it
    eagerly (one compilation per primitive), which keeps the suite fast; eager execution
    is covered by the dedicated jit-vs-eager tests.
    """

    def __init__(self, module):
        self._module = module

    def __getattr__(self, name):
        return jit(getattr(self._module, name))


def jit(fn):
    """``fn`` under a cached ``jax.jit`` (static keyword arguments as in `Jitted`)."""

    def call(*args, **kwargs):
        static = tuple(sorted(k for k, v in kwargs.items() if _is_static(v)))
        return _jitted(fn, static)(*args, **kwargs)

    return call


def trace(fn, *args, **kwargs):
    """Run ``fn``'s Python code (and so its input checks) abstractly, without compiling.

    Used for the expected-error tests: every check is on shapes and dtypes, which are
    the same under tracing as eagerly, and tracing costs no XLA compilation.
    """
    return jax.eval_shape(lambda *a: fn(*a, **kwargs), *args)
