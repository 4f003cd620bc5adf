"""What a single-pass AdamW kernel would buy on CPU: the gap to torch's fused AdamW, measured.

XLA:CPU has no multi-output loop fusion, so a jitted AdamW step runs the first-moment,
second-moment and parameter loops as separate kernels: the parameter loop reads back the
moments that were just written (about 44 bytes per parameter instead of 32). torch's
fused AdamW makes one pass. This script measures, in one interleaved run on this
machine, on the parameters of tree ``A`` of ``bench_step.py`` (25.3M float32) kept as
one packed buffer:

* ``c fused``: a plain C loop compiled here (``cc -O3 -march=native -fopenmp``, SIMD) that
  does what a ``jax.ffi`` CPU kernel would do: one pass for the gradient norm, one fused
  pass updating ``p``, ``m`` and ``v`` (clip factor, bias corrections, decoupled weight
  decay, the learning rate of that step);
* ``gradtx packed +donate``: ``clip_by_global_norm(1) + adamw(warmup-cosine)`` jitted
  with donation on `gradtx.pack` buffers, as in ``bench_step.py``;
* ``torch fused``: ``clip_grad_norm_`` + ``AdamW(fused=True)`` (when torch is installed);
* the triad ``a = b + s*c`` (the machine's streaming bandwidth).

The C kernel checks its numbers against gradtx's step first. It needs a C compiler with
OpenMP (``cc``, or ``$CC``); without one it says so and measures the rest.

Usage::

    python benchmarks/bench_fused_cpu.py [--quick] [--repeats R] [--steps S]

Never read these numbers as pass/fail in tests: they depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import gradtx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_step  # noqa: E402  (a sibling script, not a package)

_C_SOURCE = r"""
#include <math.h>
#include <stdint.h>

double sum_of_squares(const float *restrict g, int64_t n) {
  double total = 0.0;
  #pragma omp parallel for simd reduction(+:total) schedule(static)
  for (int64_t i = 0; i < n; ++i) total += (double)g[i] * (double)g[i];
  return total;
}

/* One pass: m, v and p read once and written once. */
void adamw_update(float *restrict p, const float *restrict g, float *restrict m,
                  float *restrict v, int64_t n, float scale, float lr, float b1, float b2,
                  float eps, float wd, float bc1, float bc2) {
  #pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    float gi = g[i] * scale;
    float mi = b1 * m[i] + (1.0f - b1) * gi;
    float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    float step = (mi / bc1) / (sqrtf(vi / bc2) + eps) + wd * p[i];
    p[i] = p[i] - lr * step;
  }
}
"""

B1, B2, EPS, WEIGHT_DECAY, MAX_NORM = 0.9, 0.999, 1e-8, 0.01, 1.0


def _schedule(lib: Any) -> Any:
    return lib.warmup_cosine_decay_schedule(0.0, 1e-3, 100, 10_000)


def compile_kernel(workdir: str) -> ctypes.CDLL | str:
    """Build the C kernel as a shared library; the library, or why it could not be built."""
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return "no C compiler (cc/gcc) on PATH"
    src, lib = Path(workdir, "adamw.c"), Path(workdir, "adamw.so")
    src.write_text(_C_SOURCE)
    # -fno-math-errno lets sqrtf vectorize; no -ffast-math, so the arithmetic is IEEE.
    flags = ["-O3", "-march=native", "-fno-math-errno", "-fopenmp", "-shared", "-fPIC"]
    cmd = [compiler, *flags, str(src)]
    done = subprocess.run([*cmd, "-o", str(lib), "-lm"], capture_output=True, text=True)
    if done.returncode != 0:
        return f"{compiler} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}"
    kernel = ctypes.CDLL(str(lib))
    f32p = np.ctypeslib.ndpointer(np.float32, flags="C_CONTIGUOUS")
    kernel.sum_of_squares.restype = ctypes.c_double
    kernel.sum_of_squares.argtypes = [f32p, ctypes.c_int64]
    kernel.adamw_update.restype = None
    kernel.adamw_update.argtypes = [f32p, f32p, f32p, f32p, ctypes.c_int64] + [ctypes.c_float] * 8
    return kernel


class FusedC:
    """The C step on NumPy buffers, with the step count and schedule of gradtx's step."""

    def __init__(self, kernel: ctypes.CDLL, params: np.ndarray, grads: np.ndarray):
        self.kernel = kernel
        self.p, self.g = params.copy(), grads
        self.m, self.v = np.zeros_like(params), np.zeros_like(params)
        self.count = 0
        # The learning rates of the first steps, computed once: the step itself only
        # reads one (a jax call per step would cost more than the kernel on small trees).
        self.learning_rates = np.asarray(jax.jit(jax.vmap(_schedule(gradtx)))(jnp.arange(20_000)))

    def step(self) -> None:
        n = self.p.size
        norm = float(np.sqrt(self.kernel.sum_of_squares(self.g, n)))
        scale = 1.0 if norm < MAX_NORM else MAX_NORM / norm
        lr = float(self.learning_rates[min(self.count, self.learning_rates.size - 1)])
        self.count += 1
        bc1, bc2 = 1.0 - B1**self.count, 1.0 - B2**self.count
        self.kernel.adamw_update(
            self.p, self.g, self.m, self.v, n, scale, lr, B1, B2, EPS, WEIGHT_DECAY, bc1, bc2
        )


def _gradtx_step(params: dict, grads: dict) -> tuple[Callable, Any, Any]:
    tx = gradtx.chain(
        gradtx.clip_by_global_norm(MAX_NORM),
        gradtx.adamw(_schedule(gradtx), b1=B1, b2=B2, eps=EPS, weight_decay=WEIGHT_DECAY),
    )

    def step(p, s, g):
        updates, s = tx.update(g, s, p)
        return gradtx.apply_updates(p, updates), s

    state = tx.init(params)
    compiled = jax.jit(step, donate_argnums=(0, 1)).lower(params, state, grads).compile()
    return compiled, jax.tree.map(jnp.copy, params), jax.tree.map(jnp.copy, state)


