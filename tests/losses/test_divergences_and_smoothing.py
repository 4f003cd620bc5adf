"""KL variants, poly loss, safe cross-entropy, label smoothing: references and Optax."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gradtx import losses
from tests.losses._common import Jitted, assert_close, assert_close64, rng, trace

# Slow (CI runs it): losses against Optax and references, compiled per case.
pytestmark = pytest.mark.slow

L = Jitted(losses)


def optax_std(name, *args, **kwargs):
    with (
        jax.numpy_dtype_promotion("standard"),
        jax.numpy_rank_promotion("allow"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", DeprecationWarning)
        return getattr(optax.losses, name)(*args, **kwargs)


def _log_softmax64(x, axis=-1):
    x = np.asarray(x, np.float64)
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def test_kl_with_log_targets_reference_zero_targets_and_optax(x64):
    r = rng(0)
    log_p, log_t = _log_softmax64(r.randn(4, 6)), _log_softmax64(r.randn(4, 6))
    ref = np.sum(np.exp(log_t) * (log_t - log_p), -1)
    assert_close64(L.kl_divergence_with_log_targets(log_p, log_t), ref)
    assert_close64(
        L.kl_divergence_with_log_targets(log_p, log_t),
        optax_std("kl_divergence_with_log_targets", log_p, log_t),
    )
    assert_close64(
        L.kl_divergence_with_log_targets(log_p, log_t),
        L.kl_divergence(log_p, np.exp(log_t)),
        rtol=1e-12,
    )
    # 0 log 0 = 0: a -inf log-target contributes 0 (Optax: NaN), with finite gradients.
    log_t0 = jnp.log(jnp.array([0.5, 0.5, 0.0]))
    log_p0 = jnp.array([-1.0, -1.0, -jnp.inf])
    value = losses.kl_divergence_with_log_targets(log_p0, log_t0)
    assert np.isfinite(float(value))
    g = jax.grad(losses.kl_divergence_with_log_targets, argnums=(0, 1))(log_p0, log_t0)
    assert all(np.all(np.isfinite(np.asarray(x))) for x in g)


def test_generalized_kl_is_the_bregman_divergence_of_x_log_x(x64):
    r = rng(1)
    p, t = np.exp(r.randn(3, 5)), np.exp(r.randn(3, 5))
    f = lambda v: np.sum(v * np.log(v) - v, -1)  # noqa: E731
    bregman = f(t) - f(p) - np.sum(np.log(p) * (t - p), -1)
    assert_close64(L.generalized_kl_divergence(np.log(p), t), bregman, rtol=1e-12)
    assert_close64(
        L.generalized_kl_divergence(np.log(p), t),
        optax_std("generalized_kl_divergence", np.log(p), t),
        rtol=1e-12,
    )
    where = r.rand(3, 5) > 0.3
    masked = np.sum(np.where(where, t * np.log(t / p) - t + p, 0), -1)
    assert_close64(L.generalized_kl_divergence(np.log(p), t, where=where), masked, rtol=1e-12)


def test_convex_kl_divergence_warns_and_equals_generalized():
    log_p, t = jnp.log(jnp.array([1.0, 2.0])), jnp.array([2.0, 2.0])
    with pytest.warns(DeprecationWarning, match="generalized_kl_divergence"):
        value = losses.convex_kl_divergence(log_p, t)
    assert float(value) == float(losses.generalized_kl_divergence(log_p, t))


@pytest.mark.parametrize("epsilon", [2.0, -1.0, 0.0])
def test_poly_loss_reference_and_optax(x64, epsilon):
    r = rng(2)
    x = 2 * r.randn(4, 5)
    y = np.eye(5)[r.randint(0, 5, 4)] * 0.9 + 0.02
    ls = _log_softmax64(x)
    ref = -np.sum(y * ls, -1) + epsilon * np.sum(y * (1 - np.exp(ls)), -1)
    ours = L.poly_loss_cross_entropy(x, y, epsilon=epsilon)
    assert_close64(ours, ref, rtol=1e-12)
    assert_close64(ours, optax_std("poly_loss_cross_entropy", x, y, epsilon=epsilon), rtol=1e-12)
    where = r.rand(4, 5) > 0.2
    where[:, 0] = True
    theirs = optax_std("poly_loss_cross_entropy", x, y, epsilon=epsilon, where=where)
    assert_close64(L.poly_loss_cross_entropy(x, y, epsilon=epsilon, where=where), theirs, 1e-12)
    if epsilon == 0.0:
        assert_close64(ours, L.softmax_cross_entropy(x, y), rtol=1e-12)
    with pytest.raises(TypeError, match="labels"):
        trace(losses.poly_loss_cross_entropy, x, y.astype(np.int32))


def test_safe_softmax_cross_entropy_minus_inf_logits_gradients_and_optax():
    logits = jnp.array([[0.0, -jnp.inf, 1.0], [2.0, 1.0, -3.0]])
    labels = jnp.array([[0.5, 0.0, 0.5], [1.0, 0.0, 0.0]])
    ours = L.safe_softmax_cross_entropy(logits, labels)
    assert_close(ours, optax_std("safe_softmax_cross_entropy", logits, labels), rtol=1e-6)
    g = jax.grad(lambda x: losses.safe_softmax_cross_entropy(x, labels).sum())(logits)
    with jax.numpy_dtype_promotion("standard"):
        g_optax = jax.grad(lambda x: optax.losses.safe_softmax_cross_entropy(x, labels).sum())(
            logits
        )
    assert_close(g, g_optax, rtol=1e-6, atol=1e-7)


def test_smooth_labels_reference_where_and_optax():
    y = jax.nn.one_hot(jnp.array([0, 2, 1]), 4)
    out = L.smooth_labels(y, 0.2)
    assert_close(out, 0.8 * np.asarray(y) + 0.05)
    assert_close(out.sum(-1), np.ones(3), rtol=1e-6)
    assert_close(out, optax_std("smooth_labels", y, 0.2))
    where = jnp.array([[True, True, True, False]] * 3)
    assert_close(
        L.smooth_labels(y, 0.3, where=where), optax_std("smooth_labels", y, 0.3, where=where)
    )
    assert_close(
        L.smooth_labels(y, 0.3, axis=(0, 1)), optax_std("smooth_labels", y, 0.3, axis=(0, 1))
    )
    assert losses.smooth_labels(y.astype(jnp.bfloat16), 0.1).dtype == jnp.bfloat16
    with pytest.raises(ValueError, match=r"smooth_labels\(alpha=1.5\)"):
        losses.smooth_labels(y, 1.5)
