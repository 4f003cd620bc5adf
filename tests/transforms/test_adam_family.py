"""The Adam family of transforms: float64 NumPy references written from the papers, Optax
parity, dtypes (mu_dtype / nu_dtype), traced hyperparameters, trees and validation."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from gradtx.transforms._adam_family import (
    ScaleByAdamState,
    ScaleByAmsgradState,
    ScaleByBeliefState,
    scale_by_adam,
    scale_by_adamax,
    scale_by_amsgrad,
    scale_by_belief,
    scale_by_radam,
    scale_by_yogi,
)
from gradtx.transforms._adam_variants import (
    ScaleByAdanState,
    ScaleByLionState,
    ScaleByNovogradState,
    scale_by_adan,
    scale_by_lion,
    scale_by_novograd,
)
from tests.helpers import (
    assert_same_shapes_and_dtypes,
    assert_trees_close,
    example_params,
    gradient_sequence,
    run_updates,
)

# Slow (CI runs it): references and dtype checks, one compilation each.
pytestmark = pytest.mark.slow

# --- float64 NumPy references, one leaf at a time, written from the papers ----------
# Each takes the sequence of gradients of one leaf (and, for NovoGrad, its constant
# parameter) and returns the sequence of updates.


def np_adam(gs, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, nesterov=False):
    """Kingma & Ba, Algorithm 1; NAdam look-ahead from Dozat 2016 (without the extra b2)."""
    m = np.zeros_like(gs[0])
    v = np.zeros_like(gs[0])
    out = []
    for t, g in enumerate(gs, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        if nesterov:
            m_hat = b1 * m / (1 - b1 ** (t + 1)) + (1 - b1) * g / (1 - b1**t)
        else:
            m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        out.append(m_hat / (np.sqrt(v_hat + eps_root) + eps))
    return out


def np_amsgrad(
    gs, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, bias_correction_mu=True, bias_correction_nu=True
):
    """Reddi et al., Algorithm 2 (both corrections off) plus optional Adam debiasing."""
    m = np.zeros_like(gs[0])
    v = np.zeros_like(gs[0])
    v_max = np.zeros_like(gs[0])
    out = []
    for t, g in enumerate(gs, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat = m / (1 - b1**t) if bias_correction_mu else m
        v_max = np.maximum(v_max, v / (1 - b2**t) if bias_correction_nu else v)
        out.append(m_hat / (np.sqrt(v_max + eps_root) + eps))
    return out


def np_adamax(gs, b1=0.9, b2=0.999, eps=1e-8):
    """Kingma & Ba, Algorithm 2, with eps inside the maximum (documented)."""
    m = np.zeros_like(gs[0])
    u = np.zeros_like(gs[0])
    out = []
    for t, g in enumerate(gs, start=1):
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g) + eps)
        out.append(m / ((1 - b1**t) * u))
    return out


def np_belief(gs, b1=0.9, b2=0.999, eps=1e-16, eps_root=1e-16, nesterov=False):
    """Zhuang et al., Algorithm 2."""
    m = np.zeros_like(gs[0])
    s = np.zeros_like(gs[0])
    out = []
    for t, g in enumerate(gs, start=1):
        m = b1 * m + (1 - b1) * g
        s = b2 * s + (1 - b2) * (g - m) ** 2 + eps_root
        if nesterov:
            m_hat = b1 * m / (1 - b1 ** (t + 1)) + (1 - b1) * g / (1 - b1**t)
        else:
            m_hat = m / (1 - b1**t)
        out.append(m_hat / (np.sqrt(s / (1 - b2**t)) + eps))
    return out


def np_radam(
    gs, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, threshold=5.0, nesterov=False, rectified=None
):
    """Liu et al., Algorithm 2 (appends to ``rectified`` whether each step was adaptive)."""
    m = np.zeros_like(gs[0])
    v = np.zeros_like(gs[0])
    rho_inf = 2 / (1 - b2) - 1
    out = []
    for t, g in enumerate(gs, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        if nesterov:
            m_hat = b1 * m / (1 - b1 ** (t + 1)) + (1 - b1) * g / (1 - b1**t)
        else:
            m_hat = m / (1 - b1**t)
        rho = rho_inf - 2 * t * b2**t / (1 - b2**t)
        if rectified is not None:
            rectified.append(rho >= threshold)
        if rho >= threshold:
            r = np.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
            out.append(r * m_hat / (np.sqrt(v / (1 - b2**t) + eps_root) + eps))
        else:
            out.append(m_hat)
    return out


def np_yogi(gs, b1=0.9, b2=0.999, eps=1e-3, eps_root=0.0, initial_accumulator_value=1e-6):
    """Zaheer et al., Algorithm 2, plus Adam's bias correction (documented)."""
    m = np.full_like(gs[0], initial_accumulator_value)
    v = np.full_like(gs[0], initial_accumulator_value)
    out = []
    for t, g in enumerate(gs, start=1):
        m = b1 * m + (1 - b1) * g
        v = v - (1 - b2) * np.sign(v - g**2) * g**2
        m_hat = m / (1 - b1**t)
        out.append(m_hat / (np.sqrt(v / (1 - b2**t) + eps_root) + eps))
    return out


