"""Segmentation losses."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradtx.core import numerics, validate
from gradtx.losses import _utils

__all__ = ["binary_dice_loss", "dice_loss", "multiclass_generalized_dice_loss"]

_REDUCTIONS = ("mean", "sum", "none")


def _check_distributions(fn: str, probs: jax.Array) -> None:
    """Raise unless ``probs`` (concrete) are distributions over the last axis."""
    if isinstance(probs, jax.core.Tracer) or probs.size == 0:
        return
    values = np.asarray(probs, np.float64)
    if values.shape[-1] == 1:
        if not np.all((values >= 0) & (values <= 1)):
            raise ValueError(
                f"{fn}: with apply_softmax=False, predictions must be valid probability "
                "distributions; binary (one-class) probabilities must lie in [0, 1]. "
                f"Found range: [{values.min():.6f}, {values.max():.6f}]"
            )
        return
    sums = values.sum(axis=-1)
    # Optax's rtol=1e-5, widened to the rounding of a low-precision sum (bfloat16).
    rtol = max(1e-5, float(jnp.finfo(probs.dtype).eps) * values.shape[-1])
    if not np.allclose(sums, 1.0, rtol=rtol):
        raise ValueError(
            f"{fn}: with apply_softmax=False, predictions must be valid probability "
            "distributions that sum to 1 along the class axis. "
            f"Found sum range: [{sums.min():.6f}, {sums.max():.6f}]"
        )


def dice_loss(
    predictions: Any,
    targets: Any,
    *,
    class_weights: Any | None = None,
    smooth: Any = 1.0,
    alpha: Any = 0.5,
    beta: Any = 0.5,
    apply_softmax: bool = True,
    reduction: str = "mean",
    ignore_background: bool = False,
    axis: int | tuple[int, ...] | None = None,
) -> jax.Array:
    r"""Soft Dice loss (Tversky loss for general ``alpha``, ``beta``), per class.

    For each class :math:`c`, with probabilities :math:`p_{ic}` and targets
    :math:`t_{ic}` summed over the spatial positions :math:`i` (the ``axis``):

    .. math::
        I_c = \sum_i p_{ic} t_{ic}, \quad P_c = \sum_i p_{ic}, \quad
        T_c = \sum_i t_{ic} \\
        \ell_c = 1 - \frac{I_c + s}{I_c + \alpha (P_c - I_c) + \beta (T_c - I_c) + s}

    :math:`P_c - I_c` is the soft count of false positives and :math:`T_c - I_c` of false
    negatives. With :math:`\alpha = \beta = \tfrac12` this is one minus the Dice
    coefficient :math:`(2I_c + 2s)/(P_c + T_c + 2s)`; :math:`\beta > \alpha` penalises
    missed foreground more (Tversky). The per-class losses are weighted by
    ``class_weights``, the background class (index 0) is dropped if
    ``ignore_background``, and the rest are reduced over the class axis. A class with an
    empty denominator (possible only when ``smooth = 0``) has loss 0 rather than NaN.

    The numbers match Optax. As in Optax, ``apply_softmax=False`` checks that the
    predictions are probability distributions over the class axis (sums within
    ``rtol=1e-5`` of 1) and raises a ``ValueError`` otherwise. The check reads values, so
    it runs on concrete arrays only: under ``jit`` it is skipped (Optax fails there with
    a concretization error). With a class axis of size 1 the predictions are Bernoulli
    probabilities, checked to lie in [0, 1] (Optax requires them to equal 1, which
    rejects every useful binary probability map).

    Args:
      predictions: floating logits ``[batch, ..., num_classes]``; for binary
        segmentation ``[batch, ..., 1]``. With ``apply_softmax=False``, probabilities of
        the same shapes.
      targets: one-hot (or soft) targets of the same shape as ``predictions``. A
        trailing class axis of size 1 may be left off *one* of the two inputs (as in
        Optax, two inputs of equal rank are always read as ``[..., num_classes]``).
      class_weights: optional rank-1 weights ``[num_classes]`` of the per-class losses.
      smooth: the smoothing :math:`s \ge 0`. Default 1.0.
      alpha: weight :math:`\alpha \ge 0` of the false positives. Default 0.5.
      beta: weight :math:`\beta \ge 0` of the false negatives. Default 0.5.
      apply_softmax: map logits to probabilities (sigmoid for one class, softmax over the
        last axis otherwise). Default True.
      reduction: ``"mean"`` (default) or ``"sum"`` over classes, or ``"none"``.
      ignore_background: drop class 0 when there are several classes. Default False.
      axis: the axes summed over; default ``None`` means all but the first (batch) and
        the last (class).

    Returns:
      The shape of ``predictions`` without ``axis`` and the class axis (``[batch]`` by
      default); with ``reduction="none"`` the class axis is kept.

    Raises:
      TypeError: if ``predictions`` is not floating.
      ValueError: for negative ``smooth``/``alpha``/``beta``, an unknown ``reduction``,
        mismatched shapes, ``class_weights`` that is not rank 1 of length
        ``num_classes``, or (eagerly, with ``apply_softmax=False``) predictions that are
        not probability distributions.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> probs = jnp.array([[[0.9, 0.1], [0.2, 0.8]]])  # [batch=1, pixels=2, classes=2]
      >>> targets = jnp.array([[[1.0, 0.0], [0.0, 1.0]]])
      >>> loss = losses.dice_loss(probs, targets, apply_softmax=False, smooth=0.0)
      >>> loss.round(4).tolist()
      [0.15]

    References:
      Milletari et al., "V-Net: Fully Convolutional Neural Networks for Volumetric
      Medical Image Segmentation", 3DV 2016, https://arxiv.org/abs/1606.04797;
      Salehi et al., "Tversky loss function for image segmentation using 3D fully
      convolutional deep networks", MLMI 2017, https://arxiv.org/abs/1706.05721
    """
    fn = "dice_loss"
    validate.non_negative(fn, smooth=smooth, alpha=alpha, beta=beta)
    validate.one_of(fn, "reduction", reduction, _REDUCTIONS)
    predictions = _utils.floating(fn, "predictions", predictions)
    targets = jnp.asarray(targets)
    if predictions.ndim == targets.ndim - 1:
        predictions = predictions[..., None]
    if targets.ndim == predictions.ndim - 1:
        targets = targets[..., None]
    if predictions.shape != targets.shape:
        raise ValueError(
            f"{fn}: predictions.shape={predictions.shape} and targets.shape="
            f"{targets.shape} must be equal (up to a trailing class axis of size 1)"
        )
    if not apply_softmax:
        _check_distributions(fn, predictions)
    predictions, targets = _utils.promote(predictions, targets)
    num_classes = predictions.shape[-1]
    probs = predictions
    if apply_softmax:
        if num_classes == 1:
            probs = jax.nn.sigmoid(predictions)
        else:
            probs = jax.nn.softmax(predictions, axis=-1)
    if axis is None:
        axes = tuple(range(1, probs.ndim - 1))
    else:
        axes = _utils.canonical_axes(fn, axis, probs.ndim)

    intersection = jnp.sum(probs * targets, axis=axes)
    pred_total = jnp.sum(probs, axis=axes)
    target_total = jnp.sum(targets, axis=axes)
    smooth = numerics.as_dtype(smooth, jnp.result_type(intersection))
    numerator = intersection + smooth
    denominator = (
        intersection
        + numerics.as_dtype(alpha, jnp.result_type(intersection)) * (pred_total - intersection)
        + numerics.as_dtype(beta, jnp.result_type(intersection)) * (target_total - intersection)
        + smooth
    )
    nonzero = denominator != 0
    ratio = numerator / jnp.where(nonzero, denominator, jnp.ones_like(denominator))
    loss = jnp.where(nonzero, 1 - ratio, jnp.zeros_like(ratio))

    if class_weights is not None:
        weights = jnp.asarray(class_weights)
        if weights.ndim != 1 or weights.shape[0] not in (1, loss.shape[-1]):
            raise ValueError(
                f"{fn}: class_weights must have shape ({loss.shape[-1]},), got {weights.shape}"
            )
        (loss, weights) = _utils.promote(loss, weights)
        loss = loss * jnp.broadcast_to(weights, loss.shape)
    if ignore_background and num_classes > 1:
        loss = loss[..., 1:]
    if reduction == "mean":
        return jnp.mean(loss, axis=-1)
    if reduction == "sum":
        return jnp.sum(loss, axis=-1)
    return loss


def multiclass_generalized_dice_loss(
    predictions: Any,
    targets: Any,
    *,
    smooth: Any = 1.0,
    apply_softmax: bool = True,
    ignore_background: bool = False,
) -> jax.Array:
    r"""Dice loss with each class weighted by its inverse squared frequency.

    With :math:`F_c = \sum_i t_{ic}` the count of class :math:`c` in the whole batch,

    .. math::
        w_c = \frac{C}{\sum_{c'} w'_{c'}}\, w'_c, \qquad
        w'_c = \frac{1}{F_c^2 + 10^{-7}}, \qquad
        \ell = \operatorname{mean}_{b, c}\ w_c\, \ell^{\mathrm{Dice}}_{bc}

    where :math:`\ell^{\mathrm{Dice}}_{bc}` is the per-class `dice_loss` of sample
    :math:`b` (``reduction="none"``), so that rare classes count as much as frequent
    ones. The weights are normalised to sum to the number of classes :math:`C` before
    the background is dropped (``ignore_background``). This is Optax's definition;
    Sudre et al. put the same weights inside one ratio,
    :math:`1 - 2\sum_c w_c I_c / \sum_c w_c (P_c + T_c)`, which is not the same
    number.

    Args:
      predictions: floating logits ``[batch, ..., num_classes]`` (probabilities with
        ``apply_softmax=False``).
      targets: one-hot (or soft) targets of the same shape.
      smooth: the smoothing :math:`s \ge 0` of each Dice ratio. Default 1.0.
      apply_softmax: map logits to probabilities first. Default True.
      ignore_background: drop class 0. Default False.

    Returns:
      A scalar: the mean weighted Dice loss over the batch and the classes.

    Raises:
      TypeError: if ``predictions`` is not floating.
      ValueError: if the shapes differ, or as `dice_loss`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> probs = jnp.array([[[0.9, 0.1], [0.2, 0.8]]])
      >>> targets = jnp.array([[[1.0, 0.0], [0.0, 1.0]]])
      >>> loss = losses.multiclass_generalized_dice_loss(probs, targets, apply_softmax=False)
      >>> round(float(loss), 4)
      0.075

    References:
      Sudre et al., "Generalised Dice overlap as a deep learning loss function for
      highly unbalanced segmentations", DLMIA 2017, https://arxiv.org/abs/1707.03237
    """
    fn = "multiclass_generalized_dice_loss"
    predictions = _utils.floating(fn, "predictions", predictions)
    targets = jnp.asarray(targets)
    if predictions.shape != targets.shape:
        raise ValueError(
            f"{fn}: predictions.shape={predictions.shape} and targets.shape="
            f"{targets.shape} must be equal"
        )
    counts = targets.astype(numerics.compute_dtype(predictions.dtype))
    frequencies = jnp.sum(counts, axis=tuple(range(targets.ndim - 1)))
    weights = 1 / (jnp.square(frequencies) + 1e-7)
    weights = weights / jnp.sum(weights) * weights.shape[0]
    per_class = dice_loss(
        predictions,
        targets,
        class_weights=weights,
        smooth=smooth,
        apply_softmax=apply_softmax,
        reduction="none",
        ignore_background=ignore_background,
    )
    return jnp.mean(per_class)


def binary_dice_loss(
    predictions: Any,
    targets: Any,
    *,
    smooth: Any = 1.0,
    apply_sigmoid: bool = True,
) -> jax.Array:
    r"""Dice loss of a binary segmentation (one foreground class).

    .. math::
        \ell = 1 - \frac{2 I + 2 s}{P + T + 2 s}, \qquad
        I = \sum_i p_i t_i,\ P = \sum_i p_i,\ T = \sum_i t_i

    with :math:`p = \sigma(x)` (``apply_sigmoid``) or the given probabilities, summed
    over all axes but the first (batch). Inputs without a trailing class axis of size 1
    get one, as in Optax. Unlike Optax, ``apply_sigmoid=False`` accepts any
    probabilities in [0, 1] (Optax demands that each one equals 1).

    Args:
      predictions: floating logits ``[batch, ...]`` or ``[batch, ..., 1]``
        (probabilities with ``apply_sigmoid=False``).
      targets: binary (or soft) targets of the same shape.
      smooth: the smoothing :math:`s \ge 0`. Default 1.0.
      apply_sigmoid: map logits to probabilities first. Default True.

    Returns:
      The loss of each sample, of shape ``[batch]``.

    Raises:
      TypeError: if ``predictions`` is not floating.
      ValueError: for mismatched shapes, a negative ``smooth``, or (eagerly, with
        ``apply_sigmoid=False``) probabilities outside [0, 1].

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> probs = jnp.array([[0.25, 0.75]])
      >>> losses.binary_dice_loss(probs, jnp.array([[0.0, 1.0]]), smooth=0.0,
      ...                         apply_sigmoid=False).tolist()
      [0.25]

    References:
      Milletari et al., "V-Net: Fully Convolutional Neural Networks for Volumetric
      Medical Image Segmentation", 3DV 2016, https://arxiv.org/abs/1606.04797
    """
    predictions = _utils.floating("binary_dice_loss", "predictions", predictions)
    targets = jnp.asarray(targets)
    if predictions.ndim == targets.ndim and predictions.shape[-1] != 1:
        predictions, targets = predictions[..., None], targets[..., None]
    return dice_loss(
        predictions, targets, smooth=smooth, apply_softmax=apply_sigmoid, reduction="mean"
    )
