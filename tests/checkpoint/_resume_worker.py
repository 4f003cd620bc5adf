"""Train with a many-stateful optimizer; stop, checkpoint, resume in a fresh process.

Run as ``python -m tests.checkpoint._resume_worker MODE FOLDER``:

* ``uninterrupted``: train ``STOP`` steps, save ``mid.npz``, keep training to ``STEPS``
  in the same process and save ``uninterrupted.npz``;
* ``resume``: restore ``mid.npz`` (a fresh process: nothing carried over but the file),
  train from ``STOP`` to ``STEPS`` and save ``resumed.npz``.

Each checkpoint holds ``{"params", "state", "step"}``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import gradtx
from gradtx import checkpoint

STEPS = 24
STOP = 11  # odd: MultiSteps is mid-way through accumulating when training stops


def make_optimizer():
    """adamw under a warmup-cosine schedule, injected, clipped, with plateau scaling."""
    schedule = gradtx.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=0.1, warmup_steps=3, decay_steps=12, end_value=0.01
    )
    inner = gradtx.chain(
        gradtx.clip_by_global_norm(1.0),
        gradtx.inject_hyperparams(gradtx.adamw)(learning_rate=schedule, weight_decay=1e-3),
        gradtx.reduce_on_plateau(factor=0.5, patience=1, rtol=0.05),
    )
    return gradtx.MultiSteps(gradtx.average_params(inner), every_k_schedule=2)


def initial_params():
    rng = np.random.default_rng(0)
    return {
        "w": jnp.asarray(rng.normal(size=(5, 3)), jnp.float32),
        "b": jnp.zeros((3,), jnp.float32),
    }


def batch(step: int):
    rng = np.random.default_rng(1000 + step)
    x = jnp.asarray(rng.normal(size=(16, 5)), jnp.float32)
    y = jnp.asarray(rng.normal(size=(16, 3)), jnp.float32)
    return x, y


def loss_fn(params, x, y):
    return jnp.mean((jnp.tanh(x @ params["w"] + params["b"][None, :]) - y) ** 2)


def template(opt):
    params = initial_params()
    return {"params": params, "state": opt.init(params), "step": jnp.zeros((), jnp.int32)}


def train(opt, tree, stop: int):
    @jax.jit
    def step_fn(params, state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, state = opt.update(grads, state, params, value=loss)
        return gradtx.apply_updates(params, updates), state

    params, state = tree["params"], tree["state"]
    for t in range(int(tree["step"]), stop):
        params, state = step_fn(params, state, *batch(t))
    return {"params": params, "state": state, "step": jnp.asarray(stop, jnp.int32)}


def main(mode: str, folder: Path) -> None:
    jax.config.update("jax_numpy_dtype_promotion", "strict")
    jax.config.update("jax_numpy_rank_promotion", "raise")
    opt = make_optimizer()
    if mode == "uninterrupted":
        tree = train(opt, template(opt), STOP)
        checkpoint.save(folder / "mid.npz", tree)
        checkpoint.save(folder / "uninterrupted.npz", train(opt, tree, STEPS))
    elif mode == "resume":
        tree = checkpoint.restore(folder / "mid.npz", like=template(opt))
        checkpoint.save(folder / "resumed.npz", train(opt, tree, STEPS))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
