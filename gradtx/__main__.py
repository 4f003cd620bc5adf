"""``python -m gradtx``: a demo that runs in seconds on a CPU.

It compares optimizers on classic landscapes (steps to tolerance, final loss, distance to
the nearest minimum, compile and run time), trains a small MLP on an embedded synthetic
dataset with ``chain(clip_by_global_norm(1.0), adamw(warmup_cosine_decay_schedule(...)))``
and, when matplotlib is installed, writes plots to ``./gradtx-demo/``.
Run ``python -m gradtx --help`` for the options.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import jax
import jax.numpy as jnp
import numpy as np

import gradtx
from gradtx import experiments, landscapes
from gradtx._demo_data import spirals, train_test_split

__all__ = ["main"]

# name -> (what it is, factory(learning_rate))
OPTIMIZERS: dict[str, tuple[str, Callable[[float], gradtx.GradientTransformation]]] = {
    "sgd": ("plain gradient descent", lambda lr: gradtx.sgd(lr)),
    "momentum": ("SGD, heavy-ball momentum 0.9", lambda lr: gradtx.sgd(lr, momentum=0.9)),
    "nesterov": (
        "SGD, Nesterov momentum 0.9",
        lambda lr: gradtx.sgd(lr, momentum=0.9, nesterov=True),
    ),
    "adagrad": ("Adagrad", lambda lr: gradtx.adagrad(lr)),
    "rmsprop": ("RMSProp", lambda lr: gradtx.rmsprop(lr)),
    "adam": ("Adam", lambda lr: gradtx.adam(lr)),
    "lion": ("Lion (sign of an interpolated momentum)", lambda lr: gradtx.lion(lr)),
}

LANDSCAPES: dict[str, Callable[[], landscapes.Landscape]] = {
    "rosenbrock": landscapes.rosenbrock,
    "beale": landscapes.beale,
    "saddle": landscapes.saddle,
    "monkey_saddle": landscapes.monkey_saddle,
    "himmelblau": landscapes.himmelblau,
    "rastrigin": landscapes.rastrigin,
    "ill_conditioned_quadratic": landscapes.ill_conditioned_quadratic,
}

DEFAULT_LANDSCAPES = ("rosenbrock", "beale", "saddle")
DEFAULT_OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop", "lion")
QUICK_OPTIMIZERS = ("sgd", "momentum", "adam")

# Per-landscape learning rates: for each optimizer the best stable value of the grid
# {1, 3} x 10^k (k = -4 ... 0) after 500 steps from the landscape's x0. On the saddles
# all optimizers share one rate, so the escape times compare like with like.
LEARNING_RATES: dict[str, dict[str, float]] = {
    "rosenbrock": {
        "sgd": 3e-3, "momentum": 3e-3, "nesterov": 1e-3, "adagrad": 1.0,
        "rmsprop": 1e-2, "adam": 0.3, "lion": 1e-2,
    },
    "beale": {
        "sgd": 3e-2, "momentum": 3e-3, "nesterov": 3e-3, "adagrad": 1.0,
        "rmsprop": 1e-2, "adam": 0.3, "lion": 1e-2,
    },
    "saddle": dict.fromkeys(OPTIMIZERS, 1e-2),
    "monkey_saddle": dict.fromkeys(OPTIMIZERS, 3e-3),
    "himmelblau": {
        "sgd": 1e-2, "momentum": 3e-3, "nesterov": 1e-2, "adagrad": 1.0,
        "rmsprop": 0.1, "adam": 0.3, "lion": 3e-2,
    },
    "rastrigin": {
        "sgd": 3e-3, "momentum": 3e-3, "nesterov": 3e-3, "adagrad": 1.0,
        "rmsprop": 1e-2, "adam": 0.1, "lion": 1e-2,
    },
    "ill_conditioned_quadratic": {
        "sgd": 1e-2, "momentum": 1e-2, "nesterov": 1e-2, "adagrad": 0.3,
        "rmsprop": 3e-3, "adam": 3e-2, "lion": 1e-2,
    },
}  # fmt: skip

# Landscapes unbounded below have no minimum: there the steps column counts the steps
# until the loss falls to ESCAPE_TARGET (one unit below the saddle's value 0).
ESCAPE_TARGET = -1.0


def _names(value: str, known: Sequence[str], what: str) -> list[str]:
    """Parse a comma-separated list (or ``all``) against the known names."""
    if value.strip() == "all":
        return list(known)
    names = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown {what} {', '.join(unknown) or repr(value)}; choose from {', '.join(known)} "
            "or 'all'"
        )
    return names


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface of ``python -m gradtx``."""
    parser = argparse.ArgumentParser(
        prog="python -m gradtx",
        description=(
            "gradtx demo: compare optimizers on classic landscapes and train a small MLP "
            "on an embedded synthetic dataset (CPU, seconds, no downloads)."
        ),
        epilog=(
            f"landscapes: {', '.join(LANDSCAPES)}. optimizers: {', '.join(OPTIMIZERS)}. "
            "Plots need matplotlib (pip install 'gradtx[notebooks]')."
        ),
    )
    parser.add_argument(
        "--landscape",
        default=",".join(DEFAULT_LANDSCAPES),
        type=lambda v: _names(v, list(LANDSCAPES), "landscape"),
        metavar="NAMES",
        help="comma-separated landscapes, or 'all' (default: %(default)s)",
    )
    parser.add_argument(
        "--optimizers",
        default=None,
        type=lambda v: _names(v, list(OPTIMIZERS), "optimizer"),
        metavar="NAMES",
        help=(
            f"comma-separated optimizers, or 'all' (default: {','.join(DEFAULT_OPTIMIZERS)}; "
            f"with --quick: {','.join(QUICK_OPTIMIZERS)})"
        ),
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="optimizer steps per landscape run (default: 500; with --quick: 150)",
    )
    parser.add_argument(
        "--tol",
        type=float,
        default=1e-3,
        help="tolerance on loss - minimum for the steps column (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("gradtx-demo"),
        help="folder for the plots (default: ./%(default)s)",
    )
    parser.add_argument("--no-plots", action="store_true", help="do not write plots")
    parser.add_argument("--no-mlp", action="store_true", help="skip the MLP training part")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smaller, faster run (fewer optimizers, steps and MLP steps)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the dataset and MLP init (default: 0)"
    )
    return parser


