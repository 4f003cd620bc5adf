"""The Adam-family optimizers: Optax parity (schedules, masks, bfloat16 moments, Nesterov),
composition, signatures, validation, dtypes and trees."""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from gradtx.transforms._adam_family import ScaleByAdamState, ScaleByAmsgradState
from tests.helpers import (
    assert_same_shapes_and_dtypes,
    assert_trees_close,
    example_params,
    gradient_sequence,
    run_updates,
)

# Slow (CI runs it): trajectories and dtype checks of each alias.
pytestmark = pytest.mark.slow

NAMES = [
    "adabelief",
    "adam",
    "adamax",
    "adamaxw",
    "adamw",
    "adan",
    "amsgrad",
    "lion",
    "nadam",
    "nadamw",
    "novograd",
    "radam",
    "yogi",
]
BF16 = jnp.bfloat16


def schedule(count):
    """A decaying learning rate (written so it also runs under strict promotion)."""
    return 0.02 / (1.0 + 0.1 * count.astype(jnp.float32))


TREE_MASK = {"dense": {"w": True, "b": False}, "scalar": False}


def matrix_mask(params):
    return jax.tree.map(lambda p: jnp.ndim(p) > 1, params)


@pytest.mark.parametrize("name", ["adam", "adamw", "nadamw", "amsgrad", "lion"])
def test_bfloat16_first_moment_close_to_optax(name):
    """``mu_dtype=bfloat16``: gradtx keeps the arithmetic in float32 and Optax does not
    (documented on `scale_by_adam`), so the runs agree loosely, not to 1e-6."""
    params = example_params()
    grads = gradient_sequence(params, 30, seed=11)
    kwargs = dict(learning_rate=0.01, mu_dtype=BF16)
    ours, p_ours, _ = run_updates(getattr(gradtx, name)(**kwargs), params, grads)
    with jax.numpy_dtype_promotion("standard"):
        theirs, p_theirs, _ = run_updates(getattr(optax, name)(**kwargs), params, grads)
    atol = 2.5e-2 if name == "lion" else 2e-4  # Lion: a sign may flip (2 * lr)
    for a, e in zip(ours, theirs, strict=True):
        assert_same_shapes_and_dtypes(a, grads[0])
        assert_trees_close(a, e, rtol=0, atol=atol)
    assert_trees_close(p_ours, p_theirs, rtol=0, atol=0.1 if name == "lion" else 1e-2)


def test_public_names():
    for name in NAMES:
        assert name in gradtx.__all__ and name in gradtx.optimizers.__all__


# --- composition ------------------------------------------------------------------------


def test_chains_and_learning_rate_in_state():
    params = example_params()
    g = gradient_sequence(params, 1)[0]
    state = gradtx.adamw(schedule).init(params)
    assert len(state) == 3 and isinstance(state[0], ScaleByAdamState)
    assert isinstance(state[2], gradtx.ScaleByScheduleState)  # Optax's
    assert isinstance(gradtx.adamw(0.1).init(params)[2], gradtx.EmptyState)
    _, state = gradtx.adamw(schedule).update(g, state, params)
    np.testing.assert_allclose(
        gradtx.current_learning_rate(schedule, state), schedule(jnp.int32(1))
    )
    assert len(gradtx.adam(0.1).init(params)) == 2
    assert isinstance(gradtx.amsgrad(0.1).init(params)[0], ScaleByAmsgradState)
    assert len(gradtx.novograd(0.1).init(params)) == 2  # decay inside scale_by_novograd
    assert len(gradtx.adan(0.1).init(params)) == 3


@pytest.mark.parametrize(
    "name, transform, kwargs",
    [
        ("adam", "scale_by_adam", dict(b1=0.8, nesterov=True)),
        ("adamax", "scale_by_adamax", dict(b2=0.9)),
        ("adabelief", "scale_by_belief", dict(eps=1e-10)),
        ("radam", "scale_by_radam", dict(threshold=4.5)),
        ("yogi", "scale_by_yogi", dict(eps=1e-4)),
    ],
)
def test_alias_is_its_documented_chain(name, transform, kwargs):
    params = example_params()
    grads = gradient_sequence(params, 8, seed=2)
    factory = getattr(gradtx, transform, None) or getattr(gradtx.transforms, transform)
    chained = gradtx.chain(factory(**kwargs), gradtx.scale_by_learning_rate(0.05))
    a, _, _ = run_updates(getattr(gradtx, name)(0.05, **kwargs), params, grads)
    b, _, _ = run_updates(chained, params, grads)
    for x, y in zip(a, b, strict=True):
        assert_trees_close(x, y, rtol=0, atol=0)


@pytest.mark.parametrize("name", ["adamw", "nadamw", "adamaxw", "lion", "adan"])
@pytest.mark.parametrize("mask", [TREE_MASK, matrix_mask], ids=["tree", "callable"])
def test_masked_parameters_do_not_decay(name, mask):
    """With zero gradients only the decay moves the parameters, and only where masked in."""
    params = example_params()
    zeros = jax.tree.map(jnp.zeros_like, params)
    opt = getattr(gradtx, name)(0.1, weight_decay=0.5, mask=mask)
    updates, _ = opt.update(zeros, opt.init(params), params)
    np.testing.assert_allclose(updates["dense"]["w"], -0.05 * params["dense"]["w"], rtol=1e-6)
    assert not np.any(np.asarray(updates["dense"]["b"]))
    assert not np.any(np.asarray(updates["scalar"]))


