"""The `Landscape` record: a test function together with its known critical points."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np

__all__ = ["Landscape"]


class Landscape(NamedTuple):
    """A test function with its known critical points, a standard start and plot bounds.

    The points are data (read-only float64 NumPy arrays of shape ``(k, dim)``), so tests
    and plots can use them directly. Call the landscape like its function:
    ``landscape(x) == landscape.fn(x)``.

    Attributes:
      name: a short identifier, e.g. ``"rosenbrock"``.
      fn: ``fn(x) -> scalar`` for a 1-D array ``x`` of shape ``(dim,)``; the result has
        ``x``'s floating dtype.
      minima: the known (global) minima, shape ``(k, dim)``; empty when the function is
        unbounded below.
      min_value: the value at the minima; ``-inf`` when the function is unbounded below.
      saddles: the known saddle points, shape ``(s, dim)``.
      maxima: the known local maxima, shape ``(m, dim)`` (often empty).
      x0: the standard starting point, shape ``(dim,)``.
      bounds: ``((low, high), ...)`` per coordinate, the window used for plots.
    """

    name: str
    fn: Callable[[jax.Array], jax.Array]
    minima: np.ndarray
    min_value: float
    saddles: np.ndarray
    maxima: np.ndarray
    x0: np.ndarray
    bounds: tuple[tuple[float, float], ...]

    def __call__(self, x: Any) -> jax.Array:
        """Evaluate ``fn(x)``."""
        return self.fn(x)

    @property
    def dim(self) -> int:
        """The number of coordinates."""
        return int(self.x0.shape[0])

    def distance_to_minimum(self, x: Any) -> float | None:
        """Euclidean distance from ``x`` to the nearest listed minimum (``None`` if none).

        Computed on the host in float64; meant for reporting, not for use under ``jit``.
        """
        if self.minima.shape[0] == 0:
            return None
        diff = self.minima - np.asarray(x, np.float64)[None, :]
        return float(np.min(np.linalg.norm(diff, axis=1)))


def points(values: Sequence[Sequence[float]], dim: int) -> np.ndarray:
    """A read-only float64 array of shape ``(len(values), dim)``."""
    out = np.asarray(values, np.float64).reshape(len(values), dim)
    out.setflags(write=False)
    return out


def make(
    name: str,
    fn: Callable[[jax.Array], jax.Array],
    *,
    minima: Sequence[Sequence[float]],
    min_value: float,
    saddles: Sequence[Sequence[float]] = (),
    maxima: Sequence[Sequence[float]] = (),
    x0: Sequence[float],
    bounds: Sequence[tuple[float, float]],
) -> Landscape:
    """Build a `Landscape`, normalising the point lists to read-only arrays."""
    dim = len(x0)
    start = np.asarray(x0, np.float64)
    start.setflags(write=False)
    return Landscape(
        name=name,
        fn=fn,
        minima=points(minima, dim),
        min_value=float(min_value),
        saddles=points(saddles, dim),
        maxima=points(maxima, dim),
        x0=start,
        bounds=tuple((float(lo), float(hi)) for lo, hi in bounds),
    )
