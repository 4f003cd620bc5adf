"""Step time of gradtx against Optax (and PyTorch's AdamW when torch is installed).

For each tree and optimizer it times one jitted ``update`` + ``apply_updates`` step of

* ``optax``: Optax on the parameter tree;
* ``gradtx``: gradtx on the same tree;
* ``gradtx-flat``: ``gradtx.flatten(optimizer)`` on the same tree: the step
  concatenates the leaves, runs the optimizer on one vector (state kept flat) and splits
  the update (tree C only by default);
* ``gradtx-packed``: gradtx on the tree packed by `gradtx.pack` (a few flat buffers);
* ``optax-packed`` (adamw+clip only): Optax on the same packed buffers, to separate
  what packing buys from what gradtx's formulation buys;

each without and with donation of the parameters and optimizer state
(``jax.jit(..., donate_argnums=(0, 1))``). Trees:

* ``A``: 25.3M float32 parameters in 146 leaves, shaped like a 12-layer transformer
  (d=384, vocabulary 10432);
* ``B``: 2000 leaves of 1000 parameters;
* ``C``: 6 leaves, 10k parameters (a small MLP).

Optimizers: ``adam``, ``adamw_clip`` (``clip_by_global_norm(1)`` then ``adamw`` with a
warmup-cosine schedule, weight decay 0.01), ``sgd_momentum``, ``lion``, ``adafactor``
(shape-dependent: no packed row).

Timing: every configuration is compiled first, then the configurations of one
(tree, optimizer) group are run interleaved, ``--repeats`` rounds of ``--steps`` steps
each (after warm-up steps), each round ended by ``block_until_ready``; the figure is the
median over rounds of the time per step. A triad ``a = b + s * c`` on float32 arrays of
the tree's size (``a`` donated, so it is written in place) is timed in the same
interleaving and gives the machine's streaming bandwidth; each step's *achieved*
bandwidth counts the optimizer's minimal traffic (bytes per parameter: Adam/AdamW 28,
+4 for the clip's extra read of the gradients, SGD with momentum and Lion 20, Adafactor
12), so ``%triad`` is the fraction of the memory floor reached.

Usage::

    python benchmarks/bench_step.py [--quick] [--only A,adamw_clip,gradtx]
        [--repeats R] [--steps S]

``--only`` keeps the rows matching its comma-separated tokens: tree names (A, B, C),
optimizer names, implementation names (optax, gradtx, gradtx-flat, gradtx-packed,
optax-packed, torch).
On tree B the unpacked rows (``optax``, ``gradtx``) compile for minutes each on CPU, so
by default only ``adamw_clip`` gets them; name an optimizer in ``--only`` to force them.
A full run on a 2-core CPU takes about half an hour; on one H200 a few minutes.
Never read these numbers as pass/fail in tests: they depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import gradtx

TREES = ("A", "B", "C")
OPTIMIZERS = ("adam", "adamw_clip", "sgd_momentum", "lion", "adafactor")
IMPLS = ("optax", "gradtx", "gradtx-flat", "gradtx-packed", "optax-packed")
# gradtx.flatten concatenates the tree inside every step: a win on small trees, but on
# wide trees XLA:CPU compiles its thousands of slices slowly, and on large trees the
# copies cost bandwidth. By default it runs on tree C only; name a tree to force it.
FLAT_TREES = ("C",)
# Minimal bytes moved per parameter and step (float32): reads and writes of p, g and state.
BYTES_PER_PARAM = {"adam": 28, "adamw_clip": 32, "sgd_momentum": 20, "lion": 20, "adafactor": 12}
SHAPE_DEPENDENT = {"adafactor"}


def tree_shapes(name: str, quick: bool) -> list[tuple[int, ...]]:
    """Leaf shapes of tree ``name`` (``quick`` gives a tiny version of the same layout)."""
    if name == "A":
        d, layers, vocab = (32, 2, 256) if quick else (384, 12, 10432)
        shapes: list[tuple[int, ...]] = [(vocab, d)]
        for _ in range(layers):
            shapes += [(d, 3 * d), (3 * d,), (d, d), (d,), (d, 4 * d), (4 * d,), (4 * d, d)]
            shapes += [(d,)] * 5  # output bias, two layer norms (scale, bias)
        return shapes + [(d,)]
    if name == "B":
        return [(100,)] * 50 if quick else [(1000,)] * 2000
    if name == "C":
        return [(100, 64), (64,), (64, 50), (50,), (50, 10), (10,)]
    raise ValueError(f"unknown tree {name!r}")


def make_tree(shapes: Sequence[tuple[int, ...]], seed: int) -> dict[str, jax.Array]:
    """A dict of float32 leaves (keys sort in leaf order), normal(0, 0.02) values."""
    rng = np.random.default_rng(seed)
    return {
        f"p{i:05d}": jnp.asarray(rng.normal(0.0, 0.02, size=s).astype(np.float32))
        for i, s in enumerate(shapes)
    }


def make_optimizer(lib: Any, name: str) -> Any:
    """The same optimizer from Optax or gradtx (``lib`` is the module)."""
    if name == "adam":
        return lib.adam(1e-3)
    if name == "adamw_clip":
        schedule = lib.warmup_cosine_decay_schedule(0.0, 1e-3, 100, 10_000)
        return lib.chain(lib.clip_by_global_norm(1.0), lib.adamw(schedule, weight_decay=0.01))
    if name == "sgd_momentum":
        return lib.sgd(1e-2, momentum=0.9)
    if name == "lion":
        return lib.lion(1e-4)
    if name == "adafactor":
        return lib.adafactor(1e-3)
    raise ValueError(f"unknown optimizer {name!r}")


def _step_fn(lib: Any, tx: Any) -> Callable:
    def step(params, state, grads):
        updates, state = tx.update(grads, state, params)
        return lib.apply_updates(params, updates), state

    return step


class Config:
    """One timed configuration: a compiled step and the arrays it threads."""

    def __init__(self, label: str, step: Callable, params: Any, state: Any, grads: Any):
        self.label = label
        self.step = step
        self.params = params
        self.state = state
        self.grads = grads
        self.times: list[float] = []

    def run(self, steps: int) -> float:
        p, s = self.params, self.state
        start = time.perf_counter()
        for _ in range(steps):
            p, s = self.step(p, s, self.grads)
        jax.block_until_ready((p, s))
        elapsed = (time.perf_counter() - start) / steps
        self.params, self.state = p, s
        return elapsed


def _triad_config(size: int) -> Config:
    rng = np.random.default_rng(3)
    b = jnp.asarray(rng.normal(size=size).astype(np.float32))
    c = jnp.asarray(rng.normal(size=size).astype(np.float32))
    triad = jax.jit(lambda a, b, c: b + 0.5 * c, donate_argnums=(0,), keep_unused=True)

    def step(a, _state, grads):
        return triad(a, *grads), None

    return Config("triad", step, jnp.zeros(size, jnp.float32), None, (b, c))


def _compile(fn: Callable, donate: bool, *args: Any) -> tuple[Callable, float]:
    jitted = jax.jit(fn, donate_argnums=(0, 1) if donate else ())
    start = time.perf_counter()
    compiled = jitted.lower(*args).compile()
    return compiled, time.perf_counter() - start


def build_configs(
    tree: str,
    opt: str,
    impls: Sequence[str],
    quick: bool,
    wide_tree_paths: bool = True,
    flat: bool = True,
) -> tuple[list[Config], int, int]:
    """Compiled configurations of one (tree, optimizer) group; also #params and #leaves."""
    shapes = tree_shapes(tree, quick)
    params, grads = make_tree(shapes, 0), make_tree(shapes, 1)
    packed_params, _ = gradtx.pack(params)
    packed_grads, _ = gradtx.pack(grads)
    size = sum(int(np.prod(s)) for s in shapes)
    configs = []
    for impl in impls:
        if impl.endswith("-packed") and opt in SHAPE_DEPENDENT:
            continue
        if impl == "optax-packed" and opt != "adamw_clip":
            continue
        if impl == "gradtx-flat" and (not flat or opt in SHAPE_DEPENDENT):
            continue
        if not impl.endswith("-packed") and not wide_tree_paths:
            continue
        lib = optax if impl.startswith("optax") else gradtx
        p, g = (packed_params, packed_grads) if impl.endswith("-packed") else (params, grads)
        tx = make_optimizer(lib, opt)
        if impl == "gradtx-flat":
            tx = gradtx.flatten(tx)
        for donate in (False, True):
            state = tx.init(p)
            compiled, _ = _compile(_step_fn(lib, tx), donate, p, state, g)
            # Donated configs get their own copies: donation invalidates the inputs.
            # Every leaf copied on its own: an ``init`` may reuse one array for several
            # state leaves (Optax's adafactor does), which cannot be donated twice.
            own_p = jax.tree.map(jnp.copy, p)
            own_state = jax.tree.map(jnp.copy, tx.init(own_p))
            label = f"{impl}{' +donate' if donate else ''}"
            configs.append(Config(label, compiled, own_p, own_state, g))
    return configs, size, len(shapes)


