"""Sequence losses: connectionist temporal classification (CTC)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gradtx.core import numerics, validate
from gradtx.losses import _utils

__all__ = ["ctc_loss", "ctc_loss_with_forward_probs"]


def _logsumexp3(a: jax.Array, b: jax.Array, c: jax.Array) -> jax.Array:
    """``log(e^a + e^b + e^c)`` for finite inputs (finite value and gradient)."""
    peak = jax.lax.stop_gradient(jnp.maximum(jnp.maximum(a, b), c))
    return peak + jnp.log(jnp.exp(a - peak) + jnp.exp(b - peak) + jnp.exp(c - peak))


def _check_inputs(fn, logits, logit_paddings, labels, label_paddings, blank_id, log_epsilon):
    """Validate ranks, shapes, dtypes and hyperparameters; return the arrays."""
    validate.finite(fn, log_epsilon=log_epsilon)
    validate.interval(fn, "log_epsilon", log_epsilon, high=0.0, high_open=True)
    logits = _utils.floating(fn, "logits", logits)
    labels = jnp.asarray(labels)
    logit_paddings = jnp.asarray(logit_paddings)
    label_paddings = jnp.asarray(label_paddings)
    if logits.ndim != 3:
        raise ValueError(f"{fn}: logits must be [batch, time, classes], got {logits.shape}")
    if labels.ndim != 2:
        raise ValueError(f"{fn}: labels must be [batch, max_labels], got {labels.shape}")
    batch, steps, classes = logits.shape
    if steps == 0 or classes == 0:
        raise ValueError(f"{fn}: logits needs at least one frame and class, got {logits.shape}")
    if logit_paddings.shape != (batch, steps):
        raise ValueError(
            f"{fn}: logit_paddings.shape={logit_paddings.shape} must be {(batch, steps)} "
            f"for logits.shape={logits.shape}"
        )
    if labels.shape[0] != batch:
        raise ValueError(
            f"{fn}: labels.shape={labels.shape} must have the batch size {batch} of logits"
        )
    if label_paddings.shape != labels.shape:
        raise ValueError(
            f"{fn}: label_paddings.shape={label_paddings.shape} must equal "
            f"labels.shape={labels.shape}"
        )
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        if not jnp.issubdtype(labels.dtype, jnp.number):
            raise TypeError(f"{fn}: labels must be integer class ids, got {labels.dtype}")
        labels = labels.astype(jnp.int32)
    validate.integer(fn, "blank_id", blank_id, 0)
    if blank_id >= classes:
        raise ValueError(f"{fn}(blank_id={blank_id!r}): blank_id must be < classes={classes}")
    return logits, logit_paddings.astype(bool), labels, label_paddings.astype(bool)


def ctc_loss_with_forward_probs(
    logits: Any,
    logit_paddings: Any,
    labels: Any,
    label_paddings: Any,
    *,
    blank_id: int = 0,
    log_epsilon: Any = -1e5,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    r"""CTC loss and the forward (alpha) log-probabilities behind it.

    CTC scores a label sequence :math:`y_{1:L}` against per-frame class distributions
    :math:`p_t(k) = \operatorname{softmax}(x_t)_k` by summing over every alignment
    :math:`\pi \in \{1..K\}^T` that collapses to :math:`y` (merge repeats, then drop
    blanks :math:`\phi`):

    .. math::
        \ell = -\log \sum_{\pi:\ \mathcal{B}(\pi) = y}\ \prod_{t=1}^{T} p_t(\pi_t)

    The sum is computed by the forward recursion over the blank-extended sequence
    :math:`z = (\phi, y_1, \phi, y_2, \dots, y_L, \phi)` of length :math:`2L + 1`:

    .. math::
        \alpha_t(s) = p_t(z_s) \bigl(\alpha_{t-1}(s) + \alpha_{t-1}(s-1)
            + [z_s \ne \phi \wedge z_s \ne z_{s-2}]\ \alpha_{t-1}(s-2)\bigr), \\
        \ell = -\log\bigl(\alpha_T(2L) + \alpha_T(2L - 1)\bigr)

    starting from :math:`\alpha_0 = (1, 0, 0, \dots)`. It runs in log space with
    ``log_epsilon`` standing in for :math:`\log 0` (so values and gradients stay
    finite), and is renormalised at every frame (the running maximum is carried
    separately and added back), so even logits of :math:`\pm 10^4` over many frames
    never reach the ``log_epsilon`` floor. Padded frames (``logit_paddings`` 1) leave
    :math:`\alpha` unchanged, wherever they are. Labels are right-padded; the recursion
    over the padded tail never influences the states of the real labels. A label
    sequence that cannot fit in the frames (for example ``L > T``, or repeated labels
    needing a blank between them) has no alignment: its loss is then a large finite
    number of the order of :math:`|\mathrm{log\_epsilon}|` rather than :math:`+\infty`.

    The forward probabilities have Optax's layout: ``logalpha_blank[t, b, n]`` is
    :math:`\log\alpha_t(2n)` (in a blank after :math:`n` labels) and
    ``logalpha_nonblank[t, b, n]`` is :math:`\log\alpha_t(2n + 1)` (on label
    :math:`n`, 0-based), both after frame ``t``. As in Optax the last row of
    ``logalpha_blank`` instead holds
    :math:`\log(\alpha_T(2n) + \alpha_T(2n - 1))`, so ``-logalpha_blank[-1, b, n]`` is
    the loss of the first :math:`n` labels of sequence ``b``. Feasible entries match
    Optax; entries for unreachable states differ (both are near ``log_epsilon``).

    Args:
      logits: floating ``[B, T, K]`` logits over ``K`` classes including the blank.
      logit_paddings: ``[B, T]``, 1 (or True) for padded frames, 0 for real ones.
      labels: integer ``[B, N]`` label ids in ``[0, K)``, right-padded.
      label_paddings: ``[B, N]``, 1 (or True) for padding, 0 for real labels; each row
        is zeros followed by ones.
      blank_id: the class id of the blank, in ``[0, K)``. Default 0.
      log_epsilon: the finite stand-in for :math:`\log 0`, < 0. Default -1e5.

    Returns:
      ``(loss, logalpha_blank, logalpha_nonblank)``: ``[B]``, ``[T, B, N + 1]`` and
      ``[T, B, N]``, in float32 (or float64 for float64 logits).

    Raises:
      TypeError: if ``logits`` is not floating, ``labels`` not numeric, or ``blank_id``
        not an integer.
      ValueError: for wrong ranks or shapes, ``blank_id`` outside ``[0, K)`` or a
        non-negative or non-finite ``log_epsilon``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> logits = jnp.zeros((1, 2, 3))  # uniform over {blank, a, b} at 2 frames
      >>> # alignments of "a": (a, a), (a, blank), (blank, a): probability 3/9
      >>> loss, _, _ = losses.ctc_loss_with_forward_probs(
      ...     logits, jnp.zeros((1, 2)), jnp.array([[1]]), jnp.zeros((1, 1)))
      >>> loss.round(4).tolist()  # -log(1/3)
      [1.0986]

    References:
      Graves et al., "Connectionist Temporal Classification: Labelling Unsegmented
      Sequence Data with Recurrent Neural Networks", ICML 2006,
      https://doi.org/10.1145/1143844.1143891
    """
    fn = "ctc_loss"
    logits, frame_pad, labels, label_pad = _check_inputs(
        fn, logits, logit_paddings, labels, label_paddings, blank_id, log_epsilon
    )
    batch, steps, classes = logits.shape
    max_labels = labels.shape[1]
    dtype = numerics.compute_dtype(logits.dtype)
    log_eps = jnp.asarray(log_epsilon).astype(dtype)
    log_probs = jax.nn.log_softmax(logits.astype(dtype), axis=-1)  # [B, T, K]

    # Emission log-probabilities of every extended state: [B, T, 2N + 1].
    # Ids are clipped into range, so that arbitrary padding values (-1 ...) stay finite;
    # the states of padded labels never feed those of the real ones.
    ids = jnp.clip(labels, 0, classes - 1)
    ids = jnp.broadcast_to(ids[:, None, :], (batch, steps, max_labels))
    on_label = jnp.take_along_axis(log_probs, ids, axis=-1)  # [B, T, N]
    on_blank = log_probs[:, :, blank_id]
    pairs = jnp.stack([jnp.broadcast_to(on_blank[..., None], on_label.shape), on_label], -1)
    emit = jnp.concatenate(
        [pairs.reshape(batch, steps, 2 * max_labels), on_blank[..., None]], axis=-1
    )
    num_states = 2 * max_labels + 1

    # A label state may be entered from two states back unless it repeats that label.
    differs = jnp.pad(labels[:, 1:] != labels[:, :-1], ((0, 0), (1, 0)))[:, :max_labels]
    skip = jnp.stack([jnp.zeros_like(differs), differs], -1).reshape(batch, 2 * max_labels)
    skip = jnp.concatenate([skip, jnp.zeros((batch, 1), bool)], axis=1)  # [B, 2N + 1]

    floor1 = jnp.full((batch, 1), log_eps)
    floor2 = jnp.full((batch, 2), log_eps)

    def step(alpha, inputs):
        emit_t, pad_t = inputs
        from_prev = jnp.concatenate([floor1, alpha[:, :-1]], axis=1)
        from_skip = jnp.concatenate([floor2, alpha[:, :-2]], axis=1)[:, :num_states]
        from_skip = jnp.where(skip, from_skip, log_eps)
        new = _logsumexp3(alpha, from_prev, from_skip) + emit_t
        shift = jax.lax.stop_gradient(jnp.max(new, axis=1, keepdims=True))
        new = jnp.where(pad_t[:, None], alpha, new - shift)
        shift = jnp.where(pad_t[:, None], jnp.zeros_like(shift), shift)
        return new, (new, shift[:, 0])

    alpha0 = jnp.concatenate(
        [jnp.zeros((batch, 1), dtype), jnp.full((batch, num_states - 1), log_eps)], axis=1
    )
    xs = (jnp.swapaxes(emit, 0, 1), jnp.swapaxes(frame_pad, 0, 1))
    _, (alphas, shifts) = jax.lax.scan(step, alpha0, xs)  # [T, B, S], [T, B]
    log_alpha = alphas + jnp.cumsum(shifts, axis=0)[..., None]

    last = log_alpha[-1]  # [B, S]
    ends = jnp.concatenate(
        [last[:, :1], jnp.logaddexp(last[:, 2::2], last[:, 1::2])], axis=1
    )  # [B, N + 1]: log P(the first n labels)
    blank = log_alpha[..., 0::2].at[-1].set(ends)
    nonblank = log_alpha[..., 1::2]
    lengths = max_labels - jnp.sum(label_pad, axis=1)
    loss = -jnp.take_along_axis(ends, lengths[:, None], axis=1)[:, 0]
    return loss, blank, nonblank


def ctc_loss(
    logits: Any,
    logit_paddings: Any,
    labels: Any,
    label_paddings: Any,
    *,
    blank_id: int = 0,
    log_epsilon: Any = -1e5,
) -> jax.Array:
    r"""Connectionist temporal classification (CTC) loss of each sequence.

    .. math::
        \ell = -\log \sum_{\pi:\ \mathcal{B}(\pi) = y}\ \prod_{t=1}^{T}
            \operatorname{softmax}(x_t)_{\pi_t}

    the negative log-probability of the label sequence :math:`y`, summed over all
    frame-level alignments :math:`\pi` that collapse to it (merge repeats, drop blanks).
    See `ctc_loss_with_forward_probs` for the recursion, the padding rules and the
    numerics.

    Args:
      logits: floating ``[B, T, K]`` logits over ``K`` classes including the blank.
      logit_paddings: ``[B, T]``, 1 (or True) for padded frames, 0 for real ones.
      labels: integer ``[B, N]`` label ids in ``[0, K)``, right-padded.
      label_paddings: ``[B, N]``, 1 (or True) for padding, 0 for real labels.
      blank_id: the class id of the blank, in ``[0, K)``. Default 0.
      log_epsilon: the finite stand-in for :math:`\log 0`, < 0. Default -1e5.

    Returns:
      The loss of each sequence, ``[B]``, in float32 (or float64 for float64 logits).

    Raises:
      TypeError: as for `ctc_loss_with_forward_probs`.
      ValueError: as for `ctc_loss_with_forward_probs`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> logits = jnp.zeros((1, 3, 2))  # uniform over {blank, a} at 3 frames
      >>> # "a" has 6 of the 8 alignments: all but blank^3 and (a, blank, a)
      >>> loss = losses.ctc_loss(logits, jnp.zeros((1, 3)), jnp.array([[1]]), jnp.zeros((1, 1)))
      >>> loss.round(4).tolist()  # -log(6/8)
      [0.2877]

    References:
      Graves et al., "Connectionist Temporal Classification: Labelling Unsegmented
      Sequence Data with Recurrent Neural Networks", ICML 2006,
      https://doi.org/10.1145/1143844.1143891
    """
    loss, _, _ = ctc_loss_with_forward_probs(
        logits,
        logit_paddings,
        labels,
        label_paddings,
        blank_id=blank_id,
        log_epsilon=log_epsilon,
    )
    return loss
