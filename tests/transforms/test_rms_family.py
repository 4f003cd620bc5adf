"""RMSProp family (scale_by_rms, _stddev, _rss, _adadelta): float64 references, Optax parity,
dtypes, trees and validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from tests.helpers import (
    assert_same_shapes_and_dtypes,
    assert_trees_close,
    example_params,
    gradient_sequence,
    run_updates,
)

# Slow (CI runs it): references and dtype checks, one compilation each.
pytestmark = pytest.mark.slow

# --- float64 NumPy references -------------------------------------------------------


def np_rms(gs, decay=0.9, eps=1e-8, initial_scale=0.0, eps_in_sqrt=True, bias_correction=False):
    """Tieleman & Hinton: v_t = rho v + (1 - rho) g^2; u = g / sqrt(v_hat (+ eps))."""
    v = np.full_like(gs[0], initial_scale)
    out = []
    for t, g in enumerate(gs, start=1):
        v = decay * v + (1 - decay) * g**2
        v_hat = v / (1 - decay**t) if bias_correction else v
        denom = np.sqrt(v_hat + eps) if eps_in_sqrt else np.sqrt(v_hat) + eps
        out.append(g / denom)
    return out


def np_stddev(gs, decay=0.9, eps=1e-8, initial_scale=0.0, eps_in_sqrt=True, bias_correction=False):
    """Graves 2013, eq. 38-41: divide by sqrt(E[g^2] - E[g]^2 (+ eps))."""
    m = np.zeros_like(gs[0])
    v = np.full_like(gs[0], initial_scale)
    out = []
    for t, g in enumerate(gs, start=1):
        m = decay * m + (1 - decay) * g
        v = decay * v + (1 - decay) * g**2
        c = (1 - decay**t) if bias_correction else 1.0
        var = v / c - (m / c) ** 2
        denom = np.sqrt(var + eps) if eps_in_sqrt else np.sqrt(var) + eps
        out.append(g / denom)
    return out


def np_rss(gs, initial_accumulator_value=0.1, eps=1e-7):
    """Duchi et al.: G_t = G_{t-1} + g^2; u = g / sqrt(G_t + eps), 0 where G_t = 0."""
    acc = np.full_like(gs[0], initial_accumulator_value)
    out = []
    for g in gs:
        acc = acc + g**2
        safe = np.where(acc > 0, acc, 1.0)
        out.append(np.where(acc > 0, g / np.sqrt(safe + eps), 0.0))
    return out


def np_adadelta(gs, rho=0.9, eps=1e-6):
    """Zeiler 2012, Algorithm 1 (returned with the gradient's sign)."""
    eg = np.zeros_like(gs[0])
    ex = np.zeros_like(gs[0])
    out = []
    for g in gs:
        eg = rho * eg + (1 - rho) * g**2
        dx = np.sqrt(ex + eps) / np.sqrt(eg + eps) * g
        ex = rho * ex + (1 - rho) * dx**2
        out.append(dx)
    return out


REFERENCES = [
    (gradtx.scale_by_rms, np_rms, {}),
    (gradtx.scale_by_rms, np_rms, {"decay": 0.8, "eps": 1e-3, "initial_scale": 0.5}),
    (gradtx.scale_by_rms, np_rms, {"eps_in_sqrt": False, "bias_correction": True, "eps": 1e-4}),
    (gradtx.scale_by_stddev, np_stddev, {"eps": 1e-3}),
    (
        gradtx.scale_by_stddev,
        np_stddev,
        {
            "decay": 0.7,
            "eps": 1e-2,
            "initial_scale": 1.0,
            "eps_in_sqrt": False,
            "bias_correction": True,
        },
    ),
    (gradtx.scale_by_rss, np_rss, {}),
    (gradtx.scale_by_rss, np_rss, {"initial_accumulator_value": 0.0, "eps": 1e-3}),
    (gradtx.scale_by_adadelta, np_adadelta, {}),
    (gradtx.scale_by_adadelta, np_adadelta, {"rho": 0.5, "eps": 1e-3}),
]


@pytest.mark.parametrize(
    "factory,reference,kwargs", REFERENCES, ids=[f"{f.__name__}-{k}" for f, _, k in REFERENCES]
)
def test_matches_float64_reference(x64, factory, reference, kwargs):
    rng = np.random.default_rng(3)
    gs = [rng.normal(size=(4, 3)) for _ in range(10)]
    ours, _, _ = run_updates(
        factory(**kwargs), jnp.zeros((4, 3)), [jnp.asarray(g) for g in gs], jit=False
    )
    for t, (o, r) in enumerate(zip(ours, reference(gs, **kwargs), strict=True)):
        assert o.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(o), r, rtol=1e-10, err_msg=f"step {t}")


