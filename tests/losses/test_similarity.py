"""Divergence and similarity losses: Optax parity, references, extremes, validation."""

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

L = Jitted(losses)  # the losses under jit (see Jitted)
O = Jitted(optax.losses)


def _dist(shape, seed, axis=-1):
    z = np.exp(rng(seed).randn(*shape))
    return (z / z.sum(axis=axis, keepdims=True)).astype(np.float32)


# --- KL divergence ---------------------------------------------------------------------


@pytest.mark.parametrize("shape,axis", [((4, 5), -1), ((4, 5), 0), ((2, 3, 4), (1, 2))])
def test_kl_parity_and_reference(shape, axis):
    log_p = np.log(_dist(shape, 0, axis))
    t = _dist(shape, 1, axis)
    ours = L.kl_divergence(log_p, t, axis=axis)
    assert_close(ours, O.kl_divergence(log_p, t, axis=axis), rtol=1e-6, atol=1e-7)
    t64 = t.astype(np.float64)
    assert_close(ours, (t64 * (np.log(t64) - log_p)).sum(axis=axis), rtol=1e-5, atol=1e-7)


def test_kl_where_and_zero_targets_parity():
    log_p = np.log(_dist((3, 4), 2))
    t = np.array([[0.5, 0.5, 0, 0], [1, 0, 0, 0], [0.25, 0.25, 0.25, 0.25]], np.float32)
    where = np.array([[True, True, False, True]] * 3)
    assert_close(L.kl_divergence(log_p, t), O.kl_divergence(log_p, t), 1e-6)
    ours = L.kl_divergence(log_p, t, where=where)
    assert_close(ours, O.kl_divergence(log_p, t, where=jnp.asarray(where)), 1e-6)


def test_kl_zero_targets_with_minus_inf_predictions_and_grads():
    # 0 * (log 0 - log 0) = 0 (Optax: NaN), with finite gradients in both arguments.
    log_p = jnp.log(jnp.array([0.5, 0.5, 0.0]))
    t = jnp.array([0.5, 0.5, 0.0])
    assert L.kl_divergence(log_p, t).tolist() == 0.0
    g_log_p, g_t = assert_finite_grads(L.kl_divergence, log_p, t, argnums=(0, 1))
    assert g_log_p.tolist() == [-0.5, -0.5, 0.0]
    assert_close(g_t, [1.0, 1.0, 0.0], atol=1e-7)  # log t - log p + 1 where t > 0
    # Probability mass where the prediction has none: the true value, +inf.
    assert np.isposinf(L.kl_divergence(log_p, jnp.array([0.5, 0.0, 0.5])))


def test_kl_extremes_parity():
    log_p = jnp.array([[-1e4, -1e-4, -30.0], [-1e4, -1e4, 0.0]])
    t = jnp.array([[1e-30, 0.999, 0.001], [0.0, 0.0, 1.0]])
    ours = L.kl_divergence(log_p, t)
    assert_close(ours, O.kl_divergence(log_p, t), rtol=1e-6)
    assert_finite_grads(L.kl_divergence, log_p, t, argnums=(0, 1))


def test_kl_x64(x64):
    log_p, t = np.log(_dist((3, 6), 3)).astype(np.float64), _dist((3, 6), 4).astype(np.float64)
    t = t / t.sum(-1, keepdims=True)
    out = L.kl_divergence(log_p, t)
    assert out.dtype == jnp.float64
    assert_close64(out, (t * (np.log(t) - log_p)).sum(-1), rtol=1e-12)
    assert_close64(out, O.kl_divergence(log_p, t), rtol=1e-12)


# --- cosine similarity / distance -----------------------------------------------------


@pytest.mark.parametrize("epsilon", [0.0, 0.5])
@pytest.mark.parametrize("axis", [-1, 0])
def test_cosine_parity(epsilon, axis):
    r = rng(5)
    a, b = r.randn(4, 6).astype(np.float32), r.randn(4, 6).astype(np.float32)
    a[1] *= 0.1  # a squared norm below epsilon
    kw = dict(epsilon=jnp.float32(epsilon), axis=axis)  # epsilon traced
    assert_close(L.cosine_similarity(a, b, **kw), O.cosine_similarity(a, b, **kw))
    assert_close(L.cosine_distance(a, b, **kw), O.cosine_distance(a, b, **kw))


def test_cosine_reference_where_and_extremes():
    r = rng(6)
    a, b = r.randn(3, 5), r.randn(3, 5)
    ref = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    assert_close(L.cosine_similarity(a.astype(np.float32), b.astype(np.float32)), ref, 1e-6)
    where = r.rand(3, 5) > 0.3
    ours = L.cosine_similarity(a, b, where=where)
    theirs = O.cosine_similarity(a, b, where=jnp.asarray(where))
    assert_close(ours, theirs, rtol=1e-6, atol=1e-7)
    big = np.array([[1e4, -1e4, 3.0], [-1e4, 2e4, 1e-3]], np.float32)
    small = np.array([[1e-4, 2e-4, -1e-4], [1e4, 1e4, 1e4]], np.float32)
    assert_close(L.cosine_similarity(big, small), O.cosine_similarity(big, small))
    assert_finite_grads(L.cosine_similarity, big, small, argnums=(0, 1))


