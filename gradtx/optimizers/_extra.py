"""Rprop, SM3, Fromage, Polyak SGD and Signum: chains of the transforms they name."""

from __future__ import annotations

from typing import Any

import jax

from gradtx.core import (
    EmptyState,
    GradientTransformation,
    ScalarOrSchedule,
    chain,
    numerics,
    validate,
)
from gradtx.core.masks import MaskOrFn
from gradtx.optimizers._sgd import sgd
from gradtx.transforms import (
    add_decayed_weights,
    ema,
    scale,
    scale_by_learning_rate,
    scale_by_polyak,
    scale_by_rprop,
    scale_by_sign,
    scale_by_sm3,
    scale_by_trust_ratio,
)

__all__ = ["MaskOrFn", "fromage", "polyak_sgd", "rprop", "signum", "sm3"]


def rprop(
    learning_rate: float,
    eta_minus: float = 0.5,
    eta_plus: float = 1.2,
    min_step_size: float = 1e-6,
    max_step_size: float = 50.0,
    *,
    lagged: bool = True,
) -> GradientTransformation:
    """Rprop: ``chain(scale_by_rprop(...), scale(-1.0))``; see `scale_by_rprop`.

    Each weight moves by its own step size against the sign of its gradient; the step
    grows by ``eta_plus`` while the sign holds and shrinks by ``eta_minus`` when it
    flips. Meant for full-batch training.

    Args:
      learning_rate: the initial step size, >= 0.
      eta_minus: the factor after a sign change, in [0, 1]. Default 0.5.
      eta_plus: the factor while the sign holds, >= 1. Default 1.2.
      min_step_size: the smallest step size, >= 0. Default 1e-6.
      max_step_size: the largest step size, >= ``min_step_size``. Default 50.
      lagged: Optax's one-step-late output (default) or the paper's; see
        `scale_by_rprop`.

    Returns:
      A `GradientTransformation` (a chain).

    Raises:
      ValueError: for a hyperparameter outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum((x - 1.0) ** 2)
      >>> opt = gradtx.rprop(0.1)
      >>> params = jnp.zeros(2)
      >>> state = opt.init(params)
      >>> for _ in range(20):
      ...     updates, state = opt.update(jax.grad(f)(params), state, params)
      ...     params = gradtx.apply_updates(params, updates)
      >>> round(float(f(params)), 3)
      0.0

    References:
      Riedmiller & Braun, "A Direct Adaptive Method for Faster Backpropagation Learning:
      The RPROP Algorithm", ICNN 1993, https://doi.org/10.1109/ICNN.1993.298623
    """
    return chain(
        scale_by_rprop(
            learning_rate=learning_rate,
            eta_minus=eta_minus,
            eta_plus=eta_plus,
            min_step_size=min_step_size,
            max_step_size=max_step_size,
            lagged=lagged,
        ),
        scale(-1.0),
    )


def sm3(learning_rate: float, momentum: float = 0.9) -> GradientTransformation:
    """SM3: ``chain(scale_by_sm3(momentum), scale(-learning_rate))``; see `scale_by_sm3`.

    An adaptive method whose second-moment memory is one vector per axis of each
    parameter, not one number per element (for embeddings and large layers).

    Args:
      learning_rate: a finite number (not a schedule, as in Optax).
      momentum: the momentum of the scaled updates, in [0, 1]. Default 0.9.

    Returns:
      A `GradientTransformation` (a chain).

    Raises:
      ValueError: for a hyperparameter outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x**2)
      >>> opt = gradtx.sm3(0.5)
      >>> params = jnp.array([[1.0, 2.0], [3.0, 4.0]])
      >>> state = opt.init(params)
      >>> for _ in range(50):
      ...     updates, state = opt.update(jax.grad(f)(params), state, params)
      ...     params = gradtx.apply_updates(params, updates)
      >>> bool(f(params) < 1.0)
      True

    References:
      Anil et al., "Memory-Efficient Adaptive Optimization", NeurIPS 2019,
      https://arxiv.org/abs/1901.11150
    """
    validate.optimizer("sm3", learning_rate)
    return chain(scale_by_sm3(momentum), scale(-learning_rate))


def _add_scaled_params(rate: float) -> GradientTransformation:
    """``u + rate * params`` for any finite ``rate`` (Fromage's is negative)."""

    def init_fn(params):
        del params
        return EmptyState()

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        validate.require_params("fromage", params)

        def one(g, p):
            return numerics.promote_add(g, numerics.scalar_mul(rate, p)).astype(g.dtype)

        return jax.tree.map(one, updates, params), state

    return GradientTransformation(init_fn, update_fn)


