"""``nu_dtype`` on the Adam-family aliases: where it is stored, that the default changes
no number, that it reaches the transform, and that bfloat16 second moments train."""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from tests.helpers import assert_trees_close, example_params, gradient_sequence

# Slow (CI runs it): trajectories and dtype checks of each alias.
pytestmark = pytest.mark.slow

BF16 = jnp.bfloat16

# alias -> (its scale_by_* transform, the state fields stored in nu_dtype)
ALIASES = {
    "adam": (gradtx.scale_by_adam, ("nu",)),
    "adamw": (gradtx.scale_by_adam, ("nu",)),
    "nadam": (gradtx.scale_by_adam, ("nu",)),
    "nadamw": (gradtx.scale_by_adam, ("nu",)),
    "amsgrad": (gradtx.scale_by_amsgrad, ("nu", "nu_max")),
    "adamax": (gradtx.scale_by_adamax, ("nu",)),
    "adamaxw": (gradtx.scale_by_adamax, ("nu",)),
    "adabelief": (gradtx.scale_by_belief, ("nu",)),
    "radam": (gradtx.scale_by_radam, ("nu",)),
    "yogi": (gradtx.scale_by_yogi, ("nu",)),
}
NAMES = sorted(ALIASES)


def _run(tx, params, steps=4, seed=0):
    grads = gradient_sequence(params, steps, seed)
    state = tx.init(params)
    step = jax.jit(lambda g, s: tx.update(g, s, params))
    history = []
    for g in grads:
        updates, state = step(g, state)
        history.append(updates)
    return history, state


@pytest.mark.parametrize("name", NAMES)
def test_nu_dtype_is_keyword_only_after_optaxs_arguments(name):
    ours = list(inspect.signature(getattr(gradtx, name)).parameters.values())
    theirs = list(inspect.signature(getattr(optax, name)).parameters)
    assert [p.name for p in ours[:-1]] == theirs
    assert ours[-1].name == "nu_dtype"
    assert ours[-1].kind is inspect.Parameter.KEYWORD_ONLY and ours[-1].default is None


@pytest.mark.parametrize("name", NAMES)
def test_bfloat16_second_moment_is_stored_in_bfloat16(name):
    _, fields = ALIASES[name]
    params = example_params(jnp.float32)
    updates, state = _run(getattr(gradtx, name)(0.01, nu_dtype=BF16), params)
    inner = state[0]
    for field in fields:
        assert all(x.dtype == BF16 for x in jax.tree.leaves(getattr(inner, field))), field
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(inner.mu))
    assert all(u.dtype == jnp.float32 for u in jax.tree.leaves(updates[-1]))
    assert all(bool(jnp.all(jnp.isfinite(u))) for u in jax.tree.leaves(updates[-1]))


@pytest.mark.parametrize("name", NAMES)
def test_default_and_float32_nu_dtype_change_no_number(name):
    params = example_params(jnp.float32)
    default, _ = _run(getattr(gradtx, name)(0.01), params)
    explicit, _ = _run(getattr(gradtx, name)(0.01, nu_dtype=jnp.float32), params)
    with jax.numpy_dtype_promotion("standard"):  # Optax promotes implicitly
        reference, _ = _run(getattr(optax, name)(0.01), params)
    for a, b, c in zip(default, explicit, reference, strict=True):
        assert_trees_close(b, a, rtol=0.0)
        assert_trees_close(a, c, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_alias_threads_nu_dtype_to_its_transform(name):
    transform, _ = ALIASES[name]
    kwargs = {"nesterov": True} if name.startswith("nadam") else {}
    params = example_params(jnp.float32)
    alias, _ = _run(getattr(gradtx, name)(0.01, nu_dtype=BF16), params)
    by_hand = gradtx.chain(
        transform(nu_dtype=BF16, **kwargs),
        *([gradtx.add_decayed_weights(1e-4)] if name.endswith("w") else []),
        gradtx.scale_by_learning_rate(0.01),
    )
    expected, _ = _run(by_hand, params)
    for a, b in zip(alias, expected, strict=True):
        assert_trees_close(a, b, rtol=0.0)


def test_bfloat16_moments_train_like_float32():
    """Least squares: adam with bfloat16 moments ends within 5% of float32 adam's loss."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((256, 32)), jnp.float32)
    w_true = jnp.asarray(rng.standard_normal((32, 4)), jnp.float32)
    y = x @ w_true + 0.1 * jnp.asarray(rng.standard_normal((256, 4)), jnp.float32)

    def loss_fn(params):
        return jnp.mean((x @ params["w"] + params["b"][None, :] - y) ** 2)

    params = {"w": jnp.zeros((32, 4)), "b": jnp.zeros((4,))}

    def train(tx):
        def body(carry, _):
            p, s = carry
            g = jax.grad(loss_fn)(p)
            u, s = tx.update(g, s, p)
            return (gradtx.apply_updates(p, u), s), None

        run = jax.jit(lambda p: jax.lax.scan(body, (p, tx.init(p)), length=400)[0])
        final, state = run(params)
        return float(loss_fn(final)), state

    initial = float(loss_fn(params))
    full, _ = train(gradtx.adam(0.05))
    low, state = train(gradtx.adam(0.05, mu_dtype=BF16, nu_dtype=BF16))
    assert state[0].nu["w"].dtype == BF16 and state[0].mu["w"].dtype == BF16
    assert full < 0.01 * initial
    assert abs(low - full) <= 0.05 * full, (full, low)
