"""Listwise ranking losses over the last axis (the items of a list)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from gradtx.losses import _utils

__all__ = ["ranking_softmax_loss"]


def _safe_reduce(loss: jax.Array, where: jax.Array | None, reduce_fn: Callable[..., Any] | None):
    """``reduce_fn(loss, where=where)``; a mean over nothing is 0; unreduced: masked to 0."""
    if reduce_fn is None:
        if where is None:
            return loss
        return jnp.where(where, loss, jnp.zeros_like(loss))
    out = reduce_fn(loss, where=where)
    if reduce_fn is jnp.mean and where is not None:
        # An empty selection is a mean of nothing: 0, unless a NaN came from the input.
        empty = ~jnp.any(where)
        out = jnp.where(empty & ~jnp.any(jnp.isnan(loss)), jnp.zeros_like(out), out)
    return out


def ranking_softmax_loss(
    logits: Any,
    labels: Any,
    *,
    where: Any | None = None,
    weights: Any | None = None,
    reduce_fn: Callable[..., Any] | None = jnp.mean,
) -> jax.Array:
    r"""Listwise softmax (ListNet top-one) ranking loss.

    .. math::
        \ell(s, y) = -\sum_i w_i y_i \log \frac{e^{s_i}}{\sum_{j \in M} e^{s_j}}

    over the items :math:`i` of each list (the last axis) that ``where`` selects
    (:math:`M`); the labels are relevance grades, used as given (not normalised), and
    :math:`w` are optional per-item weights. A list with no valid item is left out of
    the reduction (a mean over no list at all is 0).

    Args:
      logits: floating scores ``[..., list_size]``.
      labels: relevance labels of the same shape (cast to the dtype of ``logits``).
      where: optional boolean mask ``[..., list_size]`` of the valid items.
      weights: optional per-item weights ``[..., list_size]``.
      reduce_fn: ``jnp.mean`` (default), ``jnp.sum``, or ``None`` for one loss per list
        (masked lists give 0).

    Returns:
      A scalar, or with ``reduce_fn=None`` the loss of each list, shape
      ``logits.shape[:-1]``.

    Raises:
      TypeError: if ``logits`` is not floating.
      ValueError: if the shapes would broadcast to a shape that none of them has.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> scores, labels = jnp.array([2.0, 1.0, 3.0]), jnp.array([1.0, 0.0, 0.0])
      >>> round(float(losses.ranking_softmax_loss(scores, labels)), 3)
      1.408

    References:
      Cao et al., "Learning to Rank: From Pairwise Approach to Listwise Approach", ICML
      2007, https://doi.org/10.1145/1273496.1273513; Bruch et al., "An Analysis of the
      Softmax Cross Entropy Loss for Learning-to-Rank with Binary Relevance", ICTIR 2019,
      https://doi.org/10.1145/3341981.3344221
    """
    fn = "ranking_softmax_loss"
    logits = _utils.floating(fn, "logits", logits)
    labels = jnp.asarray(labels).astype(logits.dtype)
    logits, labels = _utils.broadcast(fn, logits=logits, labels=labels)
    mask = None if where is None else _utils.where_mask(fn, where, logits.shape, (logits.ndim - 1,))
    if weights is not None:
        (weights,) = _utils.broadcast_to_shape(fn, "weights", jnp.asarray(weights), logits.shape)
        labels = labels * weights.astype(logits.dtype)
    shifted, log_total = _utils.shifted_and_log_total(logits, (-1,), mask)
    log_probs = shifted - log_total
    # As in softmax_cross_entropy: 0 * log 0 = 0, and d loss / d labels = -log_softmax.
    finite = (labels != 0) | jnp.isfinite(log_probs)
    terms = labels * jnp.where(finite, log_probs, jnp.zeros_like(log_probs))
    if mask is not None:
        terms = jnp.where(mask, terms, jnp.zeros_like(terms))
    loss = -jnp.sum(terms, axis=-1)
    valid = None if mask is None else jnp.any(mask, axis=-1)
    return _safe_reduce(loss, valid, reduce_fn)