def fromage(learning_rate: ScalarOrSchedule, min_norm: float = 1e-6) -> GradientTransformation:
    """Fromage: a trust-ratio step, then a shrink that keeps the weights' norm in check.

    .. math::
        x_{t+1} = \\frac{1}{\\sqrt{1 + \\eta^2}} \\left(x_t - \\eta
        \\frac{\\|x_t\\|}{\\|g_t\\|} g_t\\right) \\quad \\text{per leaf}

    ``chain(scale_by_trust_ratio(min_norm), scale_by_learning_rate(eta * c),
    add_decayed_weights(c - 1))`` with :math:`c = 1/\\sqrt{1 + \\eta^2}` (the decay term
    is negative, which `add_decayed_weights` does not accept, so it is added here).

    Args:
      learning_rate: :math:`\\eta`, a finite number or a schedule.
      min_norm: the smallest norm used in the trust ratio, >= 0. Default 1e-6.

    Returns:
      A `GradientTransformation` (a chain); ``update`` needs ``params``.

    Raises:
      ValueError: for a hyperparameter outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> opt = gradtx.fromage(0.1)
      >>> params = jnp.array([3.0, 4.0])
      >>> updates, _ = opt.update(jnp.array([1.0, 0.0]), opt.init(params), params)
      >>> gradtx.apply_updates(params, updates).round(3).tolist()
      [2.488, 3.98]

    References:
      Bernstein et al., "On the distance between two neural networks and the stability
      of learning", NeurIPS 2020, https://arxiv.org/abs/2002.03432
    """
    validate.optimizer("fromage", learning_rate)
    validate.non_negative("fromage", min_norm=min_norm)
    if not callable(learning_rate):
        mult = 1 / (1 + learning_rate**2) ** 0.5
        return chain(
            scale_by_trust_ratio(min_norm),
            scale_by_learning_rate(learning_rate * mult),
            _add_scaled_params(mult - 1),
        )

    def mult_lr(count):
        return 1 / (1 + learning_rate(count) ** 2) ** 0.5

    return chain(
        scale_by_trust_ratio(min_norm),
        scale_by_learning_rate(lambda c: mult_lr(c) * learning_rate(c)),
        add_decayed_weights(lambda c: mult_lr(c) - 1),
    )


def polyak_sgd(
    max_learning_rate: float = 1.0,
    scaling: ScalarOrSchedule = 1.0,
    f_min: float = 0.0,
    eps: float = 0.0,
    variant: str = "sps",
) -> GradientTransformation:
    """SGD with the Polyak step size: ``chain(sgd(scaling), scale_by_polyak(...))``.

    .. math:: x_{t+1} = x_t - \\min\\left(\\frac{f(x_t) - f^\\star}{\\|s g_t\\|^2 +
        \\epsilon}, \\gamma_{\\max}\\right) s\\, g_t

    with :math:`s` = ``scaling``; ``update`` needs the loss as ``value=``. See
    `scale_by_polyak`.

    Args:
      max_learning_rate: :math:`\\gamma_{\\max}`, >= 0. Default 1.
      scaling: :math:`s`, a finite number or a schedule. Default 1.
      f_min: :math:`f^\\star`, a lower bound on the loss. Default 0.
      eps: :math:`\\epsilon`, >= 0. Default 0.
      variant: ``"sps"`` or ``"sps+"``.

    Returns:
      A `GradientTransformation` (a chain); ``update`` needs ``value=``.

    Raises:
      ValueError: for a hyperparameter outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x**2)
      >>> opt = gradtx.polyak_sgd()
      >>> params = jnp.array([1.0, 2.0])
      >>> state = opt.init(params)
      >>> value, grad = jax.value_and_grad(f)(params)
      >>> updates, state = opt.update(grad, state, params, value=value)
      >>> gradtx.apply_updates(params, updates).tolist()
      [0.5, 1.0]

    References:
      Loizou et al., "Stochastic Polyak Step-size for SGD: An Adaptive Learning Rate for
      Fast Convergence", AISTATS 2021, https://arxiv.org/abs/2002.10542
    """
    return chain(
        sgd(learning_rate=scaling),
        scale_by_polyak(max_learning_rate=max_learning_rate, f_min=f_min, eps=eps, variant=variant),
    )


def signum(
    learning_rate: ScalarOrSchedule, beta: float = 0.9, accumulator_dtype: Any | None = None
) -> GradientTransformation:
    """Signum: the sign of a momentum average, times the learning rate.

    .. math:: m_t = \\beta m_{t-1} + (1 - \\beta) g_t, \\qquad
        x_{t+1} = x_t - \\eta \\operatorname{sign}(m_t)

    ``chain(ema(beta, debias=False), scale_by_sign(), scale_by_learning_rate(lr))``
    (debiasing would not change the sign).

    Args:
      learning_rate: :math:`\\eta`, a finite number or a schedule.
      beta: :math:`\\beta`, in [0, 1). Default 0.9.
      accumulator_dtype: dtype of the momentum (default: the parameter's).

    Returns:
      A `GradientTransformation` (a chain).

    Raises:
      ValueError: for a hyperparameter outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> opt = gradtx.signum(0.1)
      >>> g = jnp.array([0.3, -2.0, 0.0])
      >>> updates, _ = opt.update(g, opt.init(g))
      >>> updates.round(3).tolist()
      [-0.1, 0.1, 0.0]

    References:
      Bernstein et al., "signSGD: Compressed Optimisation for Non-Convex Problems",
      ICML 2018, https://arxiv.org/abs/1802.04434
    """
    return chain(
        ema(beta, debias=False, accumulator_dtype=accumulator_dtype),
        scale_by_sign(),
        scale_by_learning_rate(learning_rate),
    )