def np_lion(gs, b1=0.9, b2=0.99, mode="hard", smooth_beta=1.0):
    """Chen et al., Program 1 (the update before the learning rate)."""
    m = np.zeros_like(gs[0])
    out = []
    for g in gs:
        c = b1 * m + (1 - b1) * g
        if mode == "hard":
            out.append(np.sign(c))
        elif mode == "smooth":
            out.append(np.tanh(smooth_beta * c))
        else:
            out.append(np.where(np.abs(c) < 1, c, np.sign(c)))
        m = b2 * m + (1 - b2) * g
    return out


def np_novograd(gs, param, b1=0.9, b2=0.25, eps=1e-8, eps_root=0.0, weight_decay=0.0):
    """Ginsburg et al., Algorithm 1 (one leaf is one layer)."""
    m = np.zeros_like(gs[0])
    v = 0.0
    out = []
    for t, g in enumerate(gs, start=1):
        sq = float(np.sum(g**2))
        v = sq if t == 1 else b2 * v + (1 - b2) * sq
        m = b1 * m + g / (np.sqrt(v + eps_root) + eps) + weight_decay * param
        out.append(m)
    return out


def np_adan(gs, b1=0.98, b2=0.92, b3=0.99, eps=1e-8, eps_root=0.0, diff_weight=None):
    """Xie et al., Algorithm 1 in the code's 0.9x convention, with bias correction.

    ``diff_weight`` is the weight of the gradient difference in ``n`` and in the update:
    the paper's is ``b2``; Optax's (and gradtx's) is ``1 - b2`` (the default here).
    """
    c = 1 - b2 if diff_weight is None else diff_weight
    m = np.zeros_like(gs[0])
    v = np.zeros_like(gs[0])
    n = np.zeros_like(gs[0])
    prev = None
    out = []
    for t, g in enumerate(gs, start=1):
        diff = np.zeros_like(g) if prev is None else g - prev
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * diff
        n = b3 * n + (1 - b3) * (g + c * diff) ** 2
        m_hat, v_hat, n_hat = m / (1 - b1**t), v / (1 - b2**t), n / (1 - b3**t)
        out.append((m_hat + c * v_hat) / (np.sqrt(n_hat + eps_root) + eps))
        prev = g
    return out


# --- cases -------------------------------------------------------------------------
# (id, factory, non-default kwargs, reference); the reference takes the same kwargs.
BF16 = jnp.bfloat16
CASES = [
    ("adam", scale_by_adam, dict(b1=0.8, b2=0.95, eps=1e-6, eps_root=1e-9), np_adam),
    ("adam_nesterov", scale_by_adam, dict(b1=0.8, b2=0.95, nesterov=True), np_adam),
    ("amsgrad", scale_by_amsgrad, dict(b1=0.8, b2=0.95, eps_root=1e-9), np_amsgrad),
    (
        "amsgrad_paper",
        scale_by_amsgrad,
        dict(bias_correction_mu=False, bias_correction_nu=False),
        np_amsgrad,
    ),
    ("adamax", scale_by_adamax, dict(b1=0.8, b2=0.9, eps=1e-6), np_adamax),
    ("belief", scale_by_belief, dict(b1=0.8, b2=0.95, eps=1e-8, eps_root=1e-10), np_belief),
    ("belief_nesterov", scale_by_belief, dict(nesterov=True), np_belief),
    ("radam", scale_by_radam, dict(b1=0.8, b2=0.9, eps=1e-6, threshold=4.5), np_radam),
    ("radam_nesterov", scale_by_radam, dict(b2=0.95, nesterov=True), np_radam),
    (
        "yogi",
        scale_by_yogi,
        dict(b1=0.8, b2=0.95, eps=1e-4, eps_root=1e-9, initial_accumulator_value=0.1),
        np_yogi,
    ),
    ("lion", scale_by_lion, dict(b1=0.8, b2=0.95), np_lion),
    ("lion_smooth", scale_by_lion, dict(mode="smooth", smooth_beta=3.0), np_lion),
    ("lion_refined", scale_by_lion, dict(mode="refined", b1=0.5), np_lion),
    (
        "novograd",
        scale_by_novograd,
        dict(b1=0.8, b2=0.5, eps=1e-6, eps_root=1e-9, weight_decay=0.1),
        np_novograd,
    ),
    ("adan", scale_by_adan, dict(b1=0.9, b2=0.8, b3=0.95, eps=1e-6, eps_root=1e-9), np_adan),
]
CASE_IDS = [c[0] for c in CASES]

