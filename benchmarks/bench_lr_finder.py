"""How close each LR-range-test rule lands to the best constant learning rate.

For each problem of a benchmark set and each optimizer (SGD with momentum 0.9, AdamW),
`gradtx.lr_range_test` runs once (one compiled ``lax.scan``) and every rule of its result
suggests a learning rate. Then a log grid of constant rates (four per decade) and the
suggestions themselves train from the same initialisation for the same number of steps
(one compiled ``lax.scan``, ``vmap`` -ed over the rates). Each suggestion is scored by its
ratio to the best rate of the grid and by the ratio of its final loss (full training
set, at the final parameters) to the best final loss of the grid.

Usage::

    python benchmarks/bench_lr_finder.py [--quick]

``--quick`` runs two problems for 100 steps on a grid of one rate per decade (a check
that the script works, run by the test suite); ``--markdown`` also prints the README's
table. The default rule of `gradtx.lr_range_test` is the one with the most cases within
3x of the best rate and 2x of the best loss here (``DEFAULT``; a slow test checks it).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import gradtx
from gradtx._demo_data import spirals

OPTIMIZERS: dict[str, Callable[[Any], gradtx.GradientTransformation]] = {
    "sgd-momentum": lambda lr: gradtx.sgd(lr, momentum=0.9),
    "adamw": lambda lr: gradtx.adamw(lr),
}


class Problem(NamedTuple):
    """A training problem: ``loss_fn(params, batch)``, minibatches stacked on axis 0."""

    name: str
    loss_fn: Callable[[Any, Any], jax.Array]
    params: Any
    batches: Any
    full: Any  # the whole training set, one batch: the final loss is measured on it
    steps: int  # training steps of every constant-rate run


def _dense(rng: np.random.Generator, sizes: Sequence[int], gain: float) -> list[dict]:
    return [
        {
            "w": jnp.asarray(rng.normal(0.0, math.sqrt(gain / m), (m, n)), jnp.float32),
            "b": jnp.zeros(n, jnp.float32),
        }
        for m, n in zip(sizes[:-1], sizes[1:], strict=True)
    ]


def _xent(logits: jax.Array, labels: jax.Array) -> jax.Array:
    return gradtx.losses.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def _split(x: np.ndarray, y: np.ndarray, batch: int) -> tuple[dict, dict]:
    n = (len(x) // batch) * batch
    x, y = x[:n], y[:n]
    batches = {
        "x": jnp.asarray(x.reshape(n // batch, batch, *x.shape[1:])),
        "y": jnp.asarray(y.reshape(n // batch, batch, *y.shape[1:])),
    }
    return batches, {"x": jnp.asarray(x), "y": jnp.asarray(y)}


def notebook_spirals() -> Problem:
    """The problem of ``notebooks/08_lr_range_test.ipynb``: a tanh MLP 2-32-32-3."""
    rng = np.random.default_rng(0)
    per_class, classes = 200, 3
    radius = np.linspace(0.05, 1.0, per_class)
    xs, ys = [], []
    for k in range(classes):
        theta = 4.0 * (k + radius) + 0.2 * rng.standard_normal(per_class)
        xs.append(np.stack([radius * np.sin(theta), radius * np.cos(theta)], axis=1))
        ys.append(np.full(per_class, k))
    order = rng.permutation(per_class * classes)
    x = np.concatenate(xs).astype(np.float32)[order]
    y = np.concatenate(ys).astype(np.int32)[order]
    batches, full = _split(x, y, 60)
    params = _dense(rng, (2, 32, 32, 3), 1.0)

    def loss_fn(params, batch):
        h = batch["x"]
        for layer in params[:-1]:
            h = jnp.tanh(h @ layer["w"] + layer["b"])
        return _xent(h @ params[-1]["w"] + params[-1]["b"], batch["y"])

    return Problem("notebook spirals MLP", loss_fn, params, batches, full, 300)


def demo_spirals() -> Problem:
    """`gradtx._demo_data.spirals` (300 points), a ReLU MLP 2-32-32-3, full batch."""
    x, y = spirals(n_per_class=100, classes=3, noise=0.2, seed=0)
    batches, full = _split(x, y, len(x))
    params = _dense(np.random.default_rng(2), (2, 32, 32, 3), 2.0)

    def loss_fn(params, batch):
        h = batch["x"]
        for layer in params[:-1]:
            h = jax.nn.relu(h @ layer["w"] + layer["b"])
        return _xent(h @ params[-1]["w"] + params[-1]["b"], batch["y"])

    return Problem("demo spirals MLP", loss_fn, params, batches, full, 300)


def digits_softmax() -> Problem:
    """Softmax regression on scikit-learn's digits (8x8 pixels / 16), batches of 128."""
    from sklearn.datasets import load_digits

    data = load_digits()
    order = np.random.default_rng(0).permutation(len(data.target))
    x = (data.data[order] / 16.0).astype(np.float32)
    y = data.target[order].astype(np.int32)
    batches, full = _split(x, y, 128)
    params = {"w": jnp.zeros((64, 10), jnp.float32), "b": jnp.zeros(10, jnp.float32)}

    def loss_fn(params, batch):
        return _xent(batch["x"] @ params["w"] + params["b"], batch["y"])

    return Problem("digits softmax regression", loss_fn, params, batches, full, 300)


