"""CTC loss: brute force over all alignments, a NumPy forward reference, Optax parity."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gradtx import losses
from tests.losses._common import (
    assert_close,
    assert_close64,
    rng,
    trace,
)

# Slow (CI runs it): losses against Optax and references, compiled per case.
pytestmark = pytest.mark.slow

# Each of these compiles once per shape and dtype; the tests share two shapes, tiny
# (7, 4, 3) and medium (4, 9, 5), to keep the number of compilations small.
CTC_FORWARD = jax.jit(losses.ctc_loss_with_forward_probs, static_argnames="blank_id")
CTC_GRAD = jax.jit(jax.grad(lambda x, *rest: jnp.sum(losses.ctc_loss(x, *rest))))
OPTAX_FORWARD = jax.jit(optax.losses.ctc_loss_with_forward_probs, static_argnames="blank_id")


def CTC(*args, **kwargs):  # noqa: N802
    return CTC_FORWARD(*args, **kwargs)[0]


def _log_softmax64(x):
    x = np.asarray(x, np.float64)
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def _collapse(path, blank):
    """Graves' map B: merge repeated symbols, then drop blanks."""
    merged = [k for i, k in enumerate(path) if i == 0 or k != path[i - 1]]
    return tuple(k for k in merged if k != blank)


def _brute_force(logits, logit_pad, labels, label_pad, blank=0):
    """-log of the summed probability of every frame path that collapses to the labels."""
    losses_ = []
    for b in range(logits.shape[0]):
        frames = np.flatnonzero(np.asarray(logit_pad[b]) == 0)
        lp = _log_softmax64(np.asarray(logits[b])[frames])
        target = tuple(int(k) for k, p in zip(labels[b], label_pad[b], strict=True) if p == 0)
        scores = [
            lp[np.arange(len(frames)), list(path)].sum()
            for path in itertools.product(range(logits.shape[2]), repeat=len(frames))
            if _collapse(path, blank) == target
        ]
        losses_.append(-np.logaddexp.reduce(scores) if scores else np.inf)
    return np.array(losses_)


def _forward_ref(logits, logit_pad, labels, label_pad, blank=0):
    """Graves' alpha recursion in float64 NumPy with true -inf (an independent reference)."""
    out = []
    for b in range(logits.shape[0]):
        lp = _log_softmax64(np.asarray(logits[b])[np.asarray(logit_pad[b]) == 0])
        y = [int(k) for k, p in zip(labels[b], label_pad[b], strict=True) if p == 0]
        z = [blank]
        for k in y:
            z += [k, blank]
        alpha = np.full(len(z), -np.inf)
        alpha[0] = 0.0  # virtual frame 0: in the leading blank, before any output
        for t in range(lp.shape[0]):
            new = np.full(len(z), -np.inf)
            for s in range(len(z)):
                terms = [alpha[s]] + ([alpha[s - 1]] if s >= 1 else [])
                if s >= 2 and z[s] != blank and z[s] != z[s - 2]:
                    terms.append(alpha[s - 2])
                new[s] = np.logaddexp.reduce(terms) + lp[t, z[s]]
            alpha = new
        end = alpha[-1] if len(z) == 1 else np.logaddexp(alpha[-1], alpha[-2])
        out.append(-end)
    return np.array(out)


# Tiny cases (T = 4, K = 3): label sets with repeats, empty labels, every padding kind.
LABELS = np.array([[1, 2, 0], [1, 1, 0], [2, 0, 0], [0, 0, 0], [1, 2, 1], [2, 2, 0], [1, 2, 0]])
LABEL_PAD = np.array(
    [[0, 0, 1], [0, 0, 1], [0, 1, 1], [1, 1, 1], [0, 0, 0], [0, 0, 1], [0, 0, 1]], np.float32
)
# Full, trailing, inner, leading and two trailing padded frames.
LOGIT_PAD = np.array(
    [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1], [0, 1, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0]]
    + [[0, 0, 1, 1]],
    np.float32,
)
NO_PAD = np.zeros_like(LOGIT_PAD)


def _tiny_logits(seed, scale=2.0):
    return (scale * rng(seed).randn(len(LABELS), 4, 3)).astype(np.float32)


def _medium_case(seed, scale):
    """Random (4, 9, 5) logits with 4 right-padded labels (one repeat) and frame padding."""
    r = rng(seed)
    logits = (scale * r.randn(4, 9, 5)).astype(np.float32)
    labels = r.randint(1, 5, (4, 4))
    labels[0, 1] = labels[0, 0]  # a repeat
    label_pad = (np.arange(4)[None] >= np.array([[4], [2], [0], [3]])).astype(np.float32)
    logit_pad = (np.arange(9)[None] >= np.array([[9], [6], [3], [8]])).astype(np.float32)
    return logits, logit_pad, labels, label_pad


