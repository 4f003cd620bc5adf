"""Per-coordinate adaptive methods: Adagrad, RMSProp, Adadelta, Adafactor."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from gradtx.core import GradientTransformation, ScalarOrSchedule, chain, identity, validate
from gradtx.core.masks import MaskOrFn
from gradtx.core.masks import check as check_mask
from gradtx.optimizers._weight_decay import checking_params, maybe_add_decayed_weights
from gradtx.transforms import (
    add_decayed_weights,
    clip_by_block_rms,
    ema,
    scale,
    scale_by_adadelta,
    scale_by_factored_rms,
    scale_by_learning_rate,
    scale_by_param_block_rms,
    scale_by_rms,
    scale_by_rss,
    scale_by_stddev,
    trace,
)

__all__ = ["adadelta", "adafactor", "adagrad", "rmsprop"]


def adagrad(
    learning_rate: ScalarOrSchedule,
    initial_accumulator_value: float = 0.1,
    eps: float = 1e-7,
) -> GradientTransformation:
    """Adagrad: per-coordinate steps shrinking with the sum of past squared gradients.

    Equivalent to ``chain(scale_by_rss(initial_accumulator_value, eps),
    scale_by_learning_rate(learning_rate))``; see `scale_by_rss` for the equations
    (and the placement of ``eps``, which follows Optax, not PyTorch).

    Args:
      learning_rate: a finite number, or a schedule ``step -> learning rate``.
      initial_accumulator_value: initial sum of squares, >= 0. Default 0.1.
      eps: stabiliser inside the square root, >= 0. Default 1e-7.

    Returns:
      A `GradientTransformation` whose state is the tuple of the inner states.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x**2)
      >>> opt = gradtx.adagrad(learning_rate=1.0)
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = opt.init(params)
      >>> for _ in range(5):
      ...     updates, state = opt.update(jax.grad(f)(params), state, params)
      ...     params = gradtx.apply_updates(params, updates)
      >>> round(float(f(params)), 3)
      0.385

    References:
      Duchi et al., "Adaptive Subgradient Methods for Online Learning and Stochastic
      Optimization", JMLR 2011, https://jmlr.org/papers/v12/duchi11a.html
    """
    validate.optimizer("adagrad", learning_rate)
    return chain(
        scale_by_rss(initial_accumulator_value=initial_accumulator_value, eps=eps),
        scale_by_learning_rate(learning_rate),
    )


def rmsprop(
    learning_rate: ScalarOrSchedule,
    decay: float = 0.9,
    eps: float = 1e-8,
    initial_scale: float = 0.0,
    eps_in_sqrt: bool = True,
    centered: bool = False,
    momentum: float | None = None,
    nesterov: bool = False,
    bias_correction: bool = False,
) -> GradientTransformation:
    """RMSProp, optionally centred and with (Nesterov) momentum.

    Equivalent to ``chain(scale_by_rms(decay, eps, initial_scale, eps_in_sqrt,
    bias_correction), scale_by_learning_rate(learning_rate), trace(momentum,
    nesterov))``, with `scale_by_stddev` in place of `scale_by_rms` when ``centered``
    and without the `trace` when ``momentum`` is ``None``. The equations are on
    `scale_by_rms` and `scale_by_stddev`.

    Args:
      learning_rate: a finite number, or a schedule ``step -> learning rate``.
      decay: EMA decay of the squared gradients, in [0, 1). Default 0.9.
      eps: stabiliser, >= 0. Default 1e-8.
      initial_scale: initial second moment, >= 0. Default 0.
      eps_in_sqrt: add ``eps`` inside the square root (default) or outside.
      centered: divide by the standard deviation instead of the RMS. Default False.
      momentum: momentum decay in [0, 1), or ``None`` for none (default).
      nesterov: use Nesterov momentum. Default False.
      bias_correction: debias the moment estimates. Default False.

    Returns:
      A `GradientTransformation` whose state is the tuple of the inner states.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x**2)
      >>> opt = gradtx.rmsprop(learning_rate=0.1)
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = opt.init(params)
      >>> for _ in range(5):
      ...     updates, state = opt.update(jax.grad(f)(params), state, params)
      ...     params = gradtx.apply_updates(params, updates)
      >>> round(float(f(params)), 3)
      5.167

    References:
      Tieleman and Hinton, "Lecture 6.5 - RMSProp", COURSERA: Neural Networks for
      Machine Learning, 2012; Graves, "Generating Sequences With Recurrent Neural
      Networks", 2013, https://arxiv.org/abs/1308.0850
    """
    validate.optimizer("rmsprop", learning_rate, momentum=momentum)
    scale_by_second_moment = scale_by_stddev if centered else scale_by_rms
    return chain(
        scale_by_second_moment(
            decay=decay,
            eps=eps,
            initial_scale=initial_scale,
            eps_in_sqrt=eps_in_sqrt,
            bias_correction=bias_correction,
        ),
        scale_by_learning_rate(learning_rate),
        identity() if momentum is None else trace(momentum, nesterov=nesterov),
    )


def adadelta(
    learning_rate: ScalarOrSchedule | None = None,
    rho: float = 0.9,
    eps: float = 1e-6,
    weight_decay: ScalarOrSchedule = 0.0,
    weight_decay_mask: MaskOrFn = None,
) -> GradientTransformation:
    """Adadelta: steps scaled by the ratio of past update RMS to gradient RMS.

    Equivalent to ``chain(add_decayed_weights(weight_decay, weight_decay_mask),
    scale_by_adadelta(rho, eps), scale_by_learning_rate(learning_rate))``; see
    `scale_by_adadelta` for the equations. The weight decay is added to the gradient
    before the rescaling (coupled, L2 style).

    Unlike Optax 0.2.8, whose ``adadelta()`` without a learning rate returns the
    *ascent* direction (its ``scale_by_learning_rate(None)`` is the identity),
    ``learning_rate=None`` here means a unit learning rate, i.e. the descent step of
    the paper, which has no learning rate.

    Args:
      learning_rate: a finite number, a schedule ``step -> learning rate``, or
        ``None`` for 1 (default).
      rho: EMA decay, in [0, 1). Default 0.9.
      eps: stabiliser, >= 0. Default 1e-6.
      weight_decay: L2 rate added to the gradient, >= 0, or a schedule. Default 0.
      weight_decay_mask: which parameters decay (``None``: all); see
        `add_decayed_weights`.

    Returns:
      A `GradientTransformation` whose state is the tuple of the inner states.

    Raises:
      ValueError: for hyperparameters outside the ranges above.
      TypeError: if ``weight_decay_mask`` is a string or a number.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x**2)
      >>> opt = gradtx.adadelta(learning_rate=10.0)
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = opt.init(params)
      >>> for _ in range(5):
      ...     updates, state = opt.update(jax.grad(f)(params), state, params)
      ...     params = gradtx.apply_updates(params, updates)
      >>> round(float(f(params)), 2)
      12.14

    References:
      Zeiler, "ADADELTA: An Adaptive Learning Rate Method", 2012,
      https://arxiv.org/abs/1212.5701
    """
    validate.optimizer("adadelta", learning_rate, weight_decay)
    check_mask("adadelta", weight_decay_mask, "weight_decay_mask")
    tx = chain(
        *maybe_add_decayed_weights(weight_decay, weight_decay_mask),
        scale_by_adadelta(rho=rho, eps=eps),
        scale_by_learning_rate(1.0 if learning_rate is None else learning_rate),
    )
    return checking_params("adadelta", tx)


def adafactor(
    learning_rate: ScalarOrSchedule | None = None,
    min_dim_size_to_factor: int = 128,
    decay_rate: float = 0.8,
    decay_offset: int = 0,
    multiply_by_parameter_scale: bool = True,
    clipping_threshold: float | None = 1.0,
    momentum: float | None = None,
    dtype_momentum: Any = jnp.float32,
    weight_decay_rate: ScalarOrSchedule | None = None,
    eps: float = 1e-30,
    factored: bool = True,
    weight_decay_mask: MaskOrFn = None,
) -> GradientTransformation:
    """Adafactor: Adam-like steps with a factored (sublinear-memory) second moment.

    Equivalent to ``chain(scale_by_factored_rms(factored, decay_rate, decay_offset,
    min_dim_size_to_factor, eps), clip_by_block_rms(clipping_threshold),
    scale_by_learning_rate(learning_rate, flip_sign=False), <scale by each leaf's
    parameter RMS, at least 1e-3>, ema(momentum, debias=False,
    accumulator_dtype=dtype_momentum), add_decayed_weights(weight_decay_rate,
    weight_decay_mask), scale(-1))``, where each optional piece is left out when its
    argument is ``None`` (or ``multiply_by_parameter_scale`` is false). The equations
    are on `scale_by_factored_rms`. With ``multiply_by_parameter_scale`` the
    learning rate is relative to the parameters' scale, so values around 1e-2 are
    usual. Note that the weight decay comes after the learning rate (it is not
    multiplied by it).

    Args:
      learning_rate: a finite number, a schedule, or ``None`` for no scaling
        (default).
      min_dim_size_to_factor: factor a leaf only when its two largest axes have at
        least this many elements, >= 1. Default 128.
      decay_rate: exponent of the second-moment decay schedule, >= 0. Default 0.8.
      decay_offset: step at which the decay schedule starts, >= 0. Default 0.
      multiply_by_parameter_scale: scale each leaf's step by its parameter RMS.
        Default True.
      clipping_threshold: block-RMS clipping threshold (> 0), or ``None`` to skip
        clipping. Default 1.
      momentum: EMA decay of the steps in [0, 1), or ``None`` for none (default).
      dtype_momentum: dtype of the momentum buffer. Default float32.
      weight_decay_rate: decoupled weight decay (>= 0, or a schedule), or ``None``.
      eps: added to the squared gradients, >= 0. Default 1e-30.
      factored: use the factored estimate for matrices. Default True.
      weight_decay_mask: which parameters decay (``None``: all); see
        `add_decayed_weights`.

    Returns:
      A `GradientTransformation` whose state is the tuple of the inner states.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x**2)
      >>> opt = gradtx.adafactor(learning_rate=0.1)
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = opt.init(params)
      >>> for _ in range(5):
      ...     updates, state = opt.update(jax.grad(f)(params), state, params)
      ...     params = gradtx.apply_updates(params, updates)
      >>> round(float(f(params)), 3)
      6.014

    References:
      Shazeer and Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory
      Cost", ICML 2018, https://arxiv.org/abs/1804.04235
    """
    validate.optimizer("adafactor", learning_rate, momentum=momentum)
    validate.non_negative("adafactor", weight_decay_rate=weight_decay_rate)
    check_mask("adafactor", weight_decay_mask, "weight_decay_mask")
    transforms = [
        scale_by_factored_rms(
            factored=factored,
            decay_rate=decay_rate,
            step_offset=decay_offset,
            min_dim_size_to_factor=min_dim_size_to_factor,
            epsilon=eps,
        )
    ]
    if clipping_threshold is not None:
        transforms.append(clip_by_block_rms(clipping_threshold))
    if learning_rate is not None:  # after the clipping, and without the sign flip
        transforms.append(scale_by_learning_rate(learning_rate, flip_sign=False))
    if multiply_by_parameter_scale:
        transforms.append(scale_by_param_block_rms())
    if momentum is not None:
        transforms.append(ema(momentum, debias=False, accumulator_dtype=dtype_momentum))
    if weight_decay_rate is not None:
        transforms.append(add_decayed_weights(weight_decay_rate, weight_decay_mask))
    transforms.append(scale(-1.0))
    return chain(*transforms)