def time_configs(configs: Sequence[Config], repeats: int, steps: int) -> None:
    """Warm up, then ``repeats`` interleaved rounds; fills ``config.times``."""
    for c in configs:
        c.run(2)
    for _ in range(repeats):
        for c in configs:
            c.times.append(c.run(steps))


def _torch_rows(shapes: Sequence[tuple[int, ...]], repeats: int, steps: int) -> list[tuple]:
    """(label, seconds per step) for torch AdamW foreach / fused with clip_grad_norm_."""
    try:
        import torch
    except ImportError:
        return []
    device = "cuda" if jax.default_backend() == "gpu" and torch.cuda.is_available() else "cpu"
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    rows = []
    setups = []
    for label, kwargs in (("torch foreach", {"foreach": True}), ("torch fused", {"fused": True})):
        params = [torch.nn.Parameter(torch.randn(s, device=device) * 0.02) for s in shapes]
        for p in params:
            p.grad = torch.randn_like(p) * 0.02
        try:
            opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01, **kwargs)
        except (RuntimeError, TypeError, ValueError) as err:
            rows.append((label, None, str(err).splitlines()[0]))
            continue
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: min(1.0, (t + 1) / 100))

        def step(params=params, opt=opt, sched=sched):
            torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=True)
            opt.step()
            sched.step()

        setups.append((label, step))
    times: dict[str, list[float]] = {label: [] for label, _ in setups}
    for _, step in setups:
        step()
        step()
    for _ in range(repeats):
        for label, step in setups:
            sync()
            start = time.perf_counter()
            for _ in range(steps):
                step()
            sync()
            times[label].append((time.perf_counter() - start) / steps)
    rows += [(label, statistics.median(t), "") for label, t in times.items()]
    return rows


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny trees, adamw_clip only")
    parser.add_argument("--only", default="", help="comma-separated tree/optimizer/impl names")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved rounds")
    parser.add_argument("--steps", type=int, default=None, help="steps per round")
    return parser.parse_args(argv)