def test_ctc_matches_brute_force_x64(x64):
    logits = _tiny_logits(0).astype(np.float64)
    ref = _brute_force(logits, LOGIT_PAD, LABELS, LABEL_PAD)
    assert np.all(np.isfinite(ref))
    ours = CTC(logits, LOGIT_PAD, LABELS, LABEL_PAD)
    assert ours.dtype == jnp.float64
    assert_close64(ours, ref, rtol=1e-12)
    assert_close64(ours, _forward_ref(logits, LOGIT_PAD, LABELS, LABEL_PAD), rtol=1e-12)


@pytest.mark.parametrize("blank_id", [0, 2])
def test_ctc_matches_brute_force_float32(blank_id):
    logits, labels = _tiny_logits(1), LABELS
    if blank_id == 2:  # the same problem with the classes rotated: blank 0 -> 2
        logits, labels = logits[..., [1, 2, 0]], np.where(LABEL_PAD > 0, -1, LABELS - 1)
    ref = _brute_force(logits, LOGIT_PAD, labels, LABEL_PAD, blank=blank_id)
    ours = CTC(logits, LOGIT_PAD, labels, LABEL_PAD, blank_id=blank_id)
    assert ours.dtype == jnp.float32
    assert_close(ours, ref, rtol=2e-6, atol=1e-6)
    theirs = OPTAX_FORWARD(logits, LOGIT_PAD, labels, LABEL_PAD, blank_id=blank_id)[0]
    assert_close(ours, theirs, rtol=2e-6, atol=1e-6)
    if blank_id == 2:
        assert_close(ours, CTC(_tiny_logits(1), LOGIT_PAD, LABELS, LABEL_PAD))


