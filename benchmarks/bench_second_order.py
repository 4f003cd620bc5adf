"""Cost of curvature products and Lanczos in gradtx.second_order, against naive versions.

For an MLP (about 1M parameters by default) it times, as a ratio of one
``jax.value_and_grad``:

* ``hvp`` (forward-over-reverse, ``jax.jvp`` of ``jax.grad``) against the naive
  reverse-over-reverse product ``grad(v . grad f)``;
* 20 steps of ``lanczos`` on ``hvp_operator`` (one linearization, full
  reorthogonalization, one compiled ``fori_loop``) against the same 20 steps written
  naively: a Python loop of jitted reverse-over-reverse products on a raveled vector;
* for a small MLP, the dense ``jax.hessian`` + ``eigh`` (all eigenvalues) against the
  same Lanczos run.

Compilation is timed separately (``jit(f).lower(...).compile()``); steady-state times are
the median of ``--repeats`` calls, each ended by ``block_until_ready``.

Usage::

    python benchmarks/bench_second_order.py [--quick] [--repeats R] [--steps N]

Sample printout (one NVIDIA H200, jax 0.11.2, default settings, ``--repeats 10``)::

    gradtx.second_order benchmark | jax 0.11.2 | backend gpu | cuda:0
    name                                    params    compile s       ms/call   x value_and_grad
    value_and_grad                         1068810        2.687         0.203               1.00
    hvp (forward-over-reverse)             1068810        3.376         0.240               1.18
    hvp naive (reverse-over-reverse)       1068810        1.570         0.234               1.15
    lanczos 20 steps                       1068810        1.829         6.569              32.38
    lanczos 20 steps naive (host loop)     1068810        3.180        35.946             177.18
    value_and_grad                            2074        0.964         0.136               1.00
    hvp (forward-over-reverse)                2074        1.091         0.201               1.48
    hvp naive (reverse-over-reverse)          2074        0.751         0.161               1.19
    lanczos 20 steps                          2074        1.416         1.867              13.78
    lanczos 20 steps naive (host loop)        2074        1.937        32.946             243.09
    dense hessian + eigh                      2074        1.999        26.871             198.27

At this size a GPU step is launch-bound (0.2 ms for a 1M-parameter gradient), so the
products cost about one gradient each; Lanczos pays for its per-step reductions and
reorthogonalization but runs as one compiled loop, 5x faster than the host loop.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from gradtx import second_order


def _mlp(sizes: Sequence[int], batch: int, seed: int = 0):
    """Parameters, data and a cross-entropy loss for an MLP with ``sizes`` layer widths."""
    rng = np.random.default_rng(seed)
    params = [
        {
            "w": jnp.asarray(rng.normal(size=(m, n)) / np.sqrt(m), jnp.float32),
            "b": jnp.zeros((n,), jnp.float32),
        }
        for m, n in zip(sizes[:-1], sizes[1:], strict=True)
    ]
    x = jnp.asarray(rng.normal(size=(batch, sizes[0])), jnp.float32)
    y = jax.nn.one_hot(rng.integers(0, sizes[-1], size=batch), sizes[-1], dtype=jnp.float32)

    def loss(p, x, y):
        h = x
        for i, layer in enumerate(p):
            h = h @ layer["w"] + layer["b"][None, :]
            if i < len(p) - 1:
                h = jnp.tanh(h)
        return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(h), axis=-1))

    return params, x, y, loss


def _time(fn: Callable[..., Any], args: tuple[Any, ...], repeats: int, jit: bool = True):
    """``(compile seconds, median seconds per call)``."""
    if jit:
        start = time.perf_counter()
        compiled = jax.jit(fn).lower(*args).compile()
        compile_s = time.perf_counter() - start
    else:  # a host loop of jitted pieces: the first (warm-up) call stands for compilation
        compiled = fn
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        compile_s = time.perf_counter() - start
    jax.block_until_ready(compiled(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - start)
    return compile_s, statistics.median(times)


def _naive_hvp(loss):
    """Reverse-over-reverse: the gradient of ``v . grad f``."""

    def hvp(p, v, x, y):
        return jax.grad(lambda q: _tree_dot(jax.grad(loss)(q, x, y), v))(p)

    return hvp


def _tree_dot(a, b):
    return sum(jnp.vdot(u, w) for u, w in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


def _naive_lanczos(loss, params, x, y, steps: int):
    """Lanczos written naively: raveled vectors, a Python loop, reverse-over-reverse products."""
    flat0, unravel = ravel_pytree(params)
    hvp = _naive_hvp(loss)
    matvec = jax.jit(lambda v: ravel_pytree(hvp(params, unravel(v), x, y))[0])

    def run(v):
        q = v / jnp.linalg.norm(v)
        basis = jnp.zeros((steps, q.size), q.dtype)
        alphas, betas = [], []
        q_prev, beta = jnp.zeros_like(q), jnp.zeros([], q.dtype)
        for j in range(steps):
            basis = basis.at[j].set(q)
            w = matvec(q)
            alpha = jnp.vdot(w, q)
            w = w - alpha * q - beta * q_prev
            w = w - basis.T @ (basis @ w)
            beta = jnp.linalg.norm(w)
            alphas.append(alpha)
            betas.append(beta)
            q_prev, q = q, w / beta
        t = jnp.diag(jnp.stack(alphas))
        off = jnp.stack(betas[:-1])
        t = t + jnp.diag(off, 1) + jnp.diag(off, -1)
        return jnp.linalg.eigvalsh(t)

    return run, jnp.ones_like(flat0)


def _rows(sizes, batch, steps, repeats, dense: bool) -> list[dict[str, Any]]:
    params, x, y, loss = _mlp(sizes, batch)
    n = sum(leaf.size for leaf in jax.tree.leaves(params))
    v = jax.tree.map(jnp.ones_like, params)
    naive_hvp = _naive_hvp(loss)
    cases = [
        ("value_and_grad", lambda p, x, y: jax.value_and_grad(loss)(p, x, y), (params, x, y)),
        (
            "hvp (forward-over-reverse)",
            lambda p, v, x, y: second_order.hvp(loss, p, v, x, y),
            (params, v, x, y),
        ),
        ("hvp naive (reverse-over-reverse)", naive_hvp, (params, v, x, y)),
        (
            f"lanczos {steps} steps",
            lambda p, x, y: (
                second_order.lanczos(
                    second_order.hvp_operator(loss, p, x, y), jax.tree.map(jnp.ones_like, p), steps
                ).eigenvalues
            ),
            (params, x, y),
        ),
    ]
    rows = []
    for name, fn, args in cases:
        compile_s, run_s = _time(fn, args, repeats)
        rows.append({"name": name, "params": n, "compile_s": compile_s, "run_s": run_s})
    naive, v0 = _naive_lanczos(loss, params, x, y, steps)
    compile_s, run_s = _time(naive, (v0,), max(1, repeats // 2), jit=False)
    rows.append(
        {
            "name": f"lanczos {steps} steps naive (host loop)",
            "params": n,
            "compile_s": compile_s,
            "run_s": run_s,
        }
    )
    if dense:
        dense_fn = lambda p, x, y: jnp.linalg.eigvalsh(second_order.hessian(loss, p, x, y))
        compile_s, run_s = _time(dense_fn, (params, x, y), repeats)
        rows.append(
            {"name": "dense hessian + eigh", "params": n, "compile_s": compile_s, "run_s": run_s}
        )
    base = rows[0]["run_s"]
    for row in rows:
        row["ratio"] = row["run_s"] / base
    return rows


def _header() -> str:
    device = jax.devices()[0]
    return (
        f"gradtx.second_order benchmark | jax {jax.__version__} | backend "
        f"{jax.default_backend()} | {device}"
    )


def _table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"{'name':<36} {'params':>9} {'compile s':>12} {'ms/call':>13} {'x value_and_grad':>18}"
    ]
    for r in rows:
        lines.append(
            f"{r['name']:<36} {r['params']:>9} {r['compile_s']:>12.3f} "
            f"{1e3 * r['run_s']:>13.3f} {r['ratio']:>18.2f}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Run the benchmark and print the table.

    Args:
      argv: command-line arguments (``--quick``, ``--repeats R``, ``--steps N``).

    Returns:
      The rows: dicts with ``name``, ``params``, ``compile_s``, ``run_s`` and ``ratio``
      (``run_s`` over the ``value_and_grad`` time of the same model).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds in all")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per row")
    parser.add_argument("--steps", type=int, default=20, help="Lanczos steps")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 10)
    print(_header())
    if args.quick:
        rows = _rows([16, 24, 10], batch=8, steps=args.steps, repeats=repeats, dense=True)
    else:
        # ~1.07M parameters: 784 -> 1024 -> 256 -> 10.
        rows = _rows(
            [784, 1024, 256, 10], batch=128, steps=args.steps, repeats=repeats, dense=False
        )
        rows += _rows([32, 48, 10], batch=64, steps=args.steps, repeats=repeats, dense=True)
    print(_table(rows))
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
