"""Dice loss: Optax parity, a NumPy reference, extremes, validation."""

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
    rng,
    trace,
)

# Slow (CI runs it): losses against Optax and references, compiled per case.
pytestmark = pytest.mark.slow

L = Jitted(losses)  # the losses under jit (see Jitted)
O = Jitted(optax.losses)


def _inputs(seed=0, shape=(2, 4, 4, 3)):
    r = rng(seed)
    logits = (2 * r.randn(*shape)).astype(np.float32)
    targets = np.asarray(jax.nn.one_hot(r.randint(0, shape[-1], shape[:-1]), shape[-1]))
    return logits, targets


def _dice_ref(probs, targets, axes, smooth=1.0, alpha=0.5, beta=0.5):
    """Per-class Tversky/Dice loss from the definition (Milletari 2016, Salehi 2017)."""
    p, t = np.asarray(probs, np.float64), np.asarray(targets, np.float64)
    tp = (p * t).sum(axes)
    fp = (p * (1 - t)).sum(axes)
    fn = ((1 - p) * t).sum(axes)
    return 1 - (tp + smooth) / (tp + alpha * fp + beta * fn + smooth)


KWARGS = [
    {},
    {"alpha": 0.3, "beta": 0.7},
    {"smooth": 0.0},
    {"class_weights": np.array([0.2, 1.0, 2.0], np.float32)},
    {"ignore_background": True, "reduction": "sum"},
    {"reduction": "none"},
    {"axis": (1,)},
]


@pytest.mark.parametrize("kwargs", KWARGS, ids=lambda k: ",".join(k) or "default")
def test_dice_parity(kwargs):
    logits, targets = _inputs()
    # Float hyperparameters traced, so that they share one compilation.
    kwargs = {k: jnp.float32(v) if isinstance(v, float) else v for k, v in kwargs.items()}
    ours = L.dice_loss(logits, targets, **kwargs)
    with jax.numpy_rank_promotion("allow"):  # Optax broadcasts class_weights implicitly
        theirs = O.dice_loss(jnp.asarray(logits), jnp.asarray(targets), **kwargs)
    assert_close(ours, theirs, rtol=1e-6, atol=1e-7)


def test_dice_reference_multiclass_and_binary():
    logits, targets = _inputs(1)
    probs = np.asarray(jax.nn.softmax(jnp.asarray(logits, jnp.float32), axis=-1))
    ref = _dice_ref(probs, targets, (1, 2), alpha=0.3, beta=0.7)
    ours = L.dice_loss(logits, targets, alpha=0.3, beta=0.7, reduction="none")
    assert_close(ours, ref, rtol=1e-5)
    # Binary: [B, H, W, 1] logits use a sigmoid; the trailing 1 may be left off one side.
    b_logits, b_targets = logits[..., :1], targets[..., :1]
    sig = 1 / (1 + np.exp(-b_logits.astype(np.float64)))
    ref = _dice_ref(sig, b_targets, (1, 2))[..., 0]
    assert_close(L.dice_loss(b_logits, b_targets), ref, rtol=1e-5)
    assert_close(L.dice_loss(b_logits[..., 0], b_targets), ref, rtol=1e-5)
    assert_close(L.dice_loss(b_logits, b_targets[..., 0]), ref, rtol=1e-5)
    theirs = O.dice_loss(jnp.asarray(b_logits), jnp.asarray(b_targets[..., 0]))
    assert_close(L.dice_loss(b_logits, b_targets[..., 0]), theirs, rtol=1e-6)


def test_dice_hand_value_and_probabilities():
    probs = jnp.array([[[0.9, 0.1], [0.2, 0.8]]])
    targets = jnp.array([[[1.0, 0.0], [0.0, 1.0]]])
    # class 0: I = 0.9, P = 1.1, T = 1 -> 1 - 1.8 / 2.1; class 1: 1 - 1.6 / 1.9.
    out = L.dice_loss(probs, targets, apply_softmax=False, smooth=0.0, reduction="none")
    assert_close(out, [[1 - 1.8 / 2.1, 1 - 1.6 / 1.9]], rtol=1e-6)
    # Binary probabilities [..., 1] without softmax (Optax rejects these: they do not sum
    # to one over a class axis of size 1).
    p = jnp.array([[[0.25], [0.75]]])
    t = jnp.array([[[0.0], [1.0]]])
    assert_close(L.dice_loss(p, t, apply_softmax=False, smooth=0.0), [1 - 1.5 / 2.0])
    # Works under jit with apply_softmax=False (no value check).
    jitted = jax.jit(lambda x: L.dice_loss(x, t, apply_softmax=False, smooth=0.0))
    assert_close(jitted(p), [0.25])


