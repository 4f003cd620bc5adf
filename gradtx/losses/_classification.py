"""Classification losses: cross-entropies, hinge, focal loss, and perplexity."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gradtx.core import numerics, validate
from gradtx.losses import _utils

__all__ = [
    "hinge_loss",
    "perplexity",
    "poly_loss_cross_entropy",
    "safe_softmax_cross_entropy",
    "sigmoid_binary_cross_entropy",
    "sigmoid_focal_loss",
    "softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels",
]


def _logits_and_labels(fn: str, logits: Any, labels: Any) -> tuple[jax.Array, jax.Array]:
    """Floating logits and labels cast to their dtype, with the shapes checked."""
    logits = _utils.floating(fn, "logits", logits)
    labels = jnp.asarray(labels).astype(logits.dtype)
    return _utils.broadcast(fn, logits=logits, labels=labels)


def sigmoid_binary_cross_entropy(logits: Any, labels: Any) -> jax.Array:
    r"""Elementwise binary cross-entropy of independent sigmoid predictions.

    .. math::
        \ell(x, y) = -y \log\sigma(x) - (1-y)\log(1-\sigma(x))
                   = -y \log\sigma(x) - (1-y)\log\sigma(-x)

    Both logarithms are evaluated as ``log_sigmoid``, so the loss and its gradient
    :math:`\sigma(x) - y` are exact for logits of any size (:math:`\pm 10^4` included).
    Each entry is its own binary problem (multi-label classification); ``labels`` may be
    hard (0 or 1) or soft (probabilities in [0, 1]).

    Args:
      logits: floating array of logits :math:`x` (log-odds of the positive class).
      labels: array of targets :math:`y` in [0, 1], cast to the dtype of ``logits``; its
        shape equals or broadcasts to that of ``logits`` (or the other way round).

    Returns:
      The cross-entropy of every entry, with the broadcast shape (that of ``logits``
      in the usual case) and the dtype of ``logits``.

    Raises:
      TypeError: if ``logits`` is not floating.
      ValueError: if the shapes would broadcast to a shape that neither input has.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> logits, labels = jnp.array([0.0, 2.0, -1e4]), jnp.array([1.0, 0.0, 0.0])
      >>> losses.sigmoid_binary_cross_entropy(logits, labels).round(4).tolist()
      [0.6931, 2.1269, 0.0]

    References:
      Goodfellow et al., "Deep Learning", MIT Press 2016, section 6.2.2.2,
      https://www.deeplearningbook.org/
    """
    logits, labels = _logits_and_labels("sigmoid_binary_cross_entropy", logits, labels)
    return -labels * jax.nn.log_sigmoid(logits) - (1 - labels) * jax.nn.log_sigmoid(-logits)


def softmax_cross_entropy(
    logits: Any,
    labels: Any,
    axis: int | tuple[int, ...] | None = -1,
    where: Any | None = None,
) -> jax.Array:
    r"""Cross-entropy between a softmax distribution and target distributions.

    .. math::
        \ell(x, y) = -\sum_k y_k \log \operatorname{softmax}(x)_k
                   = -\sum_k y_k \Bigl(x_k - \log \sum_j e^{x_j}\Bigr)

    The sum runs over ``axis`` and only over entries selected by ``where``. Terms with
    :math:`y_k = 0` count as 0 even when :math:`x_k = -\infty` (the convention
    :math:`0 \log 0 = 0`; plain Optax gives NaN there), so ``-inf`` logits can be used to
    mask classes. The log-normaliser is computed stably, so logits of :math:`\pm 10^4`
    give exact losses and finite gradients :math:`\operatorname{softmax}(x) - y` (for
    labels summing to 1). The gradient with respect to the labels is
    :math:`-\log\operatorname{softmax}(x)`, as in Optax, also where a label is 0 (soft
    targets learned jointly, distillation); only where :math:`x_k = -\infty` and
    :math:`y_k = 0` is it 0 instead of :math:`+\infty`.

    Args:
      logits: floating array of logits :math:`x`, e.g. ``[batch, num_classes]``.
      labels: target distributions :math:`y` (e.g. one-hot), non-negative and summing to
        1 over ``axis``, with the full size of ``logits`` along ``axis``; the other axes
        may broadcast (e.g. one ``[num_classes]`` target for a whole batch). Integer
        class ids go to `softmax_cross_entropy_with_integer_labels`: integer labels of
        lower rank than ``logits`` are rejected, since they would be spread silently
        over the classes.
      axis: the class axis, or a tuple of axes, or ``None`` for all. Default -1.
      where: optional boolean mask of the classes to include, of the shape of
        ``logits`` or of ``logits`` without ``axis`` (then it selects whole rows). A row
        with nothing selected has loss 0.

    Returns:
      The cross-entropy of each row: the shape of ``logits`` without ``axis``, in the
      common dtype of ``logits`` and ``labels``.

    Raises:
      TypeError: if ``logits`` is not floating, or ``axis`` is not int/tuple/None.
      ValueError: for shapes of ``labels`` or ``where`` that do not fit ``logits`` (a
        class axis of size 1, lower-rank integer labels), or an out-of-range ``axis``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> logits = jnp.array([[1.2, -0.8, -0.5], [0.9, -1.2, 1.1]])
      >>> labels = jnp.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
      >>> losses.softmax_cross_entropy(logits, labels).round(4).tolist()
      [0.2761, 2.9518]

    References:
      Bridle, "Probabilistic Interpretation of Feedforward Classification Network
      Outputs, with Relationships to Statistical Pattern Recognition", Neurocomputing
      1990, https://doi.org/10.1007/978-3-642-76153-9_28
    """
    fn = "softmax_cross_entropy"
    logits = _utils.floating(fn, "logits", logits)
    labels = jnp.asarray(labels)
    if labels.ndim < logits.ndim and not jnp.issubdtype(labels.dtype, jnp.floating):
        raise ValueError(
            f"{fn}: labels.shape={labels.shape} ({labels.dtype}) looks like class ids for "
            f"logits.shape={logits.shape}; use softmax_cross_entropy_with_integer_labels, "
            "or one-hot encode them"
        )
    logits, labels = _utils.promote(logits, labels)
    axes, (logits, labels) = _utils.along_axes(fn, axis, logits=logits, labels=labels)
    mask = _utils.where_mask(fn, where, logits.shape, axes)
    shifted, log_total = _utils.shifted_and_log_total(logits, axes, mask)
    log_probs = shifted - log_total
    # 0 * log 0 = 0: a -inf log-probability counts only where its label is nonzero.
    # Replacing it (instead of the product) keeps d loss / d labels = -log_softmax(x)
    # wherever that is finite, zero labels included.
    finite = (labels != 0) | jnp.isfinite(log_probs)
    terms = labels * jnp.where(finite, log_probs, jnp.zeros_like(log_probs))
    if mask is not None:
        terms = jnp.where(mask, terms, jnp.zeros_like(terms))
    return -jnp.sum(terms, axis=axes)


def safe_softmax_cross_entropy(logits: Any, labels: Any) -> jax.Array:
    r"""Softmax cross-entropy over the last axis with :math:`0 \log 0 = 0`.

    .. math::
        \ell(x, y) = -\sum_k y_k \log \operatorname{softmax}(x)_k, \qquad
        y_k \log \operatorname{softmax}(x)_k := 0 \text{ where } y_k = 0

    Optax keeps this name for the variant of its ``softmax_cross_entropy`` that is
    finite at :math:`x_k = -\infty, y_k = 0`. gradtx's `softmax_cross_entropy` already
    follows that convention, so this is the same computation with the class axis fixed
    to the last one: finite losses and gradients :math:`\operatorname{softmax}(x) - y`
    with respect to the logits, :math:`-\log\operatorname{softmax}(x)` with respect to
    the labels.

    Args:
      logits: floating array of logits ``[..., num_classes]``.
      labels: target distributions (non-negative, summing to 1) with the full size of
        ``logits`` along the last axis; leading axes may broadcast.

    Returns:
      The cross-entropy of each row, of shape ``logits.shape[:-1]``.

    Raises:
      TypeError: if ``logits`` is not floating.
      ValueError: for shapes of ``labels`` that do not fit ``logits``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> logits = jnp.array([[0.0, -jnp.inf, 1.0]])
      >>> losses.safe_softmax_cross_entropy(logits, jnp.array([[0.5, 0.0, 0.5]])).round(4)
      Array([0.8133], dtype=float32)

    References:
      Bridle, "Probabilistic Interpretation of Feedforward Classification Network
      Outputs, with Relationships to Statistical Pattern Recognition", Neurocomputing
      1990, https://doi.org/10.1007/978-3-642-76153-9_28
    """
    return softmax_cross_entropy(logits, labels, axis=-1)


def poly_loss_cross_entropy(
    logits: Any,
    labels: Any,
    *,
    epsilon: Any = 2.0,
    axis: int | tuple[int, ...] | None = -1,
    where: Any | None = None,
) -> jax.Array:
    r"""Poly-1 loss: the cross-entropy plus a linear term in :math:`1 - p_t`.

    .. math::
        \ell(x, y) = -\sum_k y_k \log p_k + \epsilon \sum_k y_k (1 - p_k),
        \qquad p = \operatorname{softmax}(x)

    the first-order PolyLoss of Leng et al. (for one-hot :math:`y`,
    :math:`\sum_k y_k(1 - p_k) = 1 - p_t`). :math:`\epsilon = 0` gives the plain
    `softmax_cross_entropy`; the paper recommends :math:`\epsilon \ge -1` (the loss
    stays non-negative) and uses 2 on ImageNet. The sums run over ``axis`` and the
    entries selected by ``where`` (the softmax too).

    Args:
      logits: floating array of logits, e.g. ``[batch, num_classes]``.
      labels: floating target distributions with the full size of ``logits`` along
        ``axis`` (other axes may broadcast).
      epsilon: the coefficient :math:`\epsilon` of the polynomial term, finite.
        Default 2.0.
      axis: the class axis, a tuple of axes, or ``None`` for all. Default -1.
      where: optional boolean mask of the classes to include (shape of ``logits``, or
        of ``logits`` without ``axis``).

    Returns:
      The loss of each row: the shape of ``logits`` without ``axis``.

    Raises:
      TypeError: if ``logits`` or ``labels`` is not floating.
      ValueError: for a non-finite ``epsilon``, shapes that do not fit, or an
        out-of-range ``axis``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> logits = jnp.array([[1.2, -0.8, -0.5], [0.9, -1.2, 1.1]])
      >>> labels = jnp.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
      >>> losses.poly_loss_cross_entropy(logits, labels).round(4).tolist()
      [0.7587, 4.8473]

    References:
      Leng et al., "PolyLoss: A Polynomial Expansion Perspective of Classification Loss
      Functions", ICLR 2022, https://arxiv.org/abs/2204.12511
    """
    fn = "poly_loss_cross_entropy"
    validate.finite(fn, epsilon=epsilon)
    logits = _utils.floating(fn, "logits", logits)
    labels = _utils.floating(fn, "labels", labels)
    cross_entropy = softmax_cross_entropy(logits, labels, axis=axis, where=where)
    logits, labels = _utils.promote(logits, labels)
    axes, (logits, labels) = _utils.along_axes(fn, axis, logits=logits, labels=labels)
    mask = _utils.where_mask(fn, where, logits.shape, axes)
    shifted, log_total = _utils.shifted_and_log_total(logits, axes, mask)
    probs = jnp.exp(shifted - log_total)
    one_minus_pt = jnp.sum(labels * (1 - probs), axis=axes, where=mask)
    return cross_entropy + numerics.as_dtype(epsilon, jnp.result_type(cross_entropy)) * one_minus_pt


def _flatten_class_axes(x: jax.Array, axes: tuple[int, ...]) -> jax.Array:
    """Move ``axes`` to the end and merge them into one class axis."""
    batch = tuple(a for a in range(x.ndim) if a not in axes)
    x = jnp.transpose(x, batch + axes)
    return x.reshape(x.shape[: len(batch)] + (-1,))


def softmax_cross_entropy_with_integer_labels(
    logits: Any,
    labels: Any,
    axis: int | tuple[int, ...] = -1,
    where: Any | None = None,
) -> jax.Array:
    r"""Softmax cross-entropy with the target class given as an integer.

    .. math::
        \ell(x, c) = -\log \operatorname{softmax}(x)_c = \log \sum_j e^{x_j} - x_c

    Only the label's logit is gathered (no one-hot array is built). It is evaluated as
    :math:`(\max_j x_j - x_c) + \log \sum_j e^{x_j - \max_j x_j}`, so logits of
    :math:`\pm 10^4` give losses accurate to float32 rounding of the *loss* (Optax
    subtracts two numbers of size :math:`10^4` and keeps only about 3 decimals) and
    finite gradients :math:`\operatorname{softmax}(x) - e_c`.

    Args:
      logits: floating array of logits, e.g. ``[batch, num_classes]``.
      labels: integer class indices with the shape of ``logits`` without ``axis`` (or a
        shape broadcasting to it). With a tuple ``axis`` a label is a flat (C-order)
        index into the ``logits`` slice spanned by those axes. As in NumPy indexing a
        negative label counts from the end; a label outside ``[-K, K)`` gives NaN.
      axis: the class axis or a tuple of class axes. Default -1.
      where: optional boolean mask of the classes entering the normaliser, of the shape
        of ``logits`` or of ``logits`` without ``axis`` (then it selects whole rows). A
        row with nothing selected has loss 0.

    Returns:
      The cross-entropy of each row: the shape of ``logits`` without ``axis`` and its
      dtype.

    Raises:
      TypeError: if ``logits`` is not floating, ``labels`` not integer, or ``axis`` not
        an int or tuple of ints.
      ValueError: for shapes of ``labels`` or ``where`` that do not fit ``logits``, or an
        out-of-range ``axis``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> logits = jnp.array([[1.2, -0.8, -0.5], [0.9, -1.2, 1.1]])
      >>> fn = losses.softmax_cross_entropy_with_integer_labels
      >>> fn(logits, jnp.array([0, 1])).round(4).tolist()
      [0.2761, 2.9518]

    References:
      Bridle, "Probabilistic Interpretation of Feedforward Classification Network
      Outputs, with Relationships to Statistical Pattern Recognition", Neurocomputing
      1990, https://doi.org/10.1007/978-3-642-76153-9_28
    """
    fn = "softmax_cross_entropy_with_integer_labels"
    logits = _utils.floating(fn, "logits", logits)
    labels = _utils.integer(fn, "labels", labels)
    if axis is None:
        raise TypeError(f"{fn}(axis=None): axis must be an int or a tuple of ints")
    axes = _utils.canonical_axes(fn, axis, logits.ndim)
    mask = _utils.where_mask(fn, where, logits.shape, axes)
    flat = _flatten_class_axes(logits, axes)
    batch_shape = flat.shape[:-1]
    (labels,) = _utils.broadcast_to_shape(fn, "labels", labels, batch_shape)
    if mask is not None:
        mask = _flatten_class_axes(mask, axes)
    # -log softmax = (max - x_label) + log sum exp(x - max): exact when the label holds
    # the maximum, even for logits of 1e4 (subtracting a formed logsumexp is not).
    shifted, log_total = _utils.shifted_and_log_total(flat, (-1,), mask)
    label_shifted = jnp.take_along_axis(shifted, labels[..., None], axis=-1)[..., 0]
    out = log_total[..., 0] - label_shifted
    if mask is not None:
        out = jnp.where(jnp.any(mask, axis=-1), out, jnp.zeros_like(out))
    return out


def perplexity(logits: Any, labels: Any, *, where: Any | None = None) -> jax.Array:
    r"""Perplexity of integer targets under softmax predictions.

    .. math::
        \operatorname{PPL} = \exp\Bigl(\frac{1}{|M|}\sum_{i \in M}
            -\log \operatorname{softmax}(x_i)_{c_i}\Bigr)

    the exponential of the mean `softmax_cross_entropy_with_integer_labels` over all
    positions :math:`M` (all of them, or those selected by ``where``). It is the
    effective number of equally likely choices the model hesitates between: 1 for a
    perfect model, ``num_classes`` for a uniform one. Everything is computed in float32
    or wider (also for bfloat16 logits). A large mean cross-entropy overflows to
    ``inf``, which is the true value in that precision. Optax has no such function.

    Args:
      logits: floating array ``[..., num_classes]`` (class axis last).
      labels: integer array ``[...]``, the target class at each position.
      where: optional boolean mask of the shape of ``labels`` selecting the positions
        that count (e.g. non-padding tokens). With nothing selected the result is 1.

    Returns:
      A scalar, in float32 or the wider dtype of ``logits``.

    Raises:
      TypeError: if ``logits`` is not floating or ``labels`` not integer.
      ValueError: if the shapes of ``labels`` or ``where`` do not fit ``logits``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> float(losses.perplexity(jnp.zeros((2, 5, 4)), jnp.zeros((2, 5), jnp.int32)))
      4.0

    References:
      Jelinek et al., "Perplexity - a measure of the difficulty of speech recognition
      tasks", Journal of the Acoustical Society of America 1977,
      https://doi.org/10.1121/1.2016299
    """
    fn = "perplexity"
    logits = _utils.floating(fn, "logits", logits)
    labels = _utils.integer(fn, "labels", labels)
    if logits.ndim < 1:
        raise ValueError(f"{fn}: logits must have a class axis, got shape {logits.shape}")
    (labels,) = _utils.broadcast_to_shape(fn, "labels", labels, logits.shape[:-1])
    logits = logits.astype(numerics.compute_dtype(logits.dtype))
    ce = softmax_cross_entropy_with_integer_labels(logits, labels)
    if where is None:
        return jnp.exp(jnp.mean(ce))
    (mask,) = _utils.broadcast_to_shape(fn, "where", jnp.asarray(where).astype(bool), ce.shape)
    total = jnp.sum(jnp.where(mask, ce, jnp.zeros_like(ce)))
    count = jnp.maximum(jnp.sum(mask), 1).astype(ce.dtype)
    return jnp.exp(total / count)


def hinge_loss(predictor_outputs: Any, targets: Any) -> jax.Array:
    r"""Elementwise hinge loss for binary classification with targets in {-1, +1}.

    .. math::
        \ell(f, y) = \max(0,\ 1 - y f)

    Zero once the decision value :math:`f` has the sign of :math:`y` with margin 1.

    Args:
      predictor_outputs: decision values :math:`f` (any real dtype).
      targets: targets :math:`y`, strictly -1 or +1; its shape equals or broadcasts to
        that of ``predictor_outputs`` (or the other way round).

    Returns:
      The hinge losses, with the broadcast shape and common dtype of the inputs.

    Raises:
      ValueError: if the shapes would broadcast to a shape that neither input has.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> losses.hinge_loss(jnp.array([2.0, 0.5, -1.0]), jnp.array([1.0, 1.0, 1.0])).tolist()
      [0.0, 0.5, 2.0]

    References:
      Cortes and Vapnik, "Support-Vector Networks", Machine Learning 1995,
      https://doi.org/10.1007/BF00994018
    """
    fn = "hinge_loss"
    outputs, targets = _utils.promote(jnp.asarray(predictor_outputs), jnp.asarray(targets))
    outputs, targets = _utils.broadcast(fn, predictor_outputs=outputs, targets=targets)
    return jnp.maximum(0, 1 - outputs * targets)


def _weighted_logaddexp(a: jax.Array, wa: jax.Array, b: jax.Array, wb: jax.Array):
    """``log(wa * exp(a) + wb * exp(b))`` for weights >= 0, finite in value and gradient.

    A term whose weight is 0 is left out entirely (never ``0 * inf``), and the shift is
    taken over the terms that remain, so the sum is at least the largest kept weight.
    """
    use_a, use_b = wa > 0, wb > 0
    both = use_a & use_b
    shift = jnp.where(both, jnp.maximum(a, b), jnp.where(use_a, a, b))
    zero = jnp.zeros_like(a)
    term_a = jnp.where(use_a, wa * jnp.exp(jnp.where(use_a, a - shift, zero)), zero)
    term_b = jnp.where(use_b, wb * jnp.exp(jnp.where(use_b, b - shift, zero)), zero)
    return shift + _utils.safe_log(term_a + term_b)


def sigmoid_focal_loss(
    logits: Any,
    labels: Any,
    *,
    alpha: Any | None = None,
    gamma: Any = 2.0,
) -> jax.Array:
    r"""Elementwise sigmoid focal loss: cross-entropy down-weighted on easy examples.

    .. math::
        \mathrm{FL}(x, y) = \alpha_y\,(1 - p_t)^{\gamma}\,\mathrm{BCE}(x, y), \qquad
        1 - p_t = (1-y)\,\sigma(x) + y\,\sigma(-x), \qquad
        \alpha_y = \alpha y + (1-\alpha)(1-y)

    with :math:`\mathrm{BCE}` the `sigmoid_binary_cross_entropy` (for hard labels
    :math:`p_t` is the probability given to the true class). The modulating factor is
    evaluated in log space, :math:`\exp(\gamma \log(1-p_t))` with
    :math:`\log(1-p_t)` a weighted log-sum-exp of :math:`\log\sigma(\pm x)`, so it is
    finite in value and gradient for logits of :math:`\pm 10^4` and any
    :math:`\gamma \ge 0` (also :math:`\gamma < 1`, where the plain power has an infinite
    slope at :math:`p_t = 1`). ``gamma=0`` and ``alpha=None`` give the plain BCE.

    Args:
      logits: floating array of logits :math:`x`.
      labels: targets :math:`y` in [0, 1] (hard or soft), cast to the dtype of
        ``logits``; its shape equals or broadcasts to that of ``logits``.
      alpha: weight :math:`\alpha` of the positive class, in [0, 1], or ``None``
        (default) for no class weighting.
      gamma: focusing exponent :math:`\gamma`, >= 0. Default 2.0.

    Returns:
      The focal loss of every entry, with the broadcast shape and the dtype of
      ``logits``.

    Raises:
      TypeError: if ``logits`` is not floating.
      ValueError: for ``alpha`` outside [0, 1], a negative ``gamma``, or shapes that
        would broadcast to a shape that neither input has.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> logits, labels = jnp.array([0.0, 3.0, -3.0]), jnp.array([1.0, 1.0, 1.0])
      >>> losses.sigmoid_focal_loss(logits, labels, gamma=2.0).round(4).tolist()
      [0.1733, 0.0001, 2.7663]

    References:
      Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017,
      https://arxiv.org/abs/1708.02002
    """
    fn = "sigmoid_focal_loss"
    validate.unit(fn, alpha=alpha)
    validate.non_negative(fn, gamma=gamma)
    logits, labels = _logits_and_labels(fn, logits, labels)
    log_p = jax.nn.log_sigmoid(logits)
    log_q = jax.nn.log_sigmoid(-logits)
    cross_entropy = -labels * log_p - (1 - labels) * log_q
    log_miss = _weighted_logaddexp(log_p, 1 - labels, log_q, labels)
    loss = jnp.exp(numerics.as_dtype(gamma, jnp.result_type(logits)) * log_miss) * cross_entropy
    if alpha is None:
        return loss
    alpha = numerics.as_dtype(alpha, jnp.result_type(logits))
    return (alpha * labels + (1 - alpha) * (1 - labels)) * loss
