"""Divergences and similarity-based (metric learning) losses."""

from __future__ import annotations

import warnings
from typing import Any

import jax
import jax.numpy as jnp

from gradtx.core import numerics, validate
from gradtx.losses import _utils

__all__ = [
    "contrastive_loss",
    "convex_kl_divergence",
    "cosine_distance",
    "cosine_similarity",
    "generalized_kl_divergence",
    "kl_divergence",
    "kl_divergence_with_log_targets",
    "triplet_margin_loss",
]


def _floating(fn: str, **arrays: Any) -> tuple[jax.Array, ...]:
    """The arrays, each checked to be floating, cast to their common dtype."""
    return _utils.promote(*(_utils.floating(fn, n, a) for n, a in arrays.items()))


def kl_divergence(
    log_predictions: Any,
    targets: Any,
    axis: int | tuple[int, ...] | None = -1,
    where: Any | None = None,
) -> jax.Array:
    r"""Kullback-Leibler divergence of the predictions from the targets.

    .. math::
        D_{\mathrm{KL}}(t \,\|\, p) = \sum_k t_k \bigl(\log t_k - \log p_k\bigr)

    with the convention :math:`0 \log 0 = 0 \cdot \log p = 0`: an entry with
    :math:`t_k = 0` contributes exactly 0 and a zero gradient, even where
    :math:`\log p_k = -\infty` (plain Optax gives NaN there, and a NaN gradient with
    respect to ``targets``). The sum runs over ``axis`` and the entries selected by
    ``where``.

    Args:
      log_predictions: floating array of log-probabilities :math:`\log p` (log space
        avoids underflow).
      targets: floating array of probabilities :math:`t \ge 0`, with the full size of
        ``log_predictions`` along ``axis`` (other axes may broadcast, either way).
      axis: the axis or axes summed over, or ``None`` for all. Default -1.
      where: optional boolean mask of the entries to include (full shape, or the shape
        without ``axis``).

    Returns:
      The divergence per row: the input shape without ``axis``, in the common dtype.

    Raises:
      TypeError: if either input is not floating.
      ValueError: for shapes that do not fit, or an out-of-range ``axis``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> log_p = jnp.log(jnp.array([0.25, 0.25, 0.5]))
      >>> round(float(losses.kl_divergence(log_p, jnp.array([0.5, 0.5, 0.0]))), 4)
      0.6931

    References:
      Kullback and Leibler, "On Information and Sufficiency", Annals of Mathematical
      Statistics 1951, https://doi.org/10.1214/aoms/1177729694
    """
    fn = "kl_divergence"
    log_p, t = _floating(fn, log_predictions=log_predictions, targets=targets)
    axes, (log_p, t) = _utils.along_axes(fn, axis, log_predictions=log_p, targets=t)
    mask = _utils.where_mask(fn, where, log_p.shape, axes)
    nonzero = t != 0
    # Both logs are replaced where t = 0, so that neither 0 * inf nor its gradient
    # (inf * 0) ever appears in the branch that jnp.where discards.
    log_t = jnp.log(jnp.where(nonzero, t, jnp.ones_like(t)))
    log_p = jnp.where(nonzero, log_p, jnp.zeros_like(log_p))
    terms = jnp.where(nonzero, t * (log_t - log_p), jnp.zeros_like(t))
    return jnp.sum(terms, axis=axes, where=mask)


