"""Sophia and the Hutchinson estimator: Optax parity (with ``obj_fn``), the reference
formulas (no bias correction, rho * batch size), exactness on a diagonal Hessian."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from tests.contrib._common import state_structure
from tests.helpers import example_params

# Slow (CI runs it): trajectories against Optax and the papers.
pytestmark = pytest.mark.slow

contrib = gradtx.contrib


def _obj(params):
    return sum(jnp.sum(x**2 + 0.1 * x**4) for x in jax.tree.leaves(params))


def _run(tx, steps=25, standard=False):
    params, out = example_params(), []
    state = tx.init(params)
    with jax.numpy_dtype_promotion("standard" if standard else "strict"):
        update = jax.jit(lambda g, s, p: tx.update(g, s, p, obj_fn=_obj))
    for _ in range(steps):
        g = jax.grad(_obj)(params)
        with jax.numpy_dtype_promotion("standard" if standard else "strict"):
            u, state = update(g, state, params)
        params = jax.tree.map(lambda p, d: p + d, params, u)
        out.append(u)
    return out, state


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        dict(
            b1=0.9,
            b2=0.95,
            eps=1e-6,
            weight_decay=0.01,
            gamma=0.05,
            clip_threshold=None,
            update_interval=3,
        ),
        dict(hessian_diagonal_fn=None, update_interval=1, mu_dtype=jnp.float32),
    ],
)
def test_sophia_matches_optax(kwargs):
    ours_kw, theirs_kw = dict(kwargs), dict(kwargs)
    if "hessian_diagonal_fn" in kwargs:
        ours_kw["hessian_diagonal_fn"] = contrib.hutchinson_estimator_diag_hessian(
            jax.random.PRNGKey(3)
        )
        theirs_kw["hessian_diagonal_fn"] = optax.contrib.hutchinson_estimator_diag_hessian(
            jax.random.PRNGKey(3)
        )
    ours, s_ours = _run(contrib.sophia(0.05, **ours_kw))
    theirs, s_theirs = _run(optax.contrib.sophia(0.05, **theirs_kw), standard=True)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-7)
    assert state_structure(s_ours[0]) == state_structure(s_theirs[0])
    assert type(s_ours[0]).__name__ == "SophiaState"


def test_hutchinson_is_exact_on_a_diagonal_hessian_and_matches_optax():
    d = jnp.array([1.0, 2.0, 3.0, 4.0])
    f = lambda x: jnp.sum(d * x**2)  # noqa: E731
    x = jnp.linspace(-1.0, 1.0, 4)
    ours = contrib.hutchinson_estimator_diag_hessian(jax.random.PRNGKey(1))
    theirs = optax.contrib.hutchinson_estimator_diag_hessian(jax.random.PRNGKey(1))
    h, state = ours.update(x, ours.init(x), x, obj_fn=f)
    h2, state2 = theirs.update(x, theirs.init(x), x, obj_fn=f)
    np.testing.assert_allclose(h, 2 * d)
    np.testing.assert_array_equal(state.key, state2.key)
    with pytest.raises(ValueError, match="obj_fn"):
        ours.update(x, ours.init(x), x)


def _squared_gradient():
    """A Gauss-Newton-Bartlett-like estimator: g * g of the gradient passed in."""
    return gradtx.stateless(lambda updates, params=None: jax.tree.map(lambda g: g * g, updates))


def test_reference_formulas(x64):
    """Liuhong99/Sophia ``sophia.py`` (SophiaG): m = b1 m + (1-b1) g (no bias
    correction), x -= lr * sign(m) * min(|m| / (rho * bs * h + 1e-15), 1), decoupled
    decay; the estimate refreshed on Optax's schedule (before steps 0, k, 2k ... update)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=5)
    lr, b1, b2, rho, bs, wd, k = 0.01, 0.9, 0.95, 0.04, 8, 0.1, 2
    m, h = np.zeros(5), np.zeros(5)
    tx = contrib.sophia(
        lr,
        b1,
        b2,
        eps=1e-15,
        weight_decay=wd,
        gamma=rho * bs,
        update_interval=k,
        hessian_diagonal_fn=_squared_gradient(),
        bias_correction=False,
    )
    params = jnp.asarray(x)
    state = tx.init(params)
    step = jax.jit(tx.update)
    for t in range(30):
        g = rng.normal(size=5)
        m = b1 * m + (1 - b1) * g
        ratio = np.minimum(np.abs(m) / np.maximum(rho * bs * h, 1e-15), 1.0)
        x = x * (1 - lr * wd) - lr * np.sign(m) * ratio
        if t % k == 0:
            h = b2 * h + (1 - b2) * g * g
        u, state = step(jnp.asarray(g), state, params)
        params = params + u
    np.testing.assert_allclose(params, x, rtol=1e-12)


def test_validation():
    with pytest.raises(ValueError, match=r"sophia\(gamma=0\.0\)"):
        contrib.sophia(0.1, gamma=0.0)
    with pytest.raises(ValueError, match=r"sophia\(update_interval=0\)"):
        contrib.sophia(0.1, update_interval=0)


def test_verbose_prints_optaxs_win_rate(capsys):
    """verbose=True prints the win rate every n steps, with Optax's message and value;
    by default nothing is printed."""

    def f(x):
        return jnp.sum(jnp.array([1.0, 10.0, 1e-4, 3.0]) * x**2)

    def printed(lib, **kwargs):
        tx = lib.contrib.sophia(0.1, gamma=0.5, **kwargs)
        x = jnp.array([1.0, -2.0, 0.5, 0.1])
        state = tx.init(x)
        for _ in range(4):
            u, state = tx.update(jax.grad(f)(x), state, x, obj_fn=f)
            x = x + u
        jax.effects_barrier()
        return capsys.readouterr().out

    ours = printed(gradtx, verbose=True, print_win_rate_every_n_steps=2)
    assert ours.count("Sophia optimizer win rate:") == 2
    with jax.numpy_dtype_promotion("standard"):  # Optax's own arithmetic needs it
        theirs = printed(optax, verbose=True, print_win_rate_every_n_steps=2)
    assert ours == theirs
    assert printed(gradtx) == "" and printed(gradtx, verbose=True) == ""
