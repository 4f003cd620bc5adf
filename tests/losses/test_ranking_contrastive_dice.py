"""ranking_softmax_loss, ntxent, binary and generalized Dice: references and Optax."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gradtx import losses
from tests.losses._common import assert_close, assert_close64, rng

# Slow (CI runs it): losses against Optax and references, compiled per case.
pytestmark = pytest.mark.slow


def optax_std(name, *args, **kwargs):
    with jax.numpy_dtype_promotion("standard"), jax.numpy_rank_promotion("allow"):
        return getattr(optax.losses, name)(*args, **kwargs)


def _ranking64(s, y, where=None, w=None):
    s, y = np.asarray(s, np.float64), np.asarray(y, np.float64)
    where = np.ones(s.shape, bool) if where is None else where
    y = np.where(where, y, 0) * (1 if w is None else w)
    total = np.sum(np.where(where, np.exp(s), 0), -1, keepdims=True)
    logz = np.log(np.where(total > 0, total, 1))
    return -np.sum(np.where(where, y * (s - logz), 0), -1)


@pytest.mark.parametrize("reduce_fn", [jnp.mean, jnp.sum, None])
def test_ranking_softmax_loss_reference_and_optax(reduce_fn):
    r = rng(0)
    s, y = r.randn(4, 6).astype(np.float32), r.randint(0, 3, (4, 6)).astype(np.float32)
    where, w = r.rand(4, 6) > 0.3, r.rand(4, 6).astype(np.float32)
    where[3] = False  # a list with no valid item
    per_list = _ranking64(s, y, where, w)
    ref = {jnp.mean: per_list[:3].mean(), jnp.sum: per_list.sum(), None: per_list}[reduce_fn]
    kw = dict(where=jnp.asarray(where), weights=jnp.asarray(w), reduce_fn=reduce_fn)
    ours = losses.ranking_softmax_loss(jnp.asarray(s), jnp.asarray(y), **kw)
    assert_close(ours, ref, rtol=1e-5)
    assert_close(ours, optax_std("ranking_softmax_loss", jnp.asarray(s), jnp.asarray(y), **kw))
    # All lists masked: the mean is 0, not NaN.
    none = losses.ranking_softmax_loss(
        jnp.asarray(s), jnp.asarray(y), where=jnp.zeros((4, 6), bool)
    )
    assert float(none) == 0.0
    grads = jax.grad(lambda x: losses.ranking_softmax_loss(x, jnp.asarray(y), **kw).sum())(s)
    assert np.all(np.isfinite(grads)) and np.all(np.asarray(grads)[~where] == 0)


def _ntxent64(x, labels, tau):
    x = np.asarray(x, np.float64)
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    c = u @ u.T / tau
    total, count = 0.0, 0
    for i in range(len(x)):
        for j in range(len(x)):
            if i != j and labels[i] == labels[j]:
                neg = np.exp(c[i][labels != labels[i]]).sum()
                total += -np.log(np.exp(c[i, j]) / (np.exp(c[i, j]) + neg))
                count += 1
    return total / count


@pytest.mark.parametrize("labels", [[0, 0, 1, 1, 2, 2], [0, 0, 0, 1, 1, 2]])
def test_ntxent_reference_gradient_and_optax(labels):
    labels = np.array(labels)
    x = rng(1).randn(6, 3).astype(np.float32)
    for tau in (0.07, 0.5):
        ours = losses.ntxent(jnp.asarray(x), jnp.asarray(labels), tau)
        assert_close(ours, _ntxent64(x, labels, tau), rtol=1e-5)
        assert_close(ours, optax_std("ntxent", jnp.asarray(x), jnp.asarray(labels), tau), 1e-6)
    g = jax.jit(jax.grad(losses.ntxent))(jnp.asarray(x), jnp.asarray(labels))
    with jax.numpy_dtype_promotion("standard"):
        g_optax = jax.grad(optax.losses.ntxent)(jnp.asarray(x), jnp.asarray(labels))
    assert_close(g, g_optax, rtol=1e-4, atol=1e-6)
    # A tiny temperature neither overflows nor gives NaN gradients.
    g = jax.grad(losses.ntxent)(jnp.asarray(x), jnp.asarray(labels), 1e-3)
    assert np.all(np.isfinite(g))
    with pytest.raises(ValueError, match="leading dimension"):
        losses.ntxent(jnp.asarray(x), jnp.asarray(labels[:5]))


def test_generalized_dice_reference_and_optax():
    r = rng(2)
    logits = r.randn(2, 5, 5, 3).astype(np.float32)
    targets = np.asarray(jax.nn.one_hot(r.randint(0, 3, (2, 5, 5)), 3))
    p = np.asarray(jax.nn.softmax(logits.astype(np.float64)))
    i, ps, ts = (p * targets).sum((1, 2)), p.sum((1, 2)), targets.sum((1, 2))
    freq = targets.sum((0, 1, 2))
    w = 1 / (freq**2 + 1e-7)
    w = w / w.sum() * 3
    per_class = w * (1 - (2 * i + 2) / (ps + ts + 2))
    for ignore in (False, True):
        ours = losses.multiclass_generalized_dice_loss(logits, targets, ignore_background=ignore)
        ref = per_class[:, 1:].mean() if ignore else per_class.mean()
        assert_close(ours, ref, rtol=1e-5)
        theirs = optax_std(
            "multiclass_generalized_dice_loss", logits, targets, ignore_background=ignore
        )
        assert_close(ours, theirs, rtol=1e-6)


def test_binary_dice_reference_optax_and_probability_check(x64):
    r = rng(3)
    logits, targets = r.randn(3, 4, 4), (r.rand(3, 4, 4) > 0.5).astype(float)
    p = 1 / (1 + np.exp(-logits))
    ref = 1 - (2 * (p * targets).sum((1, 2)) + 2) / (p.sum((1, 2)) + targets.sum((1, 2)) + 2)
    assert_close64(losses.binary_dice_loss(logits, targets), ref, rtol=1e-12)
    assert_close64(
        losses.binary_dice_loss(logits, targets), optax_std("binary_dice_loss", logits, targets)
    )
    assert_close64(losses.binary_dice_loss(logits[..., None], targets[..., None]), ref, 1e-12)
    # Probabilities without the sigmoid (Optax rejects every one that is not 1).
    assert_close64(losses.binary_dice_loss(p, targets, apply_sigmoid=False), ref, rtol=1e-12)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        losses.binary_dice_loss(logits, targets, apply_sigmoid=False)
