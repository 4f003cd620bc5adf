"""SAM and normalize: Optax parity (transparent and opaque modes), the SAM step in closed
form, state structure."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from tests.contrib._common import state_structure
from tests.helpers import example_params
from tests.optax_parity import assert_optax_parity

# Slow (CI runs it): trajectories against Optax and the papers.
pytestmark = pytest.mark.slow

contrib = gradtx.contrib


def test_normalize_matches_optax():
    assert_optax_parity(contrib.normalize(), optax.contrib.normalize(), steps=25, eager=True)


def _pair(**kwargs):
    ours = contrib.sam(
        gradtx.adam(0.05), gradtx.chain(contrib.normalize(), gradtx.sgd(0.1)), **kwargs
    )
    theirs = optax.contrib.sam(
        optax.adam(0.05), optax.chain(optax.contrib.normalize(), optax.sgd(0.1)), **kwargs
    )
    return ours, theirs


@pytest.mark.parametrize("kwargs", [{}, dict(sync_period=3, reset_state=False)])
def test_sam_matches_optax(kwargs):
    ours, theirs = _pair(**kwargs)
    assert_optax_parity(ours, theirs, steps=26, rtol=1e-5, atol=1e-7)
    params = example_params()
    assert state_structure(ours.init(params)[:1]) == state_structure(theirs.init(params)[:1])
    assert ours.init(params)._fields == theirs.init(params)._fields


def test_opaque_mode_matches_optax():
    ours, theirs = _pair(opaque_mode=True, sync_period=3)
    f = lambda p: sum(jnp.sum(jnp.sin(x) + x**2) for x in jax.tree.leaves(p))  # noqa: E731
    grad_fn = lambda p, i: jax.grad(f)(p)  # noqa: E731
    params = example_params()
    s1, s2 = ours.init(params), theirs.init(params)
    p1 = p2 = params
    for _ in range(25):
        u1, s1 = ours.update(jax.grad(f)(p1), s1, p1, grad_fn=grad_fn)
        with jax.numpy_dtype_promotion("standard"):
            u2, s2 = theirs.update(jax.grad(f)(p2), s2, p2, grad_fn=grad_fn)
        p1, p2 = gradtx.apply_updates(p1, u1), optax.apply_updates(p2, u2)
    for a, b in zip(jax.tree.leaves(p1), jax.tree.leaves(p2), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="grad_fn"):
        ours.update(params, s1, params)


def test_sam_step_in_closed_form():
    """x' = x - lr * grad f(x + rho g / |g|) on f = |x|^2 / 2 after one period."""
    rho, lr = 0.1, 0.5
    tx = contrib.sam(gradtx.sgd(lr), gradtx.chain(contrib.normalize(), gradtx.sgd(rho)))
    x = jnp.array([3.0, 4.0])
    state = tx.init(x)
    u, state = tx.update(x, state, x)
    y = x + u
    u, state = tx.update(y, state, y)
    expected = x - lr * (x + rho * x / 5.0)
    np.testing.assert_allclose(y + u, expected, rtol=1e-6)


def test_sync_period_is_validated():
    with pytest.raises(ValueError, match=r"sam\(sync_period=0\)"):
        contrib.sam(gradtx.sgd(0.1), gradtx.sgd(0.1), sync_period=0)