def kl_divergence_with_log_targets(
    log_predictions: Any,
    log_targets: Any,
    axis: int | tuple[int, ...] | None = -1,
    where: Any | None = None,
) -> jax.Array:
    r"""Kullback-Leibler divergence with both distributions given in log space.

    .. math::
        D_{\mathrm{KL}}(t \,\|\, p) = \sum_k e^{\log t_k}\bigl(\log t_k - \log p_k\bigr)

    As `kl_divergence`, but the targets arrive as log-probabilities (no underflow for
    tiny targets). A term with :math:`\log t_k = -\infty` contributes exactly 0 with a
    zero gradient (:math:`0 \log 0 = 0`; Optax gives NaN there).

    Args:
      log_predictions: floating log-probabilities :math:`\log p`.
      log_targets: floating log-probabilities :math:`\log t`, with the full size of
        ``log_predictions`` along ``axis`` (other axes may broadcast, either way).
      axis: the axis or axes summed over, or ``None`` for all. Default -1.
      where: optional boolean mask of the entries to include (full shape, or the shape
        without ``axis``).

    Returns:
      The divergence per row: the input shape without ``axis``, in the common dtype.

    Raises:
      TypeError: if either input is not floating.
      ValueError: for shapes that do not fit, or an out-of-range ``axis``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> log_p = jnp.log(jnp.array([0.25, 0.25, 0.5]))
      >>> log_t = jnp.log(jnp.array([0.5, 0.5, 0.0]))
      >>> round(float(losses.kl_divergence_with_log_targets(log_p, log_t)), 4)
      0.6931

    References:
      Kullback and Leibler, "On Information and Sufficiency", Annals of Mathematical
      Statistics 1951, https://doi.org/10.1214/aoms/1177729694
    """
    fn = "kl_divergence_with_log_targets"
    log_p, log_t = _floating(fn, log_predictions=log_predictions, log_targets=log_targets)
    axes, (log_p, log_t) = _utils.along_axes(fn, axis, log_predictions=log_p, log_targets=log_t)
    mask = _utils.where_mask(fn, where, log_p.shape, axes)
    nonzero = log_t > -jnp.inf
    log_t = jnp.where(nonzero, log_t, jnp.zeros_like(log_t))
    log_p = jnp.where(nonzero, log_p, jnp.zeros_like(log_p))
    terms = jnp.where(nonzero, jnp.exp(log_t) * (log_t - log_p), jnp.zeros_like(log_t))
    return jnp.sum(terms, axis=axes, where=mask)


def generalized_kl_divergence(
    log_predictions: Any,
    targets: Any,
    axis: int | tuple[int, ...] | None = -1,
    where: Any | None = None,
) -> jax.Array:
    r"""Generalized Kullback-Leibler divergence of unnormalised distributions.

    .. math::
        D(t \,\|\, p) = \sum_k \Bigl(t_k \log \frac{t_k}{p_k} - t_k + p_k\Bigr)

    the Bregman divergence of :math:`f(x) = x \log x - x`: non-negative, zero only at
    :math:`p = t`, and equal to `kl_divergence` when both sum to 1. Terms with
    :math:`t_k = 0` contribute :math:`p_k` (with :math:`0 \log 0 = 0`).

    Args:
      log_predictions: floating log-values :math:`\log p` (log space avoids
        underflow).
      targets: floating non-negative values :math:`t`, with the full size of
        ``log_predictions`` along ``axis`` (other axes may broadcast).
      axis: the axis or axes summed over, or ``None`` for all. Default -1.
      where: optional boolean mask of the entries to include (full shape, or the shape
        without ``axis``).

    Returns:
      The divergence per row: the input shape without ``axis``, in the common dtype.

    Raises:
      TypeError: if either input is not floating.
      ValueError: for shapes that do not fit, or an out-of-range ``axis``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> log_p = jnp.log(jnp.array([1.0, 2.0]))
      >>> round(float(losses.generalized_kl_divergence(log_p, jnp.array([2.0, 2.0]))), 4)
      0.3863

    References:
      Bregman, "The relaxation method of finding the common point of convex sets and its
      application to the solution of problems in convex programming", USSR
      Computational Mathematics and Mathematical Physics 1967,
      https://doi.org/10.1016/0041-5553(67)90040-7; Boyd and Vandenberghe, "Convex
      Optimization", Cambridge University Press 2004, p. 90,
      https://web.stanford.edu/~boyd/cvxbook/
    """
    fn = "generalized_kl_divergence"
    divergence = kl_divergence(log_predictions, targets, axis=axis, where=where)
    log_p, t = _floating(fn, log_predictions=log_predictions, targets=targets)
    axes, (log_p, t) = _utils.along_axes(fn, axis, log_predictions=log_p, targets=t)
    mask = _utils.where_mask(fn, where, log_p.shape, axes)
    return divergence + jnp.sum(jnp.exp(log_p) - t, axis=axes, where=mask)


