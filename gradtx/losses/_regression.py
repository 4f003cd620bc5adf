r"""Regression losses: elementwise penalties on the error :math:`e = \hat y - y`."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from gradtx.core import numerics, validate
from gradtx.losses import _utils

__all__ = ["absolute_error", "huber_loss", "l2_loss", "log_cosh", "squared_error"]


def _errors(fn: str, predictions: Any, targets: Any) -> jax.Array:
    """``predictions - targets`` (or ``predictions`` alone), with the shapes checked."""
    predictions = _utils.floating(fn, "predictions", predictions)
    if targets is None:
        return predictions
    predictions, targets = _utils.promote(predictions, jnp.asarray(targets))
    predictions, targets = _utils.broadcast(fn, predictions=predictions, targets=targets)
    return predictions - targets


def squared_error(predictions: Any, targets: Any | None = None) -> jax.Array:
    r"""Elementwise squared error.

    .. math::
        \ell(\hat y, y) = (\hat y - y)^2

    The mean squared error is ``squared_error(p, t).mean()``.

    Args:
      predictions: floating array of any shape.
      targets: array whose shape equals, or broadcasts to, the shape of ``predictions``
        (or the other way round); ``None`` (default) means zeros.

    Returns:
      The squared errors, with the broadcast shape of the inputs (that of
      ``predictions`` in the usual case) and their common dtype.

    Raises:
      TypeError: if ``predictions`` is not floating.
      ValueError: if the shapes would broadcast to a shape that neither input has.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> losses.squared_error(jnp.array([1.0, 2.0]), jnp.array([0.0, 4.0])).tolist()
      [1.0, 4.0]

    References:
      Bishop, "Pattern Recognition and Machine Learning", Springer 2006, section 1.1.
    """
    return jnp.square(_errors("squared_error", predictions, targets))


def l2_loss(predictions: Any, targets: Any | None = None) -> jax.Array:
    r"""Elementwise half squared error.

    .. math::
        \ell(\hat y, y) = \tfrac12 (\hat y - y)^2

    The factor :math:`\tfrac12` (Bishop's convention) makes the gradient the plain
    error :math:`\hat y - y`.

    Args:
      predictions: floating array of any shape.
      targets: array whose shape equals, or broadcasts to, the shape of ``predictions``
        (or the other way round); ``None`` (default) means zeros.

    Returns:
      ``0.5 * squared_error(predictions, targets)``, same shape and dtype.

    Raises:
      TypeError: if ``predictions`` is not floating.
      ValueError: if the shapes would broadcast to a shape that neither input has.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> losses.l2_loss(jnp.array([1.0, 2.0]), jnp.array([0.0, 4.0])).tolist()
      [0.5, 2.0]

    References:
      Bishop, "Pattern Recognition and Machine Learning", Springer 2006, section 1.1.
    """
    return 0.5 * jnp.square(_errors("l2_loss", predictions, targets))


def absolute_error(predictions: Any, targets: Any | None = None) -> jax.Array:
    r"""Elementwise absolute error (the L1 loss).

    .. math::
        \ell(\hat y, y) = |\hat y - y|

    The mean absolute error is ``absolute_error(p, t).mean()``. Optax has no function of
    this name; this is the usual definition. The gradient at zero error is taken as 0.

    Args:
      predictions: floating array of any shape.
      targets: array whose shape equals, or broadcasts to, the shape of ``predictions``
        (or the other way round); ``None`` (default) means zeros.

    Returns:
      The absolute errors, with the broadcast shape and common dtype of the inputs.

    Raises:
      TypeError: if ``predictions`` is not floating.
      ValueError: if the shapes would broadcast to a shape that neither input has.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> losses.absolute_error(jnp.array([1.0, 2.0]), jnp.array([0.0, 4.0])).tolist()
      [1.0, 2.0]

    References:
      Laplace's least absolute deviations; see Bloomfield and Steiger,
      "Least Absolute Deviations", Birkhauser 1983.
    """
    errors = _errors("absolute_error", predictions, targets)
    # sign(0) = 0, so the subgradient at zero error is 0 (jnp.abs would give 1).
    return jnp.where(errors == 0, jnp.zeros_like(errors), jnp.abs(errors))


def huber_loss(
    predictions: Any,
    targets: Any | None = None,
    *,
    delta: Any = 1.0,
) -> jax.Array:
    r"""Elementwise Huber loss: quadratic near zero, linear beyond ``delta``.

    .. math::
        \ell_\delta(e) = \begin{cases}
            \tfrac12 e^2 & |e| \le \delta \\
            \delta\,(|e| - \tfrac12 \delta) & |e| > \delta
        \end{cases}, \qquad e = \hat y - y

    Its gradient is the error clipped to :math:`[-\delta, \delta]`, so gradient descent on
    it is gradient descent on `l2_loss` with the error clipped in the backward pass.

    Args:
      predictions: floating array of any shape.
      targets: array whose shape equals, or broadcasts to, the shape of ``predictions``
        (or the other way round); ``None`` (default) means zeros.
      delta: the switch point :math:`\delta`, >= 0. Default 1.0.

    Returns:
      The Huber losses, with the broadcast shape and common dtype of the inputs.

    Raises:
      TypeError: if ``predictions`` is not floating.
      ValueError: for a negative or NaN ``delta``, or shapes that would broadcast to a
        shape that neither input has.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> losses.huber_loss(jnp.array([0.5, -3.0]), delta=1.0).tolist()
      [0.125, 2.5]

    References:
      Huber, "Robust Estimation of a Location Parameter", Annals of Mathematical
      Statistics 1964, https://doi.org/10.1214/aoms/1177703732
    """
    fn = "huber_loss"
    validate.non_negative(fn, delta=delta)
    errors = _errors(fn, predictions, targets)
    delta = numerics.as_dtype(delta, jnp.result_type(errors))
    size = jnp.abs(errors)
    quadratic = 0.5 * jnp.square(errors)
    linear = delta * (size - 0.5 * delta)
    return jnp.where(size <= delta, quadratic, linear)


def log_cosh(predictions: Any, targets: Any | None = None) -> jax.Array:
    r"""Elementwise logarithm of the hyperbolic cosine of the error.

    .. math::
        \ell(e) = \log\cosh(e) \approx \begin{cases}
            e^2/2 & |e| \ll 1 \\ |e| - \log 2 & |e| \gg 1 \end{cases}

    A twice-differentiable alternative to `huber_loss`, with gradient
    :math:`\tanh(e)`. It is evaluated as
    :math:`\operatorname{log1p}(2\sinh^2(e/2))` for :math:`|e| < 1` (accurate for tiny
    errors, where :math:`\log(e^e + e^{-e}) - \log 2` cancels) and as
    :math:`|e| + \operatorname{log1p}(e^{-2|e|}) - \log 2` otherwise (no overflow).

    Args:
      predictions: floating array of any shape.
      targets: array whose shape equals, or broadcasts to, the shape of ``predictions``
        (or the other way round); ``None`` (default) means zeros.

    Returns:
      The log-cosh losses, with the broadcast shape and common dtype of the inputs.

    Raises:
      TypeError: if ``predictions`` is not floating.
      ValueError: if the shapes would broadcast to a shape that neither input has.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx import losses
      >>> losses.log_cosh(jnp.array([0.0, 1.0, 100.0])).round(4).tolist()
      [0.0, 0.4338, 99.3069]

    References:
      Chen et al., "Log Hyperbolic Cosine Loss Improves Variational Auto-Encoder",
      OpenReview 2019, https://openreview.net/forum?id=rkglvsC9Ym
    """
    errors = _errors("log_cosh", predictions, targets)
    size = jnp.abs(errors)
    small = size < 1
    # Each branch sees only inputs where it is accurate and finite (double-where), so
    # neither the value nor the gradient of the unused branch can be inf or NaN.
    half = 0.5 * jnp.where(small, errors, jnp.zeros_like(errors))
    near = jnp.log1p(2 * jnp.square(jnp.sinh(half)))
    big = jnp.where(small, jnp.ones_like(size), size)
    far = big + jnp.log1p(jnp.exp(-2 * big)) - math.log(2.0)
    return jnp.where(small, near, far)
