"""MoMo and MoMo-Adam: Optax parity (fixed and adaptive lower bound, weight decay, a
schedule), the reference implementation (fabian-sp/MoMo) in float64 NumPy with
divide=True, the one-step Polyak solve, state structure, validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from tests.contrib._common import state_structure
from tests.helpers import assert_trees_close, example_params, schedule

# Slow (CI runs it): trajectories against Optax and the papers.
pytestmark = pytest.mark.slow

contrib = gradtx.contrib


def _targets(params, seed):
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda x: jnp.asarray(rng.normal(size=np.shape(x)), jnp.float32), params)


def _loss(params, targets):
    """A noisy quadratic (new targets each step): each (value, grad) pair is consistent."""
    terms = jax.tree.map(
        lambda x, t: 0.5 * jnp.sum((x.astype(jnp.float32) - t) ** 2), params, targets
    )
    return sum(jax.tree.leaves(terms))


def _trajectory(tx, params, steps):
    @jax.jit
    def step(params, state, targets):
        value, grad = jax.value_and_grad(_loss)(params, targets)
        u, state = tx.update(grad, state, params, value=value)
        return jax.tree.map(lambda p, d: p + d.astype(p.dtype), params, u), state, u

    state, out = tx.init(params), []
    for t in range(steps):
        params, state, u = step(params, state, _targets(params, t))
        out.append(u)
    return out, state


def _assert_parity(ours, theirs, steps=25, rtol=2e-5, atol=1e-6):
    params = example_params()
    a, _ = _trajectory(ours, params, steps)
    with jax.numpy_dtype_promotion("standard"):
        b, _ = _trajectory(theirs, params, steps)
    for t, (x, y) in enumerate(zip(a, b, strict=True)):
        assert_trees_close(x, y, rtol=rtol, atol=atol, msg=f"step {t}:")


MOMO_CASES = [
    {},
    dict(learning_rate=0.5, beta=0.8, lower_bound=-1.0, weight_decay=0.05),
    dict(learning_rate=schedule, beta=0.95, adapt_lower_bound=True, weight_decay=0.01),
    dict(lower_bound=5.0, adapt_lower_bound=True),
]
ADAM_CASES = [
    {},
    dict(learning_rate=0.5, b1=0.8, b2=0.99, eps=1e-6, lower_bound=-1.0, weight_decay=0.05),
    dict(learning_rate=schedule, adapt_lower_bound=True, weight_decay=0.01),
    dict(learning_rate=1.0, lower_bound=5.0, adapt_lower_bound=True),
]


@pytest.mark.parametrize("kwargs", MOMO_CASES)
def test_momo_matches_optax(kwargs):
    _assert_parity(contrib.momo(**kwargs), optax.contrib.momo(**kwargs))


@pytest.mark.parametrize("kwargs", ADAM_CASES)
def test_momo_adam_matches_optax(kwargs):
    _assert_parity(contrib.momo_adam(**kwargs), optax.contrib.momo_adam(**kwargs))


def _reference_momo(x, problems, lr, beta, wd, lb, use_fstar):
    """fabian-sp/MoMo ``momo/momo.py`` (bias_correction=False) in float64."""
    initial_lb = lb
    for k, (f, grad) in enumerate(problems(x)):
        loss, g = f(x), grad(x)
        if k == 0:
            loss_avg, grad_avg, grad_dot_w = loss, g.copy(), np.sum(x * g)
        loss_avg = beta * loss_avg + (1 - beta) * loss
        grad_avg = beta * grad_avg + (1 - beta) * g
        grad_dot_w = beta * grad_dot_w + (1 - beta) * np.sum(x * g)
        dot, norm = np.sum(x * grad_avg), np.sum(grad_avg * grad_avg)
        if use_fstar:
            cap = (1 + lr * wd) * loss_avg + dot - (1 + lr * wd) * grad_dot_w
            if cap < (1 + lr * wd) * lb:
                lb = max(cap / (2 * (1 + lr * wd)), initial_lb)
        nom = (1 + lr * wd) * (loss_avg - lb) + dot - (1 + lr * wd) * grad_dot_w
        tau = min(lr, max(nom, 0.0) / norm)
        if use_fstar:
            lb = max(loss_avg + dot - grad_dot_w - 0.5 * tau * norm, initial_lb)
        x = (x - tau * grad_avg) / (1 + lr * wd)
        yield x


def _reference_momo_adam(x, problems, lr, b1, b2, eps, wd, lb, use_fstar):
    """fabian-sp/MoMo ``momo/momo_adam.py`` (divide=True) in float64."""
    initial_lb = lb
    loss_avg, grad_avg, grad_avg_sq, grad_dot_w = 0.0, 0 * x, 0 * x, 0.0
    for k, (f, grad) in enumerate(problems(x)):
        t = k + 1
        loss, g = f(x), grad(x)
        grad_avg = b1 * grad_avg + (1 - b1) * g
        grad_avg_sq = b2 * grad_avg_sq + (1 - b2) * g * g
        grad_dot_w = b1 * grad_dot_w + (1 - b1) * np.sum(x * g)
        dk = np.sqrt(grad_avg_sq / (1 - b2**t)) + eps
        dot, norm = np.sum(x * grad_avg), np.sum(grad_avg * grad_avg / dk)
        loss_avg = (1 - b1) * loss + b1 * loss_avg
        bc1 = 1 - b1**t
        if use_fstar:
            cap = (1 + lr * wd) * loss_avg + dot - (1 + lr * wd) * grad_dot_w
            if cap < (1 + lr * wd) * bc1 * lb:
                lb = max(cap / (2 * (1 + lr * wd) * bc1), initial_lb)
        nom = (1 + lr * wd) * (loss_avg - bc1 * lb) + dot - (1 + lr * wd) * grad_dot_w
        tau = min(lr / bc1, max(nom, 0.0) / norm)
        if use_fstar:
            lb = max((loss_avg + dot - grad_dot_w - 0.5 * tau * norm) / bc1, initial_lb)
        x = (x - tau * grad_avg / dk) / (1 + lr * wd)
        yield x


def _problems(steps, seed=0):
    """Noisy quadratics f_k(x) = 0.5 |A_k x - b_k|^2, as (f, grad) per step."""
    rng = np.random.default_rng(seed)
    items = [(rng.normal(size=(6, 5)), rng.normal(size=6)) for _ in range(steps)]

    def gen(_x):
        for a, b in items:
            yield (
                (lambda x, a=a, b=b: 0.5 * np.sum((a @ x - b) ** 2)),
                (lambda x, a=a, b=b: a.T @ (a @ x - b)),
            )

    return items, gen


def _run_gradtx(tx, x0, items):
    x = jnp.asarray(x0)
    state, out = tx.init(x), []
    for a, b in items:
        f = lambda x, a=a, b=b: 0.5 * jnp.sum((jnp.asarray(a) @ x - jnp.asarray(b)) ** 2)  # noqa: E731
        value, grad = jax.value_and_grad(f)(x)
        u, state = tx.update(grad, state, x, value=value)
        x = x + u
        out.append(np.asarray(x))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("use_fstar", [False, True])
def test_momo_divide_is_the_reference(x64, use_fstar):
    x0 = np.random.default_rng(1).normal(size=5)
    items, gen = _problems(25)
    lr, beta, wd, lb = 0.5, 0.85, 0.1, (3.0 if use_fstar else 0.0)
    expected = list(_reference_momo(x0, gen, lr, beta, wd, lb, use_fstar))
    tx = contrib.momo(lr, beta, lb, wd, adapt_lower_bound=use_fstar, divide=True)
    np.testing.assert_allclose(_run_gradtx(tx, x0, items), expected, rtol=1e-11, atol=1e-13)


@pytest.mark.slow
@pytest.mark.parametrize("use_fstar", [False, True])
def test_momo_adam_divide_is_the_reference(x64, use_fstar):
    x0 = np.random.default_rng(2).normal(size=5)
    items, gen = _problems(25, seed=3)
    lr, b1, b2, eps, wd, lb = 0.1, 0.85, 0.99, 1e-8, 0.1, (3.0 if use_fstar else 0.0)
    expected = list(_reference_momo_adam(x0, gen, lr, b1, b2, eps, wd, lb, use_fstar))
    tx = contrib.momo_adam(lr, b1, b2, eps, lb, wd, adapt_lower_bound=use_fstar, divide=True)
    np.testing.assert_allclose(_run_gradtx(tx, x0, items), expected, rtol=1e-11, atol=1e-13)


def test_default_differs_from_divide_only_with_weight_decay(x64):
    x0 = np.random.default_rng(1).normal(size=5)
    items, _ = _problems(5)
    a = _run_gradtx(contrib.momo(0.5, divide=False), x0, items)
    b = _run_gradtx(contrib.momo(0.5, divide=True), x0, items)
    np.testing.assert_allclose(a, b, rtol=1e-14)
    a = _run_gradtx(contrib.momo(0.5, weight_decay=0.1), x0, items)
    b = _run_gradtx(contrib.momo(0.5, weight_decay=0.1, divide=True), x0, items)
    assert not np.allclose(a, b)


def test_polyak_step_solves_a_quadratic_with_known_minimum_in_one_step():
    """f = |x|^2 with f_* = 0: the first step is x - f/|g|^2 g = x/2 ... then 0."""
    f = lambda x: jnp.sum(x**2)  # noqa: E731
    tx = contrib.momo(learning_rate=10.0, beta=0.0)
    x = jnp.array([1.0, 2.0, 3.0])
    state = tx.init(x)
    value, grad = jax.value_and_grad(f)(x)
    u, state = tx.update(grad, state, x, value=value)
    np.testing.assert_allclose(x + u, x / 2, rtol=1e-6)


@pytest.mark.parametrize("name", ["momo", "momo_adam"])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_state_structure_matches_optax(name, dtype):
    params = example_params(dtype)
    ours = getattr(contrib, name)().init(params)
    theirs = getattr(optax.contrib, name)().init(params)
    assert state_structure(ours) == state_structure(theirs)


@pytest.mark.parametrize("name", ["momo", "momo_adam"])
def test_needs_params_and_value(name):
    tx = getattr(contrib, name)()
    state = tx.init(jnp.ones(2))
    with pytest.raises(ValueError, match="needs params"):
        tx.update(jnp.ones(2), state, value=1.0)
    with pytest.raises(ValueError, match="needs value"):
        tx.update(jnp.ones(2), state, jnp.ones(2))


def test_validation():
    with pytest.raises(ValueError, match=r"momo\(beta=1\.0\)"):
        contrib.momo(beta=1.0)
    with pytest.raises(ValueError, match=r"momo_adam\(weight_decay=-1\.0\)"):
        contrib.momo_adam(weight_decay=-1.0)
    with pytest.raises(ValueError, match=r"momo_adam\(b2=1\.5\)"):
        contrib.momo_adam(b2=1.5)