def _select(tokens: list[str], universe: Sequence[str], default: Sequence[str]) -> list[str]:
    chosen = [u for u in universe if u in tokens]
    return chosen or list(default)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print the tables; return the medians (seconds per step) by row.

    Args:
      argv: command-line arguments (``None``: ``sys.argv[1:]``).

    Returns:
      ``{"rows": {(tree, optimizer, label): seconds}, "triad": {tree: GB/s},
      "params": {tree: count}}``.
    """
    # Optax needs JAX's standard dtype promotion (a test session may have set "strict").
    with jax.numpy_dtype_promotion("standard"):
        return _main(argv)


def _main(argv: Sequence[str] | None) -> dict[str, Any]:
    args = _parse(argv)
    tokens = [t.strip() for t in args.only.split(",") if t.strip()]
    trees = _select(tokens, TREES, TREES)
    opts = _select(tokens, OPTIMIZERS, ("adamw_clip",) if args.quick else OPTIMIZERS)
    default_impls = IMPLS[:4] if args.quick else IMPLS
    impls = _select(tokens, (*IMPLS, "torch"), (*default_impls, "torch"))
    repeats = args.repeats or (2 if args.quick else 7)
    steps_for = {"A": 2, "B": 2, "C": 5} if args.quick else {"A": 3, "B": 5, "C": 50}

    print(
        f"gradtx step benchmark | jax {jax.__version__} | optax {optax.__version__} | "
        f"backend {jax.default_backend()} | {jax.devices()[0].device_kind} | "
        f"{platform.processor() or platform.machine()} | quick={args.quick}"
    )
    out: dict[str, Any] = {"rows": {}, "triad": {}, "params": {}}
    header = f"{'tree':4} {'optimizer':13} {'impl':22} {'us/step':>10} {'GB/s':>7} "
    header += f"{'%triad':>7} {'x optax':>8}"
    for tree in trees:
        triad_times: list[float] = []
        size = 0
        for opt in opts:
            # On tree B the unpacked step takes minutes to compile on CPU (one per config):
            # by default only adamw_clip gets those rows; name the optimizer to get more.
            wide = args.quick or tree != "B" or opt == "adamw_clip" or opt in tokens
            jax_impls = [i for i in impls if i != "torch"]
            flat = args.quick or tree in FLAT_TREES or tree in tokens
            configs, size, leaves = build_configs(tree, opt, jax_impls, args.quick, wide, flat)
            triad = _triad_config(size)
            steps = args.steps or steps_for[tree]
            time_configs([*configs, triad], repeats, steps)
            triad_times += triad.times
            gbps_triad = 12 * size / statistics.median(triad_times) / 1e9
            if opt == opts[0]:
                print(f"\ntree {tree}: {size} parameters in {leaves} leaves")
                print(header)
            base = {
                donate: statistics.median(c.times)
                for c in configs
                for donate in (c.label.endswith("+donate"),)
                if c.label.split()[0] == "optax"
            }
            for c in configs:
                t = statistics.median(c.times)
                gbps = BYTES_PER_PARAM[opt] * size / t / 1e9
                ref = base.get(c.label.endswith("+donate"))
                ratio = f"{t / ref:8.2f}" if ref else f"{'':8}"
                print(
                    f"{tree:4} {opt:13} {c.label:22} {t * 1e6:10.1f} {gbps:7.2f} "
                    f"{100 * gbps / gbps_triad:6.0f}% {ratio}"
                )
                out["rows"][(tree, opt, c.label)] = t
            if opt in SHAPE_DEPENDENT and any(i.endswith("-packed") for i in impls):
                print(f"{tree:4} {opt:13} {'*-packed':22} {'n/a (shape-dependent)':>10}")
            del configs, triad
            gc.collect()
        out["triad"][tree] = 12 * size / statistics.median(triad_times) / 1e9
        out["params"][tree] = size
        print(f"{tree:4} {'triad a=b+s*c':36} {out['triad'][tree]:>18.2f} GB/s (12 bytes/element)")
        if "torch" in impls and "adamw_clip" in opts:
            rows = _torch_rows(
                tree_shapes(tree, args.quick), repeats, args.steps or steps_for[tree]
            )
            if not rows:
                print(f"{tree:4} adamw_clip    torch not installed")
            for label, t, err in rows:
                if t is None:
                    print(f"{tree:4} adamw_clip    {label:22} unavailable: {err}")
                    continue
                out["rows"][(tree, "adamw_clip", label)] = t
                gbps = BYTES_PER_PARAM["adamw_clip"] * size / t / 1e9
                print(
                    f"{tree:4} adamw_clip    {label:22} {t * 1e6:10.1f} {gbps:7.2f} "
                    f"{100 * gbps / out['triad'][tree]:6.0f}%"
                )
    _summary(out)
    return out


def _summary(out: dict[str, Any]) -> None:
    """Ratios for adamw_clip that the issue's targets name."""
    rows = out["rows"]

    def get(tree: str, label: str) -> float | None:
        return rows.get((tree, "adamw_clip", label))

    lines = []
    for tree in out["params"]:
        ox, oxd = get(tree, "optax"), get(tree, "optax +donate")
        if ox is None:
            continue
        best_optax = min(t for t in (ox, oxd) if t is not None)
        labels = ("gradtx", "gradtx-flat", "gradtx-packed")
        for label in (f"{impl}{suffix}" for impl in labels for suffix in ("", " +donate")):
            t = get(tree, label)
            if t is not None:
                lines.append(f"{tree}: {label:22} / best optax = {t / best_optax:5.2f}")
        for plain in labels:
            a, b = get(tree, plain), get(tree, plain + " +donate")
            if a and b:
                lines.append(f"{tree}: {plain:22} donate / no donate = {b / a:5.2f}")
        fused = get(tree, "torch fused")
        for label in (f"{impl} +donate" for impl in labels):
            t = get(tree, label)
            if fused and t:
                lines.append(f"{tree}: {label:22} / torch fused = {t / fused:5.2f}")
    if lines:
        print("\nsummary (adamw_clip)")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
