"""Fenchel-Young, sparsemax, perceptron and multiclass hinge losses: references and Optax."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.scipy.special import logsumexp

from gradtx import losses
from tests.losses._common import (
    Jitted,
    assert_close,
    assert_close64,
    assert_jit_matches_eager,
    rng,
    trace,
)

# Slow (CI runs it): losses against Optax and references, compiled per case.
pytestmark = pytest.mark.slow

L = Jitted(losses)


def optax_std(name, *args, **kwargs):
    """``optax.losses.name`` under standard promotion (the suite runs strict)."""
    with jax.numpy_dtype_promotion("standard"), jax.numpy_rank_promotion("allow"):
        return getattr(optax.losses, name)(*args, **kwargs)


def _sparsemax64(z):
    """Martins and Astudillo 2016, Algorithm 1 (sort-based), float64."""
    u = np.sort(z)[::-1]
    k = np.arange(1, z.size + 1)
    css = np.cumsum(u)
    kz = k[1 + k * u > css].max()
    tau = (css[kz - 1] - 1) / kz
    return np.maximum(z - tau, 0), tau


def test_multiclass_sparsemax_loss_paper_form_gradient_and_optax(x64):
    r = rng(0)
    scores, labels = 1.5 * r.randn(6, 5), r.randint(0, 5, 6)
    ours = L.multiclass_sparsemax_loss(scores, labels)
    ref, grads = [], []
    for z, y in zip(scores, labels):
        p, tau = _sparsemax64(z)
        support = p > 0
        # Martins & Astudillo, eq. (17): -z_k + 1/2 sum_{j in S} (z_j^2 - tau^2) + 1/2.
        ref.append(-z[y] + 0.5 * np.sum(z[support] ** 2 - tau**2) + 0.5)
        grads.append(p - np.eye(5)[y])
    assert_close64(ours, ref, rtol=1e-12, atol=1e-12)
    g = jax.jit(jax.grad(lambda s: losses.multiclass_sparsemax_loss(s, labels).sum()))(scores)
    assert_close64(g, np.array(grads), atol=1e-12)
    assert_close64(ours, optax_std("multiclass_sparsemax_loss", scores, labels), atol=1e-12)


def test_multiclass_sparsemax_loss_zero_iff_sparsemax_is_the_label_and_shapes():
    scores = jnp.array([[3.0, 0.0, 0.0], [0.6, 0.5, 0.0]])
    out = L.multiclass_sparsemax_loss(scores, jnp.array([0, 0]))
    assert float(out[0]) == 0.0 and float(out[1]) > 0
    batched = jnp.asarray(rng(1).randn(2, 3, 4).astype(np.float32))
    labels = jnp.asarray(rng(2).randint(0, 4, (2, 3)))
    flat = L.multiclass_sparsemax_loss(batched.reshape(6, 4), labels.reshape(6))
    assert_close(L.multiclass_sparsemax_loss(batched, labels), flat.reshape(2, 3))
    bf16 = losses.multiclass_sparsemax_loss(batched.astype(jnp.bfloat16), labels)
    assert bf16.dtype == jnp.bfloat16
    assert_jit_matches_eager(losses.multiclass_sparsemax_loss, batched, labels)
    with pytest.raises(TypeError, match="integer"):
        trace(losses.multiclass_sparsemax_loss, batched, labels.astype(jnp.float32))


def test_binary_sparsemax_loss_closed_form_gradient_and_optax():
    x = jnp.linspace(-3.0, 3.0, 25)
    for label in (0, 1):
        y = jnp.full(x.shape, label)
        z = np.where(label, -np.asarray(x, np.float64), np.asarray(x, np.float64))
        ref = np.where(z <= -1, 0, np.where(z >= 1, z, (z + 1) ** 2 / 4))
        assert_close(L.sparsemax_loss(x, y), ref, atol=1e-7)
        assert_close(L.sparsemax_loss(x, y), optax_std("sparsemax_loss", x, y), atol=1e-7)
        # The derivative is the sparse sigmoid minus the label.
        g = jax.grad(lambda v, y=y: losses.sparsemax_loss(v, y).sum())(x)
        assert_close(g, np.clip((np.asarray(x) + 1) / 2, 0, 1) - label, atol=1e-6)


def test_fenchel_young_with_logsumexp_is_the_softmax_cross_entropy():
    r = rng(3)
    scores = jnp.asarray(r.randn(2, 3, 5).astype(np.float32))
    targets = jax.nn.one_hot(jnp.asarray(r.randint(0, 5, (2, 3))), 5)
    fy = losses.make_fenchel_young_loss(logsumexp)
    assert_close(fy(scores, targets), losses.softmax_cross_entropy(scores, targets), rtol=1e-5)
    with jax.numpy_dtype_promotion("standard"):
        theirs = optax.losses.make_fenchel_young_loss(logsumexp)(scores, targets)
    assert_close(fy(scores, targets), theirs, rtol=1e-6)
    g = jax.grad(lambda s: fy(s, targets).sum())(scores)
    assert_close(g, jax.nn.softmax(scores) - targets, rtol=1e-5, atol=1e-6)
    # Extra arguments go to max_fun unchanged; a shared target row broadcasts.
    scaled = losses.make_fenchel_young_loss(lambda s, t: t * logsumexp(s / t))
    assert scaled(scores, targets[0, 0], 2.0).shape == (2, 3)


def test_perceptron_and_multiclass_margins_against_numpy_and_optax():
    r = rng(4)
    f, y = r.randn(7).astype(np.float32), np.sign(r.randn(7)).astype(np.float32)
    assert_close(L.perceptron_loss(f, y), np.maximum(0, -f * y))
    assert_close(L.perceptron_loss(f, y), optax_std("perceptron_loss", f, y))
    with pytest.raises(ValueError, match="must be equal"):
        losses.perceptron_loss(jnp.ones(3), jnp.ones((3, 1)))
    s, c = r.randn(5, 4).astype(np.float32), r.randint(0, 4, 5)
    hinge = [max(s[i] + 1 - np.eye(4)[c[i]]) - s[i, c[i]] for i in range(5)]
    assert_close(L.multiclass_hinge_loss(s, c), hinge, rtol=1e-6, atol=1e-6)
    assert_close(L.multiclass_hinge_loss(s, c), optax_std("multiclass_hinge_loss", s, c), atol=1e-6)
    perc = [max(s[i]) - s[i, c[i]] for i in range(5)]
    assert_close(L.multiclass_perceptron_loss(s, c), perc)
    assert_close(L.multiclass_perceptron_loss(s, c), optax_std("multiclass_perceptron_loss", s, c))
    with pytest.raises(ValueError, match="labels.shape"):
        trace(losses.multiclass_hinge_loss, jnp.ones((5, 4)), jnp.zeros((4,), jnp.int32))