class _Progress:
    """A dependency-free progress indicator on stderr.

    On a terminal it redraws one line (``[####----] 3/15 label``); elsewhere (logs,
    pipes) it prints one line per call to `note`, and nothing per tick.
    """

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 24):
        self.total, self.done, self.width = max(total, 1), 0, width
        self.stream = sys.stderr if stream is None else stream
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.perf_counter()

    def tick(self, label: str) -> None:
        self.done += 1
        if self.tty:
            filled = round(self.width * self.done / self.total)
            bar = "#" * filled + "-" * (self.width - filled)
            elapsed = time.perf_counter() - self.start
            line = f"\r[{bar}] {self.done}/{self.total} {elapsed:5.1f}s {label}"
            self.stream.write(line[:100].ljust(100))
            self.stream.flush()

    def note(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r" + " " * 100 + "\r")
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\r" + " " * 100 + "\r")
            self.stream.flush()


def _compare_landscape(
    name: str, optimizers: Sequence[str], steps: int, tol: float, progress: _Progress
) -> tuple[landscapes.Landscape, experiments.Comparison]:
    """Run every optimizer on one landscape, ticking the progress line after each."""
    landscape = LANDSCAPES[name]()
    bounded = math.isfinite(landscape.min_value)
    target = None if bounded else ESCAPE_TARGET
    merged = None
    for opt in optimizers:
        lr = LEARNING_RATES[name][opt]
        tx = OPTIMIZERS[opt][1](lr)
        one = experiments.compare(
            {f"{opt} (lr {lr:g})": tx}, landscape, steps, tol=tol if bounded else 0.0,
            target=target,
        )  # fmt: skip
        if merged is None:
            merged = one
        else:
            merged.rows.extend(one.rows)
            merged.trajectories.update(one.trajectories)
        progress.tick(f"{name}: {opt}")
    assert merged is not None
    return landscape, merged


# --- the MLP part ---------------------------------------------------------------------


def _init_mlp(key: jax.Array, sizes: Sequence[int]) -> list[dict[str, jax.Array]]:
    """He-initialised dense layers ``sizes[0] -> ... -> sizes[-1]``."""
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        key, sub = jax.random.split(key)
        w = jax.random.normal(sub, (fan_in, fan_out), jnp.float32) * math.sqrt(2.0 / fan_in)
        layers.append({"w": w, "b": jnp.zeros(fan_out, jnp.float32)})
    return layers


def _logits(params: list[dict[str, jax.Array]], x: jax.Array) -> jax.Array:
    for layer in params[:-1]:
        x = jax.nn.relu(x @ layer["w"] + layer["b"][None, :])
    return x @ params[-1]["w"] + params[-1]["b"][None, :]


def _cross_entropy(params: Any, x: jax.Array, y: jax.Array) -> jax.Array:
    log_probs = jax.nn.log_softmax(_logits(params, x))
    return -jnp.mean(jnp.take_along_axis(log_probs, y[:, None], axis=1))


def _accuracy(params: Any, x: jax.Array, y: jax.Array) -> jax.Array:
    return jnp.mean((jnp.argmax(_logits(params, x), axis=1) == y).astype(jnp.float32))


def _train_mlp(quick: bool, seed: int) -> dict[str, Any]:
    """Full-batch training of a 2-hidden-layer MLP on the spirals, through `experiments.run`."""
    x, y = spirals(n_per_class=100, classes=3, noise=0.2, seed=seed)
    x_train, y_train, x_test, y_test = train_test_split(x, y, 0.25, seed=seed)
    hidden = 16 if quick else 32
    steps = 200 if quick else 500
    params = _init_mlp(jax.random.key(seed), (2, hidden, hidden, 3))
    schedule = gradtx.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=3e-2,
        warmup_steps=steps // 10,
        decay_steps=steps,
        end_value=3e-4,
    )
    tx = gradtx.chain(gradtx.clip_by_global_norm(1.0), gradtx.adamw(schedule, weight_decay=1e-4))
    xt, yt = jnp.asarray(x_train), jnp.asarray(y_train)

    def loss(p):
        return _cross_entropy(p, xt, yt)

    start = time.perf_counter()
    traj = jax.block_until_ready(experiments.run(tx, loss, params, steps))
    seconds = time.perf_counter() - start
    checkpoints = sorted({*range(0, steps, max(steps // 8, 1)), steps})
    accuracy = jax.jit(_accuracy)
    rows = []
    for t in checkpoints:
        p_t = jax.tree.map(lambda leaf, t=t: leaf[t], traj.params)
        rows.append(
            [
                str(t),
                f"{float(schedule(t)):.2e}",
                f"{float(traj.losses[t]):.4f}",
                f"{float(traj.grad_norms[t]):.3f}",
                f"{100 * float(accuracy(p_t, xt, yt)):.1f}",
                f"{100 * float(accuracy(p_t, jnp.asarray(x_test), jnp.asarray(y_test))):.1f}",
            ]
        )
    final = jax.tree.map(lambda leaf: leaf[-1], traj.params)
    return {
        "trajectory": traj,
        "rows": rows,
        "seconds": seconds,
        "steps": steps,
        "hidden": hidden,
        "final_params": final,
        "data": (x_train, y_train, x_test, y_test),
        "schedule": schedule,
    }


# --- plots ------------------------------------------------------------------------------


def _write_plots(
    out: Path,
    results: Sequence[tuple[landscapes.Landscape, experiments.Comparison]],
    mlp: dict[str, Any] | None,
) -> list[Path]:
    """One PNG per landscape (paths + losses) and one for the MLP; returns the paths."""
    from matplotlib.figure import Figure

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for landscape, comparison in results:
        fig = Figure(figsize=(11, 4.5), layout="constrained")
        left, right = fig.subplots(1, 2)
        if landscape.dim == 2:
            experiments.plot_trajectories(comparison, landscape, ax=left, resolution=150)
        else:
            left.set_axis_off()
        experiments.plot_losses(comparison, ax=right, min_value=landscape.min_value)
        right.set_title(f"{landscape.name}: loss per step")
        path = out / f"{landscape.name}.png"
        fig.savefig(path, dpi=90)
        written.append(path)
    if mlp is not None:
        fig = Figure(figsize=(11, 4.5), layout="constrained")
        left, right = fig.subplots(1, 2)
        experiments.plot_losses({"train loss": mlp["trajectory"]}, ax=left)
        left.set_title("MLP on spirals: training loss")
        x_train, y_train, x_test, y_test = mlp["data"]
        grid = np.linspace(-1.1, 1.1, 200)
        gx, gy = np.meshgrid(grid, grid)
        points = jnp.asarray(np.stack([gx.ravel(), gy.ravel()], 1), jnp.float32)
        predicted = np.asarray(
            jnp.argmax(jax.jit(_logits)(mlp["final_params"], points), axis=1)
        ).reshape(gx.shape)
        regions = ["#fbb4ae", "#b3cde3", "#ccebc5"]  # light versions of ...
        points_rgb = ["#e41a1c", "#377eb8", "#4daf4a"]  # ... these class colours
        right.contourf(gx, gy, predicted, levels=[-0.5, 0.5, 1.5, 2.5], colors=regions)
        right.scatter(x_train[:, 0], x_train[:, 1], c=[points_rgb[k] for k in y_train], s=10)
        right.scatter(
            x_test[:, 0], x_test[:, 1], c=[points_rgb[k] for k in y_test], s=25, marker="x"
        )
        right.set_title("decision regions (dots: train, crosses: test)")
        path = out / "mlp.png"
        fig.savefig(path, dpi=90)
        written.append(path)
    return written


def _matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


# --- entry point ------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; ``argv`` defaults to ``sys.argv[1:]``.

    Args:
      argv: command-line arguments (see ``python -m gradtx --help``).

    Returns:
      The exit status, 0 on success.
    """
    args = build_parser().parse_args(None if argv is None else [str(a) for a in argv])
    optimizers = args.optimizers or list(QUICK_OPTIMIZERS if args.quick else DEFAULT_OPTIMIZERS)
    steps = args.steps if args.steps is not None else (150 if args.quick else 500)
    if steps < 1:
        build_parser().error(f"--steps must be >= 1, got {steps}")
    t_start = time.perf_counter()
    device = jax.devices()[0]
    print(
        f"gradtx {gradtx.__version__} demo | jax {jax.__version__} | "
        f"{device.platform} ({device.device_kind})"
    )
    print()
    progress = _Progress(len(args.landscape) * len(optimizers))
    results = []
    for name in args.landscape:
        progress.note(f"running {len(optimizers)} optimizers on {name} ({steps} steps) ...")
        landscape, comparison = _compare_landscape(name, optimizers, steps, args.tol, progress)
        progress.close()
        results.append((landscape, comparison))
        print(comparison)
        if not math.isfinite(landscape.min_value):
            print(
                f"  ({name} is unbounded below: 'steps to tol' counts the steps until the "
                f"loss reaches {ESCAPE_TARGET:g}, i.e. the escape from the saddle at 0)"
            )
        print()

    mlp = None
    if not args.no_mlp:
        progress.note("training the MLP on the embedded spirals dataset ...")
        mlp = _train_mlp(args.quick, args.seed)
        hidden = mlp["hidden"]
        print(
            f"MLP 2-{hidden}-{hidden}-3 on spirals (225 train / 75 test points), full batch, "
            f"{mlp['steps']} steps in {mlp['seconds']:.2f} s (compile included):"
        )
        print(
            "  chain(clip_by_global_norm(1.0), adamw(warmup_cosine_decay_schedule("
            "0 -> 3e-2 -> 3e-4), weight_decay=1e-4))"
        )
        header = (
            ("step", ">"),
            ("learning rate", ">"),
            ("train loss", ">"),
            ("grad norm", ">"),
            ("train acc %", ">"),
            ("test acc %", ">"),
        )
        print(experiments.format_table(mlp["rows"], header))
        print()

    if args.no_plots:
        print("plots skipped (--no-plots)")
    elif not _matplotlib_available():
        print("plots skipped: matplotlib is not installed (pip install 'gradtx[notebooks]')")
    else:
        written = _write_plots(args.out, results, mlp)
        names = ", ".join(p.name for p in written)
        print(f"plots written to {args.out}{'/' if str(args.out)[-1:] != '/' else ''}: {names}")
    print(f"done in {time.perf_counter() - t_start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