FACTORIES = {
    "scale_by_adam": scale_by_adam,
    "scale_by_amsgrad": scale_by_amsgrad,
    "scale_by_adamax": scale_by_adamax,
    "scale_by_belief": scale_by_belief,
    "scale_by_radam": scale_by_radam,
    "scale_by_yogi": scale_by_yogi,
    "scale_by_lion": scale_by_lion,
    "scale_by_novograd": scale_by_novograd,
    "scale_by_adan": scale_by_adan,
}
WITH_NU_DTYPE = [name for name in FACTORIES if name != "scale_by_lion"]
WITH_MU_DTYPE = ["scale_by_adam", "scale_by_amsgrad", "scale_by_lion", "scale_by_novograd"]


def _reference(ref: Callable, kwargs: dict, params, grads) -> list:
    """The reference's updates as trees (float64), one leaf at a time."""
    p_leaves, treedef = jax.tree.flatten(params)
    per_leaf = []
    for i, p in enumerate(p_leaves):
        gs = [np.asarray(jax.tree.leaves(g)[i], np.float64) for g in grads]
        if ref is np_novograd:
            per_leaf.append(ref(gs, np.asarray(p, np.float64), **kwargs))
        else:
            per_leaf.append(ref(gs, **kwargs))
    return [jax.tree.unflatten(treedef, [leaf[t] for leaf in per_leaf]) for t in range(len(grads))]


