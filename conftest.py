"""Strict JAX numerics for every test, plus shared fixtures."""

import jax
import pytest

jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def x64():
    """Run the test body with 64-bit floats enabled (restored afterwards)."""
    with jax.enable_x64(True):
        yield


@pytest.fixture
def key():
    """A fixed PRNG key."""
    return jax.random.key(0)
