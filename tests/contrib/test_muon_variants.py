"""Muon variants: NorMuon (zichongli5/NorMuon ``normuon.py``) and the Polar Express
coefficients (Amsel et al. 2025, as KellerJordan/modded-nanogpt's ``polar_express``), each
against a float64 NumPy transcription; defaults unchanged."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from tests.contrib.test_muon import _zeropower_via_newtonschulz5, assert_matches_torch_layout

pytestmark = pytest.mark.slow

contrib = gradtx.contrib

POLAR_EXPRESS = [
    (8.156554524902461, -22.48329292557795, 15.878769915207462),
    (4.042929935166739, -2.808917465908714, 0.5000178451051316),
    (3.8916678022926607, -2.772484153217685, 0.5060648178503393),
    (3.285753657755655, -2.3681294933425376, 0.46449024233003106),
    (2.3465413258596377, -1.7097828382687081, 0.42323551169305323),
]


def _reference_normuon(weights, grads, lr, beta, beta2, weight_decay):
    """``normuon_update`` + ``SingleDeviceNorMuon.step`` on torch-layout ``[out, in]``."""
    weights = [w.copy() for w in weights]
    moms = [np.zeros_like(w) for w in weights]
    second = [np.zeros((w.shape[0], 1)) for w in weights]
    for gs in grads:
        for i, g in enumerate(gs):
            moms[i] = beta * moms[i] + (1 - beta) * g
            upd = (1 - beta) * g + beta * moms[i]
            upd = _zeropower_via_newtonschulz5(upd, 5)
            vnorm = np.linalg.norm(upd)
            second[i] = beta2 * second[i] + (1 - beta2) * np.mean(upd * upd, axis=-1, keepdims=True)
            upd = upd / (np.sqrt(second[i]) + 1e-10)
            upd = upd * (vnorm / (np.linalg.norm(upd) + 1e-10))
            upd = upd * max(1, g.shape[-2] / g.shape[-1]) ** 0.5
            weights[i] = weights[i] * (1 - lr * weight_decay) - lr * upd
    return weights


def test_normuon_matches_the_reference(x64):
    rng = np.random.default_rng(0)
    torch_shapes = [(4, 3), (3, 5)]
    weights = [rng.normal(size=s) for s in torch_shapes]
    grads = [[rng.normal(size=s) for s in torch_shapes] for _ in range(8)]
    lr, beta, beta2, wd = 0.02, 0.9, 0.8, 0.1
    expected = _reference_normuon(weights, grads, lr, beta, beta2, wd)
    tx = contrib.muon(
        lr,
        beta=beta,
        eps=1e-7,
        weight_decay=wd,
        bias_correction=False,
        normuon=True,
        normuon_b2=beta2,
    )
    assert_matches_torch_layout(tx, weights, grads, expected, rtol=1e-9)


def test_normuon_state_and_dimension_numbers():
    """The second moment has one entry per output neuron (the fan-in axes of size 1), also
    for a stack of ``[L, in, out]`` layers; the update keeps the momentum's Frobenius norm
    per layer."""
    dims = contrib.MuonDimensionNumbers(reduction_axis=1, output_axis=2)
    tx = contrib.scale_by_muon(normuon=True, weight_dimension_numbers=dims)
    g = jnp.asarray(np.random.default_rng(1).normal(size=(2, 3, 5)), jnp.float32)
    state = tx.init(g)
    assert isinstance(state, contrib.NorMuonState)
    assert state.nu.shape == (2, 1, 5) and state.nu.dtype == jnp.float32
    u, state = tx.update(g, state)
    plain, _ = contrib.scale_by_muon(weight_dimension_numbers=dims).update(g, tx.init(g))
    np.testing.assert_allclose(
        np.linalg.norm(np.asarray(u), axis=(1, 2)),
        np.linalg.norm(np.asarray(plain), axis=(1, 2)),
        rtol=1e-5,
    )
    assert not np.allclose(u, plain, atol=1e-3)  # normalized per neuron
    assert state.nu.shape == (2, 1, 5)


def _reference_polar_express(g, eps):
    x = g.copy()
    tall = g.shape[0] > g.shape[1]
    if tall:
        x = x.T
    x = x / (np.linalg.norm(x) * (1 + 2e-2) + eps)
    for a, b, c in POLAR_EXPRESS:
        s = x @ x.T
        x = a * x + (b * s + c * s @ s) @ x
    return x.T if tall else x


@pytest.mark.parametrize("shape", [(4, 6), (7, 3)])
def test_polar_express_matches_the_reference(x64, shape):
    """With ``beta=0`` the Nesterov momentum is the gradient, so the update is the
    orthogonalization itself."""
    rng = np.random.default_rng(2)
    tx = contrib.scale_by_muon(ns_coeffs="polar_express", beta=0.0, eps=1e-6)
    g = rng.normal(size=shape)
    state = tx.init(jnp.asarray(g))
    np.testing.assert_allclose(state.ns_coeffs, np.asarray(POLAR_EXPRESS))
    for _ in range(3):
        g = rng.normal(size=shape)
        u, state = tx.update(jnp.asarray(g), state)
        np.testing.assert_allclose(u, _reference_polar_express(g, 1e-6), rtol=1e-10, atol=1e-12)


def test_polar_express_is_closer_to_the_polar_factor_than_the_standard_triple():
    """The paper's claim: after the same 5 steps its singular values are closer to 1
    (here within 0.15 of it; the standard triple's spread over about [0.68, 1.13])."""
    g = jnp.asarray(np.random.default_rng(3).normal(size=(16, 32)), jnp.float32)

    def worst(tx):
        u, _ = tx.update(g, tx.init(g))
        return np.max(np.abs(np.linalg.svd(np.asarray(u), compute_uv=False) - 1))

    pe = worst(contrib.scale_by_muon(ns_coeffs="polar_express", beta=0.0))
    standard = worst(contrib.scale_by_muon(beta=0.0))
    assert pe < 0.15 and standard > 0.25, (pe, standard)


def test_the_muon_alias_takes_the_preset_and_defaults_are_unchanged():
    params = {"w": jnp.linspace(-1.0, 1.0, 12).reshape(3, 4)}
    g = {"w": jnp.cos(jnp.arange(12.0)).reshape(3, 4)}
    u_default, s_default = contrib.muon(0.1).update(g, contrib.muon(0.1).init(params), params)
    u_off, _ = contrib.muon(0.1, normuon=False, safety_factor=None).update(
        g, contrib.muon(0.1).init(params), params
    )
    np.testing.assert_array_equal(u_default["w"], u_off["w"])
    assert type(s_default.inner_states["muon"].inner_state[0]).__name__ == "MuonState"
    tx = contrib.muon(0.1, ns_coeffs="polar_express", eps=1e-6)
    u, _ = tx.update(g, tx.init(params), params)
    ref = contrib.scale_by_muon(ns_coeffs=POLAR_EXPRESS, eps=1e-6, safety_factor=0.02)
    v, _ = ref.update(g["w"], ref.init(params["w"]))
    np.testing.assert_allclose(u["w"], -0.1 * np.sqrt(4 / 3) * v, rtol=1e-6)  # shape scaling


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(normuon=True, normuon_b2=1.0), r"scale_by_muon\(normuon_b2=1\.0\)"),
        (dict(safety_factor=-0.1), r"scale_by_muon\(safety_factor=-0\.1\)"),
        (dict(ns_coeffs="polar"), r"scale_by_muon\(ns_coeffs='polar'\)"),
    ],
)
def test_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        contrib.scale_by_muon(**kwargs)
