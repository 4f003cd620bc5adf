"""Run several optimizers on one landscape and tabulate how they did."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator, Mapping
from typing import Any

import jax
import numpy as np

from gradtx.core import GradientTransformation, validate
from gradtx.experiments._run import Trajectory, compile_run
from gradtx.landscapes import Landscape

__all__ = ["Comparison", "ComparisonRow", "compare", "steps_to_tolerance"]


@dataclasses.dataclass(frozen=True)
class ComparisonRow:
    """One optimizer's result in a `Comparison`.

    Attributes:
      optimizer: the name it was given.
      steps_to_tol: the first step ``t`` with ``loss_t - target <= tol`` (0 is the start),
        or ``None`` if the run never got there.
      final_loss: the loss after the last step.
      final_distance: Euclidean distance from the final point to the nearest listed
        minimum, or ``None`` when the landscape lists none.
      compile_s: seconds spent tracing and compiling the run.
      run_s: seconds spent executing the compiled run.

    Examples:
      >>> from gradtx import experiments
      >>> row = experiments.ComparisonRow(
      ...     optimizer="sgd", steps_to_tol=12, final_loss=1e-5, final_distance=None,
      ...     compile_s=0.25, run_s=0.004,
      ... )
      >>> row.optimizer, row.steps_to_tol, row.final_distance
      ('sgd', 12, None)
    """

    optimizer: str
    steps_to_tol: int | None
    final_loss: float
    final_distance: float | None
    compile_s: float
    run_s: float


_COLUMNS = (
    ("optimizer", "<"),
    ("steps to tol", ">"),
    ("final loss", ">"),
    ("dist to min", ">"),
    ("compile s", ">"),
    ("run ms", ">"),
)


def _fmt_float(x: float | None, spec: str) -> str:
    if x is None:
        return "-"
    if math.isnan(x) or math.isinf(x):
        return str(x)
    return format(x, spec)


def format_table(rows: list[list[str]], header: tuple[tuple[str, str], ...]) -> str:
    """A fixed-width text table, as ``str(comparison)`` prints it.

    Args:
      rows: the cells, one list of strings per row, one string per column.
      header: one ``(title, align)`` per column; ``align`` is ``"<"`` (left) or ``">"``
        (right).

    Returns:
      The table: the titles, a rule of dashes, then the rows, one per line, each column
      as wide as its widest cell.

    Examples:
      >>> from gradtx.experiments import format_table
      >>> print(format_table([["adam", "12"], ["sgd", "7"]], (("name", "<"), ("steps", ">"))))
      name  steps
      ----  -----
      adam     12
      sgd       7
    """
    titles = [h for h, _ in header]
    widths = [
        max(len(t), *(len(r[i]) for r in rows)) if rows else len(t) for i, t in enumerate(titles)
    ]

    def line(cells):
        return "  ".join(
            format(c, f"{align}{w}") for c, (_, align), w in zip(cells, header, widths, strict=True)
        ).rstrip()

    out = [line(titles), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join(out)


@dataclasses.dataclass
class Comparison:
    """The result of `compare`: one row and one trajectory per optimizer.

    ``str(comparison)`` is a fixed-width table. Iterating yields the rows; indexing by
    optimizer name returns that row.

    Attributes:
      landscape: the landscape's name.
      steps: the number of steps each optimizer ran.
      tol: the tolerance used for ``steps_to_tol``.
      target: the loss value ``steps_to_tol`` measures against (the landscape's
        ``min_value`` unless given).
      rows: one `ComparisonRow` per optimizer, in the order given.
      trajectories: the full `Trajectory` of each optimizer, by name (for plotting).

    Examples:
      >>> from gradtx import experiments
      >>> rows = [
      ...     experiments.ComparisonRow("sgd", 12, 1e-5, 0.003, 0.25, 0.004),
      ...     experiments.ComparisonRow("adam", None, 0.5, None, 0.5, 0.006),
      ... ]
      >>> result = experiments.Comparison(
      ...     landscape="bowl", steps=50, tol=1e-3, target=0.0, rows=rows, trajectories={}
      ... )
      >>> len(result), result["adam"].final_loss
      (2, 0.5)
      >>> print(result)
      bowl: 50 steps, tol 0.001, target loss 0
      optimizer  steps to tol  final loss  dist to min  compile s  run ms
      ---------  ------------  ----------  -----------  ---------  ------
      sgd                  12   1.000e-05     3.00e-03       0.25     4.0
      adam                  -   5.000e-01            -       0.50     6.0
    """

    landscape: str
    steps: int
    tol: float
    target: float
    rows: list[ComparisonRow]
    trajectories: dict[str, Trajectory]

    def __iter__(self) -> Iterator[ComparisonRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, name: str) -> ComparisonRow:
        for row in self.rows:
            if row.optimizer == name:
                return row
        raise KeyError(name)

    def __str__(self) -> str:
        target = "none (unbounded below)" if math.isinf(self.target) else f"{self.target:g}"
        title = f"{self.landscape}: {self.steps} steps, tol {self.tol:g}, target loss {target}"
        cells = [
            [
                r.optimizer,
                "-" if r.steps_to_tol is None else str(r.steps_to_tol),
                _fmt_float(r.final_loss, ".3e"),
                _fmt_float(r.final_distance, ".2e"),
                _fmt_float(r.compile_s, ".2f"),
                _fmt_float(1e3 * r.run_s, ".1f"),
            ]
            for r in self.rows
        ]
        return title + "\n" + format_table(cells, _COLUMNS)


def steps_to_tolerance(losses: Any, target: float, tol: float) -> int | None:
    """The first index ``t`` with ``losses[t] - target <= tol``, or ``None``.

    Args:
      losses: a 1-D array of losses (e.g. ``Trajectory.losses``); NaN never qualifies.
      target: the reference value (e.g. the landscape's ``min_value``); ``-inf`` gives
        ``None``.
      tol: the tolerance, >= 0.

    Returns:
      The step index (0 is the start) or ``None``.

    Examples:
      >>> from gradtx import experiments
      >>> experiments.steps_to_tolerance([4.0, 1.0, 0.01, 0.0], target=0.0, tol=0.1)
      2
    """
    if math.isinf(target):
        return None
    gap = np.asarray(losses, np.float64) - target
    hits = np.flatnonzero(gap <= tol)
    return int(hits[0]) if hits.size else None


def compare(
    txs: Mapping[str, GradientTransformation],
    landscape: Landscape,
    steps: int,
    *,
    tol: float = 1e-3,
    x0: Any = None,
    target: float | None = None,
    noise_scale: float = 0.0,
    key: jax.Array | None = None,
) -> Comparison:
    """Run several optimizers from the same start on one landscape and tabulate them.

    Each optimizer runs through `run` (one compiled ``lax.scan``); compilation and
    execution are timed separately (``block_until_ready``). For each it reports the
    first step where :math:`f(x_t) - f^\\star \\le \\mathrm{tol}`, the final loss, the
    distance from the final point to the nearest listed minimum and the timings. With
    noise, every optimizer sees the same noise sequence (the same ``key``).

    Args:
      txs: ``{name: transform}``, in the order the table should list them.
      landscape: a `gradtx.landscapes.Landscape` (its ``fn``, ``x0``, ``minima`` and
        ``min_value`` are used).
      steps: the number of steps per optimizer, an integer >= 0.
      tol: tolerance on ``loss - target`` for the steps-to-tolerance column, >= 0.
        Default 1e-3.
      x0: the start (default: ``landscape.x0``).
      target: the loss value to reach (default: ``landscape.min_value``; landscapes
        unbounded below then report no steps-to-tolerance, so pass e.g. ``target=-1.0``
        to count the steps needed to escape a saddle at value 0).
      noise_scale: gradient-noise standard deviation passed to `run`, >= 0. Default 0.
      key: PRNG key for the noise (required when ``noise_scale > 0``).

    Returns:
      A `Comparison` (print it for the table; ``.trajectories`` for plots).

    Raises:
      ValueError: for an empty ``txs``, a negative ``tol`` or ``steps``, or noise without
        a key.

    Examples:
      >>> import gradtx
      >>> from gradtx import experiments, landscapes
      >>> txs = {
      ...     "gd": gradtx.scale(-0.1),
      ...     "adam": gradtx.chain(gradtx.scale_by_adam(), gradtx.scale_by_learning_rate(0.1)),
      ... }
      >>> result = experiments.compare(
      ...     txs, landscapes.ill_conditioned_quadratic(condition_number=10.0), steps=100
      ... )
      >>> # gd: f_t = 0.5 * 0.81**t first drops below 1e-3 at t = 30
      >>> [row.optimizer for row in result], result["gd"].steps_to_tol
      (['gd', 'adam'], 30)
    """
    if not txs:
        raise ValueError("compare(txs={}): give at least one optimizer")
    validate.non_negative("compare", tol=tol)
    validate.integer("compare", "steps", steps, 0)
    target = landscape.min_value if target is None else float(target)
    start = landscape.x0 if x0 is None else x0
    rows, trajectories = [], {}
    for name, tx in txs.items():
        t0 = time.perf_counter()
        execute = compile_run(tx, landscape.fn, start, steps, noise_scale=noise_scale, key=key)
        t1 = time.perf_counter()
        traj = jax.block_until_ready(execute())
        t2 = time.perf_counter()
        losses = np.asarray(traj.losses, np.float64)
        final = np.asarray(traj.params[-1], np.float64)
        rows.append(
            ComparisonRow(
                optimizer=str(name),
                steps_to_tol=steps_to_tolerance(losses, target, tol),
                final_loss=float(losses[-1]),
                final_distance=landscape.distance_to_minimum(final),
                compile_s=t1 - t0,
                run_s=t2 - t1,
            )
        )
        trajectories[str(name)] = traj
    return Comparison(
        landscape=landscape.name,
        steps=int(steps),
        tol=float(tol),
        target=target,
        rows=rows,
        trajectories=trajectories,
    )