def test_rms_first_step_closed_form():
    # v_1 = (1 - rho) g^2, so u_1 = g / sqrt((1 - rho) g^2) = sign(g) / sqrt(1 - rho).
    tx = gradtx.scale_by_rms(decay=0.75, eps=0.0)
    u, _ = tx.update(jnp.array([2.0, -8.0]), tx.init(jnp.zeros(2)))
    np.testing.assert_allclose(np.asarray(u), [2.0, -2.0], rtol=1e-6)


def test_rms_with_bias_correction_equals_adam_without_first_moment():
    params = example_params()
    grads = gradient_sequence(params, 10)
    ours, _, _ = run_updates(
        gradtx.scale_by_rms(decay=0.99, eps_in_sqrt=False, bias_correction=True), params, grads
    )
    adam, _, _ = run_updates(gradtx.scale_by_adam(b1=0.0, b2=0.99), params, grads)
    for a, b in zip(ours, adam, strict=True):
        assert_trees_close(a, b, rtol=1e-5)


def test_rss_zero_accumulator_gives_zero_not_nan():
    tx = gradtx.scale_by_rss(initial_accumulator_value=0.0, eps=0.0)
    u, state = tx.update(jnp.array([0.0, 3.0]), tx.init(jnp.zeros(2)))
    np.testing.assert_array_equal(np.asarray(u), [0.0, 1.0])
    np.testing.assert_array_equal(np.asarray(state.sum_of_squares), [0.0, 9.0])


def test_stddev_of_constant_gradient_is_eps_limited():
    # A constant gradient has zero variance: the step is g / sqrt(eps) once debiased.
    tx = gradtx.scale_by_stddev(decay=0.9, eps=1e-4, bias_correction=True)
    state = tx.init(jnp.zeros(1))
    for _ in range(3):
        u, state = tx.update(jnp.array([0.5]), state)
    np.testing.assert_allclose(np.asarray(u), [0.5 / 1e-2], rtol=1e-3)


@pytest.mark.parametrize("bias_correction", [False, True])
def test_state_classes_and_fields_match_optax(bias_correction):
    params = example_params()
    ours = gradtx.scale_by_rms(bias_correction=bias_correction).init(params)
    theirs = optax.scale_by_rms(bias_correction=bias_correction).init(params)
    assert type(ours).__name__ == type(theirs).__name__
    assert ours._fields == theirs._fields
    ours = gradtx.scale_by_stddev(bias_correction=bias_correction).init(params)
    theirs = optax.scale_by_stddev(bias_correction=bias_correction).init(params)
    assert type(ours).__name__ == type(theirs).__name__
    assert ours._fields == theirs._fields
    assert gradtx.ScaleByRssState._fields == optax.ScaleByRssState._fields
    assert gradtx.ScaleByAdaDeltaState._fields == optax.ScaleByAdaDeltaState._fields


FACTORIES = [
    gradtx.scale_by_rms,
    lambda: gradtx.scale_by_rms(bias_correction=True, eps_in_sqrt=False),
    gradtx.scale_by_stddev,
    lambda: gradtx.scale_by_stddev(bias_correction=True),
    gradtx.scale_by_rss,
    gradtx.scale_by_adadelta,
]


