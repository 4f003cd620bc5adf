r"""Fenchel-Young losses: the generic constructor and the sparsemax losses.

For a regulariser :math:`\Omega`, the Fenchel-Young loss is
:math:`L_\Omega(\theta; y) = \Omega^*(\theta) + \Omega(y) - \langle \theta, y \rangle
\ge 0`, with gradient :math:`\nabla \Omega^*(\theta) - y` (Blondel et al. 2020). The
negative Shannon entropy gives the softmax cross-entropy, the Gini negentropy
:math:`\Omega(p) = \tfrac12 (\|p\|^2 - 1)` gives the sparsemax loss.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from gradtx.losses import _utils
from gradtx.projections import projection_simplex

__all__ = ["make_fenchel_young_loss", "multiclass_sparsemax_loss", "sparsemax_loss"]


def make_fenchel_young_loss(max_fun: Callable[..., Any]) -> Callable[..., jax.Array]:
    r"""The Fenchel-Young loss built on a (regularised) max function.

    .. math::
        L(\theta; y) = \operatorname{max\_fun}(\theta) - \langle \theta, y \rangle

    over the last axis, where ``max_fun`` is the conjugate :math:`\Omega^*` of a
    regulariser (``jax.scipy.special.logsumexp`` for the softmax cross-entropy). As in
    Optax the constant :math:`\Omega(y)` of the paper's definition is left out: it does
    not depend on :math:`\theta` (so gradients are the paper's,
    :math:`\nabla\Omega^*(\theta) - y`), and it is 0 for one-hot :math:`y` with the usual
    regularisers, where the values agree too.

    Args:
      max_fun: a function mapping a vector of scores ``[n]`` (and any extra arguments)
        to a scalar.

    Returns:
      ``fenchel_young_loss(scores, targets, *args, **kwargs)``: scores ``[..., n]`` and
      targets broadcasting to them; ``max_fun`` is applied to each row (with ``args``
      and ``kwargs`` passed unchanged), and the result has shape ``scores.shape[:-1]``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jax.scipy.special import logsumexp
      >>> from gradtx import losses
      >>> fy_loss = losses.make_fenchel_young_loss(max_fun=logsumexp)
      >>> scores = jnp.array([[1.2, -0.8, -0.5], [0.9, -1.2, 1.1]])
      >>> fy_loss(scores, jnp.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])).round(4).tolist()
      [0.2761, 2.9518]

    References:
      Blondel et al., "Learning with Fenchel-Young Losses", JMLR 2020,
      https://arxiv.org/abs/1901.02324
    """

    def fenchel_young_loss(scores: Any, targets: Any, *args: Any, **kwargs: Any) -> jax.Array:
        scores, targets = _utils.promote(jnp.asarray(scores), jnp.asarray(targets))
        scores, targets = _utils.broadcast("fenchel_young_loss", scores=scores, targets=targets)
        rows = scores.reshape((-1, scores.shape[-1]))
        maxima = jax.vmap(lambda row: max_fun(row, *args, **kwargs))(rows)
        maxima = jnp.asarray(maxima).reshape(scores.shape[:-1])
        return maxima - jnp.sum(targets * scores, axis=-1).astype(maxima.dtype)

    return fenchel_young_loss


def sparsemax_loss(logits: Any, labels: Any) -> jax.Array:
    r"""Binary sparsemax loss: the Fenchel-Young loss of the sparse sigmoid.

    .. math::
        \ell(x, y) = \operatorname{sparseplus}(\pm x), \qquad
        \operatorname{sparseplus}(z) = \begin{cases} 0 & z \le -1 \\
        (z + 1)^2 / 4 & -1 < z < 1 \\ z & z \ge 1 \end{cases}

    with :math:`-x` for the label 1 and :math:`x` for the label 0. It is zero exactly
    when the sparse sigmoid :math:`\operatorname{clip}((x + 1)/2, 0, 1)` equals the
    label, and its derivative is sparse sigmoid minus label (Blondel et al. 2020,
    section 4.4).

    Args:
      logits: floating scores :math:`x`.
      labels: labels 0 or 1 (integer, boolean or floating) of a shape broadcasting
        with ``logits``.

    Returns:
      The losses, with the broadcast shape and the dtype of ``logits``.

    Raises:
      TypeError: if ``logits`` is not floating.
      ValueError: if the shapes would broadcast to a shape that neither input has.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> losses.sparsemax_loss(jnp.array([2.0, 0.0, -3.0]), jnp.array([1, 1, 1])).tolist()
      [0.0, 0.25, 3.0]

    References:
      Blondel et al., "Learning with Fenchel-Young Losses", JMLR 2020, section 4.4,
      https://arxiv.org/abs/1901.02324
    """
    fn = "sparsemax_loss"
    logits = _utils.floating(fn, "logits", logits)
    logits, labels = _utils.broadcast(fn, logits=logits, labels=jnp.asarray(labels))
    z = jnp.where(labels != 0, -logits, logits)
    quadratic = jnp.square(z + 1) / 4
    return jnp.where(z <= -1, jnp.zeros_like(z), jnp.where(z >= 1, z, quadratic))


def multiclass_sparsemax_loss(scores: Any, labels: Any) -> jax.Array:
    r"""Multiclass sparsemax loss of Martins and Astudillo.

    .. math::
        \ell(z, y) = \langle p, z - z_y \mathbf 1 \rangle + \tfrac12 (1 - \|p\|^2),
        \qquad p = \operatorname{sparsemax}(z) = \Pi_\Delta(z)

    the Fenchel-Young loss of the Gini negentropy; equivalently
    :math:`-z_y + \tfrac12 \sum_{j \in S(z)} (z_j^2 - \tau^2) + \tfrac12` in the
    paper's form. It is zero exactly when :math:`\operatorname{sparsemax}(z) = e_y`,
    and its gradient is :math:`p - e_y`. :math:`p` is the exact Euclidean projection of
    each row onto the probability simplex (`gradtx.projections.projection_simplex`).

    Args:
      scores: floating scores ``[..., num_classes]`` (Optax: ``[batch, num_classes]``
        only).
      labels: integer true classes ``[...]`` in ``[0, num_classes)``.

    Returns:
      The loss of each row, of shape ``scores.shape[:-1]``.

    Raises:
      TypeError: if ``scores`` is not floating or ``labels`` not integer.
      ValueError: if ``labels`` does not fit ``scores.shape[:-1]``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> scores = jnp.array([[1.0, 2.0, 0.5], [3.0, 0.0, 0.0]])
      >>> losses.multiclass_sparsemax_loss(scores, jnp.array([0, 0])).tolist()
      [1.0, 0.0]

    References:
      Martins and Astudillo, "From Softmax to Sparsemax: A Sparse Model of Attention
      and Multi-Label Classification", ICML 2016, https://arxiv.org/abs/1602.02068
    """
    fn = "multiclass_sparsemax_loss"
    scores = _utils.floating(fn, "scores", scores)
    labels = _utils.integer(fn, "labels", labels)
    if scores.ndim < 1:
        raise ValueError(f"{fn}: scores must have a class axis, got shape {scores.shape}")
    (labels,) = _utils.broadcast_to_shape(fn, "labels", labels, scores.shape[:-1])
    rows = scores.reshape((-1, scores.shape[-1]))
    probs = jax.vmap(projection_simplex)(rows).reshape(scores.shape)
    label_score = jnp.take_along_axis(scores, labels[..., None], axis=-1)
    # Only the support enters the inner product (exact zeros elsewhere).
    gaps = jnp.where(probs > 0, scores - label_score, jnp.zeros_like(scores))
    return jnp.sum(probs * gaps, axis=-1) + (1 - jnp.sum(jnp.square(probs), axis=-1)) / 2