def test_nadam_is_adam_with_nesterov():
    for short, full in ((gradtx.nadam, gradtx.adam), (gradtx.nadamw, gradtx.adamw)):
        assert short.func is full and short.keywords == {"nesterov": True}
        assert inspect.signature(short).parameters["nesterov"].default is True
        assert full.__name__ in short.__doc__ and len(short.__doc__) < 400


# --- validation ---------------------------------------------------------------------

INVALID = [
    ("adam", dict(b1=1.5), r"adam\(b1=1\.5\): b1 must be in \[0, 1\)"),
    ("adamw", dict(weight_decay=-0.1), r"adamw\(weight_decay=-0\.1\): .* >= 0"),
    ("adamax", dict(b2=1.0), r"adamax\(b2=1\.0\)"),
    ("adamaxw", dict(b1=-0.5), r"adamaxw\(b1=-0\.5\)"),
    ("amsgrad", dict(eps=-1.0), r"scale_by_amsgrad\(eps=-1\.0\)"),
    ("adabelief", dict(b2=2.0), r"adabelief\(b2=2\.0\)"),
    ("lion", dict(b1=1.2), r"lion\(b1=1\.2\): b1 must be in \[0, 1\]"),
    ("radam", dict(threshold=2.0), r"radam\(threshold=2\.0\)"),
    ("yogi", dict(b1=1.0), r"yogi\(b1=1\.0\)"),
    ("adan", dict(b3=1.5), r"adan\(b3=1\.5\)"),
    ("novograd", dict(weight_decay=-1.0), r"novograd\(weight_decay=-1\.0\)"),
    ("nadam", dict(learning_rate=float("nan")), r"adam\(learning_rate=nan\): .* finite"),
]


@pytest.mark.parametrize("name, kwargs, match", INVALID, ids=[c[0] for c in INVALID])
def test_invalid_hyperparameters_raise(name, kwargs, match):
    kwargs = {"learning_rate": 0.1, **kwargs}
    with pytest.raises(ValueError, match=match):
        getattr(gradtx, name)(**kwargs)


def test_bad_mask_raises_type_error():
    with pytest.raises(TypeError, match="mask"):
        gradtx.adamw(0.1, mask="weights")


def test_lion_accepts_the_closed_interval():
    gradtx.lion(0.1, b1=1.0, b2=0.0)


# --- jit / eager, dtypes, trees -----------------------------------------------------


def _mixed():
    return {
        "f32": {"w": jnp.linspace(-1, 1, 6).reshape(2, 3), "b": jnp.full((3,), 0.1)},
        "bf16": {"w": jnp.linspace(-1, 1, 6, dtype=BF16).reshape(2, 3)},
        "scalar": jnp.asarray(0.5),
    }


@pytest.mark.parametrize("name", NAMES)
def test_jit_eager_dtypes_and_trees(name):
    opt = getattr(gradtx, name)(0.01)
    params = _mixed()
    grads = gradient_sequence(params, 1, seed=9)
    jitted, _, s_jit = run_updates(opt, params, grads, jit=True)
    eager, _, s_eager = run_updates(opt, params, grads, jit=False)
    for g, a, e in zip(grads, jitted, eager, strict=True):
        assert_same_shapes_and_dtypes(a, g)
        assert_trees_close(a, e, rtol=1e-6, atol=1e-7)
    assert_same_shapes_and_dtypes(s_jit, opt.init(params))
    assert_same_shapes_and_dtypes(s_eager, opt.init(params))
    # None leaves pass through; empty trees give empty updates.
    p = {"w": jnp.ones(2), "frozen": None}
    u, _ = opt.update({"w": jnp.ones(2), "frozen": None}, opt.init(p), p)
    assert u["frozen"] is None and u["w"].dtype == jnp.float32
    u, _ = opt.update({}, opt.init({}), {})
    assert u == {}


@pytest.mark.parametrize("name", ["adamw", "lion", "adan", "novograd", "radam"])
def test_float64_leaves_keep_their_dtype(name, x64):
    opt = getattr(gradtx, name)(0.01)
    params = example_params(jnp.float64)
    grads = gradient_sequence(params, 2)
    updates, _, state = run_updates(opt, params, grads)
    assert_same_shapes_and_dtypes(updates[-1], grads[-1])
    assert_same_shapes_and_dtypes(state, opt.init(params))


def test_python_scalar_update_leaves_work_as_in_optax():
    # Issue 14 item 13: Optax's adam accepts Python numbers as gradient leaves.
    import optax

    grads = {"a": 1, "b": 2.0}
    for ours, theirs in (
        (gradtx.adam(1e-3), optax.adam(1e-3)),
        (gradtx.scale_by_adam(), optax.scale_by_adam()),
    ):
        u, _ = ours.update(grads, ours.init(grads))
        with jax.numpy_dtype_promotion("standard"):
            expected, _ = theirs.update(grads, theirs.init(grads))
        for k in grads:
            np.testing.assert_allclose(np.asarray(u[k]), np.asarray(expected[k]), rtol=1e-6)
            assert u[k].dtype == jnp.float32
