"""Regression losses: Optax parity, float64 references, extremes, gradients, validation."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gradtx import losses
from tests.losses._common import (
    Jitted,
    assert_close,
    assert_close64,
    assert_finite_grads,
    assert_jit_matches_eager,
    jit,
    rng,
    trace,
)

# Slow (CI runs it): losses against Optax and references, compiled per case.
pytestmark = pytest.mark.slow

SHARED = {
    "squared_error": (losses.squared_error, optax.losses.squared_error),
    "l2_loss": (losses.l2_loss, optax.losses.l2_loss),
    "huber_loss": (losses.huber_loss, optax.losses.huber_loss),
    "log_cosh": (losses.log_cosh, optax.losses.log_cosh),
}
ALL = [losses.squared_error, losses.l2_loss, losses.absolute_error, losses.huber_loss]
ALL += [losses.log_cosh]
EXTREMES = np.array([1e4, -1e4, 3e3, -50.0, 1.5, -1.0, 1e-3, -1e-6, 0.0], np.float32)

L = Jitted(losses)  # the losses under jit (see Jitted)
O = Jitted(optax.losses)


def _inputs(seed=0, shape=(4, 5), dtype=np.float32):
    r = rng(seed)
    return (3 * r.randn(*shape)).astype(dtype), (3 * r.randn(*shape)).astype(dtype)


@pytest.mark.parametrize("name", sorted(SHARED))
@pytest.mark.parametrize("with_targets", [True, False])
def test_optax_parity_random(name, with_targets):
    ours, theirs = (jit(f) for f in SHARED[name])
    p, t = _inputs()
    t = t if with_targets else None
    # log_cosh: Optax's log(e^x + e^-x) - log 2 has an absolute error ~ulp(log 2) for
    # small errors, which ours avoids; hence the absolute tolerance there.
    atol = 2e-7 if name == "log_cosh" else 0.0
    assert_close(ours(p, t), theirs(p, t), rtol=1e-6, atol=atol)


@pytest.mark.parametrize("name", sorted(SHARED))
def test_optax_parity_extremes_and_finite_grads(name):
    ours, theirs = (jit(f) for f in SHARED[name])
    atol = 2e-7 if name == "log_cosh" else 0.0
    assert_close(ours(EXTREMES), theirs(EXTREMES), rtol=1e-6, atol=atol)
    grads = assert_finite_grads(ours, jnp.asarray(EXTREMES))
    expected = jax.grad(lambda x: jnp.sum(theirs(x)))(jnp.asarray(EXTREMES))
    assert_close(grads, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("delta", [0.5, 1.0, 2.0])
def test_huber_parity_and_closed_form(delta):
    p, t = _inputs(1)
    traced = jnp.float32(delta)  # one compilation for every delta
    ours = L.huber_loss(p, t, delta=traced)
    assert_close(ours, O.huber_loss(p, t, delta=traced), rtol=1e-6)
    e = p.astype(np.float64) - t
    ref = np.where(np.abs(e) <= delta, 0.5 * e**2, delta * (np.abs(e) - 0.5 * delta))
    assert_close(ours, ref, rtol=1e-6)
    # The gradient is the error clipped to [-delta, delta].
    grad = jax.grad(lambda x: jnp.sum(L.huber_loss(x, t, delta=traced)))(p)
    assert_close(grad, np.clip(e, -delta, delta), rtol=1e-6, atol=1e-6)


def test_absolute_error_reference_and_subgradient():
    p, t = _inputs(2)
    assert_close(L.absolute_error(p, t), np.abs(p.astype(np.float64) - t), rtol=1e-6)
    x = jnp.array([-2.0, 0.0, 3.0])
    assert L.absolute_error(x).tolist() == [2.0, 0.0, 3.0]
    assert jax.grad(lambda v: jnp.sum(L.absolute_error(v)))(x).tolist() == [-1, 0, 1]


def test_log_cosh_accurate_for_tiny_and_huge_errors():
    x = np.array([1e-8, -3e-5, 1e-3, 0.2, -0.999, 1.0, 7.0, -40.0, 1e4], np.float32)
    ref = np.logaddexp(x.astype(np.float64), -x.astype(np.float64)) - np.log(2.0)
    small = np.abs(x) < 1
    xs = x[small].astype(np.float64)  # cosh(x) - 1 without the cancellation of cosh(x)
    ref[small] = np.log1p(0.5 * (np.expm1(xs) + np.expm1(-xs)))
    assert_close(L.log_cosh(x), ref, rtol=2e-6)
    grad = jax.grad(lambda v: jnp.sum(L.log_cosh(v)))(jnp.asarray(x))
    assert_close(grad, np.tanh(x.astype(np.float64)), rtol=1e-6)


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
def test_float64(x64, fn):
    p, t = _inputs(3, dtype=np.float64)
    out = jit(fn)(jnp.asarray(p), jnp.asarray(t))
    assert out.dtype == jnp.float64
    e = p - t
    refs = {
        "squared_error": e**2,
        "l2_loss": 0.5 * e**2,
        "absolute_error": np.abs(e),
        "huber_loss": np.where(np.abs(e) <= 1, 0.5 * e**2, np.abs(e) - 0.5),
        "log_cosh": np.log(np.cosh(e)),
    }
    assert_close64(out, refs[fn.__name__], rtol=1e-12)
    if fn.__name__ in SHARED:
        assert_close64(out, jit(SHARED[fn.__name__][1])(p, t), rtol=1e-12)


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
def test_bfloat16_keeps_dtype(fn):
    p, t = _inputs(4)
    out = jit(fn)(jnp.asarray(p, jnp.bfloat16), jnp.asarray(t, jnp.bfloat16))
    assert out.dtype == jnp.bfloat16
    assert_close(out, jit(fn)(p, t), rtol=3e-2, atol=3e-2)


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
def test_jit_matches_eager(fn):
    p, t = _inputs(5)
    assert_jit_matches_eager(fn, p, t)


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
def test_shapes(fn):
    p = jnp.arange(6.0).reshape(2, 3)
    shape = lambda *args: jax.eval_shape(fn, *args)  # noqa: E731  (traces, no compile)
    assert shape(p).shape == (2, 3)
    assert shape(p, jnp.float32(1.0)).shape == (2, 3)  # scalar target
    assert shape(p, jnp.ones(3)).shape == (2, 3)  # target broadcasting to predictions
    assert shape(jnp.float32(1.0), jnp.ones(3)).shape == (3,)  # scalar prediction
    assert shape(p, jnp.ones((2, 3), jnp.int32)).dtype == jnp.float32  # integer targets
    assert fn(p, 1.0).shape == (2, 3)  # eager, Python scalar target
    with pytest.raises(ValueError, match=rf"{fn.__name__}: shapes .*would silently broadcast"):
        trace(fn, jnp.ones(3), jnp.ones((3, 1)))
    with pytest.raises(ValueError, match=rf"{fn.__name__}: incompatible shapes"):
        trace(fn, jnp.ones(3), jnp.ones(4))
    with pytest.raises(TypeError, match=rf"{fn.__name__}: predictions must have a floating"):
        trace(fn, jnp.ones(3, jnp.int32))


def test_huber_delta_validation():
    with pytest.raises(ValueError, match=r"huber_loss\(delta=-1.0\): delta must be >= 0"):
        trace(losses.huber_loss, jnp.ones(3), delta=-1.0)
    # A traced delta is not checked, and works.
    out = jax.jit(lambda d: losses.huber_loss(jnp.array([3.0]), delta=d))(jnp.float32(2.0))
    assert out.tolist() == [4.0]
