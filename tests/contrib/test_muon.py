"""Muon: Optax parity, the reference algorithm (KellerJordan/Muon) in float64 NumPy,
dimension numbers for stacked layers, validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from tests.contrib._common import matrix_params, state_structure
from tests.helpers import gradient_sequence, schedule
from tests.optax_parity import assert_optax_parity

# Slow (CI runs it): trajectories against Optax and the papers.
pytestmark = pytest.mark.slow

contrib = gradtx.contrib

MUON_CASES = [
    ("default", {}),
    ("no_nesterov_wd_adaptive", dict(beta=0.9, nesterov=False, weight_decay=0.01, adaptive=True)),
    ("aol_dion", dict(preconditioning="aol", ns_coeffs="dion")),
    ("schatten_rms", dict(preconditioning="schatten", consistent_rms=0.2, ns_steps=4)),
    ("spectral_adam_lr", dict(preconditioning="spectral", adam_learning_rate=0.01, eps=1e-6)),
    ("adam_options", dict(adam_b1=0.8, adam_b2=0.99, adam_eps_root=1e-8, adam_weight_decay=0.1)),
]


@pytest.mark.parametrize("kwargs", [c[1] for c in MUON_CASES], ids=[c[0] for c in MUON_CASES])
def test_muon_matches_optax(kwargs):
    assert_optax_parity(
        contrib.muon(0.05, **kwargs),
        optax.contrib.muon(0.05, **kwargs),
        params=matrix_params(),
        steps=25,
        rtol=2e-5,
        atol=1e-6,
    )


def test_muon_with_a_schedule_matches_optax():
    assert_optax_parity(
        contrib.muon(schedule),
        optax.contrib.muon(schedule),
        params=matrix_params(),
        steps=25,
        rtol=2e-5,
        atol=1e-6,
        eager=True,
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        dict(beta=0.8, nesterov=False, mu_dtype=jnp.float32),
        dict(ns_coeffs=((3.0, -3.2, 1.2),) * 5),
    ],
)
def test_scale_by_muon_matches_optax(kwargs):
    # Optax needs weight_dimension_numbers for a tree (a bare matrix works without).
    params = matrix_params()["v"]
    assert_optax_parity(
        contrib.scale_by_muon(**kwargs),
        optax.contrib.scale_by_muon(**kwargs),
        params=params,
        steps=25,
        rtol=2e-5,
        atol=1e-6,
    )


def test_stacked_layers_follow_the_dimension_numbers():
    """A ``[L, in, out]`` stack with batch axis 0 is orthogonalized slice by slice, as Optax."""
    dims = contrib.MuonDimensionNumbers(reduction_axis=1, output_axis=2)
    params = {"w": jnp.linspace(-1.0, 1.0, 24).reshape(2, 3, 4)}
    theirs_dims = optax.contrib.MuonDimensionNumbers(reduction_axis=1, output_axis=2)
    ours = contrib.scale_by_muon(weight_dimension_numbers={"w": dims})
    theirs = optax.contrib.scale_by_muon(weight_dimension_numbers={"w": theirs_dims})
    assert_optax_parity(
        ours,
        theirs,
        params=params,
        steps=25,
        rtol=2e-5,
        atol=1e-6,
    )
    g = gradient_sequence(params, 1)[0]
    u, _ = ours.update(g, ours.init(params))
    single = contrib.scale_by_muon()
    for i in range(2):
        u_i, _ = single.update(g["w"][i], single.init(params["w"][i]))
        np.testing.assert_allclose(u["w"][i], u_i, rtol=1e-5, atol=1e-6)
    tx = contrib.muon(0.1, muon_weight_dimension_numbers={"w": dims, "b": None})
    assert_optax_parity(
        tx,
        optax.contrib.muon(0.1, muon_weight_dimension_numbers={"w": theirs_dims, "b": None}),
        params={"w": params["w"], "b": jnp.ones(3)},
        steps=25,
        rtol=2e-5,
        atol=1e-6,
    )


def test_state_structure_matches_optax():
    params = matrix_params()
    ours = contrib.scale_by_muon(mu_dtype=jnp.bfloat16).init({"w": params["w"]})
    theirs = optax.contrib.scale_by_muon(mu_dtype=jnp.bfloat16).init({"w": params["w"]})
    assert type(ours).__name__ == type(theirs).__name__ == "MuonState"
    assert ours._fields == theirs._fields
    assert state_structure(ours)[1] == state_structure(theirs)[1]
    full = contrib.muon(0.1).init(params)
    theirs_full = optax.contrib.muon(0.1).init(params)
    assert set(full.inner_states) == set(theirs_full.inner_states) == {"muon", "adam"}
    assert state_structure(full.inner_states["muon"].inner_state[0]) == state_structure(
        theirs_full.inner_states["muon"].inner_state[0]
    )


# --- the reference algorithm, KellerJordan/Muon muon.py, transcribed in float64 -------


def _zeropower_via_newtonschulz5(g, steps):
    a, b, c = (3.4445, -4.7750, 2.0315)
    x = g.copy()
    tall = g.shape[-2] > g.shape[-1]
    if tall:
        x = x.T
    x = x / (np.linalg.norm(x) + 1e-7)
    for _ in range(steps):
        s = x @ x.T
        x = a * x + (b * s + c * s @ s) @ x
    return x.T if tall else x


def _reference_muon(weights, grads, lr, beta, weight_decay, nesterov):
    """``muon_update`` + ``Muon.step`` on torch-layout ``[out, in]`` weights."""
    weights = [w.copy() for w in weights]
    moms = [np.zeros_like(w) for w in weights]
    for gs in grads:
        for i, g in enumerate(gs):
            moms[i] = beta * moms[i] + (1 - beta) * g
            upd = (1 - beta) * g + beta * moms[i] if nesterov else moms[i]
            upd = _zeropower_via_newtonschulz5(upd, 5)
            upd = upd * max(1, g.shape[-2] / g.shape[-1]) ** 0.5
            weights[i] = weights[i] * (1 - lr * weight_decay) - lr * upd
    return weights


def assert_matches_torch_layout(tx, weights, grads, expected, rtol):
    """Run ``tx`` on the transposes (gradtx's ``[in, out]``) of torch-layout weights and
    gradients; the final weights, transposed back, must equal ``expected`` (float64)."""
    params = [jnp.asarray(w.T) for w in weights]
    state = tx.init(params)
    step = jax.jit(tx.update)
    for gs in grads:
        u, state = step([jnp.asarray(g.T) for g in gs], state, params)
        params = gradtx.apply_updates(params, u)
    for p, e in zip(params, expected, strict=True):
        assert p.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(p).T, e, rtol=rtol, atol=rtol * 1e-2)


@pytest.mark.parametrize("nesterov", [True, False])
def test_reference_algorithm_matches_kellerjordan_muon(x64, nesterov):
    """``bias_correction=False, eps=1e-7`` is the reference; gradtx's ``[in, out]`` layout
    is the transpose of torch's ``[out, in]``."""
    rng = np.random.default_rng(0)
    torch_shapes = [(4, 3), (3, 5)]
    weights = [rng.normal(size=s) for s in torch_shapes]
    grads = [[rng.normal(size=s) for s in torch_shapes] for _ in range(25)]
    lr, beta, wd = 0.02, 0.9, 0.1
    expected = _reference_muon(weights, grads, lr, beta, wd, nesterov)
    tx = contrib.muon(
        lr, beta=beta, eps=1e-7, weight_decay=wd, nesterov=nesterov, bias_correction=False
    )
    assert_matches_torch_layout(tx, weights, grads, expected, rtol=1e-10)


def test_reference_and_optax_differ_after_the_first_step():
    """Both first momenta are multiples of g (the same direction after normalization);
    from the second step on the bias correction reweights g against the momentum."""
    gs = gradient_sequence(jnp.zeros((3, 4)), 2, seed=1)
    a, b = contrib.scale_by_muon(), contrib.scale_by_muon(eps=1e-7, bias_correction=False)
    sa, sb = a.init(gs[0]), b.init(gs[0])
    for t, g in enumerate(gs):
        ua, sa = a.update(g, sa)
        ub, sb = b.update(g, sb)
        assert np.allclose(ua, ub, rtol=1e-4, atol=1e-5) == (t == 0)


def test_orthogonalized_update_has_near_unit_singular_values():
    g = jnp.asarray(np.random.default_rng(2).normal(size=(6, 4)), jnp.float32)
    tx = contrib.scale_by_muon(nesterov=False)
    u, _ = tx.update(g, tx.init(g))
    s = np.linalg.svd(np.asarray(u), compute_uv=False)
    assert np.all((s > 0.5) & (s < 1.5)), s


def test_dtypes_are_kept():
    params = {"w": jnp.ones((3, 4), jnp.bfloat16)}
    tx = contrib.muon(0.1)
    u, state = tx.update(params, tx.init(params), params)
    assert u["w"].dtype == jnp.bfloat16
    assert state.inner_states["muon"].inner_state[0].mu["w"].dtype == jnp.bfloat16


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: contrib.scale_by_muon(beta=1.0), r"scale_by_muon\(beta=1\.0\)"),
        (lambda: contrib.scale_by_muon(eps=-1.0), r"scale_by_muon\(eps=-1\.0\)"),
        (lambda: contrib.scale_by_muon(ns_steps=0), r"scale_by_muon\(ns_steps=0\)"),
        (lambda: contrib.scale_by_muon(preconditioning="x"), r"preconditioning='x'"),
        (lambda: contrib.muon(0.1, ns_coeffs="nope"), r"muon\(ns_coeffs='nope'\)"),
    ],
)
def test_invalid_hyperparameters_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_vectors_need_dimension_numbers():
    tx = contrib.scale_by_muon()
    with pytest.raises(ValueError, match="rank >= 2"):
        tx.update(jnp.ones(3), tx.init(jnp.ones(3)))
    with pytest.raises(ValueError, match=r"shape \(3,\) or \(n, 3\)"):
        contrib.scale_by_muon(ns_coeffs=(1.0, 2.0)).init(jnp.ones((2, 2)))