def breast_cancer_logistic() -> Problem:
    """Logistic regression on scikit-learn's breast cancer (standardised), batches of 64."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    order = np.random.default_rng(0).permutation(len(data.target))
    x = data.data[order]
    x = ((x - x.mean(0)) / x.std(0)).astype(np.float32)
    y = data.target[order].astype(np.float32)
    batches, full = _split(x, y, 64)
    params = {"w": jnp.zeros(30, jnp.float32), "b": jnp.zeros((), jnp.float32)}

    def loss_fn(params, batch):
        logits = batch["x"] @ params["w"] + params["b"]
        return gradtx.losses.sigmoid_binary_cross_entropy(logits, batch["y"]).mean()

    return Problem("breast-cancer logistic regression", loss_fn, params, batches, full, 300)


def _sequences(rng: np.random.Generator, count: int, length: int, vocab: int) -> np.ndarray:
    """Order-2 rule with noise: x_t = (x_{t-1} + 2 x_{t-2}) mod V, else (10%) random."""
    seqs = np.zeros((count, length), np.int32)
    seqs[:, :2] = rng.integers(0, vocab, (count, 2))
    for t in range(2, length):
        rule = (seqs[:, t - 1] + 2 * seqs[:, t - 2]) % vocab
        noise = rng.integers(0, vocab, count)
        seqs[:, t] = np.where(rng.random(count) < 0.1, noise, rule)
    return seqs


def tiny_transformer() -> Problem:
    """A one-block causal transformer (width 24, 2 heads) on generated sequences."""
    vocab, length, width, heads = 16, 12, 24, 2
    rng = np.random.default_rng(0)
    seqs = _sequences(rng, 384, length + 1, vocab)
    x, y = seqs[:, :-1], seqs[:, 1:]
    batches, full = _split(x, y, 24)

    def normal(*shape, scale):
        return jnp.asarray(rng.normal(0.0, scale, shape), jnp.float32)

    s = 1.0 / math.sqrt(width)
    params = {
        "embed": normal(vocab, width, scale=1.0),
        "pos": normal(length, width, scale=0.1),
        "qkv": normal(width, 3 * width, scale=s),
        "out": normal(width, width, scale=s),
        "up": normal(width, 4 * width, scale=s),
        "down": normal(4 * width, width, scale=s / 2),
        "ln1": jnp.ones(width, jnp.float32),
        "ln2": jnp.ones(width, jnp.float32),
        "lnf": jnp.ones(width, jnp.float32),
    }
    mask = jnp.tril(jnp.ones((length, length), bool))

    def norm(h, scale):
        h = h - h.mean(-1, keepdims=True)
        return h * jax.lax.rsqrt((h * h).mean(-1, keepdims=True) + 1e-5) * scale

    def loss_fn(params, batch):
        h = params["embed"][batch["x"]] + params["pos"]
        q, k, v = jnp.split(norm(h, params["ln1"]) @ params["qkv"], 3, axis=-1)
        split = lambda a: a.reshape(*a.shape[:-1], heads, width // heads)  # noqa: E731
        att = jnp.einsum("bqhd,bkhd->bhqk", split(q), split(k)) / math.sqrt(width // heads)
        att = jax.nn.softmax(jnp.where(mask, att, -1e9), axis=-1)
        mixed = jnp.einsum("bhqk,bkhd->bqhd", att, split(v)).reshape(h.shape)
        h = h + mixed @ params["out"]
        h = h + jax.nn.gelu(norm(h, params["ln2"]) @ params["up"]) @ params["down"]
        logits = norm(h, params["lnf"]) @ params["embed"].T
        return _xent(logits, batch["y"])

    return Problem("tiny transformer, sequences", loss_fn, params, batches, full, 300)


PROBLEMS: dict[str, Callable[[], Problem]] = {
    "notebook": notebook_spirals,
    "spirals": demo_spirals,
    "digits": digits_softmax,
    "breast_cancer": breast_cancer_logistic,
    "transformer": tiny_transformer,
}
QUICK = ("notebook", "breast_cancer")

# lr_range_test's own defaults (fast.ai's): 1e-7 .. 10 in 100 steps, smoothing 0.98.
RANGE_TEST: dict[str, Any] = {}
DEFAULT = "lagfree_minimum"  # lr_range_test's default rule: the most cases on target here


def final_losses(problem: Problem, tx_factory: Callable, rates: np.ndarray) -> np.ndarray:
    """The full-set loss after ``problem.steps`` steps at each constant rate (one vmap)."""

    @jax.jit
    @jax.vmap
    def train(learning_rate):
        tx = tx_factory(learning_rate)

        def step(carry, t):
            params, state = carry
            batch = jax.tree.map(lambda a: a[t % a.shape[0]], problem.batches)
            grads = jax.grad(problem.loss_fn)(params, batch)
            updates, state = tx.update(grads, state, params)
            return (gradtx.apply_updates(params, updates), state), None

        init = (problem.params, tx.init(problem.params))
        (params, _), _ = jax.lax.scan(step, init, jnp.arange(problem.steps))
        return problem.loss_fn(params, problem.full)

    out = np.asarray(train(jnp.asarray(rates, jnp.float32)), np.float64)
    return np.where(np.isfinite(out), out, np.inf)


def evaluate(problem: Problem, tx_factory: Callable, grid: np.ndarray, **range_kwargs) -> dict:
    """One range test, then the grid and every suggestion trained; the scores."""
    kwargs = {**RANGE_TEST, **range_kwargs}
    result = gradtx.lr_range_test(
        problem.loss_fn, tx_factory, problem.params, problem.batches, **kwargs
    )
    names = list(result.suggestions)
    suggested = np.asarray([float(result.suggestions[k]) for k in names])
    losses = final_losses(problem, tx_factory, np.concatenate([grid, suggested]))
    grid_losses, rule_losses = losses[: len(grid)], losses[len(grid) :]
    best = int(np.argmin(grid_losses))
    rows = {}
    for name, lr, loss in zip(names, suggested, rule_losses, strict=True):
        lr_ratio, loss_ratio = lr / grid[best], loss / grid_losses[best]
        rows[name] = {
            "lr": float(lr),
            "lr_ratio": float(lr_ratio),
            "loss": float(loss),
            "loss_ratio": float(loss_ratio),
            "loss_gap": float(loss - grid_losses[best]),
            "ok": bool(1 / 3 <= lr_ratio <= 3 and loss_ratio <= 2),
        }
    n = int(result.num_valid)
    return {
        "best_lr": float(grid[best]),
        "best_loss": float(grid_losses[best]),
        "grid_losses": grid_losses,
        "diverged_lr": float(result.learning_rates[n]) if n < len(result.losses) else None,
        "rules": rows,
        "result": result,
    }


def machine() -> str:
    """One line naming the host, the backend and the library versions."""
    return (
        f"{platform.machine()} | {os.cpu_count()} CPUs | jax {jax.__version__} | "
        f"backend {jax.default_backend()}"
    )


def _gap(gap: float) -> str:
    return "±0" if abs(gap) < 5e-5 else f"{gap:+.2g}"


def markdown(out: dict) -> str:
    """The README table: per problem and optimizer, each rule's lr ratio and loss ratio."""
    rules = list(next(iter(out.values()))["rules"])
    names = [r + (" (default)" if r == DEFAULT else "") for r in rules]
    head = "| problem | optimizer | best grid rate (final loss) | " + " | ".join(names) + " |"
    lines = [head, "|" + "---|" * (3 + len(rules))]
    for (key, opt), r in out.items():
        cells = [
            f"{row['lr']:.2g}: x{row['lr_ratio']:.2g}; loss x{row['loss_ratio']:.3g} "
            f"({_gap(row['loss_gap'])})" + (" ✓" if row["ok"] else "")
            for row in r["rules"].values()
        ]
        lines.append(
            f"| {key} | {opt} | {r['best_lr']:.2g} ({r['best_loss']:.2g}) | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def _run(key: str, steps: int | None, grid: np.ndarray, out: dict) -> None:
    """Score one problem with both optimizers; print the rows; store them in ``out``."""
    problem = PROBLEMS[key]()
    if steps is not None:
        problem = problem._replace(steps=steps)
    for opt_name, factory in OPTIMIZERS.items():
        start = time.perf_counter()
        r = evaluate(problem, factory, grid)
        out[(key, opt_name)] = r
        div = "never" if r["diverged_lr"] is None else f"{r['diverged_lr']:.3g}"
        print(
            f"{problem.name} / {opt_name} ({problem.steps} steps): best grid lr "
            f"{r['best_lr']:.3g} (loss {r['best_loss']:.3g}), range test diverged at "
            f"{div}, {time.perf_counter() - start:.1f} s"
        )
        for name, row in r["rules"].items():
            print(
                f"    {name:<16} lr {row['lr']:9.3g}  x{row['lr_ratio']:7.3f} best lr  "
                f"loss {row['loss']:9.3g}  x{row['loss_ratio']:7.3f} best loss"
                + ("  ok" if row["ok"] else "")
            )


@contextlib.contextmanager
def _user_numerics():
    """JAX's default promotion rules (the test suite's strict ones reject user models)."""
    with jax.numpy_dtype_promotion("standard"), jax.numpy_rank_promotion("allow"):
        yield


def main(argv: Sequence[str] | None = None) -> dict:
    """Print the scores and a summary per rule; return ``{(problem, optimizer): scores}``.

    Args:
      argv: command-line arguments (default: ``sys.argv[1:]``).

    Returns:
      The scores of every (problem, optimizer) pair, as `evaluate` returns them.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two problems, a coarse grid")
    parser.add_argument("--problems", default=None, help="comma-separated problem keys")
    parser.add_argument("--markdown", action="store_true", help="also print the README table")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    keys = args.problems.split(",") if args.problems else QUICK if args.quick else PROBLEMS
    if args.quick:  # a smoke test: 100 steps, one rate per decade
        grid, steps = 10.0 ** np.arange(-4.0, 2.0 + 1e-9, 1.0), 100
    else:
        grid, steps = 10.0 ** np.arange(-5.0, 2.0 + 1e-9, 0.25), None
    print("gradtx LR range test rules vs the best constant rate | " + machine())
    print(
        f"range test {RANGE_TEST or 'defaults'}; grid {grid[0]:.0e}..{grid[-1]:.0e}, "
        f"{len(grid)} rates; default rule {DEFAULT!r}"
    )
    out = {}
    with _user_numerics():
        for key in keys:
            _run(key, steps, grid, out)
    print("summary: cases within 3x of the best rate and 2x of the best loss")
    for name in next(iter(out.values()))["rules"]:
        rows = [r["rules"][name] for r in out.values()]
        spread = float(np.exp(np.mean([abs(math.log(row["lr_ratio"])) for row in rows])))
        marker = " (default rule)" if name == DEFAULT else ""
        print(
            f"    {name:<16} {sum(row['ok'] for row in rows)}/{len(rows)}; "
            f"geometric mean of max(ratio, 1/ratio) {spread:.2f}{marker}"
        )
    if args.markdown:
        print(markdown(out))
    return out


if __name__ == "__main__":
    main()
