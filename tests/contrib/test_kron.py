"""PSGD Kron: a float64 NumPy transcription of psgd_jax's ``kron.py`` step (with the same
random draws, from the documented key path), the preconditioner's fixed point (the inverse
square root of a Kronecker-factored gradient covariance), memory-save modes, scanned
layers, validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

pytestmark = pytest.mark.slow

contrib = gradtx.contrib


def _lower_bound(a):
    """psgd_jax's ``_norm_lower_bound`` (both branches)."""
    top = np.max(np.abs(a))
    if top == 0:
        return top
    a = a / top
    s0, s1 = np.sum(a * a, axis=0), np.sum(a * a, axis=1)
    i, j = np.argmax(s0), np.argmax(s1)
    if s0[i] > s1[j]:
        x = a[:, i] @ a
        return top * np.linalg.norm((x / np.linalg.norm(x)) @ a.T)
    x = a @ a[j]
    return top * np.linalg.norm(a.T @ (x / np.linalg.norm(x)))


def _step_vector(q, g, v, lr):
    a, b = q * g, v / q
    t1, t2 = a * a, b * b
    return q - lr * (t1 - t2) * q / (np.max(np.abs(t1 + t2)) + np.finfo(float).tiny)


def _step_matrix(q1, q2, g, v, lr):
    """``_update_precond`` for a matrix: ``A = Q1 G Q2^T``, ``conjB = Q1^-T V Q2^-1``."""
    a = q1 @ g @ q2.T
    b = np.linalg.solve(q1.T, v) @ np.linalg.inv(q2)
    out = []
    for q, t1, t2 in ((q1, a @ a.T, b @ b.T), (q2, a.T @ a, b.T @ b)):
        tmp = lr * np.triu(t1 - t2) / (_lower_bound(t1 + t2) + np.finfo(float).tiny)
        out.append(q - tmp @ q)
    return out


def _balance(qs):
    norms = np.array([np.max(np.abs(q)) for q in qs])
    mean = np.prod(norms) ** (1 / len(qs))
    return [q * (mean / n) for q, n in zip(qs, norms, strict=True)]


def _soft_clip(x, s=1.5):
    y = x / s
    return s * (0.1 * np.sign(y) * np.log(np.abs(y) + 1) + 0.9 * np.tanh(y))


def _reference(grads, b1, prob, lr, key):
    """The update sequence for ``{"b": (4,), "w": (3, 4)}``; the coin flips and probes are
    drawn as `scale_by_kron` documents (``fold_in(key, count)``, split in three)."""
    qb, q1, q2 = np.ones(4), np.eye(3), np.eye(4)
    mb, mw = np.zeros(4), np.zeros((3, 4))
    out = []
    for t, g in enumerate(grads, start=1):
        mb = b1 * mb + (1 - b1) * g["b"]
        mw = b1 * mw + (1 - b1) * g["w"]
        hb, hw = mb / (1 - b1**t), mw / (1 - b1**t)
        k_update, k_balance, k_probe = jax.random.split(jax.random.fold_in(key, t - 1), 3)
        if float(jax.random.uniform(k_update, dtype=jnp.float32)) < np.float32(prob):
            if float(jax.random.uniform(k_balance, dtype=jnp.float32)) < 0.01:
                q1, q2 = _balance([q1, q2])
            vb = np.asarray(jax.random.normal(jax.random.fold_in(k_probe, 0), (4,), jnp.float64))
            vw = np.asarray(jax.random.normal(jax.random.fold_in(k_probe, 1), (3, 4), jnp.float64))
            qb = _step_vector(qb, hb, vb, lr)
            q1, q2 = _step_matrix(q1, q2, hw, vw, lr)
        out.append({"b": _soft_clip(qb * qb * hb), "w": _soft_clip(q1.T @ q1 @ hw @ q2.T @ q2)})
    return out, (qb, q1, q2)


@pytest.mark.parametrize("prob", [1.0, 0.5])
def test_matches_a_transcription_of_psgd_jax(x64, prob):
    rng = np.random.default_rng(0)
    grads = [{"b": rng.normal(size=4), "w": rng.normal(size=(3, 4))} for _ in range(12)]
    key = jax.random.PRNGKey(42)
    expected, (qb, q1, q2) = _reference(grads, 0.9, prob, 0.2, key)
    tx = contrib.scale_by_kron(preconditioner_update_probability=prob, precond_lr=0.2, key=key)
    state = tx.init(jax.tree.map(jnp.asarray, grads[0]))
    step = jax.jit(tx.update)
    for g, e in zip(grads, expected, strict=True):
        u, state = step(jax.tree.map(jnp.asarray, g), state)
        for k in ("b", "w"):
            assert u[k].dtype == jnp.float64
            np.testing.assert_allclose(u[k], e[k], rtol=1e-9, atol=1e-12)
    ours = state.Qs_preconditioners
    np.testing.assert_allclose(ours["b"][0], qb, rtol=1e-9)
    np.testing.assert_allclose(ours["w"][0], q1, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours["w"][1], q2, rtol=1e-9, atol=1e-12)
    assert np.allclose(np.tril(np.asarray(ours["w"][0]), -1), 0)  # stays upper triangular


