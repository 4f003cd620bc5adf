"""Data-parallel training over several processes with ``jax.distributed`` and gradtx.

Each process owns one CPU device and half of every batch. The training step is one
``jax.jit`` over a global mesh with one device per process: the parameters and the
optimizer state are replicated (``P()``), the batch is sharded over ``"data"``; the
gradient of the mean loss therefore needs a cross-process sum, which XLA inserts as an
all-reduce (CPU collectives via gloo). gradtx needs nothing special: its update runs on
the already-averaged, replicated gradients, so every process computes the same update.

Usage::

    python examples/multiprocess_train.py --out DIR              # launch 2 processes
    python examples/multiprocess_train.py --single --out DIR     # one process, reference

Each worker writes ``DIR/params_<process>.npz`` (with `gradtx.checkpoint.save`); the
reference writes ``DIR/params_single.npz``. The reference runs the *same* program on two
local devices of one process (``--xla_force_host_platform_device_count=2``), so its
cross-device sum adds the same two partial gradients as the cross-process all-reduce and
the results are bit-identical; ``--devices 1`` runs it on one device instead, which
differs only by the order of the batch reduction (about 1e-7).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from pathlib import Path

STEPS = 20
BATCH = 32


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _data():
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(STEPS, BATCH, 4)).astype(np.float32)
    w_true = np.array([[1.0], [-2.0], [0.5], [3.0]], np.float32)
    y = np.tanh(x @ w_true) + 0.01 * rng.normal(size=(STEPS, BATCH, 1)).astype(np.float32)
    return x, y


def train(process_id: int, num_processes: int, out: Path) -> None:
    """Train on this process's half of each batch; write the final params."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.sharding import Mesh, NamedSharding
    from jax.sharding import PartitionSpec as P

    import gradtx

    jax.config.update("jax_numpy_dtype_promotion", "strict")
    jax.config.update("jax_numpy_rank_promotion", "raise")
    mesh = Mesh(np.array(jax.devices()), ("data",))
    replicated = NamedSharding(mesh, P())
    by_data = NamedSharding(mesh, P("data"))

    def loss_fn(params, x, y):
        hidden = jnp.tanh(x @ params["w1"] + params["b1"][None, :])
        return jnp.mean((hidden @ params["w2"] - y) ** 2)

    opt = gradtx.chain(gradtx.clip_by_global_norm(1.0), gradtx.adamw(0.05, weight_decay=1e-3))

    def step(params, state, x, y):
        grads = jax.grad(loss_fn)(params, x, y)  # mean over the global batch
        updates, state = opt.update(grads, state, params)
        return gradtx.apply_updates(params, updates), state

    rng = np.random.default_rng(1)
    init = {
        "w1": rng.normal(size=(4, 8)).astype(np.float32) / 2,
        "b1": np.zeros((8,), np.float32),
        "w2": rng.normal(size=(8, 1)).astype(np.float32) / 3,
    }
    params = jax.device_put(jax.tree.map(jnp.asarray, init), replicated)
    state_shardings = gradtx.sharding.state_shardings(opt, params, mesh)
    state = jax.jit(opt.init, out_shardings=state_shardings)(params)
    p_shardings = jax.tree.map(lambda a: a.sharding, params)
    train_step = jax.jit(
        step,
        in_shardings=(p_shardings, state_shardings, by_data, by_data),
        out_shardings=(p_shardings, state_shardings),
        donate_argnums=(0, 1),
    )
    xs, ys = _data()
    for t in range(STEPS):
        # This process's rows of the global batch: a contiguous block per process.
        x = jax.make_array_from_process_local_data(by_data, _local_rows(xs[t], process_id))
        y = jax.make_array_from_process_local_data(by_data, _local_rows(ys[t], process_id))
        params, state = train_step(params, state, x, y)
    local = jax.tree.map(lambda a: np.asarray(a.addressable_data(0)), params)
    name = f"params_{process_id}.npz" if num_processes > 1 else "params_single.npz"
    gradtx.checkpoint.save(out / name, local)
    loss = float(loss_fn(local, jnp.asarray(xs[-1]), jnp.asarray(ys[-1])))
    print(f"process {process_id}/{num_processes}: final loss {loss:.6f}", flush=True)


def _local_rows(batch, process_id: int):
    import jax

    rows = batch.shape[0] // jax.process_count()
    return batch[process_id * rows : (process_id + 1) * rows]


def _worker(args) -> None:
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=f"127.0.0.1:{args.port}",
        num_processes=args.num_processes,
        process_id=args.process_id,
        initialization_timeout=60,
    )
    try:
        train(args.process_id, args.num_processes, Path(args.out))
    finally:
        jax.distributed.shutdown()


def launch(out: Path, num_processes: int = 2, timeout: float = 120.0) -> None:
    """Start ``num_processes`` workers of this script on this machine and wait for them."""
    port = _free_port()
    # One CPU device per worker: drop any forced device count inherited from the caller.
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["JAX_PLATFORMS"] = "cpu"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                f"--process-id={i}",
                f"--num-processes={num_processes}",
                f"--port={port}",
                f"--out={out}",
            ],
            env=env,
        )
        for i in range(num_processes)
    ]
    codes = []
    for p in procs:
        try:
            codes.append(p.wait(timeout=timeout))
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
    if any(codes):
        raise SystemExit(f"workers failed with exit codes {codes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for the final params")
    parser.add_argument("--single", action="store_true", help="one process (reference)")
    parser.add_argument("--devices", type=int, default=2, help="local devices for --single")
    parser.add_argument("--num-processes", type=int, default=2)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--process-id", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    if args.worker:
        _worker(args)
    elif args.single:
        os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={args.devices}"
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        train(0, 1, Path(args.out))
    else:
        launch(Path(args.out), args.num_processes)


if __name__ == "__main__":
    main()
