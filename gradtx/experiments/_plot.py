"""Matplotlib plots of trajectories (imported lazily: matplotlib is an optional extra)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradtx.experiments._run import Trajectory
from gradtx.landscapes import Landscape

__all__ = ["plot_losses", "plot_trajectories"]


def _figure_module():
    """``matplotlib.figure``, or an ImportError that says how to install it."""
    try:
        import matplotlib.figure
    except ImportError as err:
        raise ImportError(
            "gradtx.experiments plotting needs matplotlib; install the optional extra "
            "with: pip install 'gradtx[notebooks]'"
        ) from err
    return matplotlib.figure


def _new_axes(ax: Any, figsize: tuple[float, float]) -> Any:
    figure = _figure_module()
    if ax is not None:
        return ax
    # A bare Figure (no pyplot): no global state, no GUI backend, savefig works.
    return figure.Figure(figsize=figsize, layout="constrained").add_subplot()


def _named(trajectories: Any) -> dict[str, Trajectory]:
    """Accept a `Comparison`, a ``{name: Trajectory}`` mapping or one `Trajectory`."""
    if isinstance(trajectories, Trajectory):
        return {"": trajectories}
    if hasattr(trajectories, "trajectories"):
        trajectories = trajectories.trajectories
    if not isinstance(trajectories, Mapping):
        raise TypeError(
            "trajectories must be a Trajectory, a {name: Trajectory} mapping or a "
            f"Comparison, got {type(trajectories).__name__}"
        )
    return dict(trajectories)


def plot_trajectories(
    trajectories: Any,
    landscape: Landscape,
    ax: Any = None,
    *,
    levels: int = 30,
    resolution: int = 200,
) -> Any:
    """Draw a 2-D landscape's contours, its critical points and optimizer paths.

    The contours are of :math:`\\log(1 + f - f^\\star)` when the minimum value
    :math:`f^\\star` is finite (so narrow valleys stay visible), else of :math:`f`.
    Minima are drawn as stars, saddles as crosses, maxima as triangles; each path
    starts with a circle and ends with a square. The axes show ``landscape.bounds``.

    Args:
      trajectories: a ``{name: Trajectory}`` mapping, a `Comparison` or one `Trajectory`
        (each with 2-D ``params`` of shape ``(steps + 1, 2)``).
      landscape: a two-dimensional `gradtx.landscapes.Landscape`.
      ax: a matplotlib ``Axes`` to draw on (default: a new figure's axes).
      levels: the number of contour levels, >= 2. Default 30.
      resolution: grid points per axis for the contours, >= 2. Default 200.

    Returns:
      The matplotlib ``Axes`` (its ``.figure`` can be saved with ``savefig``).

    Raises:
      ImportError: when matplotlib is not installed (``pip install 'gradtx[notebooks]'``).
      ValueError: if the landscape is not two-dimensional.

    Examples:
      >>> import gradtx
      >>> from gradtx import experiments, landscapes
      >>> L = landscapes.himmelblau()
      >>> traj = experiments.run(gradtx.scale(-0.01), L.fn, L.x0, steps=50)
      >>> ax = experiments.plot_trajectories({"gd": traj}, L)  # doctest: +SKIP
      >>> ax.figure.savefig("himmelblau.png")  # doctest: +SKIP
    """
    if landscape.dim != 2:
        raise ValueError(
            f"plot_trajectories: landscape {landscape.name!r} has dim={landscape.dim}; "
            "only two-dimensional landscapes can be drawn"
        )
    named = _named(trajectories)
    ax = _new_axes(ax, (5.5, 4.5))
    (x_lo, x_hi), (y_lo, y_hi) = landscape.bounds
    xs = np.linspace(x_lo, x_hi, resolution)
    ys = np.linspace(y_lo, y_hi, resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    points = jnp.asarray(np.stack([grid_x.ravel(), grid_y.ravel()], axis=1), jnp.float32)
    z = np.asarray(jax.jit(jax.vmap(landscape.fn))(points), np.float64).reshape(grid_x.shape)
    if math.isfinite(landscape.min_value):
        z = np.log1p(np.maximum(z - landscape.min_value, 0.0))
    ax.contourf(grid_x, grid_y, z, levels=levels, cmap="viridis", alpha=0.85)
    ax.contour(grid_x, grid_y, z, levels=levels, colors="k", linewidths=0.3, alpha=0.4)
    for pts, marker, label in (
        (landscape.minima, "*", "minimum"),
        (landscape.saddles, "X", "saddle"),
        (landscape.maxima, "^", "maximum"),
    ):
        if pts.shape[0]:
            ax.scatter(
                pts[:, 0],
                pts[:, 1],
                marker=marker,
                s=90,
                c="white",
                edgecolors="k",
                zorder=4,
                label=label,
            )
    for name, traj in named.items():
        path = np.asarray(traj.params, np.float64)
        (line,) = ax.plot(path[:, 0], path[:, 1], lw=1.6, label=name or None, zorder=3)
        ax.plot(path[0, 0], path[0, 1], "o", color=line.get_color(), ms=5, zorder=5)
        ax.plot(path[-1, 0], path[-1, 1], "s", color=line.get_color(), ms=5, zorder=5)
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(landscape.name)
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_losses(
    trajectories: Any,
    ax: Any = None,
    *,
    min_value: float | None = None,
    log: bool | None = None,
) -> Any:
    """Plot each trajectory's loss against the step number.

    Args:
      trajectories: a ``{name: Trajectory}`` mapping, a `Comparison` or one `Trajectory`.
      ax: a matplotlib ``Axes`` to draw on (default: a new figure's axes).
      min_value: when given and finite, plot the gap ``loss - min_value`` instead of the
        loss (pass ``landscape.min_value``).
      log: log-scale the y axis. Default ``None``: log when every plotted value is
        positive, symmetric-log when values of both signs span more than 1e3 (a run
        escaping down an unbounded landscape), linear otherwise.

    Returns:
      The matplotlib ``Axes``.

    Raises:
      ImportError: when matplotlib is not installed (``pip install 'gradtx[notebooks]'``).

    Examples:
      >>> import gradtx
      >>> from gradtx import experiments, landscapes
      >>> L = landscapes.rosenbrock()
      >>> traj = experiments.run(gradtx.scale(-1e-3), L.fn, L.x0, steps=50)
      >>> ax = experiments.plot_losses({"gd": traj}, min_value=L.min_value)  # doctest: +SKIP
    """
    named = _named(trajectories)
    ax = _new_axes(ax, (5.5, 4.0))
    shift = min_value if min_value is not None and math.isfinite(min_value) else None
    values = {}
    for name, traj in named.items():
        losses = np.asarray(traj.losses, np.float64)
        values[name] = losses - shift if shift is not None else losses
    finite = np.concatenate([v[np.isfinite(v)] for v in values.values()] + [np.zeros(0)])
    for name, v in values.items():
        ax.plot(np.arange(v.shape[0]), v, lw=1.4, label=name or None)
    if log is None:
        if finite.size and finite.min() > 0:
            ax.set_yscale("log")
        elif finite.size and np.abs(finite).max() > 1e3:
            ax.set_yscale("symlog", linthresh=1.0)  # escapes to -inf span many decades
    elif log:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss - min" if shift is not None else "loss")
    if any(values):
        ax.legend(loc="best", fontsize="small")
    return ax
