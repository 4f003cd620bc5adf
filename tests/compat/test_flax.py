"""gradtx as a drop-in for Optax in Flax's training utilities."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

flax = pytest.importorskip("flax", reason="flax is in the [test] extra")
from flax import linen as nn  # noqa: E402
from flax.training import train_state  # noqa: E402

# Slow (CI runs it): compiled per case.
pytestmark = pytest.mark.slow


class _MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.tanh(nn.Dense(16)(x))
        return nn.Dense(1)(x)


def _data():
    x = jnp.asarray(np.random.default_rng(0).normal(size=(64, 3)), jnp.float32)
    y = jnp.sin(x[:, :1]) + 0.5 * x[:, 1:2]
    return x, y


def test_train_state_with_gradtx_adamw_trains_a_flax_model():
    model = _MLP()
    x, y = _data()
    params = model.init(jax.random.key(0), x)["params"]
    state = train_state.TrainState.create(
        apply_fn=model.apply, params=params, tx=gradtx.adamw(1e-2)
    )

    @jax.jit
    def train_step(state):
        def loss_fn(p):
            return jnp.mean((state.apply_fn({"params": p}, x) - y) ** 2)

        loss, grads = jax.value_and_grad(loss_fn)(state.params)
        return state.apply_gradients(grads=grads), loss

    losses = []
    for _ in range(200):
        state, loss = train_step(state)
        losses.append(float(loss))
    assert losses[-1] < 0.1 * losses[0], (losses[0], losses[-1])
    assert int(state.step) == 200
    np.testing.assert_allclose(gradtx.current_learning_rate(1e-2, state.opt_state), 1e-2, rtol=1e-6)


def test_nnx_optimizer_accepts_a_gradtx_optimizer():
    from flax import nnx

    model = nnx.Linear(3, 1, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, gradtx.adam(5e-2), wrt=nnx.Param)
    x, y = _data()

    @nnx.jit
    def step(model, optimizer):
        def loss_fn(model):
            return jnp.mean((model(x) - y) ** 2)

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    first = float(step(model, optimizer))
    for _ in range(100):
        last = float(step(model, optimizer))
    assert last < first
