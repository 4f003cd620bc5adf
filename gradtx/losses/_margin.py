"""Margin losses on raw scores: perceptron and multiclass (Crammer-Singer) hinge."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gradtx.losses import _utils

__all__ = ["multiclass_hinge_loss", "multiclass_perceptron_loss", "perceptron_loss"]


def perceptron_loss(predictor_outputs: Any, targets: Any) -> jax.Array:
    r"""Elementwise binary perceptron loss with targets in {-1, +1}.

    .. math::
        \ell(f, y) = \max(0,\ -y f)

    Zero once the decision value :math:`f` has the sign of :math:`y` (no margin, unlike
    `hinge_loss`); its subgradient :math:`-y` on mistakes is Rosenblatt's update.

    Args:
      predictor_outputs: decision values :math:`f` (any real dtype).
      targets: targets :math:`y`, strictly -1 or +1, of the same shape.

    Returns:
      The losses, with the inputs' shape and common dtype.

    Raises:
      ValueError: if the two shapes differ (as in Optax).

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> losses.perceptron_loss(jnp.array([2.0, -0.5, 0.0]), jnp.array([1.0, 1.0, -1.0])).tolist()
      [0.0, 0.5, 0.0]

    References:
      Rosenblatt, "The perceptron: a probabilistic model for information storage and
      organization in the brain", Psychological Review 1958,
      https://doi.org/10.1037/h0042519
    """
    outputs, targets = jnp.asarray(predictor_outputs), jnp.asarray(targets)
    if outputs.shape != targets.shape:
        raise ValueError(
            f"perceptron_loss: predictor_outputs.shape={outputs.shape} and "
            f"targets.shape={targets.shape} must be equal"
        )
    outputs, targets = _utils.promote(outputs, targets)
    return jnp.maximum(0, -outputs * targets)


def _scores_and_labels(fn: str, scores: Any, labels: Any) -> tuple[jax.Array, jax.Array]:
    """Floating scores ``[..., K]`` and integer labels broadcast to ``scores.shape[:-1]``."""
    scores = _utils.floating(fn, "scores", scores)
    labels = _utils.integer(fn, "labels", labels)
    if scores.ndim < 1:
        raise ValueError(f"{fn}: scores must have a class axis, got shape {scores.shape}")
    (labels,) = _utils.broadcast_to_shape(fn, "labels", labels, scores.shape[:-1])
    return scores, labels


def _label_score(scores: jax.Array, labels: jax.Array) -> jax.Array:
    """``scores[..., labels]``: the score of the true class of every row."""
    return jnp.take_along_axis(scores, labels[..., None], axis=-1)[..., 0]


def multiclass_hinge_loss(scores: Any, labels: Any) -> jax.Array:
    r"""Multiclass hinge loss of Crammer and Singer.

    .. math::
        \ell(s, y) = \max_k \bigl(s_k + 1 - [k = y]\bigr) - s_y

    Zero once the true class scores at least 1 above every other class.

    Args:
      scores: floating scores ``[..., num_classes]``.
      labels: integer true classes ``[...]`` in ``[0, num_classes)``.

    Returns:
      The loss of each row, of shape ``scores.shape[:-1]``.

    Raises:
      TypeError: if ``scores`` is not floating or ``labels`` not integer.
      ValueError: if ``labels`` does not fit ``scores.shape[:-1]``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> scores = jnp.array([[2.0, 1.5, 0.0], [0.0, 3.0, 1.0]])
      >>> losses.multiclass_hinge_loss(scores, jnp.array([0, 0])).tolist()
      [0.5, 4.0]

    References:
      Crammer and Singer, "On the Algorithmic Implementation of Multiclass Kernel-based
      Vector Machines", JMLR 2001, https://www.jmlr.org/papers/v2/crammer01a.html
    """
    scores, labels = _scores_and_labels("multiclass_hinge_loss", scores, labels)
    margin = 1 - jax.nn.one_hot(labels, scores.shape[-1], dtype=scores.dtype)
    return jnp.max(scores + margin, axis=-1) - _label_score(scores, labels)


def multiclass_perceptron_loss(scores: Any, labels: Any) -> jax.Array:
    r"""Multiclass perceptron loss.

    .. math::
        \ell(s, y) = \max_k s_k - s_y

    Zero exactly when the true class has the top score; its subgradient is the
    multiclass perceptron update.

    Args:
      scores: floating scores ``[..., num_classes]``.
      labels: integer true classes ``[...]`` in ``[0, num_classes)``.

    Returns:
      The loss of each row, of shape ``scores.shape[:-1]``.

    Raises:
      TypeError: if ``scores`` is not floating or ``labels`` not integer.
      ValueError: if ``labels`` does not fit ``scores.shape[:-1]``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> scores = jnp.array([[2.0, 1.5, 0.0], [0.0, 3.0, 1.0]])
      >>> losses.multiclass_perceptron_loss(scores, jnp.array([0, 0])).tolist()
      [0.0, 3.0]

    References:
      Collins, "Discriminative Training Methods for Hidden Markov Models: Theory and
      Experiments with Perceptron Algorithms", EMNLP 2002,
      https://aclanthology.org/W02-1001/
    """
    scores, labels = _scores_and_labels("multiclass_perceptron_loss", scores, labels)
    return jnp.max(scores, axis=-1) - _label_score(scores, labels)
