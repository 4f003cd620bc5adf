"""Classification losses and perplexity: Optax parity, references, extremes, validation."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.special

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

EXTREME_LOGITS = np.array(
    [[1e4, -1e4, 0.0, 3.0], [-1e4, 1e4, -1e4, 1e4], [50.0, -50.0, 100.0, -1e3]], np.float32
)

L = Jitted(losses)  # the losses under jit (see Jitted)
O = Jitted(optax.losses)


def _softmax64(x, axis=-1):
    x = np.asarray(x, np.float64)
    z = np.exp(x - x.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)


def _log_softmax64(x, axis=-1):
    x = np.asarray(x, np.float64)
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


# --- sigmoid binary cross-entropy ------------------------------------------------------


@pytest.mark.parametrize("hard", [True, False])
def test_sigmoid_bce_parity_random(hard):
    r = rng(0)
    logits = (4 * r.randn(5, 3)).astype(np.float32)
    labels = (r.rand(5, 3) > 0.5 if hard else r.rand(5, 3)).astype(np.float32)
    ours = L.sigmoid_binary_cross_entropy(logits, labels)
    assert_close(ours, O.sigmoid_binary_cross_entropy(logits, labels), rtol=1e-6)


def test_sigmoid_bce_extremes_parity_and_gradient():
    logits = jnp.asarray(EXTREME_LOGITS.ravel())
    labels = jnp.asarray(np.tile([1.0, 0.0, 0.25], 4), jnp.float32)
    ours = L.sigmoid_binary_cross_entropy(logits, labels)
    assert_close(ours, O.sigmoid_binary_cross_entropy(logits, labels), rtol=1e-6)
    grad = assert_finite_grads(L.sigmoid_binary_cross_entropy, logits, labels)
    sigma = scipy.special.expit(np.asarray(logits, np.float64))
    assert_close(grad, sigma - np.asarray(labels), rtol=1e-6, atol=1e-7)


def test_sigmoid_bce_x64_reference(x64):
    r = rng(1)
    x, y = 3 * r.randn(6), r.rand(6)
    ref = y * np.logaddexp(0, -x) + (1 - y) * np.logaddexp(0, x)
    assert_close64(L.sigmoid_binary_cross_entropy(x, y), ref, rtol=1e-12)


# --- softmax cross-entropy -------------------------------------------------------------


@pytest.mark.parametrize(
    "shape,axis", [((4, 6), -1), ((4, 6), 0), ((2, 3, 4), (0, 2)), ((3, 5), None)]
)
def test_softmax_ce_parity_random(shape, axis):
    r = rng(2)
    logits = (3 * r.randn(*shape)).astype(np.float32)
    labels = np.asarray(_softmax64(r.randn(*shape), axis=axis), np.float32)
    ours = L.softmax_cross_entropy(logits, labels, axis=axis)
    assert_close(ours, O.softmax_cross_entropy(logits, labels, axis=axis), rtol=1e-6)
    ref = -(labels * _log_softmax64(logits, axis=axis)).sum(axis=axis)
    assert_close(ours, ref, rtol=1e-6)


@pytest.mark.parametrize("full", [True, False])
def test_softmax_ce_where_parity(full):
    r = rng(3)
    logits = r.randn(5, 4).astype(np.float32)
    labels = np.asarray(jax.nn.one_hot(r.randint(0, 4, 5), 4))
    where = r.rand(5, 4) > 0.3 if full else np.array([True, False, True, True, False])
    where = np.where(labels > 0, True, where) if full else where  # keep the label class in
    ours = L.softmax_cross_entropy(logits, labels, where=where)
    theirs = O.softmax_cross_entropy(logits, labels, where=jnp.asarray(where))
    assert_close(ours, theirs, rtol=1e-6)


def test_softmax_ce_extremes_parity_and_gradient():
    logits = jnp.asarray(EXTREME_LOGITS)
    labels = jnp.asarray(_softmax64(rng(4).randn(3, 4)), jnp.float32)
    ours = L.softmax_cross_entropy(logits, labels)
    assert_close(ours, O.softmax_cross_entropy(logits, labels), rtol=1e-6)
    grad = assert_finite_grads(L.softmax_cross_entropy, logits, labels)
    assert_close(grad, _softmax64(logits) - np.asarray(labels), rtol=1e-5, atol=1e-6)


def test_softmax_ce_minus_inf_logits_with_zero_labels():
    # -inf masks a class; 0 * log(0) counts as 0 (Optax: NaN).
    logits = jnp.array([[-jnp.inf, 0.0, 1.0], [2.0, -jnp.inf, -jnp.inf]])
    labels = jnp.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])
    out = L.softmax_cross_entropy(logits, labels)
    ref = -(0.5 * np.log(1 / (1 + np.e)) + 0.5 * np.log(np.e / (1 + np.e)))
    assert_close(out, [ref, 0.0], rtol=1e-6)
    grad = assert_finite_grads(L.softmax_cross_entropy, logits, labels)
    assert_close(grad, [[0, 1 / (1 + np.e) - 0.5, np.e / (1 + np.e) - 0.5], [0, 0, 0]], atol=1e-7)


def test_softmax_ce_all_masked_row_is_zero_with_finite_grad():
    logits, labels = jnp.ones((2, 3)), jnp.full((2, 3), 1 / 3)
    where = jnp.array([[True, True, False], [False, False, False]])
    out = L.softmax_cross_entropy(logits, labels, where=where)
    assert_close(out, [2 / 3 * np.log(2), 0.0], rtol=1e-6)
    assert_finite_grads(lambda x: L.softmax_cross_entropy(x, labels, where=where), logits)


# --- softmax cross-entropy with integer labels -----------------------------------------


def test_integer_ce_parity_random_and_one_hot_equivalence():
    r = rng(5)
    logits = (3 * r.randn(6, 5)).astype(np.float32)
    labels = r.randint(0, 5, 6)
    fn = L.softmax_cross_entropy_with_integer_labels
    ours = fn(logits, labels)
    theirs = O.softmax_cross_entropy_with_integer_labels(logits, labels)
    assert_close(ours, theirs, rtol=1e-6)
    one_hot = jax.nn.one_hot(labels, 5)
    assert_close(ours, L.softmax_cross_entropy(logits, one_hot), rtol=1e-6)


def test_integer_ce_tuple_axis_and_where_parity():
    r = rng(6)
    logits = r.randn(2, 3, 4, 2).astype(np.float32)
    labels = r.randint(0, 8, (2, 4))  # flat index into the (axis 1, axis 3) slice
    fn = L.softmax_cross_entropy_with_integer_labels
    ref = O.softmax_cross_entropy_with_integer_labels
    assert_close(fn(logits, labels, axis=(1, 3)), ref(logits, labels, axis=(1, 3)), rtol=1e-6)
    where = jnp.asarray(r.rand(2, 3, 4, 2) > 0.2)
    assert_close(
        fn(logits, labels, axis=(1, 3), where=where),
        ref(logits, labels, axis=(1, 3), where=where),
        rtol=1e-6,
    )
    logits2, labels2 = r.randn(4, 5).astype(np.float32), r.randint(0, 5, 4)
    row_where = jnp.array([True, False, True, True])
    assert_close(
        fn(logits2, labels2, where=row_where), ref(logits2, labels2, where=row_where), rtol=1e-6
    )


def test_integer_ce_extremes_and_gradient():
    logits = jnp.asarray(EXTREME_LOGITS)
    labels = jnp.array([1, 0, 3])
    fn = L.softmax_cross_entropy_with_integer_labels
    theirs = O.softmax_cross_entropy_with_integer_labels(logits, labels)
    assert_close(fn(logits, labels), theirs, rtol=1e-6)
    grad = assert_finite_grads(fn, logits, labels)
    assert_close(grad, _softmax64(logits) - np.eye(4)[[1, 0, 3]], rtol=1e-5, atol=1e-6)
    # Exact to the rounding of the loss itself, not of the 1e4-sized logits: a tie of two
    # maximal logits costs log 2 (Optax: 0.6934, from 10000.693 - 10000).
    tie = fn(jnp.array([[1e4, 1e4, -1e4], [-1e4, 1e4, 1e4]]), jnp.array([0, 2]))
    assert_close(tie, [np.log(2), np.log(2)], rtol=1e-6)
    assert_close(fn(logits, labels), -_log_softmax64(logits)[np.arange(3), [1, 0, 3]], 1e-6)


def test_integer_ce_label_indexing_like_optax():
    logits = jnp.zeros((3, 3))
    labels = jnp.array([3, -1, 1])  # out of range -> NaN; negative counts from the end
    fn = L.softmax_cross_entropy_with_integer_labels
    ours = fn(logits, labels)
    assert_close(ours, O.softmax_cross_entropy_with_integer_labels(logits, labels))
    assert np.isnan(ours[0]) and np.isclose(ours[1], np.log(3))


def test_integer_ce_x64(x64):
    r = rng(7)
    logits, labels = 5 * r.randn(4, 6), r.randint(0, 6, 4)
    out = L.softmax_cross_entropy_with_integer_labels(logits, labels)
    assert out.dtype == jnp.float64
    assert_close64(out, -_log_softmax64(logits)[np.arange(4), labels], rtol=1e-12)


# --- hinge -----------------------------------------------------------------------------


def test_hinge_parity_and_reference():
    r = rng(8)
    outputs = (2 * r.randn(10)).astype(np.float32)
    targets = np.sign(r.randn(10)).astype(np.float32)
    ours = L.hinge_loss(outputs, targets)
    assert_close(ours, O.hinge_loss(outputs, targets), rtol=1e-6)
    assert_close(ours, np.maximum(0, 1 - outputs.astype(np.float64) * targets), rtol=1e-6)
    assert_finite_grads(L.hinge_loss, jnp.array([1e4, -1e4, 1.0]), jnp.array([1.0, 1, 1]))


# --- sigmoid focal loss ----------------------------------------------------------------


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("alpha", [None, 0.25])
def test_focal_parity_random(gamma, alpha):
    r = rng(9)
    logits = (3 * r.randn(8)).astype(np.float32)
    for labels in [(r.rand(8) > 0.5).astype(np.float32), r.rand(8).astype(np.float32)]:
        # Traced hyperparameters: one compilation serves every value.
        kw = dict(alpha=None if alpha is None else jnp.float32(alpha), gamma=jnp.float32(gamma))
        ours = L.sigmoid_focal_loss(logits, labels, **kw)
        theirs = O.sigmoid_focal_loss(logits, labels, **kw)
        assert_close(ours, theirs, rtol=1e-5, atol=1e-7)


def test_focal_reference_x64(x64):
    r = rng(10)
    x, y = 3 * r.randn(8), (r.rand(8) > 0.5).astype(np.float64)
    p = 1 / (1 + np.exp(-x))
    p_t = np.where(y == 1, p, 1 - p)
    alpha_t = np.where(y == 1, 0.25, 0.75)
    ref = -alpha_t * (1 - p_t) ** 2 * np.log(p_t)
    assert_close64(L.sigmoid_focal_loss(x, y, alpha=0.25), ref, rtol=1e-10)


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_focal_extremes_parity_and_finite_grads(gamma):
    logits = jnp.asarray(EXTREME_LOGITS.ravel())
    labels = jnp.asarray(np.tile([1.0, 0.0, 0.3], 4), jnp.float32)
    gamma = jnp.float32(gamma)  # traced: one compilation for both values
    ours = L.sigmoid_focal_loss(logits, labels, gamma=gamma)
    theirs = O.sigmoid_focal_loss(logits, labels, gamma=gamma)
    assert_close(ours, theirs, rtol=1e-5)
    assert_finite_grads(lambda x: L.sigmoid_focal_loss(x, labels, gamma=gamma), logits)


# --- perplexity ------------------------------------------------------------------------


def test_perplexity_reference_and_mask():
    r = rng(11)
    logits = (2 * r.randn(2, 7, 5)).astype(np.float32)
    labels = r.randint(0, 5, (2, 7))
    nll = -np.take_along_axis(_log_softmax64(logits), labels[..., None], -1)[..., 0]
    assert_close(L.perplexity(logits, labels), np.exp(nll.mean()), rtol=1e-6)
    mask = np.arange(7)[None, :] < np.array([[5], [3]])  # right padding
    assert_close(L.perplexity(logits, labels, where=mask), np.exp(nll[mask].mean()), 1e-6)
    # Uniform predictions: the number of classes; nothing selected: 1.
    assert_close(L.perplexity(jnp.zeros((3, 5)), jnp.array([0, 1, 4])), 5.0, rtol=1e-6)
    nothing = jnp.zeros((2, 7), bool)
    assert L.perplexity(logits, labels, where=nothing).tolist() == 1.0
    assert_jit_matches_eager(L.perplexity, logits, labels)
    g = assert_finite_grads(lambda x: L.perplexity(x, labels, where=mask), logits)
    assert np.all(np.asarray(g)[~mask] == 0)


def test_perplexity_extremes_and_bfloat16():
    logits = jnp.asarray(EXTREME_LOGITS)
    good = jnp.argmax(logits, axis=-1)
    assert_close(L.perplexity(logits, good), 2 ** (1 / 3))  # row 1 is a tie of two
    assert_finite_grads(lambda x: L.perplexity(x, good), logits)
    # The true value overflows float32: inf, not NaN.
    assert np.isposinf(L.perplexity(logits, jnp.array([1, 0, 3])))
    out = L.perplexity(jnp.zeros((4, 3), jnp.bfloat16), jnp.zeros(4, jnp.int32))
    assert out.dtype == jnp.float32 and np.isclose(out, 3.0)


# --- dtypes, jit, validation -----------------------------------------------------------


CASES = {
    "sigmoid_binary_cross_entropy": (losses.sigmoid_binary_cross_entropy, "probs"),
    "softmax_cross_entropy": (losses.softmax_cross_entropy, "dist"),
    "softmax_cross_entropy_with_integer_labels": (
        losses.softmax_cross_entropy_with_integer_labels,
        "int",
    ),
    "hinge_loss": (losses.hinge_loss, "sign"),
    "sigmoid_focal_loss": (losses.sigmoid_focal_loss, "probs"),
}


def _case_inputs(kind, dtype=np.float32):
    r = rng(12)
    logits = (2 * r.randn(4, 3)).astype(dtype)
    labels = {
        "probs": r.rand(4, 3).astype(dtype),
        "dist": np.asarray(_softmax64(r.randn(4, 3)), dtype),
        "int": r.randint(0, 3, 4),
        "sign": np.sign(r.randn(4, 3)).astype(dtype),
    }[kind]
    return logits, labels


@pytest.mark.parametrize("name", sorted(CASES))
def test_jit_matches_eager(name):
    fn, kind = CASES[name]
    assert_jit_matches_eager(fn, *_case_inputs(kind))


@pytest.mark.parametrize("name", sorted(CASES))
def test_bfloat16_keeps_dtype(name):
    fn, kind = CASES[name]
    logits, labels = _case_inputs(kind)
    low = jnp.asarray(logits, jnp.bfloat16)
    low_labels = labels if kind == "int" else jnp.asarray(labels, jnp.bfloat16)
    out = jit(fn)(low, low_labels)
    assert out.dtype == jnp.bfloat16
    assert_close(out, jit(fn)(logits, labels), rtol=5e-2, atol=5e-2)


def test_cross_entropy_shape_errors():
    logits = jnp.zeros((3, 3))
    # Integer labels [batch] given to the one-hot version would spread over the classes
    # (batch == classes here, so plain broadcasting would not notice).
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: labels.shape=\(3,\) \(int32\)"):
        trace(losses.softmax_cross_entropy, logits, jnp.array([0, 1, 2]))
    with pytest.raises(ValueError, match="must have the full size along axis=-1"):
        trace(losses.softmax_cross_entropy, logits, jnp.ones((3, 1)))
    with pytest.raises(ValueError, match="must have the full size along axis=0"):
        trace(losses.softmax_cross_entropy, logits, jnp.ones(3), axis=0)
    # Valid Optax calls: one target distribution broadcast over the batch.
    for shared in (jnp.array([[0.2, 0.3, 0.5]]), jnp.array([0.2, 0.3, 0.5])):
        with jax.numpy_rank_promotion("allow"):  # Optax broadcasts implicitly
            theirs = O.softmax_cross_entropy(logits, shared)
        assert_close(L.softmax_cross_entropy(logits, shared), theirs)
    fn = losses.softmax_cross_entropy_with_integer_labels
    with pytest.raises(ValueError, match=r"labels.shape=\(3, 1\) does not broadcast to \(3,\)"):
        trace(fn, logits, jnp.zeros((3, 1), jnp.int32))
    with pytest.raises(TypeError, match="labels must have an integer dtype"):
        trace(fn, logits, jnp.zeros(3))
    with pytest.raises(TypeError, match="logits must have a floating dtype"):
        trace(fn, jnp.zeros((3, 3), jnp.int32), jnp.zeros(3, jnp.int32))
    with pytest.raises(ValueError, match=r"axis 2 is out of range"):
        trace(fn, logits, jnp.zeros(3, jnp.int32), axis=2)
    with pytest.raises(TypeError, match=r"axis must be an int"):
        trace(fn, logits, jnp.zeros(3, jnp.int32), axis="last")
    with pytest.raises(ValueError, match=r"where.shape=\(2,\) fits neither"):
        trace(losses.softmax_cross_entropy, logits, jnp.eye(3), where=jnp.ones(2, bool))
    with pytest.raises(ValueError, match="would silently broadcast"):
        trace(losses.sigmoid_binary_cross_entropy, jnp.zeros(3), jnp.zeros((3, 1)))
    with pytest.raises(ValueError, match="hinge_loss: shapes"):
        trace(losses.hinge_loss, jnp.zeros(3), jnp.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"perplexity: labels.shape=\(4,\)"):
        trace(losses.perplexity, jnp.zeros((3, 5)), jnp.zeros(4, jnp.int32))


def test_focal_hyperparameter_validation():
    x, y = jnp.zeros(2), jnp.ones(2)
    with pytest.raises(ValueError, match=r"sigmoid_focal_loss\(alpha=1.5\): alpha must be in"):
        trace(losses.sigmoid_focal_loss, x, y, alpha=1.5)
    with pytest.raises(ValueError, match=r"sigmoid_focal_loss\(gamma=-1.0\): gamma must be"):
        trace(losses.sigmoid_focal_loss, x, y, gamma=-1.0)
    # Traced hyperparameters pass through unchecked.
    jitted = jax.jit(lambda a, g: losses.sigmoid_focal_loss(x, y, alpha=a, gamma=g))
    assert_close(jitted(0.25, 2.0), losses.sigmoid_focal_loss(x, y, alpha=0.25, gamma=2.0))


# --- issue 14 item 1: the gradient with respect to the labels ------------------------------


@pytest.mark.parametrize("jitted", [False, True])
def test_softmax_ce_label_gradient_is_minus_log_softmax_also_at_zero_labels(jitted):
    y = jnp.array([[10.0, 1.0, -2.0], [1.0, 4.0, 0.2]])
    t = jnp.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    grad = jax.grad(lambda t: losses.softmax_cross_entropy(y, t).sum())
    grad = jax.jit(grad) if jitted else grad
    expected = -_log_softmax64(y)
    assert_close(grad(t), expected, rtol=1e-6, atol=1e-6)
    theirs = jax.grad(lambda t: optax.losses.softmax_cross_entropy(y, t).sum())(t)
    assert_close(grad(t), theirs, rtol=1e-6, atol=1e-6)


def test_softmax_ce_label_gradient_with_where_and_minus_inf_logits():
    y = jnp.array([[2.0, -jnp.inf, 0.5, 1.0]])
    t = jnp.array([[0.5, 0.0, 0.0, 0.5]])
    where = jnp.array([[True, True, True, False]])
    value, grad = jax.value_and_grad(lambda t: losses.softmax_cross_entropy(y, t, where=where)[0])(
        t
    )
    log_sm = _log_softmax64(np.array([[2.0, 0.5]]))[0]
    assert_close(value, -0.5 * log_sm[0], rtol=1e-6)
    # -log_softmax on the selected finite classes, 0 at the -inf logit (not +inf) and
    # off the mask.
    assert_close(grad, [[-log_sm[0], 0.0, -log_sm[1], 0.0]], rtol=1e-6)
    assert_finite_grads(lambda x: losses.softmax_cross_entropy(x, t, where=where), y)
