"""Label smoothing."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gradtx.core import numerics, validate
from gradtx.losses import _utils

__all__ = ["smooth_labels"]


def smooth_labels(
    labels: Any,
    alpha: Any,
    *,
    axis: int | tuple[int, ...] | None = -1,
    where: Any | None = None,
) -> jax.Array:
    r"""Label smoothing: mix the targets with the uniform distribution.

    .. math::
        \tilde y = (1 - \alpha)\, y + \frac{\alpha}{K}

    with :math:`K` the number of classes along ``axis`` (or, with ``where``, the number
    of selected classes per row). Rows summing to 1 keep summing to 1 (over the
    selected classes). As in Optax, ``alpha / K`` is added to every entry, selected or
    not.

    Args:
      labels: floating one-hot (or soft) labels.
      alpha: the smoothing factor :math:`\alpha \in [0, 1]`.
      axis: the class axis, a tuple of axes, or ``None`` for all. Default -1.
      where: optional boolean mask of the classes that count in :math:`K`.

    Returns:
      The smoothed labels, of the shape and dtype of ``labels``.

    Raises:
      TypeError: if ``labels`` is not floating.
      ValueError: for ``alpha`` outside [0, 1], an out-of-range ``axis`` or a ``where``
        that does not fit.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> losses.smooth_labels(jnp.array([0.0, 1.0, 0.0, 0.0]), 0.2).round(4).tolist()
      [0.05, 0.85, 0.05, 0.05]

    References:
      Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR
      2016, https://arxiv.org/abs/1512.00567; Müller et al., "When does label smoothing
      help?", NeurIPS 2019, https://arxiv.org/abs/1906.02629
    """
    fn = "smooth_labels"
    validate.unit(fn, alpha=alpha)
    labels = _utils.floating(fn, "labels", labels)
    axes = _utils.canonical_axes(fn, axis, labels.ndim)
    if where is None:
        num_classes = 1
        for a in axes:
            num_classes *= labels.shape[a]
    else:
        mask = _utils.where_mask(fn, where, labels.shape, axes)
        num_classes = jnp.sum(mask, axis=axes, keepdims=True).astype(labels.dtype)
    alpha = numerics.as_dtype(alpha, jnp.result_type(labels))
    return (1 - alpha) * labels + alpha / num_classes
