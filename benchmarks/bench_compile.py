"""Compile time and memory of one optimizer step on wide trees: gradtx against Optax.

The step is ``chain(clip_by_global_norm(1), adamw(warmup_cosine_decay_schedule(...)))``
followed by ``apply_updates``, jitted. For 150, 2000 and 10000 float32 leaves (1000
parameters per leaf, 100 at 10000 leaves) it measures, each in a fresh subprocess so
that nothing is cached between measurements:

* ``lower s`` and ``compile s``: ``jax.jit(step).lower(...)`` and ``.compile()``;
* ``peak RSS MB``: the subprocess's peak resident memory (``ru_maxrss``), which
  includes the Python + JAX baseline (about 250 MB; with ``--quick``, which measures in
  one process, it is the running maximum);
* ``temp MB``: the compiled executable's temporary buffers (``memory_analysis()``);

for ``optax`` (on the tree), ``gradtx`` (on the tree), ``gradtx-flat``
(``gradtx.flatten`` around the same chain, on the tree), ``gradtx-packed`` (on the
buffers of `gradtx.pack`, the way a training loop that keeps its parameters packed
calls it), and ``floor``: plain SGD written by hand, ``p - 1e-3 * g`` per leaf, the least
any per-leaf optimizer on the tree can cost XLA to compile. A measurement that does not
finish within ``--timeout`` seconds is killed and printed as ``>T s`` (Optax's step on
10000 leaves can take many minutes).

Usage::

    python benchmarks/bench_compile.py [--quick] [--timeout T] [--only optax,gradtx]

Never read these numbers as pass/fail in tests: they depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

IMPLS = ("optax", "gradtx", "gradtx-flat", "gradtx-packed", "floor")
FULL_SIZES = ((150, 1000), (2000, 1000), (10000, 100))
QUICK_SIZES = ((10, 100), (100, 10))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker(impl: str, leaves: int, size: int) -> dict[str, Any]:
    """Lower and compile one step in this process; return the measurements."""
    import jax
    import jax.numpy as jnp
    import optax

    import gradtx

    lib = optax if impl == "optax" else gradtx
    params = {f"p{i:05d}": jnp.zeros((size,), jnp.float32) for i in range(leaves)}
    if impl == "gradtx-packed":
        params, _ = gradtx.pack(params)
    schedule = lib.warmup_cosine_decay_schedule(0.0, 1e-3, 100, 10_000)
    tx = lib.chain(lib.clip_by_global_norm(1.0), lib.adamw(schedule, weight_decay=0.01))
    if impl == "gradtx-flat":
        tx = gradtx.flatten(tx)
    state = None if impl == "floor" else tx.init(params)

    def step(p, s, g):
        if impl == "floor":
            return jax.tree.map(lambda x, y: x - 1e-3 * y, p, g), s
        updates, s = tx.update(g, s, p)
        return lib.apply_updates(p, updates), s

    base = _rss_mb()
    start = time.perf_counter()
    lowered = jax.jit(step, donate_argnums=(0, 1)).lower(params, state, params)
    lower_s = time.perf_counter() - start
    start = time.perf_counter()
    compiled = lowered.compile()
    compile_s = time.perf_counter() - start
    temp_mb = float("nan")
    try:
        analysis = compiled.memory_analysis()
        if analysis is not None:
            temp_mb = analysis.temp_size_in_bytes / 2**20
    except (AttributeError, NotImplementedError, RuntimeError):
        pass
    return {
        "lower_s": lower_s,
        "compile_s": compile_s,
        "base_rss_mb": base,
        "peak_rss_mb": _rss_mb(),
        "temp_mb": temp_mb,
    }


def measure(impl: str, leaves: int, size: int, timeout: float) -> dict[str, Any] | None:
    """Run `worker` in a subprocess; ``None`` when it did not finish within ``timeout``."""
    cmd = [sys.executable, __file__, "--worker", impl, str(leaves), str(size)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small trees, short timeout")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per measurement")
    parser.add_argument("--only", default="", help="comma-separated implementation names")
    parser.add_argument("--worker", nargs=3, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[tuple[str, int], dict[str, Any] | None]:
    """Print the compile-time table; return the measurements by ``(impl, leaves)``.

    Args:
      argv: command-line arguments (``None``: ``sys.argv[1:]``).

    Returns:
      ``{(impl, leaves): measurements or None (timed out)}``.
    """
    args = _parse(argv)
    if args.worker:
        impl, leaves, size = args.worker
        print(json.dumps(worker(impl, int(leaves), int(size))))
        return {}
    with _standard_promotion():
        return _table(args)


def _standard_promotion() -> Any:
    """Optax needs JAX's standard dtype promotion (a test session may have set "strict")."""
    import jax

    return jax.numpy_dtype_promotion("standard")


def _table(args: argparse.Namespace) -> dict[tuple[str, int], dict[str, Any] | None]:
    """Measure every (tree width, implementation) pair and print the table."""
    import jax
    import optax

    tokens = [t.strip() for t in args.only.split(",") if t.strip()]
    impls = [i for i in IMPLS if i in tokens] or list(IMPLS)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    timeout = args.timeout or (60.0 if args.quick else 300.0)
    print(
        f"gradtx compile benchmark | jax {jax.__version__} | optax {optax.__version__} | "
        f"backend {jax.default_backend()} | step: clip_by_global_norm + adamw(schedule), "
        f"donated | timeout {timeout:.0f} s"
    )
    print(
        f"{'leaves':>6} {'params/leaf':>11} {'impl':14} {'lower s':>8} {'compile s':>10} "
        f"{'peak RSS MB':>12} {'temp MB':>8} {'x optax':>8}"
    )
    results: dict[tuple[str, int], dict[str, Any] | None] = {}
    for leaves, size in sizes:
        for impl in impls:
            # --quick measures in this process (fast, no timeout); otherwise a fresh
            # subprocess per measurement, so peak RSS and caches are its own.
            r = worker(impl, leaves, size) if args.quick else measure(impl, leaves, size, timeout)
            results[(impl, leaves)] = r
            head = f"{leaves:6d} {size:11d} {impl:14}"
            if r is None:
                print(f"{head} {'':8} {'>' + format(timeout, '.0f') + ' s':>10}")
                continue
            if "error" in r:
                print(f"{head} error: {r['error']}")
                continue
            ref = results.get(("optax", leaves))
            if ref is None and ("optax", leaves) in results:
                ratio = f"<{r['compile_s'] / timeout:7.3f}"
            elif ref and "compile_s" in ref:
                ratio = f"{r['compile_s'] / ref['compile_s']:8.3f}"
            else:
                ratio = ""
            print(
                f"{head} {r['lower_s']:8.2f} {r['compile_s']:10.2f} {r['peak_rss_mb']:12.0f} "
                f"{r['temp_mb']:8.1f} {ratio:>8}"
            )
    return results


if __name__ == "__main__":
    main()