def convex_kl_divergence(
    log_predictions: Any,
    targets: Any,
    axis: int | tuple[int, ...] | None = -1,
    where: Any | None = None,
) -> jax.Array:
    r"""Deprecated name of `generalized_kl_divergence` (as in Optax, it warns).

    .. math::
        D(t \,\|\, p) = \sum_k \Bigl(t_k \log \frac{t_k}{p_k} - t_k + p_k\Bigr)

    Args:
      log_predictions: floating log-values :math:`\log p`.
      targets: floating non-negative values :math:`t`.
      axis: the axis or axes summed over, or ``None`` for all. Default -1.
      where: optional boolean mask of the entries to include.

    Returns:
      ``generalized_kl_divergence(log_predictions, targets, axis, where)``.

    Raises:
      TypeError: as `generalized_kl_divergence`.
      ValueError: as `generalized_kl_divergence`.

    Examples:
      >>> import warnings
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> with warnings.catch_warnings():
      ...     warnings.simplefilter("ignore", DeprecationWarning)
      ...     value = losses.convex_kl_divergence(jnp.zeros(2), jnp.array([2.0, 2.0]))
      >>> round(float(value), 4)
      0.7726

    References:
      Bregman, "The relaxation method of finding the common point of convex sets and its
      application to the solution of problems in convex programming", USSR
      Computational Mathematics and Mathematical Physics 1967,
      https://doi.org/10.1016/0041-5553(67)90040-7
    """
    warnings.warn(
        "The function convex_kl_divergence is deprecated. Please use "
        "generalized_kl_divergence instead.",
        DeprecationWarning,
        stacklevel=2,
    )
    return generalized_kl_divergence(log_predictions, targets, axis=axis, where=where)


def _unit(x: jax.Array, axes: tuple[int, ...], mask: Any, epsilon: Any) -> jax.Array:
    """``x / sqrt(max(|x|^2, epsilon))``, and 0 (with a finite gradient) for ``x = 0``."""
    norm_sq = jnp.sum(jnp.square(x), axis=axes, where=mask, keepdims=True)
    norm_sq = jnp.maximum(norm_sq, epsilon)
    positive = norm_sq > 0
    norm = jnp.sqrt(jnp.where(positive, norm_sq, jnp.ones_like(norm_sq)))
    return jnp.where(positive, x / norm, jnp.zeros_like(x))


def cosine_similarity(
    predictions: Any,
    targets: Any,
    *,
    epsilon: Any = 0.0,
    axis: int | tuple[int, ...] | None = -1,
    where: Any | None = None,
) -> jax.Array:
    r"""Cosine of the angle between predictions and targets.

    .. math::
        \cos(a, b) = \frac{a}{\max(\|a\|^2, \epsilon)^{1/2}} \cdot
                     \frac{b}{\max(\|b\|^2, \epsilon)^{1/2}}

    The norms and the dot product run over ``axis`` and the entries selected by
    ``where``. As in Optax, ``epsilon`` bounds the *squared* norm from below. An all-zero
    vector with ``epsilon = 0`` has similarity 0 with anything (and a zero gradient);
    Optax gives NaN there. Values stay exact up to :math:`|x| \approx 10^{19}` in float32
    (where squares overflow).

    Args:
      predictions: floating array ``[..., dim]``.
      targets: floating array with the full size of ``predictions`` along ``axis``
        (other axes may broadcast, either way).
      epsilon: lower bound on the squared norms, >= 0. Default 0.
      axis: the axis or axes of the vectors, or ``None`` for all. Default -1.
      where: optional boolean mask of the entries to include (full shape, or the shape
        without ``axis``).

    Returns:
      The similarities in [-1, 1]: the input shape without ``axis``.

    Raises:
      TypeError: if either input is not floating.
      ValueError: for a negative ``epsilon``, shapes that do not fit, or an out-of-range
        ``axis``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> a = jnp.array([[1.0, 0.0], [1.0, 1.0]])
      >>> b = jnp.array([[0.0, 2.0], [3.0, 3.0]])
      >>> losses.cosine_similarity(a, b).round(4).tolist()
      [0.0, 1.0]

    References:
      Salton and McGill, "Introduction to Modern Information Retrieval", McGraw-Hill
      1983; https://en.wikipedia.org/wiki/Cosine_similarity
    """
    fn = "cosine_similarity"
    validate.non_negative(fn, epsilon=epsilon)
    a, b = _floating(fn, predictions=predictions, targets=targets)
    axes, (a, b) = _utils.along_axes(fn, axis, predictions=a, targets=b)
    mask = _utils.where_mask(fn, where, a.shape, axes)
    epsilon = numerics.as_dtype(epsilon, jnp.result_type(a))
    product = _unit(a, axes, mask, epsilon) * _unit(b, axes, mask, epsilon)
    return jnp.sum(product, axis=axes, where=mask)