@pytest.mark.parametrize("factory", FACTORIES)
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_dtypes_are_preserved(factory, dtype):
    params = example_params(dtype)
    tx = factory()
    state0 = tx.init(params)
    state = state0
    for g in gradient_sequence(params, 2):
        u, state = jax.jit(tx.update)(g, state)
        assert_same_shapes_and_dtypes(u, g)
        assert_same_shapes_and_dtypes(state, state0)
        assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(u))


@pytest.mark.parametrize("factory", FACTORIES)
def test_float64_is_preserved_and_trees(x64, factory):
    params = example_params(jnp.float64)
    tx = factory()
    g = gradient_sequence(params, 1)[0]
    u, state = tx.update(g, tx.init(params))
    assert_same_shapes_and_dtypes(u, g)
    assert_same_shapes_and_dtypes(state, tx.init(params))
    assert tx.update({}, tx.init({}))[0] == {}
    nested = {"a": [jnp.ones(2), {"b": jnp.ones((2, 2))}]}
    u, _ = tx.update(nested, tx.init(nested))
    assert jax.tree.structure(u) == jax.tree.structure(nested)


@pytest.mark.parametrize("factory", FACTORIES[::2] + [gradtx.scale_by_rss])
def test_tree_mismatch_is_reported(factory):
    tx = factory()
    state = tx.init({"w": jnp.ones(3)})
    with pytest.raises(gradtx.TreeMismatchError):
        tx.update({"w": jnp.ones(3), "extra": jnp.ones(1)}, state)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: gradtx.scale_by_rms(decay=1.0), r"scale_by_rms\(decay=1\.0\)"),
        (lambda: gradtx.scale_by_rms(eps=-1.0), r"scale_by_rms\(eps=-1\.0\)"),
        (lambda: gradtx.scale_by_rms(initial_scale=-0.1), r"initial_scale must be >= 0"),
        (lambda: gradtx.scale_by_stddev(decay=-0.5), r"scale_by_stddev\(decay=-0\.5\)"),
        (lambda: gradtx.scale_by_rss(eps=-1e-7), r"scale_by_rss\(eps=-1e-07\)"),
        (
            lambda: gradtx.scale_by_rss(initial_accumulator_value=-1.0),
            r"initial_accumulator_value must be >= 0",
        ),
        (lambda: gradtx.scale_by_adadelta(rho=1.5), r"scale_by_adadelta\(rho=1\.5\)"),
        (lambda: gradtx.scale_by_adadelta(eps=float("nan")), r"scale_by_adadelta\(eps=nan\)"),
    ],
)
def test_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()


TRACED = [
    ("scale_by_rms", {"decay": 0.9, "eps": 1e-8, "initial_scale": 0.1}),
    ("scale_by_stddev", {"decay": 0.9, "eps": 1e-3, "initial_scale": 0.1}),
    ("scale_by_rss", {"initial_accumulator_value": 0.1, "eps": 1e-7}),
    ("scale_by_adadelta", {"rho": 0.9, "eps": 1e-6}),
]


@pytest.mark.parametrize("name,kwargs", TRACED, ids=[n for n, _ in TRACED])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_traced_hyperparameters(name, kwargs, dtype):
    """As inject_hyperparams does: float32 arrays under jit, even for bfloat16 leaves."""
    params = example_params(dtype)
    g = gradient_sequence(params, 1)[0]
    plain = getattr(gradtx, name)(**kwargs)
    expected, _ = plain.update(g, plain.init(params))

    @jax.jit
    def run(hparams):
        tx = getattr(gradtx, name)(**hparams)
        return tx.update(g, tx.init(params))[0]

    got = run({k: jnp.asarray(v, jnp.float32) for k, v in kwargs.items()})
    assert_same_shapes_and_dtypes(got, g)
    # bfloat16: the float32 hyperparameters promote the arithmetic (1 ulp differences).
    assert_trees_close(got, expected, rtol=2e-2 if dtype == jnp.bfloat16 else 1e-6)