def check_numbers(kernel: ctypes.CDLL, params: np.ndarray, grads: np.ndarray) -> float:
    """Three steps of the C kernel against gradtx on the same buffer; max abs difference."""
    fused = FusedC(kernel, params, grads)
    step, p, s = _gradtx_step({"w": jnp.asarray(params)}, {"w": jnp.asarray(grads)})
    g = {"w": jnp.asarray(grads)}
    for _ in range(3):
        fused.step()
        p, s = step(p, s, g)
    return float(np.max(np.abs(np.asarray(p["w"]) - fused.p)))


def _timed(fn: Callable[[], Any], steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        out = fn()
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / steps


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny tree A")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved rounds")
    parser.add_argument("--steps", type=int, default=None, help="steps per round")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the comparison and print it; return ``{"rows": {label: s/step}, ...}``.

    Args:
      argv: command-line arguments (``None``: ``sys.argv[1:]``).

    Returns:
      ``{"rows": {label: seconds per step}, "max_abs_diff": float or None,
      "kernel": "ok" or why the C kernel is missing, "params": count}``.
    """
    with jax.numpy_dtype_promotion("standard"):
        return _main(argv)


def _main(argv: Sequence[str] | None) -> dict[str, Any]:
    args = _parse(argv)
    repeats = args.repeats or (2 if args.quick else 9)
    steps = args.steps or (2 if args.quick else 5)
    shapes = bench_step.tree_shapes("A", args.quick)
    tree_p, tree_g = bench_step.make_tree(shapes, 0), bench_step.make_tree(shapes, 1)
    packed_p, _ = gradtx.pack(tree_p, max_buffer_size=None)
    packed_g, _ = gradtx.pack(tree_g, max_buffer_size=None)
    (name,) = packed_p  # one float32 buffer
    flat_p, flat_g = np.asarray(packed_p[name]), np.asarray(packed_g[name])
    size = flat_p.size
    print(
        f"fused CPU kernel benchmark | jax {jax.__version__} | backend "
        f"{jax.default_backend()} | tree A: {size} float32 parameters, one buffer | "
        f"quick={args.quick}"
    )
    rows: dict[str, list[float]] = {}
    runners: dict[str, Callable[[], Any]] = {}

    with tempfile.TemporaryDirectory() as workdir:
        kernel = compile_kernel(workdir)
        diff = None
        if isinstance(kernel, str):
            print(f"c fused: unavailable ({kernel})")
        else:
            diff = check_numbers(kernel, flat_p[:4096], flat_g[:4096] * 100.0)
            print(f"c fused vs gradtx after 3 steps: max |diff| = {diff:.2e}")
            fused = FusedC(kernel, flat_p, flat_g)
            runners["c fused"] = lambda: fused.step()

        # gradtx on the bench's packed buffers (capped at 2**20 elements on CPU).
        bench_p, _ = gradtx.pack(tree_p)
        bench_g, _ = gradtx.pack(tree_g)
        step, p_state, s_state = _gradtx_step(bench_p, bench_g)
        box = {"p": p_state, "s": s_state}

        def gradtx_step():
            box["p"], box["s"] = step(box["p"], box["s"], bench_g)
            return box["p"]

        runners["gradtx packed +donate"] = gradtx_step
        triad = bench_step._triad_config(size)
        runners["triad a=b+s*c"] = lambda: triad.run(1)
        torch_step = _torch_fused(shapes)
        if torch_step is not None:
            runners["torch fused"] = torch_step
        for fn in runners.values():
            fn()
            fn()
        for _ in range(repeats):
            for label, fn in runners.items():
                rows.setdefault(label, []).append(_timed(fn, steps))
    medians = {label: statistics.median(t) for label, t in rows.items()}
    triad_gbps = 12 * size / medians["triad a=b+s*c"] / 1e9
    print(f"{'impl':24} {'us/step':>10} {'GB/s @32B':>10} {'%triad':>7}")
    for label, t in medians.items():
        if label.startswith("triad"):
            print(f"{label:24} {t * 1e6:10.1f} {triad_gbps:10.2f}")
            continue
        gbps = 32 * size / t / 1e9
        print(f"{label:24} {t * 1e6:10.1f} {gbps:10.2f} {100 * gbps / triad_gbps:6.0f}%")
    ref = medians.get("torch fused")
    if ref:
        for label in ("c fused", "gradtx packed +donate"):
            if label in medians:
                print(f"{label:24} / torch fused = {medians[label] / ref:5.2f}")
    if "c fused" in medians:
        ratio = medians["gradtx packed +donate"] / medians["c fused"]
        print(f"{'gradtx packed +donate':24} / c fused     = {ratio:5.2f}")
    return {
        "rows": medians,
        "max_abs_diff": diff,
        "kernel": kernel if isinstance(kernel, str) else "ok",
        "params": size,
    }


def _torch_fused(shapes: Sequence[tuple[int, ...]]) -> Callable[[], Any] | None:
    try:
        import torch
    except ImportError:
        print("torch fused: torch not installed")
        return None
    params = [torch.nn.Parameter(torch.randn(s) * 0.02) for s in shapes]
    for p in params:
        p.grad = torch.randn_like(p) * 0.02
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=WEIGHT_DECAY, fused=True)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: min(1.0, (t + 1) / 100))

    def step():
        torch.nn.utils.clip_grad_norm_(params, MAX_NORM, foreach=True)
        opt.step()
        sched.step()

    return step


if __name__ == "__main__":
    main()
