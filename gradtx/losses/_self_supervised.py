"""Self-supervised (contrastive) losses over a batch of embeddings."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gradtx.core import numerics, validate
from gradtx.losses import _utils
from gradtx.losses._similarity import cosine_similarity

__all__ = ["ntxent"]


def ntxent(embeddings: Any, labels: Any, temperature: Any = 0.07) -> jax.Array:
    r"""Normalized temperature-scaled cross-entropy (NT-Xent) of SimCLR.

    With :math:`c_{ij}` the cosine similarity of embeddings :math:`i, j` over the
    temperature :math:`\tau`, :math:`P` the ordered pairs :math:`i \ne j` with equal
    labels (positives) and :math:`N_i` the samples whose label differs from :math:`i`'s:

    .. math::
        \ell = \frac{1}{|P|} \sum_{(i, j) \in P}
        -\log \frac{e^{c_{ij}}}{e^{c_{ij}} + \sum_{k \in N_i} e^{c_{ik}}}

    Each positive pair competes with the negatives only (not with the other positives),
    as in Optax and the pytorch-metric-learning ``NTXentLoss``; for two views per label
    this is the SimCLR loss. The cosine uses ``epsilon`` = the dtype's machine epsilon
    on the squared norms, and the log-sum-exp is shifted by the row maximum.

    Args:
      embeddings: floating array ``[batch, dim]``.
      labels: ``[batch]`` group ids; samples with equal ids are positive pairs.
      temperature: the temperature :math:`\tau > 0`. Default 0.07.

    Returns:
      A scalar: the mean over all positive pairs (NaN when there is none, as in Optax).

    Raises:
      TypeError: if ``embeddings`` is not floating.
      ValueError: for a non-positive ``temperature``, or when ``labels`` and
        ``embeddings`` have different leading sizes.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> emb = jnp.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
      >>> round(float(losses.ntxent(emb, jnp.array([0, 0, 1, 1]), temperature=1.0)), 4)
      0.6034

    References:
      Chen et al., "A Simple Framework for Contrastive Learning of Visual
      Representations", ICML 2020, https://arxiv.org/abs/2002.05709
    """
    fn = "ntxent"
    validate.positive(fn, temperature=temperature)
    embeddings = _utils.floating(fn, "embeddings", embeddings)
    labels = jnp.asarray(labels)
    if labels.shape[:1] != embeddings.shape[:1]:
        raise ValueError(
            "Labels and embeddings must have the same leading dimension, found "
            f"{labels.shape[:1]} for labels and {embeddings.shape[:1]} for embeddings."
        )
    eps = float(jnp.finfo(embeddings.dtype).eps)
    n = embeddings.shape[0]
    pairs = (n, n) + embeddings.shape[1:]
    rows = jnp.broadcast_to(embeddings[None, :, :], pairs)
    sims = cosine_similarity(rows, jnp.broadcast_to(embeddings[:, None, :], pairs), epsilon=eps)
    sims = sims / numerics.as_dtype(temperature, jnp.result_type(sims))
    same = labels[:, None] == labels[None, :]
    positive = same & ~jnp.eye(same.shape[0], dtype=bool)
    negative = ~same
    peak = jax.lax.stop_gradient(jnp.max(jnp.where(same & ~positive, -jnp.inf, sims), axis=1))
    peak = jnp.where(jnp.isfinite(peak), peak, jnp.zeros_like(peak))[:, None]
    shifted = sims - peak
    zero = jnp.zeros_like(shifted)
    negatives = jnp.sum(jnp.where(negative, jnp.exp(jnp.where(negative, shifted, zero)), zero), 1)
    some = negatives > 0  # the row maximum may be a positive, all negatives underflowing
    log_negatives = jnp.where(some, jnp.log(jnp.where(some, negatives, 1)), -jnp.inf)
    shifted = jnp.where(positive, shifted, zero)
    terms = jnp.where(positive, jnp.logaddexp(shifted, log_negatives[:, None]) - shifted, zero)
    return jnp.sum(terms) / jnp.sum(positive).astype(terms.dtype)
