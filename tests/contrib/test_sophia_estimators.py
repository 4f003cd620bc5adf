"""``sophia(estimator=...)``: the paper's Hutchinson and Gauss-Newton-Bartlett estimators
from `gradtx.second_order`; Sophia-G against a float64 NumPy transcription of the
reference (Liuhong99/Sophia ``sophia.py``, ``SophiaG``); Optax's sophia unchanged."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from gradtx import second_order
from tests.contrib.test_sophia import _obj
from tests.helpers import example_params

pytestmark = pytest.mark.slow

contrib = gradtx.contrib


def test_hutchinson_estimate_is_exact_on_a_diagonal_quadratic():
    """Whatever the key, ``z * (H z) = diag(H)`` for a diagonal ``H``: after the first
    refresh the EMA is exactly ``(1 - b2) diag(H)``."""
    d = jnp.array([1.0, 2.0, 3.0, 4.0])
    f = lambda x: 0.5 * jnp.sum(d * x**2)  # noqa: E731
    x = jnp.linspace(-1.0, 1.0, 4)
    for seed in range(3):
        tx = contrib.sophia(0.1, b2=0.9, estimator="hutchinson", key=jax.random.PRNGKey(seed))
        _, state = tx.update(jax.grad(f)(x), tx.init(x), x, value_fn=f)
        np.testing.assert_allclose(state[0].nu, 0.1 * d, rtol=1e-6)


def test_hutchinson_option_reads_value_fn_and_keeps_optaxs_state():
    """The same numbers as the default on a separable loss (both estimates exact), with
    ``value_fn=`` instead of ``obj_fn=`` and the same state structure."""

    def run(tx):
        params, out = example_params(), []
        state = tx.init(params)
        step = jax.jit(lambda g, s, p: tx.update(g, s, p, obj_fn=_obj, value_fn=_obj))
        for _ in range(10):
            u, state = step(jax.grad(_obj)(params), state, params)
            params = gradtx.apply_updates(params, u)
            out.append(u)
        return out, state

    ours, s_ours = run(contrib.sophia(0.05, estimator="hutchinson", update_interval=3))
    theirs, s_theirs = run(contrib.sophia(0.05, update_interval=3))
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)
    assert jax.tree.structure(s_ours) == jax.tree.structure(s_theirs)


def _logits(w, x):
    return x @ w


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _gnb_numpy(w, x, labels):
    """``B * g * g`` with ``g`` the gradient of the mean cross-entropy at ``labels``."""
    p = _softmax(x @ w)
    onehot = np.eye(w.shape[1])[labels]
    g = x.T @ (p - onehot) / x.shape[0]
    return x.shape[0] * g * g


def _problem(seed=0, b=6, d=3, c=4):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(d, c)), rng.normal(size=(b, d)), rng.integers(0, c, size=b)


def _sampled_labels(key, w, x):
    return np.asarray(jax.random.categorical(key, jnp.asarray(x @ w), axis=-1))


def test_sophia_g_matches_the_reference(x64):
    """``gamma=rho, eps=1e-15, bias_correction=False, estimator="gnb"`` is SophiaG
    (decoupled decay, clip at 1, EMA of the GNB estimate) with Optax's timing: the
    estimate is refreshed at the params before steps 0, k, 2k ..."""
    w0, x, y = _problem()
    lr, b1, b2, rho, wd, k = 0.1, 0.9, 0.95, 0.05, 0.1, 3
    grad = jax.grad(lambda w: -jnp.mean(jax.nn.log_softmax(x @ w)[jnp.arange(6), y]))

    # NumPy float64 transcription; the sampled labels come from the same key sequence.
    w, m, h, key = w0.copy(), np.zeros_like(w0), np.zeros_like(w0), jax.random.PRNGKey(5)
    expected = []
    for t in range(10):
        g = np.asarray(grad(jnp.asarray(w)))
        m = b1 * m + (1 - b1) * g
        ratio = np.minimum(np.abs(m) / (rho * h + 1e-15), 1.0)
        new_w = w * (1 - lr * wd) - lr * np.sign(m) * ratio
        if t % k == 0:
            key, sub = jax.random.split(key)
            h = b2 * h + (1 - b2) * _gnb_numpy(w, x, _sampled_labels(sub, w, x))
        w = new_w
        expected.append(w)

    tx = contrib.sophia(
        lr,
        b1=b1,
        b2=b2,
        eps=1e-15,
        weight_decay=wd,
        gamma=rho,
        update_interval=k,
        bias_correction=False,
        estimator="gnb",
        key=jax.random.PRNGKey(5),
    )
    params = jnp.asarray(w0)
    state = tx.init(params)
    step = jax.jit(lambda g, s, p: tx.update(g, s, p, logits_fn=lambda v: _logits(v, x)))
    for e in expected:
        u, state = step(grad(params), state, params)
        params = gradtx.apply_updates(params, u)
        assert params.dtype == jnp.float64
        np.testing.assert_allclose(params, e, rtol=1e-10, atol=1e-12)


def test_gnb_estimator_matches_its_definition(x64):
    w, x, _ = _problem(1)
    key = jax.random.PRNGKey(3)
    h = second_order.gauss_newton_bartlett_diag(_logits, jnp.asarray(w), jnp.asarray(x), key=key)
    expected = _gnb_numpy(w, x, _sampled_labels(key, w, x))
    np.testing.assert_allclose(h, expected, rtol=1e-12)


def test_gnb_estimator_is_unbiased_for_the_gauss_newton_diagonal(x64):
    """Bartlett: ``E[B g g] = diag(J^T (diag p - p p^T) J) / B`` summed over the batch,
    the Gauss-Newton diagonal of the mean cross-entropy (softmax regression: ``J`` is
    ``x`` per class)."""
    w, x, _ = _problem(2, b=5, d=2, c=3)
    p = _softmax(x @ w)
    gn = np.zeros_like(w)
    for b in range(x.shape[0]):
        cov = np.diag(p[b]) - np.outer(p[b], p[b])
        gn += np.outer(x[b] ** 2, np.diag(cov)) / x.shape[0]
    keys = jax.random.split(jax.random.PRNGKey(0), 20000)
    estimates = jax.vmap(
        lambda k: second_order.gauss_newton_bartlett_diag(
            _logits, jnp.asarray(w), jnp.asarray(x), key=k
        )
    )(keys)
    np.testing.assert_allclose(np.mean(np.asarray(estimates), axis=0), gn, rtol=0.05, atol=2e-3)


def test_estimator_errors():
    with pytest.raises(ValueError, match=r"sophia\(estimator='newton'\)"):
        contrib.sophia(0.1, estimator="newton")
    with pytest.raises(ValueError, match="not both"):
        contrib.sophia(
            0.1,
            estimator="gnb",
            hessian_diagonal_fn=contrib.hutchinson_estimator_diag_hessian(),
        )
    with pytest.raises(ValueError, match=r"sophia\(num_samples=0\)"):
        contrib.sophia(0.1, estimator="hutchinson", num_samples=0)
    x = jnp.ones(2)
    for estimator, needs in (("hutchinson", "value_fn"), ("gnb", "logits_fn")):
        tx = contrib.sophia(0.1, estimator=estimator)
        with pytest.raises(ValueError, match=needs):
            tx.update(x, tx.init(x), x, obj_fn=_obj)