def cosine_distance(
    predictions: Any,
    targets: Any,
    *,
    epsilon: Any = 0.0,
    axis: int | tuple[int, ...] | None = -1,
    where: Any | None = None,
) -> jax.Array:
    r"""One minus the `cosine_similarity`.

    .. math::
        d(a, b) = 1 - \cos(a, b) \in [0, 2]

    Args:
      predictions: floating array ``[..., dim]``.
      targets: floating array with the full size of ``predictions`` along ``axis``.
      epsilon: lower bound on the squared norms, >= 0. Default 0.
      axis: the axis or axes of the vectors, or ``None`` for all. Default -1.
      where: optional boolean mask of the entries to include.

    Returns:
      The distances: the input shape without ``axis``.

    Raises:
      TypeError: if either input is not floating.
      ValueError: as for `cosine_similarity`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> a = jnp.array([[1.0, 0.0], [1.0, 1.0]])
      >>> losses.cosine_distance(a, -a).round(4).tolist()
      [2.0, 2.0]

    References:
      https://en.wikipedia.org/wiki/Cosine_similarity#Cosine_distance
    """
    similarity = cosine_similarity(predictions, targets, epsilon=epsilon, axis=axis, where=where)
    return 1 - similarity


def _p_distance(diff: jax.Array, axes: tuple[int, ...], degree: Any, eps: Any) -> jax.Array:
    """``(sum |diff|^degree + eps)^(1/degree)`` over ``axes``."""
    if isinstance(degree, (int, float)) and degree == 2:
        powers = jnp.square(diff)
    else:
        powers = jnp.abs(diff) ** numerics.as_dtype(degree, jnp.result_type(diff))
    return (jnp.sum(powers, axis=axes) + eps) ** (
        1 / numerics.as_dtype(degree, jnp.result_type(diff))
    )


def triplet_margin_loss(
    anchors: Any,
    positives: Any,
    negatives: Any,
    axis: int | tuple[int, ...] = -1,
    norm_degree: Any = 2,
    margin: Any = 1.0,
    eps: Any = 1e-6,
) -> jax.Array:
    r"""Triplet margin loss: the positive must be closer to the anchor by a margin.

    .. math::
        \ell(a, p, n) = \max\bigl(0,\ d(a, p) - d(a, n) + m\bigr), \qquad
        d(x, y) = \Bigl(\sum_i |x_i - y_i|^{q} + \varepsilon\Bigr)^{1/q}

    with :math:`q` = ``norm_degree``, :math:`m` = ``margin``, :math:`\varepsilon` =
    ``eps`` (which keeps the gradient of :math:`d` finite when two embeddings coincide).
    For even :math:`q` (the default 2) this equals Optax. Optax omits the absolute value,
    so its "distance" is not a norm for odd :math:`q` (negative differences cancel
    positive ones); here it always is.

    Args:
      anchors: floating array ``[..., dim]``.
      positives: floating array with the full size of ``anchors`` along ``axis``
        (other axes may broadcast).
      negatives: likewise.
      axis: the embedding axis (or axes). Default -1.
      norm_degree: the norm's degree :math:`q > 0`; gradients are finite for
        :math:`q \ge 1`. Default 2.
      margin: the margin :math:`m`, finite. Default 1.0.
      eps: :math:`\varepsilon \ge 0` added inside the root. Default 1e-6.

    Returns:
      The loss of every triplet: the input shape without ``axis``.

    Raises:
      TypeError: if an input is not floating.
      ValueError: for ``norm_degree <= 0``, a negative ``eps``, a non-finite ``margin``,
        shapes that do not fit, or an out-of-range ``axis``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> anchors = jnp.array([[0.0, 0.0], [1.0, 1.0]])
      >>> positives = jnp.array([[0.1, 0.1], [1.1, 1.1]])
      >>> negatives = jnp.array([[1.0, 0.0], [0.0, 1.0]])
      >>> losses.triplet_margin_loss(anchors, positives, negatives).round(4).tolist()
      [0.1414, 0.1414]

    References:
      Balntas et al., "Learning local feature descriptors with triplets and shallow
      convolutional neural networks", BMVC 2016, https://doi.org/10.5244/C.30.119;
      Schroff et al., "FaceNet: A Unified Embedding for Face Recognition and
      Clustering", CVPR 2015, https://arxiv.org/abs/1503.03832
    """
    fn = "triplet_margin_loss"
    validate.positive(fn, norm_degree=norm_degree)
    validate.non_negative(fn, eps=eps)
    validate.finite(fn, margin=margin)
    a, p, n = _floating(fn, anchors=anchors, positives=positives, negatives=negatives)
    axes, (a, p, n) = _utils.along_axes(fn, axis, anchors=a, positives=p, negatives=n)
    eps = numerics.as_dtype(eps, jnp.result_type(a))
    positive = _p_distance(a - p, axes, norm_degree, eps)
    negative = _p_distance(a - n, axes, norm_degree, eps)
    return jnp.maximum(positive - negative + numerics.as_dtype(margin, jnp.result_type(a)), 0)