def test_cosine_zero_vector_is_zero_with_finite_grads():
    a = jnp.array([[0.0, 0.0, 0.0], [1.0, 2.0, 2.0]])
    b = jnp.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    assert L.cosine_similarity(a, b).tolist() == [0.0, 0.0]  # Optax: NaN
    assert L.cosine_distance(a, b).tolist() == [1.0, 1.0]
    assert_finite_grads(L.cosine_similarity, a, b, argnums=(0, 1))
    # Gradient of cos(a, b) in a (unit vectors): b - cos * a.
    u = jnp.array([1.0, 0.0])
    v = jnp.array([np.sqrt(0.5), np.sqrt(0.5)], jnp.float32)
    g = jax.grad(lambda x: L.cosine_similarity(x, v))(u)
    assert_close(g, [0.0, np.sqrt(0.5)], atol=1e-7)


# --- triplet margin loss ---------------------------------------------------------------


def _triplet_ref(a, p, n, q=2, margin=1.0, eps=1e-6):
    a, p, n = (np.asarray(x, np.float64) for x in (a, p, n))
    dp = ((np.abs(a - p) ** q).sum(-1) + eps) ** (1 / q)
    dn = ((np.abs(a - n) ** q).sum(-1) + eps) ** (1 / q)
    return np.maximum(dp - dn + margin, 0)


@pytest.mark.parametrize("margin,eps", [(1.0, 1e-6), (0.2, 0.0), (3.0, 1e-3)])
def test_triplet_parity_euclidean(margin, eps):
    r = rng(7)
    a, p, n = (r.randn(6, 4).astype(np.float32) for _ in range(3))
    kw = dict(margin=jnp.float32(margin), eps=jnp.float32(eps))  # traced: one compilation
    ours = L.triplet_margin_loss(a, p, n, **kw)
    theirs = O.triplet_margin_loss(a, p, n, **kw)
    assert_close(ours, theirs, rtol=1e-6, atol=1e-6)
    assert_close(ours, _triplet_ref(a, p, n, 2, margin, eps), rtol=1e-5, atol=1e-6)
    if margin == 0.2:  # both sides of the hinge are exercised
        assert np.any(np.asarray(ours) > 0) and np.any(np.asarray(ours) == 0)


@pytest.mark.parametrize("q", [1, 3, 1.5])
def test_triplet_other_degrees_use_a_true_norm(q):
    # Optax drops the absolute value; for odd degrees that is not a distance.
    r = rng(8)
    a, p, n = (r.randn(5, 3).astype(np.float32) for _ in range(3))
    ours = L.triplet_margin_loss(a, p, n, norm_degree=q)
    assert_close(ours, _triplet_ref(a, p, n, q), rtol=1e-5, atol=1e-6)


def test_triplet_extremes_and_coincident_points():
    a = jnp.array([[1e4, -1e4], [0.0, 0.0], [1.0, 2.0]])
    p = jnp.array([[1e4, -1e4], [0.0, 0.0], [1.0, 2.0]])  # positives coincide
    n = jnp.array([[-1e4, 1e4], [0.0, 0.0], [1.0, 2.5]])
    ours = L.triplet_margin_loss(a, p, n)
    assert_close(ours, O.triplet_margin_loss(a, p, n), rtol=1e-6)
    assert_close(ours, _triplet_ref(a, p, n), rtol=1e-6, atol=1e-6)
    for q in (1, 2, 3):
        fn = lambda *x, q=q: L.triplet_margin_loss(*x, norm_degree=q)  # noqa: E731
        assert_finite_grads(fn, a, p, n, argnums=(0, 1, 2))


def test_triplet_validation():
    x = jnp.zeros((2, 3))
    with pytest.raises(ValueError, match=r"triplet_margin_loss\(norm_degree=0\): norm_degree"):
        trace(losses.triplet_margin_loss, x, x, x, norm_degree=0)
    with pytest.raises(ValueError, match=r"triplet_margin_loss\(eps=-1.0\)"):
        trace(losses.triplet_margin_loss, x, x, x, eps=-1.0)
    with pytest.raises(ValueError, match="must have the full size along axis=-1"):
        trace(losses.triplet_margin_loss, x, x, jnp.zeros((2, 1)))
    with pytest.raises(ValueError, match="triplet_margin_loss: incompatible shapes"):
        trace(losses.triplet_margin_loss, x, x, jnp.zeros(2))


# --- contrastive loss -----------------------------------------------------------------


def _contrastive_ref(a, b, y, margin=1.0):
    d = np.linalg.norm(np.asarray(a, np.float64) - b, axis=-1)
    return 0.5 * (y * d**2 + (1 - y) * np.maximum(margin - d, 0) ** 2)


