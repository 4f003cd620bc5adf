"""The training code of Flax's MNIST tutorials, as a user writes it against Optax.

``tests/compat/test_flax_mnist.py`` runs this file twice: as it is, and with its one
``import optax`` line replaced by ``import gradtx as optax`` (nothing else changes).
It follows the linen example (``examples/mnist/train.py``: a CNN, a
``flax.training.train_state.TrainState`` with ``optax.sgd(learning_rate, momentum)``,
``optax.softmax_cross_entropy`` on one-hot labels) and the NNX tutorial
(``nnx.Optimizer(model, optax.adamw(learning_rate, momentum), wrt=nnx.Param)``,
``optax.softmax_cross_entropy_with_integer_labels``, ``nnx.MultiMetric``); data and
hyperparameters are the test's.
"""

from functools import partial

import jax
import jax.numpy as jnp
import optax
from flax import linen as nn
from flax import nnx
from flax.training import train_state

# --- linen -----------------------------------------------------------------------------


class CNN(nn.Module):
    """The tutorial's CNN."""

    @nn.compact
    def __call__(self, x):
        x = nn.Conv(features=32, kernel_size=(3, 3))(x)
        x = nn.relu(x)
        x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
        x = nn.Conv(features=64, kernel_size=(3, 3))(x)
        x = nn.relu(x)
        x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
        x = x.reshape((x.shape[0], -1))  # flatten
        x = nn.Dense(features=256)(x)
        x = nn.relu(x)
        x = nn.Dense(features=10)(x)
        return x


@jax.jit
def apply_model(state, images, labels):
    """Gradients, loss and accuracy for one batch."""

    def loss_fn(params):
        logits = state.apply_fn({"params": params}, images)
        one_hot = jax.nn.one_hot(labels, 10)
        loss = jnp.mean(optax.softmax_cross_entropy(logits=logits, labels=one_hot))
        return loss, logits

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    (loss, logits), grads = grad_fn(state.params)
    accuracy = jnp.mean(jnp.argmax(logits, -1) == labels)
    return grads, loss, accuracy


@jax.jit
def update_model(state, grads):
    return state.apply_gradients(grads=grads)


def create_train_state(rng, learning_rate, momentum):
    """The initial `TrainState`."""
    cnn = CNN()
    params = cnn.init(rng, jnp.ones([1, 28, 28, 1]))["params"]
    tx = optax.sgd(learning_rate, momentum)
    return train_state.TrainState.create(apply_fn=cnn.apply, params=params, tx=tx)


def train_linen(train_ds, batch_size, learning_rate=0.1, momentum=0.9):
    """One epoch over ``train_ds`` in order; the final state and the losses."""
    # (Compiled: eager initialisation of the CNN costs seconds on a CPU.)
    create = jax.jit(create_train_state, static_argnums=(1, 2))
    state = create(jax.random.key(0), learning_rate, momentum)
    losses = []
    for start in range(0, len(train_ds["image"]) - batch_size + 1, batch_size):
        images = train_ds["image"][start : start + batch_size]
        labels = train_ds["label"][start : start + batch_size]
        grads, loss, _ = apply_model(state, images, labels)
        state = update_model(state, grads)
        losses.append(loss)
    return state, losses


# --- NNX -------------------------------------------------------------------------------


class NNXCNN(nnx.Module):
    """The NNX tutorial's CNN."""

    def __init__(self, *, rngs: nnx.Rngs):
        self.conv1 = nnx.Conv(1, 32, kernel_size=(3, 3), rngs=rngs)
        self.conv2 = nnx.Conv(32, 64, kernel_size=(3, 3), rngs=rngs)
        self.avg_pool = partial(nnx.avg_pool, window_shape=(2, 2), strides=(2, 2))
        self.linear1 = nnx.Linear(3136, 256, rngs=rngs)
        self.linear2 = nnx.Linear(256, 10, rngs=rngs)

    def __call__(self, x):
        x = self.avg_pool(nnx.relu(self.conv1(x)))
        x = self.avg_pool(nnx.relu(self.conv2(x)))
        x = x.reshape(x.shape[0], -1)  # flatten
        x = nnx.relu(self.linear1(x))
        x = self.linear2(x)
        return x


def loss_fn(model, batch):
    logits = model(batch["image"])
    loss = optax.softmax_cross_entropy_with_integer_labels(
        logits=logits, labels=batch["label"]
    ).mean()
    return loss, logits


@nnx.jit
def train_step(model, optimizer, metrics, batch):
    """One training step: gradients, metrics, the optimizer's update."""
    grad_fn = nnx.value_and_grad(loss_fn, has_aux=True)
    (loss, logits), grads = grad_fn(model, batch)
    metrics.update(loss=loss, logits=logits, labels=batch["label"])
    optimizer.update(model, grads)


def train_nnx(train_ds, batch_size, learning_rate=0.005, momentum=0.9):
    """One epoch over ``train_ds`` in order; the model and the metrics."""
    model = NNXCNN(rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adamw(learning_rate, momentum), wrt=nnx.Param)
    metrics = nnx.MultiMetric(accuracy=nnx.metrics.Accuracy(), loss=nnx.metrics.Average("loss"))
    for start in range(0, len(train_ds["image"]) - batch_size + 1, batch_size):
        batch = {k: v[start : start + batch_size] for k, v in train_ds.items()}
        train_step(model, optimizer, metrics, batch)
    return model, optimizer, metrics.compute()