def contrastive_loss(
    embeddings_a: Any,
    embeddings_b: Any,
    labels: Any,
    *,
    margin: Any = 1.0,
    axis: int | tuple[int, ...] = -1,
) -> jax.Array:
    r"""Contrastive (pairwise margin) loss of Hadsell, Chopra and LeCun.

    .. math::
        \ell(a, b, y) = y\,\tfrac12 D^2 + (1 - y)\,\tfrac12 \max(0,\ m - D)^2,
        \qquad D = \|a - b\|_2

    Similar pairs (:math:`y = 1`) are pulled together; dissimilar pairs
    (:math:`y = 0`) are pushed apart until they are at least :math:`m` apart. The paper
    writes :math:`Y = 0` for similar pairs; here ``labels`` is 1 for similar pairs (the
    convention of most libraries), i.e. :math:`Y = 1 - y`. The factors
    :math:`\tfrac12` are the paper's. The similar term uses :math:`D^2` directly, and
    :math:`D` is taken with a zero gradient at :math:`a = b`, so gradients are finite
    everywhere. Optax has no such function.

    Args:
      embeddings_a: floating array ``[..., dim]``.
      embeddings_b: floating array with the full size of ``embeddings_a`` along
        ``axis`` (other axes may broadcast).
      labels: 1 (similar) or 0 (dissimilar) per pair, bool or numeric, or a soft value in
        [0, 1]; shape: the embeddings' shape without ``axis`` (or broadcasting to it).
      margin: the margin :math:`m \ge 0`. Default 1.0.
      axis: the embedding axis (or axes). Default -1.

    Returns:
      The loss of every pair: the embeddings' shape without ``axis``.

    Raises:
      TypeError: if an embedding array is not floating.
      ValueError: for a negative ``margin``, shapes that do not fit, or an out-of-range
        ``axis``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> a = jnp.array([[0.0, 0.0], [0.0, 0.0]])
      >>> b = jnp.array([[0.6, 0.8], [0.3, 0.4]])
      >>> losses.contrastive_loss(a, b, jnp.array([1, 0]), margin=1.0).round(4).tolist()
      [0.5, 0.125]

    References:
      Hadsell, Chopra and LeCun, "Dimensionality Reduction by Learning an Invariant
      Mapping", CVPR 2006, https://doi.org/10.1109/CVPR.2006.100
    """
    fn = "contrastive_loss"
    validate.non_negative(fn, margin=margin)
    a, b = _floating(fn, embeddings_a=embeddings_a, embeddings_b=embeddings_b)
    axes, (a, b) = _utils.along_axes(fn, axis, embeddings_a=a, embeddings_b=b)
    reduced = tuple(s for i, s in enumerate(a.shape) if i not in axes)
    (labels,) = _utils.broadcast_to_shape(fn, "labels", jnp.asarray(labels), reduced)
    labels = labels.astype(a.dtype)
    sq_dist = jnp.sum(jnp.square(a - b), axis=axes)
    positive = sq_dist > 0
    dist = jnp.where(positive, jnp.sqrt(jnp.where(positive, sq_dist, jnp.ones_like(sq_dist))), 0)
    gap = jnp.maximum(numerics.as_dtype(margin, jnp.result_type(a)) - dist, 0)
    return 0.5 * (labels * sq_dist + (1 - labels) * jnp.square(gap))
