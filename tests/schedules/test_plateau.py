"""reduce_on_plateau: Optax parity, hand-derived behaviour, composition with schedules."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx

# Slow (CI runs it): compiled per case.
pytestmark = pytest.mark.slow


def _values(seed=0, n=80):
    """Falls, then plateaus with noise, then falls again, then plateaus."""
    rng = np.random.default_rng(seed)
    fall = np.linspace(2.0, 1.0, 15)
    flat = 1.0 + 0.002 * rng.normal(size=25)
    fall2 = np.linspace(0.99, 0.5, 10)
    flat2 = 0.5 + 0.05 * rng.normal(size=n - 50)
    return np.concatenate([fall, flat, fall2, flat2]).astype(np.float32)


CONFIGS = [
    dict(),
    dict(factor=0.5, patience=3),
    dict(factor=0.5, patience=2, cooldown=3, min_scale=0.2),
    dict(factor=0.3, patience=4, rtol=0.0, atol=0.01),
    dict(factor=0.5, patience=2, accumulation_size=3, rtol=1e-3),
]


@pytest.mark.parametrize("kwargs", CONFIGS, ids=[str(sorted(c)) for c in CONFIGS])
def test_matches_optax(kwargs):
    ours = gradtx.reduce_on_plateau(**kwargs)
    theirs = optax.contrib.reduce_on_plateau(**kwargs)
    params = {"w": jnp.ones((2, 3)), "b": jnp.ones(3)}
    grads = {"w": jnp.full((2, 3), 0.3), "b": jnp.asarray([1.0, -2.0, 0.5])}
    ours_update, theirs_update = jax.jit(ours.update), jax.jit(theirs.update)
    s_ours = ours.init(params)
    with jax.numpy_dtype_promotion("standard"):
        s_theirs = theirs.init(params)
    scales = []
    for t, v in enumerate(_values()):
        u_ours, s_ours = ours_update(grads, s_ours, params, value=v)
        with jax.numpy_dtype_promotion("standard"):
            u_theirs, s_theirs = theirs_update(grads, s_theirs, params, value=v)
        for field in s_ours._fields:
            np.testing.assert_allclose(
                np.asarray(getattr(s_ours, field), np.float64),
                np.asarray(getattr(s_theirs, field), np.float64),
                rtol=1e-6,
                err_msg=f"step {t} field {field}",
            )
        for a, b in zip(jax.tree.leaves(u_ours), jax.tree.leaves(u_theirs), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)
        scales.append(float(s_ours.scale))
    assert s_ours._fields == s_theirs._fields
    if kwargs:  # the sequence is built so that every non-default config reduces
        assert min(scales) < 1.0


def test_hand_derived_sequence_with_cooldown():
    tx = gradtx.reduce_on_plateau(factor=0.5, patience=2, cooldown=1)
    g = jnp.ones(1)
    state = tx.init(g)
    trace = []
    for v in [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5]:
        u, state = tx.update(g, state, value=v)
        trace.append((float(state.scale), int(state.plateau_count), int(state.cooldown_count)))
        assert float(u[0]) == trace[-1][0]
    assert trace == [
        (1.0, 0, 0),  # first value improves on +inf
        (1.0, 1, 0),
        (0.5, 0, 1),  # patience reached: halve, start a cooldown of 1
        (0.5, 0, 0),  # cooldown step: ignored
        (0.5, 1, 0),
        (0.25, 0, 1),
        (0.25, 0, 0),  # cooldown step (an improvement updates the best value only)
        (0.25, 1, 0),  # 0.5 is no longer an improvement on the best 0.5
    ]


def test_min_scale_bounds_the_scale():
    tx = gradtx.reduce_on_plateau(factor=0.1, patience=1, min_scale=0.05)
    state = tx.init(jnp.zeros(1))
    for _ in range(6):
        _, state = tx.update(jnp.ones(1), state, value=1.0)
    assert float(state.scale) == pytest.approx(0.05)


def test_value_is_required_and_scalar():
    tx = gradtx.reduce_on_plateau()
    state = tx.init(jnp.zeros(2))
    with pytest.raises(ValueError, match=r"reduce_on_plateau: update\(\) needs value="):
        tx.update(jnp.ones(2), state)
    with pytest.raises(ValueError, match=r"reduce_on_plateau: value= must be a scalar"):
        tx.update(jnp.ones(2), state, value=jnp.ones(2))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(factor=1.0), r"reduce_on_plateau\(factor=1\.0\): factor must be in \(0, 1\)"),
        (dict(factor=0.0), r"reduce_on_plateau\(factor=0\.0\): factor must be in \(0, 1\)"),
        (dict(patience=0), r"reduce_on_plateau\(patience=0\): patience must be an integer >= 1"),
        (dict(rtol=-0.1), r"reduce_on_plateau\(rtol=-0\.1\): rtol must be in \[0, 1\]"),
        (dict(rtol=1.5), r"reduce_on_plateau\(rtol=1\.5\)"),
        (dict(atol=-1.0), r"reduce_on_plateau\(atol=-1\.0\): atol must be >= 0"),
        (dict(rtol=0.0, atol=0.0), r"reduce_on_plateau\(rtol=0\.0, atol=0\.0\): rtol and atol"),
        (dict(cooldown=-1), r"reduce_on_plateau\(cooldown=-1\)"),
        (dict(accumulation_size=0), r"reduce_on_plateau\(accumulation_size=0\)"),
        (dict(min_scale=2.0), r"reduce_on_plateau\(min_scale=2\.0\): min_scale must be in"),
    ],
)
def test_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gradtx.reduce_on_plateau(**kwargs)


def test_bfloat16_updates_and_float32_scale():
    tx = gradtx.reduce_on_plateau(factor=0.1, patience=1)
    params = {"w": jnp.ones(3, jnp.bfloat16)}
    state = tx.init(params)
    assert state.scale.dtype == jnp.float32 and state.best_value.dtype == jnp.float32
    for _ in range(4):
        u, state = jax.jit(tx.update)({"w": jnp.ones(3, jnp.bfloat16)}, state, value=1.0)
    assert u["w"].dtype == jnp.bfloat16
    assert float(state.scale) == pytest.approx(1e-3, rel=1e-6)  # not bf16-rounded


TARGET = jnp.linspace(-1.0, 1.0, 8)


def _train(tx, steps=400):
    """Adam-family chain on a noisy quadratic: the minibatch loss plateaus at a noise floor."""

    def batch_loss(p, noise):
        return jnp.mean((p - TARGET - noise) ** 2)

    def body(carry, key):
        p, s = carry
        noise = 0.5 * jax.random.normal(key, (8,))
        loss, g = jax.value_and_grad(batch_loss)(p, noise)
        u, s = tx.update(g, s, p, value=loss)
        true_loss = jnp.mean((p - TARGET) ** 2)
        return (gradtx.apply_updates(p, u), s), (true_loss, gradtx.tree.get(s, "scale", 1.0))

    keys = jax.random.split(jax.random.key(0), steps)
    _, (losses, scales) = jax.jit(lambda p: jax.lax.scan(body, (p, tx.init(p)), keys))(jnp.zeros(8))
    return np.asarray(losses), np.asarray(scales)


def test_composes_with_a_warmup_cosine_schedule_and_lowers_the_plateau():
    sched = gradtx.warmup_cosine_decay_schedule(0.0, 0.1, warmup_steps=10, decay_steps=5000)
    base = gradtx.chain(gradtx.scale_by_adam(), gradtx.scale_by_learning_rate(sched))
    plateau = gradtx.chain(
        gradtx.scale_by_adam(),
        gradtx.scale_by_learning_rate(sched),
        gradtx.reduce_on_plateau(factor=0.5, patience=5, accumulation_size=10),
    )
    base_losses, _ = _train(base)
    losses, scales = _train(plateau)
    assert scales[0] == 1.0
    assert np.all(np.diff(scales) <= 0), "the scale only ever drops"
    assert scales[-1] <= 0.25, scales[::40]
    # A smaller effective rate lowers the noise floor the loss plateaus at.
    assert losses[-50:].mean() < 0.5 * base_losses[-50:].mean()
