"""ZeRO-1 state on 8 forced CPU devices: memory per device and identical training.

Run as ``python -m tests.sharding._zero_worker`` with 8 forced host devices; prints JSON.
"""

from __future__ import annotations

import json
import sys

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

import gradtx


def _per_device_bytes(tree) -> dict[str, int]:
    """Bytes held by device 0, for non-scalar leaves and for all leaves."""
    arrays = scalars = 0
    for leaf in jax.tree.leaves(tree):
        shard = next(s for s in leaf.addressable_shards if s.device == jax.devices()[0])
        if leaf.ndim:
            arrays += shard.data.nbytes
        else:
            scalars += shard.data.nbytes
    return {"arrays": arrays, "scalars": scalars}


def _loss(params, batch):
    x, y = batch
    pred = jnp.tanh(x @ params["w1"] + params["b1"][None, :]) @ params["w2"]
    return jnp.mean((pred - y) ** 2)


def train(mode: str | None, steps: int = 4):
    mesh = Mesh(np.array(jax.devices()), ("data",))
    replicated = NamedSharding(mesh, P())
    rng = np.random.default_rng(0)
    params = {
        "w1": jnp.asarray(rng.normal(size=(16, 32)) / 4, jnp.float32),
        "b1": jnp.zeros((32,), jnp.float32),
        "w2": jnp.asarray(rng.normal(size=(32, 8)) / 6, jnp.float32),
    }
    x = jnp.asarray(rng.normal(size=(64, 16)), jnp.float32)
    y = jnp.asarray(rng.normal(size=(64, 8)), jnp.float32)
    opt = gradtx.adamw(1e-2, weight_decay=1e-2)
    if mode is None:  # plain single-device reference
        state = opt.init(params)

        @jax.jit
        def ref_step(params, state, batch):
            grads = jax.grad(_loss)(params, batch)
            updates, state = opt.update(grads, state, params)
            return gradtx.apply_updates(params, updates), state

        for _ in range(steps):
            params, state = ref_step(params, state, (x, y))
        return params, state, None
    params = jax.device_put(params, replicated)
    p_sh = jax.tree.map(lambda a: a.sharding, params)
    s_sh = gradtx.sharding.state_shardings(opt, params, mesh, mode)
    batch_sh = (NamedSharding(mesh, P("data")), NamedSharding(mesh, P("data")))
    state = jax.jit(opt.init, out_shardings=s_sh)(params)
    memory = _per_device_bytes(state)

    def step(params, state, batch):
        grads = jax.grad(_loss)(params, batch)
        updates, state = opt.update(grads, state, params)
        return gradtx.apply_updates(params, updates), state

    train_step = jax.jit(
        step,
        in_shardings=(p_sh, s_sh, batch_sh),
        out_shardings=(p_sh, s_sh),
        donate_argnums=(0, 1),
    )
    batch = jax.device_put((x, y), batch_sh)
    for _ in range(steps):
        params, state = train_step(params, state, batch)
    specs = [str(s.sharding.spec) for s in jax.tree.leaves(state)]
    return params, state, {"memory": memory, "specs": specs}


def _max_diff(a, b) -> float:
    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    return max(
        float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64))))
        for x, y in pairs
    )


def main() -> None:
    jax.config.update("jax_numpy_dtype_promotion", "strict")
    jax.config.update("jax_numpy_rank_promotion", "raise")
    assert jax.device_count() == 8
    out = {}
    ref = train(None)[:2]
    runs = {mode: train(mode) for mode in ("like_params", "zero")}
    for mode, (params, state, info) in runs.items():
        out[mode] = {
            **info,
            "diff_vs_one_device": _max_diff((params, state), ref),
            "diff_vs_like_params": _max_diff((params, state), runs["like_params"][:2]),
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
