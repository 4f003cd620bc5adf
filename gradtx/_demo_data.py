"""A small synthetic classification dataset for the demo (generated, never downloaded)."""

from __future__ import annotations

import numpy as np

__all__ = ["spirals", "train_test_split"]


def spirals(
    n_per_class: int = 100, classes: int = 3, noise: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved 2-D spiral arms, one class per arm.

    Point ``i`` of arm ``k`` sits at radius :math:`r_i = i / (n - 1)` and angle
    :math:`\\theta_i = 4 (k + r_i) + \\sigma \\xi_i` with :math:`\\xi_i \\sim \\mathcal N(0, 1)`,
    i.e. at :math:`r_i (\\sin \\theta_i, \\cos \\theta_i)`. The arms are not linearly
    separable, so a linear model stays near chance while a small MLP fits them.

    Args:
      n_per_class: points per arm, an integer >= 2. Default 100.
      classes: the number of arms (classes), >= 2. Default 3.
      noise: angular noise :math:`\\sigma`, >= 0. Default 0.2.
      seed: NumPy seed; the same seed always gives the same data. Default 0.

    Returns:
      ``(x, y)``: float32 inputs of shape ``(n_per_class * classes, 2)`` and int32
      labels in ``[0, classes)``.

    Examples:
      >>> from gradtx._demo_data import spirals
      >>> x, y = spirals(n_per_class=4, classes=2)
      >>> x.shape, x.dtype.name, y.tolist()
      ((8, 2), 'float32', [0, 0, 0, 0, 1, 1, 1, 1])
    """
    rng = np.random.default_rng(seed)
    radius = np.linspace(0.0, 1.0, n_per_class)
    xs, ys = [], []
    for k in range(classes):
        theta = 4.0 * (k + radius) + noise * rng.standard_normal(n_per_class)
        xs.append(np.stack([radius * np.sin(theta), radius * np.cos(theta)], axis=1))
        ys.append(np.full(n_per_class, k))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int32)


def train_test_split(
    x: np.ndarray, y: np.ndarray, test_fraction: float = 0.25, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle with ``seed`` and hold out ``test_fraction`` of the points.

    Args:
      x: inputs, first axis = examples.
      y: labels, same first axis.
      test_fraction: the held-out share, in (0, 1). Default 0.25.
      seed: NumPy seed for the shuffle. Default 0.

    Returns:
      ``(x_train, y_train, x_test, y_test)``.
    """
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = max(1, int(round(test_fraction * len(x))))
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]
