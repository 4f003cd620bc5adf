"""AdaHessian: the reference step (amirgholami/adahessian ``instruction/adahessian.py``)
in float64 NumPy, the delayed Hessian update, spatial averaging, the shared estimator
(`gradtx.second_order.hessian_diag`), validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from gradtx import second_order

pytestmark = pytest.mark.slow

contrib = gradtx.contrib

SCALE = np.array([0.5, 1.0, 2.0, 4.0])


def _separable(x):
    """A separable (diagonal-Hessian) loss: every Hutchinson probe is exact."""
    return jnp.sum(SCALE * (x**2 + 0.1 * x**4))


def _grad(x):
    return SCALE * (2 * x + 0.4 * x**3)


def _hess_diag(x):
    return SCALE * (2 + 1.2 * x**2)


def _reference(x, steps, lr, b1, b2, eps, wd, k, interval=1):
    """``Adahessian.step`` (torch), with the Hessian re-estimated every ``interval`` steps
    (refresh n uses bias correction ``1 - b2**n``; ``interval=1`` is the reference)."""
    m, v, refreshes, out = np.zeros_like(x), np.zeros_like(x), 0, []
    for t in range(1, steps + 1):
        g = _grad(x)
        m = b1 * m + (1 - b1) * g
        if (t - 1) % interval == 0:
            h = np.abs(_hess_diag(x))
            v = b2 * v + (1 - b2) * h * h
            refreshes += 1
        denom = np.sqrt(v) ** k / np.sqrt(1 - b2**refreshes) ** k + eps
        x = x - lr * (m / (1 - b1**t) / denom + wd * x)
        out.append(x)
    return out


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(b1=0.8, b2=0.9, eps=1e-3, weight_decay=0.05, hessian_power=0.5),
        dict(update_interval=3, b2=0.5),
    ],
)
def test_matches_the_reference_step(x64, kwargs):
    lr = 0.1
    x0 = np.array([1.0, -0.5, 0.25, 2.0])
    expected = _reference(
        x0,
        12,
        lr,
        kwargs.get("b1", 0.9),
        kwargs.get("b2", 0.999),
        kwargs.get("eps", 1e-4),
        kwargs.get("weight_decay", 0.0),
        kwargs.get("hessian_power", 1.0),
        kwargs.get("update_interval", 1),
    )
    tx = contrib.adahessian(lr, **kwargs)
    x = jnp.asarray(x0)
    state = tx.init(x)
    step = jax.jit(lambda g, s, p: tx.update(g, s, p, value_fn=_separable))
    for e in expected:
        u, state = step(jax.grad(_separable)(x), state, x)
        x = gradtx.apply_updates(x, u)
        assert x.dtype == jnp.float64
        np.testing.assert_allclose(x, e, rtol=1e-11, atol=1e-13)
    assert type(state[0]).__name__ == "ScaleByAdaHessianState"
    assert state[0].count.dtype == jnp.int32


def test_the_estimate_is_second_order_hessian_diag_with_the_state_key():
    """On a non-diagonal Hessian the estimate is one Rademacher probe of
    `second_order.hessian_diag`, keyed by the split of the state's key."""
    a = jnp.array([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]])
    f = lambda x: 0.5 * x @ a @ x  # noqa: E731
    key = jax.random.PRNGKey(7)
    tx = contrib.scale_by_adahessian(b2=0.5, key=key, num_samples=2)
    x = jnp.array([1.0, -1.0, 0.5])
    _, state = tx.update(jax.grad(f)(x), tx.init(x), x, value_fn=f)
    _, sub = jax.random.split(key)
    d = second_order.hessian_diag(f, x, key=sub, num_samples=2)
    np.testing.assert_allclose(state.nu, 0.5 * d**2, rtol=1e-6)
    np.testing.assert_array_equal(state.hessian_fn_state.key, jax.random.split(key)[0])


def test_spatial_average_over_the_kernel_axes():
    """A ``(h, w, in, out)`` kernel averages ``|D|`` over ``(h, w)``; vectors keep theirs."""
    rng = np.random.default_rng(0)
    scale = jnp.asarray(rng.uniform(0.5, 2.0, size=(3, 3, 2, 4)), jnp.float32)
    bias_scale = jnp.asarray([1.0, 2.0, 3.0, 4.0])

    def f(p):
        return 0.5 * jnp.sum(scale * p["k"] ** 2) + 0.5 * jnp.sum(bias_scale * p["b"] ** 2)

    params = {"k": jnp.ones((3, 3, 2, 4)), "b": jnp.ones(4)}
    tx = contrib.scale_by_adahessian(b2=0.0, spatial_average=True)
    _, state = tx.update(jax.grad(f)(params), tx.init(params), params, value_fn=f)
    mean = np.broadcast_to(np.mean(np.asarray(scale), axis=(0, 1), keepdims=True), (3, 3, 2, 4))
    np.testing.assert_allclose(state.nu["k"], mean**2, rtol=1e-5)
    np.testing.assert_allclose(state.nu["b"], np.asarray(bias_scale) ** 2, rtol=1e-6)


def test_on_a_diagonal_quadratic_it_is_a_damped_newton_method():
    """The exact diagonal makes every coordinate contract at the same rate, whatever its
    curvature (Adam's would not on a 1:1000 quadratic with this learning rate)."""
    d = jnp.array([1.0, 1000.0])
    f = lambda x: 0.5 * jnp.sum(d * x**2)  # noqa: E731
    tx = contrib.adahessian(0.2, b1=0.0, b2=0.0, eps=0.0)
    x = jnp.array([1.0, 1.0])
    state = tx.init(x)
    for _ in range(10):
        u, state = tx.update(jax.grad(f)(x), state, x, value_fn=f)
        x = gradtx.apply_updates(x, u)
    np.testing.assert_allclose(x, [0.8**10, 0.8**10], rtol=1e-5)


def test_bfloat16_leaves_keep_their_dtype():
    params = {"w": jnp.ones((2, 3), jnp.bfloat16)}
    f = lambda p: jnp.sum(p["w"].astype(jnp.float32) ** 2)  # noqa: E731
    tx = contrib.adahessian(0.1)
    u, state = tx.update(jax.grad(f)(params), tx.init(params), params, value_fn=f)
    assert u["w"].dtype == jnp.bfloat16 and state[0].nu["w"].dtype == jnp.bfloat16


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: contrib.scale_by_adahessian(b1=1.0), r"scale_by_adahessian\(b1=1\.0\)"),
        (
            lambda: contrib.scale_by_adahessian(hessian_power=1.5),
            r"scale_by_adahessian\(hessian_power=1\.5\)",
        ),
        (
            lambda: contrib.scale_by_adahessian(update_interval=0),
            r"scale_by_adahessian\(update_interval=0\)",
        ),
        (
            lambda: contrib.scale_by_adahessian(num_samples=0),
            r"scale_by_adahessian\(num_samples=0\)",
        ),
        (lambda: contrib.adahessian(weight_decay=-1.0), r"adahessian\(weight_decay=-1\.0\)"),
    ],
)
def test_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_update_needs_value_fn_and_params():
    tx = contrib.scale_by_adahessian()
    x = jnp.ones(2)
    with pytest.raises(ValueError, match="value_fn"):
        tx.update(x, tx.init(x), x)
    with pytest.raises(ValueError, match="params"):
        tx.update(x, tx.init(x), value_fn=jnp.sum)