def test_the_preconditioner_whitens_a_kronecker_factored_gradient_noise(x64):
    """PSGD's fixed point is ``P E[g g^T] P = I``: for gradients ``L1 Z L2^T`` (``Z``
    standard normal, covariance ``C1 ⊗ C2``) the learned ``P1 ⊗ P2`` satisfies
    ``(P1 C1 P1) ⊗ (P2 C2 P2) ≈ I``, while the identity (the starting point) is far."""
    rng = np.random.default_rng(1)
    l1 = np.array([[2.0, 0.0, 0.0], [0.5, 1.0, 0.0], [0.0, 0.3, 0.4]])
    l2 = np.array(
        [[1.0, 0.0, 0.0, 0.0], [0.2, 3.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.0], [0.3, 0, 0, 1]]
    )
    c1, c2 = l1 @ l1.T, l2 @ l2.T
    tx = contrib.scale_by_kron(b1=0.0, preconditioner_update_probability=1.0, precond_lr=0.01)
    zs = jnp.asarray(rng.normal(size=(6000, 3, 4)))
    state = tx.init(zs[0])

    def body(state, z):
        return tx.update(jnp.asarray(l1) @ z @ jnp.asarray(l2).T, state)[1], None

    state, _ = jax.lax.scan(body, state, zs)
    q1, q2 = (np.asarray(q) for q in state.Qs_preconditioners)
    p1, p2 = q1.T @ q1, q2.T @ q2
    whitened = np.kron(p1 @ c1 @ p1, p2 @ c2 @ p2)
    start = np.kron(c1, c2)
    rms = lambda m: np.linalg.norm(m - np.eye(12)) / np.sqrt(12)  # noqa: E731
    assert rms(whitened) < 0.25 and rms(start) > 5  # (about 0.14 and 11.4)
    eig = np.linalg.eigvalsh(whitened)
    assert eig.min() > 0.6 and eig.max() < 1.5, eig  # (start: 0.036 ... 39)


def test_factor_shapes_and_memory_save_modes():
    params = {
        "w": jnp.ones((3, 5)),
        "big": jnp.ones((2, 20)),
        "s": jnp.ones(()),
        "i": jnp.ones(3, jnp.int32),
    }

    def shapes(**kw):
        state = contrib.scale_by_kron(max_size_triangular=10, **kw).init(params)
        return {k: [q.shape for q in v] for k, v in state.Qs_preconditioners.items()}

    assert shapes() == {"w": [(3, 3), (5, 5)], "big": [(2, 2), (20,)], "s": [()], "i": []}
    assert shapes(memory_save_mode="one_diag")["w"] == [(3, 3), (5,)]
    assert shapes(memory_save_mode="all_diag")["w"] == [(3,), (5,)]
    assert shapes(min_ndim_triangular=3)["w"] == [(3,), (5,)]


def test_scanned_layers_equal_separate_layers():
    """A stack of two layers flagged as scanned gets the factors and updates of the two
    layers optimized side by side (same probes aside: compared with the probes off)."""
    rng = np.random.default_rng(2)
    g = jnp.asarray(rng.normal(size=(2, 3, 4)), jnp.float32)
    kw = dict(preconditioner_update_probability=0.0)
    stacked = contrib.scale_by_kron(scanned_layers={"w": True}, **kw)
    state = stacked.init({"w": g})
    assert [q.shape for q in state.Qs_preconditioners["w"]] == [(2, 3, 3), (2, 4, 4)]
    u, state = stacked.update({"w": g}, state)
    single = contrib.scale_by_kron(**kw)
    for layer in range(2):
        v, _ = single.update(g[layer], single.init(g[layer]))
        np.testing.assert_allclose(u["w"][layer], v, rtol=1e-6)
    tx = contrib.scale_by_kron(scanned_layers={"w": True}, preconditioner_update_probability=1.0)
    s = tx.init({"w": g})
    for _ in range(3):
        _, s = tx.update({"w": g}, s)
    q = np.asarray(s.Qs_preconditioners["w"][0])
    assert not np.allclose(q[0], q[1])  # each layer learns its own factors


def test_bfloat16_leaves_keep_their_dtype():
    params = {"w": jnp.ones((2, 3), jnp.bfloat16)}
    tx = contrib.kron(0.1)
    u, state = tx.update(params, tx.init(params), params)
    assert u["w"].dtype == jnp.bfloat16
    assert state[0].mu["w"].dtype == jnp.bfloat16
    assert state[0].Qs_preconditioners["w"][0].dtype == jnp.float32


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(b1=1.0), r"scale_by_kron\(b1=1\.0\)"),
        (
            dict(preconditioner_update_probability=1.5),
            r"scale_by_kron\(preconditioner_update_probability=1\.5\)",
        ),
        (dict(memory_save_mode="half"), r"scale_by_kron\(memory_save_mode='half'\)"),
        (dict(precond_lr=0.0), r"scale_by_kron\(precond_lr=0\.0\)"),
        (dict(max_size_triangular=-1), r"scale_by_kron\(max_size_triangular=-1\)"),
    ],
)
def test_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        contrib.scale_by_kron(**kwargs)