def test_dice_empty_class_without_smoothing_is_zero():
    probs = jnp.array([[[1.0, 0.0], [1.0, 0.0]]])
    targets = jnp.array([[[1.0, 0.0], [1.0, 0.0]]])
    out = L.dice_loss(probs, targets, apply_softmax=False, smooth=0.0, reduction="none")
    assert out.tolist() == [[0.0, 0.0]]  # Optax: NaN for the empty class 1
    fn = lambda x: L.dice_loss(x, targets, apply_softmax=False, smooth=0.0)  # noqa: E731
    assert_finite_grads(fn, probs)


def test_dice_extremes_and_x64(x64):
    logits = jnp.array([[[1e4, -1e4], [-1e4, 1e4], [0.0, 1e3]]], jnp.float32)
    targets = jnp.array([[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]], jnp.float32)
    ours = L.dice_loss(logits, targets)
    assert ours.dtype == jnp.float32
    assert_close(ours, O.dice_loss(logits, targets), rtol=1e-6)
    assert_finite_grads(lambda x: L.dice_loss(x, targets), logits)
    l64, t64 = _inputs(2)
    out = L.dice_loss(jnp.asarray(l64, jnp.float64), jnp.asarray(t64, jnp.float64))
    assert out.dtype == jnp.float64
    probs = np.asarray(jax.nn.softmax(jnp.asarray(l64, jnp.float64), axis=-1))
    assert_close64(out, _dice_ref(probs, t64, (1, 2)).mean(-1), rtol=1e-12)


def test_dice_jit_and_bfloat16():
    logits, targets = _inputs(3)
    assert_jit_matches_eager(losses.dice_loss, logits, targets)
    low = losses.dice_loss(jnp.asarray(logits, jnp.bfloat16), jnp.asarray(targets, jnp.bfloat16))
    assert low.dtype == jnp.bfloat16
    assert_close(low, losses.dice_loss(logits, targets), rtol=2e-2, atol=2e-2)


def test_dice_validation():
    logits, targets = _inputs(4)
    with pytest.raises(ValueError, match=r"dice_loss\(reduction='avg'\): reduction must be"):
        trace(losses.dice_loss, logits, targets, reduction="avg")
    with pytest.raises(ValueError, match=r"dice_loss\(alpha=-0.1\)"):
        trace(losses.dice_loss, logits, targets, alpha=-0.1)
    with pytest.raises(ValueError, match="dice_loss: predictions.shape=.* must be equal"):
        trace(losses.dice_loss, logits, targets[:, :2])
    with pytest.raises(ValueError, match=r"class_weights must have shape \(3,\)"):
        trace(losses.dice_loss, logits, targets, class_weights=jnp.ones(2))
    with pytest.raises(TypeError, match="predictions must have a floating dtype"):
        trace(losses.dice_loss, targets.astype(np.int32), targets)


# --- issue 14 item 7: apply_softmax=False checks the predictions are distributions --------


def test_dice_without_softmax_rejects_non_distributions_as_optax():
    r = rng(11)
    targets = jnp.asarray(np.eye(3, dtype=np.float32)[r.randint(0, 3, (2, 4))])
    invalid = jnp.asarray(r.rand(2, 4, 3).astype(np.float32))
    with pytest.raises(ValueError, match="valid probability distributions"):
        losses.dice_loss(invalid, targets, apply_softmax=False)
    with pytest.raises(ValueError):
        optax.losses.dice_loss(invalid, targets, apply_softmax=False)
    valid = jax.nn.softmax(jnp.asarray(r.randn(2, 4, 3).astype(np.float32)), axis=-1)
    ours = losses.dice_loss(valid, targets, apply_softmax=False)
    assert_close(ours, optax.losses.dice_loss(valid, targets, apply_softmax=False), rtol=1e-6)
    bf16 = valid.astype(jnp.bfloat16)  # sums off by a bfloat16 rounding still pass
    assert losses.dice_loss(bf16, targets, apply_softmax=False).shape == (2,)


def test_dice_without_softmax_binary_probabilities_must_lie_in_unit_interval():
    t = jnp.array([[[0.0], [1.0]]])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        losses.dice_loss(jnp.array([[[1.5], [0.5]]]), t, apply_softmax=False)
    with pytest.raises(ValueError, match="valid probability"):
        losses.dice_loss(jnp.array([[[-0.1], [0.5]]]), t, apply_softmax=False)
