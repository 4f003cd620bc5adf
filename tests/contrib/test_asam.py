"""ASAM's adversarial step: SamsungLabs/ASAM ``asam.py`` (ascent_step, then descent from the
original weights) in float64 NumPy, SAM's step as the eta = 1, w = 0 case, scale invariance."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

# Slow (CI runs it): trajectories against Optax and the papers.
pytestmark = pytest.mark.slow

contrib = gradtx.contrib


def _loss(w):
    return jnp.sum(jnp.sin(w["a"]) * w["b"][:, None]) + 0.5 * jnp.sum(w["a"] ** 2)


def _reference_asam_step(w, grad_fn, lr, rho, eta):
    """ASAM.ascent_step / descent_step: t_w = |p| + eta, grad *= t_w, norm over all,
    grad *= t_w, eps = grad * rho / (norm + 1e-16), p += eps; then the gradient at p + eps,
    p -= eps, SGD step."""
    g = grad_fn(w)
    t = {k: np.abs(v) + eta for k, v in w.items()}
    tg = {k: g[k] * t[k] for k in w}
    norm = np.sqrt(sum(np.sum(x * x) for x in tg.values())) + 1e-16
    eps = {k: tg[k] * t[k] * rho / norm for k in w}
    g_adv = grad_fn({k: w[k] + eps[k] for k in w})
    return {k: w[k] - lr * g_adv[k] for k in w}


def _reference_run(seed, steps, lr, rho, eta):
    """Random float64 weights and the reference's weights after ``steps`` steps."""
    rng = np.random.default_rng(seed)
    w0 = {"a": rng.normal(size=(3, 4)), "b": rng.normal(size=3)}

    def grad_np(w):
        g = jax.grad(_loss)({k: jnp.asarray(v) for k, v in w.items()})
        return {k: np.asarray(v) for k, v in g.items()}

    expected = w0
    for _ in range(steps):
        expected = _reference_asam_step(expected, grad_np, lr, rho, eta)
    return w0, expected


def test_an_asam_loop_matches_the_reference(x64):
    lr, rho, eta = 0.1, 0.3, 0.05
    w0, expected = _reference_run(0, 10, lr, rho, eta)
    adv = contrib.scale_by_asam(rho, eta)
    w = jax.tree.map(jnp.asarray, w0)
    for _ in range(10):
        g = jax.grad(_loss)(w)
        u, _ = adv.update(g, adv.init(w), w)
        w_adv = jax.tree.map(lambda p, d: p - d, w, u)  # SAM negates the adversarial update
        w = jax.tree.map(lambda p, d: p - lr * d, w, jax.grad(_loss)(w_adv))
    for k in w0:
        np.testing.assert_allclose(w[k], expected[k], rtol=1e-12)


@pytest.mark.parametrize("jit", [True, False])
def test_at_zero_with_eta_one_it_is_sams_step(jit):
    params = {"a": jnp.zeros((2, 3)), "b": jnp.zeros(4)}
    g = {"a": jnp.arange(6.0).reshape(2, 3), "b": -jnp.ones(4)}
    tx = contrib.scale_by_asam(rho=0.2, eta=1.0)
    update = jax.jit(tx.update) if jit else tx.update
    u, _ = update(g, tx.init(params), params)
    norm = jnp.sqrt(sum(jnp.sum(x * x) for x in jax.tree.leaves(g)))
    for k in g:
        np.testing.assert_allclose(u[k], -0.2 * g[k] / norm, rtol=1e-6)


def test_the_perturbed_loss_is_invariant_to_rescaling_a_relu_layer(x64):
    # f(w1, w2) = sum(w2 * relu(w1 x)) is unchanged by (c w1, w2 / c); with eta = 0 ASAM's
    # perturbation moves with the parameters and the perturbed loss is unchanged too.
    x = jnp.array([0.3, -1.0, 2.0])
    f = lambda w: jnp.sum(w["w2"] * jax.nn.relu(w["w1"] @ x))  # noqa: E731
    rng = np.random.default_rng(3)
    w = {"w1": jnp.asarray(rng.normal(size=(4, 3))), "w2": jnp.asarray(rng.normal(size=4))}
    tx = contrib.scale_by_asam(rho=0.1, eta=0.0)

    def perturbed(w):
        u, _ = tx.update(jax.grad(f)(w), tx.init(w), w)
        return f(jax.tree.map(lambda p, d: p - d, w, u))

    scaled = {"w1": 3.0 * w["w1"], "w2": w["w2"] / 3.0}
    np.testing.assert_allclose(perturbed(scaled), perturbed(w), rtol=1e-10)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_keeps_dtypes_none_leaves_and_empty_trees(dtype):
    params = {"a": jnp.ones((2, 2), dtype), "n": None}
    tx = contrib.scale_by_asam()
    u, _ = tx.update({"a": jnp.ones((2, 2), dtype), "n": None}, tx.init(params), params)
    assert u["a"].dtype == dtype and u["n"] is None
    assert tx.update({}, tx.init({}), {})[0] == {}


def test_validation():
    with pytest.raises(ValueError, match=r"scale_by_asam\(rho=-1\.0\)"):
        contrib.scale_by_asam(rho=-1.0)
    with pytest.raises(ValueError, match=r"scale_by_asam\(eta=-0\.1\)"):
        contrib.scale_by_asam(eta=-0.1)


@pytest.mark.parametrize("opaque", [False, True])
def test_the_asam_alias_matches_the_reference_loop(x64, opaque):
    """``asam(sgd(lr), rho, eta)`` used as Optax's ``sam`` is (two ``update`` calls per
    step, or one with ``grad_fn`` in opaque mode) is the reference loop above."""
    lr, rho, eta = 0.1, 0.3, 0.05
    w0, expected = _reference_run(1, 6, lr, rho, eta)
    tx = contrib.asam(gradtx.sgd(lr), rho, eta, opaque_mode=opaque)
    w = jax.tree.map(jnp.asarray, w0)
    state = tx.init(w)
    step = jax.jit(lambda g, s, p: tx.update(g, s, p, grad_fn=lambda q, i: jax.grad(_loss)(q)))
    for _ in range(6 if opaque else 12):  # opaque: one call per period
        u, state = step(jax.grad(_loss)(w), state, w)
        w = gradtx.apply_updates(w, u)
    for k in w0:
        np.testing.assert_allclose(w[k], expected[k], rtol=1e-11)
    with pytest.raises(ValueError, match=r"^asam\(rho=-1\.0\)"):
        contrib.asam(gradtx.sgd(lr), rho=-1.0)