def test_ctc_gradient_matches_brute_force_x64(x64):
    logits = jnp.asarray(_tiny_logits(2), jnp.float64)
    paths = np.array(list(itertools.product(range(3), repeat=4)))
    targets = [tuple(y[p == 0]) for y, p in zip(LABELS, LABEL_PAD, strict=True)]
    # valid[b, i]: path i collapses to the labels of sequence b (no frame padding here).
    valid = np.array([[_collapse(tuple(p), 0) == y for p in paths] for y in targets])

    @jax.jit
    @jax.grad
    def brute(x):  # differentiable brute force over the 81 paths
        lp = jax.nn.log_softmax(x, axis=-1)  # [B, T, K]
        scores = lp[:, jnp.arange(4), paths].sum(-1)  # [B, paths]
        return -jnp.sum(jax.nn.logsumexp(jnp.where(valid, scores, -jnp.inf), axis=-1))

    ours = CTC_GRAD(logits, NO_PAD, LABELS, LABEL_PAD)
    assert_close64(ours, brute(logits), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("x64_on", [False, True])
def test_ctc_extreme_logits_exact_and_finite_grads(x64_on):
    values = np.array([-1e4, 0.0, 1e4])
    logits = values[rng(3).randint(0, 3, (len(LABELS), 4, 3))]
    ref = _brute_force(logits, LOGIT_PAD, LABELS, LABEL_PAD)
    with jax.enable_x64(x64_on):
        x = jnp.asarray(logits, jnp.float64 if x64_on else jnp.float32)
        ours = CTC(x, LOGIT_PAD, LABELS, LABEL_PAD)
        assert_close64(ours, ref, rtol=1e-12 if x64_on else 2e-6, atol=1e-6)
        assert np.all(np.isfinite(CTC_GRAD(x, NO_PAD, LABELS, LABEL_PAD)))


def test_ctc_long_extreme_sequence_stays_exact():
    # Logits ~3e4 over 9 frames: a true path costs > 1e5, beyond log_epsilon; the
    # per-frame renormalisation keeps it exact (a plain log-space recursion would not be).
    logits, _, labels, label_pad = _medium_case(4, scale=3e4)
    logit_pad = np.zeros((4, 9), np.float32)
    ref = _forward_ref(logits, logit_pad, labels, label_pad)
    assert ref.max() > 1e5 and np.all(np.isfinite(ref))
    assert_close(CTC(logits, logit_pad, labels, label_pad), ref, rtol=2e-6)
    assert np.all(np.isfinite(CTC_GRAD(logits, logit_pad, labels, label_pad)))


def test_ctc_optax_parity_random_with_forward_probs():
    case = _medium_case(5, scale=2.0)
    ours = CTC_FORWARD(*case)
    theirs = OPTAX_FORWARD(*case)
    assert_close(ours[0], theirs[0], rtol=2e-6)
    assert_close(ours[0], _forward_ref(*case), rtol=2e-6)
    for mine, optax_alpha in zip(ours[1:], theirs[1:], strict=True):
        assert mine.shape == optax_alpha.shape
        reachable = np.asarray(optax_alpha) > -1e4  # unreachable states sit near log_eps
        assert reachable.sum() > 50
        assert_close(np.asarray(mine)[reachable], np.asarray(optax_alpha)[reachable], 2e-6, 1e-5)
        assert np.all(np.asarray(mine)[~reachable] < -1e4)
    grad_optax = jax.grad(lambda x, *a: jnp.sum(OPTAX_FORWARD(x, *a)[0]))
    assert_close(CTC_GRAD(*case), grad_optax(*case), rtol=1e-5, atol=1e-6)


def test_ctc_last_alpha_row_gives_every_prefix_loss():
    logits = _tiny_logits(6)
    labels = np.broadcast_to(np.array([1, 2, 1]), LABELS.shape)
    no_label_pad = np.zeros_like(LABEL_PAD)
    _, blank, nonblank = CTC_FORWARD(logits, LOGIT_PAD, labels, no_label_pad)
    assert blank.shape == (4, 7, 4) and nonblank.shape == (4, 7, 3)
    for n in range(4):
        label_pad = np.broadcast_to(np.arange(3) >= n, LABEL_PAD.shape).astype(np.float32)
        prefix = CTC(logits, LOGIT_PAD, labels, label_pad)
        assert_close(-blank[-1, :, n], prefix, rtol=1e-6)
        ref = _brute_force(logits, LOGIT_PAD, labels, label_pad)
        feasible = np.isfinite(ref)
        assert_close(np.asarray(prefix)[feasible], ref[feasible], rtol=2e-6)


def test_ctc_infeasible_labels_give_large_finite_loss():
    logits = _tiny_logits(7)
    # Only 2 real frames: 3 labels, or a repeat (which needs a blank between), cannot fit.
    logit_pad = np.broadcast_to(np.array([0, 0, 1, 1], np.float32), LOGIT_PAD.shape)
    labels = np.broadcast_to(np.array([1, 1, 2]), LABELS.shape)
    label_pad = np.broadcast_to(np.array([0, 0, 1], np.float32), LABEL_PAD.shape).copy()
    label_pad[::2] = 0  # rows 0, 2, 4, 6: three labels
    assert np.all(np.isinf(_brute_force(logits, logit_pad, labels, label_pad)))
    out = CTC(logits, logit_pad, labels, label_pad)
    assert np.all(np.isfinite(out)) and np.all(out > 1e4)
    assert np.all(np.isfinite(CTC_GRAD(logits, logit_pad, labels, label_pad)))


def test_ctc_eager_bool_paddings_and_bfloat16():
    logits = _tiny_logits(8)
    jitted = CTC(logits, LOGIT_PAD, LABELS, LABEL_PAD)
    # Eager, with boolean paddings, gives the jitted result.
    eager = losses.ctc_loss(logits, LOGIT_PAD > 0, LABELS, LABEL_PAD > 0)
    assert eager.dtype == jitted.dtype and eager.shape == jitted.shape
    assert_close(eager, jitted, rtol=1e-6, atol=1e-6)
    low = jnp.asarray(logits, jnp.bfloat16)
    out = CTC(low, LOGIT_PAD, LABELS, LABEL_PAD)
    assert out.dtype == jnp.float32  # computed in float32
    assert_close(out, CTC(low.astype(jnp.float32), LOGIT_PAD, LABELS, LABEL_PAD), rtol=1e-6)


def test_ctc_without_labels_is_the_all_blank_path():
    logits = _tiny_logits(9)
    all_blank = -_log_softmax64(logits)[..., 0].sum(-1, where=LOGIT_PAD == 0)
    no_labels = np.zeros((len(LABELS), 0), np.int32)
    out = CTC(logits, LOGIT_PAD, no_labels, np.zeros((len(LABELS), 0), np.float32))
    assert_close(out, all_blank, rtol=1e-6)
    assert_close(CTC(logits, LOGIT_PAD, LABELS, np.ones_like(LABEL_PAD)), all_blank, rtol=1e-6)


def test_ctc_validation():
    x, pad = jnp.zeros((2, 4, 3)), jnp.zeros((2, 4))
    y, y_pad = jnp.zeros((2, 2), jnp.int32), jnp.zeros((2, 2))
    with pytest.raises(ValueError, match=r"logits must be \[batch, time, classes\]"):
        trace(losses.ctc_loss, x[0], pad, y, y_pad)
    with pytest.raises(ValueError, match=r"logit_paddings.shape=\(2, 3\) must be \(2, 4\)"):
        trace(losses.ctc_loss, x, pad[:, :3], y, y_pad)
    with pytest.raises(ValueError, match="must have the batch size 2"):
        trace(losses.ctc_loss, x, pad, y[:1], y_pad[:1])
    with pytest.raises(ValueError, match="label_paddings.shape=.* must equal"):
        trace(losses.ctc_loss, x, pad, y, y_pad[:, :1])
    with pytest.raises(ValueError, match=r"ctc_loss\(blank_id=3\): blank_id must be < classes"):
        trace(losses.ctc_loss, x, pad, y, y_pad, blank_id=3)
    with pytest.raises(ValueError, match=r"ctc_loss\(log_epsilon=1.0\)"):
        trace(losses.ctc_loss, x, pad, y, y_pad, log_epsilon=1.0)
    with pytest.raises(TypeError, match="logits must have a floating dtype"):
        trace(losses.ctc_loss, x.astype(jnp.int32), pad, y, y_pad)