@pytest.mark.parametrize("margin", [0.5, 1.0, 4.0])
def test_contrastive_reference(margin):
    r = rng(9)
    a, b = r.randn(8, 3).astype(np.float32), r.randn(8, 3).astype(np.float32)
    y = (r.rand(8) > 0.5).astype(np.float32)
    margin = jnp.float32(margin)  # traced: one compilation
    ours = L.contrastive_loss(a, b, y, margin=margin)
    assert_close(ours, _contrastive_ref(a, b, y, margin), rtol=1e-5, atol=1e-7)
    # Bool and integer labels mean the same.
    assert_close(L.contrastive_loss(a, b, y > 0, margin=margin), ours)
    assert_close(L.contrastive_loss(a, b, y.astype(np.int32), margin=margin), ours)


def test_contrastive_hand_values_and_gradients():
    a = jnp.zeros((4, 2))
    b = jnp.array([[0.6, 0.8], [0.3, 0.4], [0.0, 0.0], [3.0, 4.0]])
    y = jnp.array([1, 0, 0, 0])
    # D = 1, 0.5, 0, 5: similar -> D^2/2; dissimilar -> max(0, 1 - D)^2 / 2.
    assert_close(L.contrastive_loss(a, b, y), [0.5, 0.125, 0.5, 0.0], rtol=1e-6)
    grads = assert_finite_grads(L.contrastive_loss, a, b, y, argnums=(0, 1))
    # d/db of D^2/2 is (b - a); of (1 - D)^2 / 2 it is -(1 - D)(b - a)/D.
    assert_close(grads[1], [[0.6, 0.8], [-0.3, -0.4], [0.0, 0.0], [0.0, 0.0]], atol=1e-6)
    big = jnp.array([[1e4, -1e4]])
    assert_finite_grads(L.contrastive_loss, big, -big, jnp.array([1]), argnums=(0, 1))


def test_contrastive_validation_and_soft_labels(x64):
    a, b = jnp.zeros((3, 2)), jnp.ones((3, 2))
    with pytest.raises(ValueError, match=r"labels.shape=\(3, 1\) does not broadcast to \(3,\)"):
        trace(losses.contrastive_loss, a, b, jnp.ones((3, 1)))
    with pytest.raises(ValueError, match=r"contrastive_loss\(margin=-1.0\)"):
        trace(losses.contrastive_loss, a, b, jnp.ones(3), margin=-1.0)
    y = jnp.array([0.0, 0.5, 1.0])
    out = losses.contrastive_loss(a, b, y, margin=2.0)
    assert out.dtype == jnp.float64
    assert_close64(out, _contrastive_ref(np.zeros((3, 2)), np.ones((3, 2)), np.asarray(y), 2.0))


# --- dtypes, jit, shapes ---------------------------------------------------------------

FUNCS = {
    "kl_divergence": lambda a, b, c: losses.kl_divergence(jnp.log(a), b),
    "cosine_similarity": lambda a, b, c: losses.cosine_similarity(a, b),
    "cosine_distance": lambda a, b, c: losses.cosine_distance(a, b),
    "triplet_margin_loss": losses.triplet_margin_loss,
    "contrastive_loss": lambda a, b, c: losses.contrastive_loss(a, b, c[:, 0] > 0.5),
}


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_jit_eager_and_bfloat16(name):
    fn = FUNCS[name]
    args = [_dist((4, 5), s) for s in (10, 11, 12)]
    assert_jit_matches_eager(fn, *args)
    low = jit(fn)(*(jnp.asarray(x, jnp.bfloat16) for x in args))
    assert low.dtype == jnp.bfloat16 and low.shape == (4,)
    assert_close(low, jit(fn)(*args), rtol=5e-2, atol=2e-2)


def test_similarity_shape_errors():
    x = jnp.ones((3, 4))
    with pytest.raises(ValueError, match="kl_divergence: targets.shape=.*full size along"):
        trace(losses.kl_divergence, x, jnp.ones((3, 1)))
    with pytest.raises(ValueError, match="would silently broadcast"):
        trace(losses.cosine_similarity, jnp.ones((3, 1, 4)), jnp.ones((1, 2, 4)))
    with pytest.raises(TypeError, match="targets must have a floating dtype"):
        trace(losses.cosine_similarity, x, jnp.ones((3, 4), jnp.int32))
    with pytest.raises(ValueError, match=r"cosine_similarity\(epsilon=-0.1\)"):
        trace(losses.cosine_similarity, x, x, epsilon=-0.1)
    with pytest.raises(ValueError, match="kl_divergence: targets.shape=.*full size along"):
        trace(losses.kl_divergence, x, jnp.ones(4), axis=0)
    # Broadcasting over a batch axis is fine (also from a lower rank, as in Optax).
    assert losses.cosine_similarity(x, jnp.ones((1, 4))).shape == (3,)
    log_p, prior = jnp.log(_dist((3, 4), 13)), jnp.array([0.1, 0.2, 0.3, 0.4])
    with jax.numpy_rank_promotion("allow"):  # Optax broadcasts implicitly
        theirs = optax.losses.kl_divergence(log_p, prior)
    assert_close(L.kl_divergence(log_p, prior), theirs, 1e-6, 1e-7)