def _check_against_reference(factory, kwargs, ref, dtype, rtol, atol, steps=12):
    params = example_params(dtype)
    grads = gradient_sequence(params, steps, seed=3)
    ours, _, _ = run_updates(factory(**kwargs), params, grads, apply=False)
    expected = _reference(ref, kwargs, params, grads)
    for t, (a, e) in enumerate(zip(ours, expected, strict=True)):
        assert_same_shapes_and_dtypes(a, grads[t])
        assert_trees_close(a, e, rtol=rtol, atol=atol, msg=f"step {t}:")


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_matches_numpy_reference_float32(case):
    _, factory, kwargs, ref = case
    _check_against_reference(factory, kwargs, ref, jnp.float32, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_matches_numpy_reference_float64(case, x64):
    _, factory, kwargs, ref = case
    _check_against_reference(factory, kwargs, ref, jnp.float64, rtol=1e-10, atol=1e-12)


def test_radam_reference_covers_both_branches():
    for kwargs in (dict(b2=0.9, threshold=4.5), dict(b2=0.95)):
        flags: list[bool] = []
        np_radam([np.ones(2)] * 12, rectified=flags, **kwargs)
        assert not flags[0] and flags[-1], flags


def test_adan_gradient_difference_weight_is_optaxs_not_the_papers():
    """Documented deviation: the difference is weighted by 1 - b2 (Optax), not b2 (paper)."""
    params = {"w": jnp.zeros(5)}
    grads = gradient_sequence(params, 3, seed=1)
    ours, _, _ = run_updates(scale_by_adan(), params, grads, apply=False)
    gs = [np.asarray(g["w"], np.float64) for g in grads]
    optax_convention = np_adan(gs)
    paper = np_adan(gs, diff_weight=0.92)
    np.testing.assert_allclose(ours[2]["w"], optax_convention[2], rtol=2e-5)
    np.testing.assert_allclose(paper[0], optax_convention[0])  # no difference at step 1
    assert not np.allclose(ours[2]["w"], paper[2], rtol=1e-3)


# --- Optax parity -------------------------------------------------------------------


@pytest.mark.parametrize("name", WITH_MU_DTYPE)
def test_bfloat16_first_moment_against_optax(name):
    """Documented difference: with ``mu_dtype=bfloat16`` gradtx does the arithmetic in
    float32 and rounds only the stored moment, while Optax also rounds the decay and the
    product to bfloat16. Both stay close, and gradtx is closer to full precision."""
    params = example_params()
    grads = gradient_sequence(params, 30, seed=0)
    full, _, _ = run_updates(FACTORIES[name](), params, grads, apply=False)
    ours, _, _ = run_updates(FACTORIES[name](mu_dtype=BF16), params, grads, apply=False)
    with jax.numpy_dtype_promotion("standard"):
        theirs, _, _ = run_updates(getattr(optax, name)(mu_dtype=BF16), params, grads, apply=False)

    def flat(history):
        return np.concatenate(
            [np.ravel(np.asarray(x, np.float64)) for u in history for x in jax.tree.leaves(u)]
        )

    ours_err = np.mean(np.abs(flat(ours) - flat(full)))
    theirs_err = np.mean(np.abs(flat(theirs) - flat(full)))
    assert ours_err < theirs_err, (ours_err, theirs_err)
    if name == "scale_by_lion":  # signs: a few coordinates may flip
        assert np.mean(flat(ours) != flat(theirs)) < 0.01
    else:
        assert np.mean(np.abs(flat(ours) - flat(theirs))) < 1e-2


# --- jit / eager, dtypes, trees -----------------------------------------------------


EAGER_CASES = [
    c
    for c in CASES
    if c[0]
    in {
        "adam_nesterov",
        "amsgrad",
        "adamax",
        "belief",
        "radam_nesterov",
        "yogi",
        "lion_smooth",
        "novograd",
        "adan",
    }
]


@pytest.mark.parametrize("case", EAGER_CASES, ids=[c[0] for c in EAGER_CASES])
def test_eager_matches_jit(case):
    _, factory, kwargs, _ = case
    params = example_params()
    grads = gradient_sequence(params, 2, seed=5)
    tx = factory(**kwargs)
    eager, _, s_eager = run_updates(tx, params, grads, jit=False)
    jitted, _, s_jit = run_updates(tx, params, grads, jit=True)
    for a, e in zip(eager, jitted, strict=True):
        assert_trees_close(a, e, rtol=1e-6, atol=1e-7)
    assert_same_shapes_and_dtypes(s_eager, s_jit)


def _mixed_params(*dtypes):
    return {
        f"p{i}": {"w": jnp.linspace(-1, 1, 6, dtype=d).reshape(2, 3), "s": jnp.asarray(0.3, d)}
        for i, d in enumerate(dtypes)
    }


def _two_steps(tx, params):
    grads = gradient_sequence(params, 2, seed=7)
    state0 = tx.init(params)
    step = jax.jit(tx.update)
    state = state0
    for g in grads:
        updates, state = step(g, state, params)
        assert_same_shapes_and_dtypes(updates, g)
        assert_same_shapes_and_dtypes(state, state0)
        assert all(bool(jnp.all(jnp.isfinite(u))) for u in jax.tree.leaves(updates))
    return updates, state


@pytest.mark.parametrize("name", list(FACTORIES))
def test_float32_and_bfloat16_leaves_keep_their_dtypes(name):
    _two_steps(FACTORIES[name](), _mixed_params(jnp.float32, BF16))


@pytest.mark.parametrize("name", list(FACTORIES))
def test_float64_leaves_keep_their_dtype(name, x64):
    updates, _ = _two_steps(FACTORIES[name](), _mixed_params(jnp.float64, jnp.float32))
    assert updates["p0"]["w"].dtype == jnp.float64


@pytest.mark.parametrize("name", WITH_NU_DTYPE)
def test_low_memory_moments(name):
    """bfloat16 moments: state stored in bfloat16, float32 updates close to full precision."""
    kwargs = {"nu_dtype": BF16}
    if name in WITH_MU_DTYPE:
        kwargs["mu_dtype"] = BF16
    params = example_params()
    grads = gradient_sequence(params, 5, seed=2)
    low, _, state = run_updates(FACTORIES[name](**kwargs), params, grads, apply=False)
    full, _, _ = run_updates(FACTORIES[name](), params, grads, apply=False)
    moment_dtypes = {x.dtype for x in jax.tree.leaves(state) if x.dtype != jnp.int32}
    assert moment_dtypes <= {jnp.dtype(BF16), jnp.dtype(jnp.float32)}
    assert jnp.dtype(BF16) in moment_dtypes
    if name != "scale_by_adan":  # Adan's previous gradient stays in the parameter dtype
        for field in ("nu", "n", "nu_max"):
            if hasattr(state, field):
                assert {x.dtype for x in jax.tree.leaves(getattr(state, field))} == {
                    jnp.dtype(BF16)
                }
    if name in WITH_MU_DTYPE:
        assert {x.dtype for x in jax.tree.leaves(state.mu)} == {jnp.dtype(BF16)}
    for a, e in zip(low, full, strict=True):
        assert_same_shapes_and_dtypes(a, e)
        assert_trees_close(a, e, rtol=5e-2, atol=5e-2)


# Dyadic values, exact in float32, so traced and Python hyperparameters agree exactly.
TRACED = {
    "scale_by_adam": dict(b1=0.75, b2=0.875, eps=2.0**-20, eps_root=2.0**-30),
    "scale_by_amsgrad": dict(b1=0.75, b2=0.875, eps=2.0**-20, eps_root=2.0**-30),
    "scale_by_adamax": dict(b1=0.75, b2=0.875, eps=2.0**-20),
    "scale_by_belief": dict(b1=0.75, b2=0.875, eps=2.0**-20, eps_root=2.0**-30),
    "scale_by_radam": dict(b1=0.75, b2=0.875, eps=2.0**-20, eps_root=2.0**-30, threshold=4.5),
    "scale_by_yogi": dict(b1=0.75, b2=0.875, eps=2.0**-10, initial_accumulator_value=2.0**-8),
    "scale_by_lion": dict(b1=0.75, b2=0.875),
    "scale_by_novograd": dict(b1=0.75, b2=0.5, eps=2.0**-20, weight_decay=0.125),
    "scale_by_adan": dict(b1=0.75, b2=0.875, b3=0.9375, eps=2.0**-20),
}


@pytest.mark.parametrize("name", list(TRACED))
def test_traced_hyperparameters(name):
    """As under ``inject_hyperparams``: the factory is called inside jit with arrays."""
    factory, kwargs = FACTORIES[name], TRACED[name]
    params = _mixed_params(jnp.float32, BF16)
    grads = gradient_sequence(params, 7, seed=4)  # RAdam rectifies from step 7 here

    def run(hparams):
        tx = factory(**hparams)
        state = tx.init(params)
        for g in grads:
            updates, state = tx.update(g, state, params)
        return updates, state

    plain_u, plain_s = jax.jit(lambda: run(kwargs))()
    arrays = {k: jnp.asarray(v, jnp.float32) for k, v in kwargs.items()}
    traced_u, traced_s = jax.jit(run)(arrays)
    assert_same_shapes_and_dtypes(traced_u, grads[0])
    assert_same_shapes_and_dtypes(traced_s, plain_s)
    # float32 leaves agree exactly; on bfloat16 leaves a float32 array hyperparameter
    # promotes the arithmetic to float32 (standard JAX promotion), a Python float does not.
    assert_trees_close(traced_u["p0"], plain_u["p0"], rtol=1e-6, atol=1e-7)
    assert_trees_close(traced_u["p1"], plain_u["p1"], rtol=2e-2, atol=1e-2)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_nested_none_and_empty_trees(name):
    tx = FACTORIES[name]()
    params = {"a": {"w": jnp.ones((2, 3)), "frozen": None}, "b": [jnp.ones(2), jnp.asarray(2.0)]}
    grads = {
        "a": {"w": jnp.full((2, 3), 0.5), "frozen": None},
        "b": [-jnp.ones(2), jnp.asarray(1.0)],
    }
    updates, state = tx.update(grads, tx.init(params), params)
    assert updates["a"]["frozen"] is None
    assert_same_shapes_and_dtypes(updates, grads)
    updates, state = tx.update({}, tx.init({}), {})
    assert updates == {}


@pytest.mark.parametrize("name", list(FACTORIES))
def test_tree_mismatch_is_reported(name):
    tx = FACTORIES[name]()
    state = tx.init({"w": jnp.ones(3)})
    with pytest.raises(gradtx.TreeMismatchError, match=name):
        tx.update({"v": jnp.ones(3)}, state, {"v": jnp.ones(3)})
    with pytest.raises(gradtx.TreeMismatchError, match="shape"):
        tx.update({"w": jnp.ones(4)}, state, {"w": jnp.ones(4)})


# --- closed forms and behaviour -----------------------------------------------------


def test_first_steps_in_closed_form():
    g = jnp.array([2.0, -0.5, 3.0])
    zeros = jnp.zeros(3)
    sign = np.sign(np.asarray(g))
    for tx in (scale_by_adam(), scale_by_amsgrad(), scale_by_adamax(), scale_by_adan()):
        # up to eps and the float32 rounding of 1 - b in the bias corrections
        np.testing.assert_allclose(tx.update(g, tx.init(zeros))[0], sign, rtol=1e-5)
    # AdaBelief: m_1 = (1 - b1) g, so |g - m_1| = b1 |g| and u_1 = sign(g) / b1.
    np.testing.assert_allclose(
        scale_by_belief().update(g, scale_by_belief().init(zeros))[0], sign / 0.9, rtol=1e-5
    )
    # RAdam: rho_1 = 1 < threshold, so u_1 is the debiased momentum, g itself.
    np.testing.assert_allclose(
        scale_by_radam().update(g, scale_by_radam().init(zeros))[0], g, rtol=1e-6
    )
    # NovoGrad: g / ||g|| per leaf.
    tx = scale_by_novograd()
    u = tx.update({"a": g, "b": g[:2]}, tx.init({"a": zeros, "b": zeros[:2]}))[0]
    np.testing.assert_allclose(u["a"], g / jnp.linalg.norm(g), rtol=1e-6)
    np.testing.assert_allclose(u["b"], g[:2] / jnp.linalg.norm(g[:2]), rtol=1e-6)
    # Lion: every coordinate +-1.
    assert scale_by_lion().update(g, scale_by_lion().init(zeros))[0].tolist() == sign.tolist()


def test_amsgrad_second_moment_never_decreases():
    tx = scale_by_amsgrad()
    state = tx.init(jnp.zeros(2))
    previous = np.zeros(2)
    for scale in (4.0, 1.0, 0.1, 0.01):
        _, state = tx.update(jnp.array([scale, -scale]), state)
        assert np.all(np.asarray(state.nu_max) >= previous)
        previous = np.asarray(state.nu_max)
    assert np.asarray(state.nu_max)[0] > np.asarray(state.nu)[0] / (1 - 0.999**4)


def test_state_types_and_field_names():
    p = jnp.zeros(2)
    assert isinstance(scale_by_adam().init(p), ScaleByAdamState)
    assert isinstance(scale_by_adamax().init(p), ScaleByAdamState)
    assert isinstance(scale_by_radam().init(p), ScaleByAdamState)
    assert isinstance(scale_by_yogi().init(p), ScaleByAdamState)
    assert isinstance(scale_by_amsgrad().init(p), ScaleByAmsgradState)
    assert isinstance(scale_by_belief().init(p), ScaleByBeliefState)
    assert isinstance(scale_by_lion().init(p), ScaleByLionState)
    assert isinstance(scale_by_novograd().init(p), ScaleByNovogradState)
    assert ScaleByAdanState._fields == optax.ScaleByAdanState._fields
    assert scale_by_novograd().init({"w": jnp.zeros((3, 4))}).nu["w"].shape == ()
    assert scale_by_yogi(initial_accumulator_value=0.5).init(p).nu.tolist() == [0.5, 0.5]


def test_novograd_weight_decay_needs_params():
    tx = scale_by_novograd(weight_decay=0.1)
    with pytest.raises(ValueError, match=r"scale_by_novograd: update\(\) needs params"):
        tx.update(jnp.ones(2), tx.init(jnp.ones(2)))
    tx = scale_by_novograd()
    tx.update(jnp.ones(2), tx.init(jnp.ones(2)))  # no decay: params not needed


# --- validation -----------------------------------------------------------------------

INVALID = [
    (scale_by_adam, dict(b1=1.5), r"scale_by_adam\(b1=1\.5\): b1 must be in \[0, 1\)"),
    (scale_by_adam, dict(b2=1.0), r"scale_by_adam\(b2=1\.0\)"),
    (scale_by_adam, dict(eps=-1.0), r"scale_by_adam\(eps=-1\.0\): eps must be >= 0"),
    (scale_by_amsgrad, dict(eps_root=-1e-3), r"scale_by_amsgrad\(eps_root=-0\.001\)"),
    (scale_by_adamax, dict(b1=-0.1), r"scale_by_adamax\(b1=-0\.1\)"),
    (scale_by_belief, dict(eps_root=float("nan")), r"scale_by_belief\(eps_root=nan\)"),
    (scale_by_radam, dict(threshold=3.0), r"scale_by_radam\(threshold=3\.0\): .* >= 4"),
    (scale_by_yogi, dict(initial_accumulator_value=-1.0), r"scale_by_yogi\(initial_acc"),
    (scale_by_lion, dict(b1=1.01), r"scale_by_lion\(b1=1\.01\): b1 must be in \[0, 1\]"),
    (scale_by_lion, dict(mode="soft"), r"scale_by_lion\(mode='soft'\)"),
    (scale_by_lion, dict(mode="smooth", smooth_beta=0.0), r"scale_by_lion\(smooth_beta=0\.0\)"),
    (scale_by_novograd, dict(weight_decay=-0.1), r"scale_by_novograd\(weight_decay=-0\.1\)"),
    (scale_by_adan, dict(b3=1.0), r"scale_by_adan\(b3=1\.0\)"),
]


@pytest.mark.parametrize("factory, kwargs, match", INVALID)
def test_invalid_hyperparameters_raise(factory, kwargs, match):
    with pytest.raises(ValueError, match=match):
        factory(**kwargs)


def test_wrong_kind_raises_type_error():
    with pytest.raises(TypeError, match=r"scale_by_adam\(b1='0\.9'\)"):
        scale_by_adam(b1="0.9")


def test_boundary_values_are_accepted():
    scale_by_lion(b1=1.0, b2=1.0)
    scale_by_lion(b1=0.0, b2=0.0)
    scale_by_adam(b1=0.0, eps=0.0)
    scale_by_radam(threshold=4.0)
    scale_by_yogi(initial_accumulator_value=0.0)


# --- float16: eps and (1 - b2) g^2 would round to 0 ---------------------------------
# Half-precision leaves are computed in float32 and rounded once: zero and tiny float16
# gradients give finite updates equal (to float16 rounding) to the float64 reference.

F16_GRADS = [0.0, 1e-4, 1e-3, 1.0]
F16_CASES = [
    ("adam", scale_by_adam, {}, np_adam),
    ("adam_nesterov", scale_by_adam, dict(nesterov=True), np_adam),
    ("adam_eps_root", scale_by_adam, dict(eps_root=1e-12), np_adam),
    ("amsgrad", scale_by_amsgrad, {}, np_amsgrad),
    ("amsgrad_paper", scale_by_amsgrad, dict(bias_correction_mu=False), np_amsgrad),
    ("adamax", scale_by_adamax, {}, np_adamax),
    ("belief", scale_by_belief, {}, np_belief),
    ("belief_nesterov", scale_by_belief, dict(nesterov=True), np_belief),
    ("radam", scale_by_radam, {}, np_radam),
    # 2**-20 is exact in float16 (1e-6 would be rounded before the first step)
    ("yogi", scale_by_yogi, dict(initial_accumulator_value=2.0**-20), np_yogi),
    ("adan", scale_by_adan, {}, np_adan),
    ("lion", scale_by_lion, {}, np_lion),
]


@pytest.mark.parametrize("case", F16_CASES, ids=[c[0] for c in F16_CASES])
def test_float16_tiny_and_zero_gradients_match_reference(case):
    _, factory, kwargs, ref = case
    tx = factory(**kwargs)
    params = jnp.full((4,), 0.5, jnp.float16)
    grads = jnp.asarray(F16_GRADS, jnp.float16)
    # the reference sees the float16 gradients exactly
    (expected,) = ref([np.asarray(grads, np.float64)], **kwargs)
    for update in (tx.update, jax.jit(tx.update)):
        u, state = update(grads, tx.init(params), params)
        assert u.dtype == jnp.float16
        assert bool(jnp.all(jnp.isfinite(u))), u
        # float32 arithmetic, rounded once: within half a float16 ulp (2**-11 relative)
        np.testing.assert_allclose(np.asarray(u, np.float64), expected, rtol=2.0**-11, atol=0)
        assert_same_shapes_and_dtypes(state, tx.init(params))


def test_float16_novograd_tiny_and_zero_gradients():
    tx = scale_by_novograd()
    grads = {"tiny": jnp.asarray([1e-4, -1e-4], jnp.float16), "zero": jnp.zeros(3, jnp.float16)}
    u, _ = tx.update(grads, tx.init(jax.tree.map(jnp.ones_like, grads)))
    assert u["zero"].tolist() == [0.0, 0.0, 0.0]
    g = np.asarray(grads["tiny"], np.float64)
    np.testing.assert_allclose(
        np.asarray(u["tiny"], np.float64), g / np.linalg.norm(g), rtol=2**-11
    )


def test_float16_adam_reference_values_by_hand():
    """The first Adam step is m_hat / (|g| + eps) = g / (|g| + 1e-8): 1 for every nonzero
    gradient here (1e-4 / (1e-4 + 1e-8) = 0.9999 rounds to 1 in float16), 0 for g = 0.
    Before float32 arithmetic, float16 gave nan (0 / 0) and inf (1e-3: v rounded to 0)."""
    tx = scale_by_adam()
    grads = jnp.asarray(F16_GRADS, jnp.float16)
    u, _ = tx.update(grads, tx.init(jnp.zeros(4, jnp.float16)))
    assert u.tolist() == [0.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("name", list(FACTORIES))
def test_float16_steps_stay_finite_and_keep_state_dtypes(name):
    """Several float16 steps of zero, tiny and ordinary gradients, with the moments in
    float16 (default), bfloat16 or float32 storage."""
    options = [{}]
    if name in WITH_NU_DTYPE:
        options += [{"nu_dtype": BF16}, {"nu_dtype": jnp.float32}]
    if name in WITH_MU_DTYPE:
        options += [{"mu_dtype": jnp.float32}]
    params = {"w": jnp.full((2, 4), 0.5, jnp.float16), "b": jnp.zeros((), jnp.float16)}
    rows = jnp.asarray([F16_GRADS, [-1e-4, 3e-4, -2.0, 0.0]], jnp.float16)
    grads = [{"w": rows * s, "b": jnp.asarray(s, jnp.float16)} for s in (1.0, 0.5, 1.0, 1e-3)]
    for kwargs in options:
        tx = FACTORIES[name](**kwargs)
        updates, state = _run_steps(tx, params, grads)
        for u in updates:
            assert_same_shapes_and_dtypes(u, params)
            assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(u)), (kwargs, u)
        assert_same_shapes_and_dtypes(state, tx.init(params))


def _run_steps(tx, params, grads):
    step = jax.jit(tx.update)
    state = tx.init(params)
    updates = []
    for g in grads:
        u, state = step(g, state, params)
        updates.append(u)
    return updates, state


def test_float16_params_with_float32_moments_match_reference_over_many_steps():
    """float16 stores (1 - b2) g^2 < ~3e-8 as 0, so a float16 second moment forgets tiny
    gradients; with ``nu_dtype`` (and ``mu_dtype``) float32 every step matches the float64
    reference to float16 rounding."""
    params = jnp.zeros(4, jnp.float16)
    grads = [jnp.asarray(F16_GRADS, jnp.float16) * s for s in (1.0, 0.5, 2.0, 1.0, 0.25, 1.0)]
    gs = [np.asarray(g, np.float64) for g in grads]
    for factory, ref in ((scale_by_adam, np_adam), (scale_by_amsgrad, np_amsgrad)):
        tx = factory(mu_dtype=jnp.float32, nu_dtype=jnp.float32)
        ours, _ = _run_steps(tx, params, grads)
        for t, (u, e) in enumerate(zip(ours, ref(gs), strict=True)):
            assert u.dtype == jnp.float16
            np.testing.assert_allclose(np.asarray(u, np.float64), e, rtol=2**-10, err_msg=f"{t}")


def test_float16_second_moment_never_rounds_a_positive_value_to_zero():
    """A float16 ``nu`` would store (1 - b2) (2e-3)^2 = 4e-9 as 0, and a zero gradient next
    would give m_hat / eps, beyond float16's range; it keeps 2**-24 instead, so the update
    is finite and |u| <= 1 as in exact arithmetic. A float32 ``nu`` matches the reference."""
    params = jnp.zeros(1, jnp.float16)
    grads = [jnp.asarray([2e-3], jnp.float16), jnp.zeros(1, jnp.float16)]
    (_, u_f16), state = _run_steps(scale_by_adam(), params, grads)
    assert state.nu.dtype == jnp.float16 and state.nu.tolist() == [2.0**-24]
    assert bool(jnp.isfinite(u_f16[0])) and 0.0 < float(u_f16[0]) <= 1.0
    (_, u_f32), state = _run_steps(scale_by_adam(nu_dtype=jnp.float32), params, grads)
    (_, expected) = np_adam([np.asarray(g, np.float64) for g in grads])
    assert state.nu.dtype == jnp.float32 and u_f32.dtype == jnp.float16
    np.testing.assert_allclose(np.asarray(u_f32, np.float64), expected, rtol=2**-10)
    zero = jnp.zeros(1, jnp.float16)  # an exact zero stays zero
    (_, u0), state = _run_steps(scale_by_adam(), params, [zero, zero])
    assert state.nu.tolist() == [0.0] and u0.tolist() == [0.0]
