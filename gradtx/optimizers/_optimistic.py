"""Optimistic gradient descent and optimistic Adam (for min-max games)."""

from __future__ import annotations

import warnings
from typing import Any

from gradtx.core import GradientTransformation, ScalarOrSchedule, chain, validate
from gradtx.transforms import scale_by_adam, scale_by_learning_rate, scale_by_optimistic_gradient

__all__ = ["optimistic_adam", "optimistic_adam_v2", "optimistic_gradient_descent"]


def optimistic_gradient_descent(
    learning_rate: ScalarOrSchedule, alpha: ScalarOrSchedule = 1.0, beta: ScalarOrSchedule = 1.0
) -> GradientTransformation:
    """Optimistic gradient descent (OGD): extrapolate with the last gradient.

    .. math:: x_{t+1} = x_t - \\eta \\big((\\alpha + \\beta) g_t - \\beta g_{t-1}\\big)

    ``chain(scale_by_optimistic_gradient(alpha, beta), scale_by_learning_rate(lr))``;
    see `scale_by_optimistic_gradient`.

    Args:
      learning_rate: :math:`\\eta`, a finite number or a schedule.
      alpha: :math:`\\alpha` (a finite number). Default 1.
      beta: :math:`\\beta` (a finite number). Default 1.

    Returns:
      A `GradientTransformation` (a chain).

    Raises:
      ValueError: for a NaN or infinite hyperparameter.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> # min_x max_y x * y: gradient descent-ascent spirals out, OGD converges.
      >>> game = lambda z: jnp.array([z[1], -z[0]])  # (d/dx, -d/dy) of x * y
      >>> def final_norm(opt, z=jnp.array([1.0, 1.0])):
      ...     state = opt.init(z)
      ...     for _ in range(200):
      ...         updates, state = opt.update(game(z), state)
      ...         z = gradtx.apply_updates(z, updates)
      ...     return float(jnp.linalg.norm(z))
      >>> final_norm(gradtx.optimistic_gradient_descent(0.2)) < 0.05
      True
      >>> final_norm(gradtx.sgd(0.2)) > 10.0
      True

    References:
      Daskalakis et al., "Training GANs with Optimism", ICLR 2018,
      https://arxiv.org/abs/1711.00141
    """
    return chain(
        scale_by_optimistic_gradient(alpha=alpha, beta=beta),
        scale_by_learning_rate(learning_rate),
    )


def optimistic_adam(
    learning_rate: float,
    optimism: float | None = None,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-08,
    eps_root: float = 0.0,
    mu_dtype: Any | None = None,
    *,
    nesterov: bool = True,
) -> GradientTransformation:
    """Optimistic Adam (deprecated in Optax: use `optimistic_adam_v2`).

    ``chain(scale_by_adam(...), scale_by_optimistic_gradient(alpha=learning_rate,
    beta=optimism), scale_by_learning_rate(1.0))``: the optimistic correction is
    applied to Adam's direction :math:`a_t`,
    :math:`x_{t+1} = x_t - (\\eta + o)\\, a_t + o\\, a_{t-1}`.

    Args:
      learning_rate: :math:`\\eta`, a finite number (schedules are not supported).
      optimism: :math:`o`, the weight of the correction; default ``learning_rate``.
      b1: Adam's first-moment decay, in [0, 1). Default 0.9.
      b2: Adam's second-moment decay, in [0, 1). Default 0.999.
      eps: added to the denominator, >= 0. Default 1e-8.
      eps_root: added inside the square root, >= 0. Default 0.
      mu_dtype: dtype of the first moment (default: the parameter's).
      nesterov: use Nesterov momentum in Adam. Default True.

    Returns:
      A `GradientTransformation` (a chain).

    Raises:
      ValueError: if ``learning_rate`` is a schedule, or a hyperparameter is out of range.

    Examples:
      >>> import warnings, jax.numpy as jnp, gradtx
      >>> with warnings.catch_warnings():
      ...     warnings.simplefilter("ignore", DeprecationWarning)
      ...     opt = gradtx.optimistic_adam(0.1)
      >>> g = jnp.array([1.0, -1.0])
      >>> updates, _ = opt.update(g, opt.init(g))
      >>> updates.round(3).tolist()
      [-0.1, 0.1]

    References:
      Daskalakis et al., "Training GANs with Optimism", ICLR 2018,
      https://arxiv.org/abs/1711.00141
    """
    warnings.warn(
        "`optimistic_adam` is deprecated, please use `optimistic_adam_v2` instead.",
        category=DeprecationWarning,
        stacklevel=2,
    )
    if callable(learning_rate):
        raise ValueError(
            "optimistic_adam(learning_rate=<schedule>): this version of `optimistic_adam` "
            "does not support learning rate schedules but `optimistic_adam_v2` does."
        )
    validate.finite("optimistic_adam", learning_rate=learning_rate, optimism=optimism)
    if optimism is None:
        optimism = learning_rate
    return chain(
        scale_by_adam(
            b1=b1, b2=b2, eps=eps, eps_root=eps_root, mu_dtype=mu_dtype, nesterov=nesterov
        ),
        scale_by_optimistic_gradient(alpha=learning_rate, beta=optimism),
        scale_by_learning_rate(1.0),
    )


def optimistic_adam_v2(
    learning_rate: ScalarOrSchedule,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-08,
    eps_root: float = 0.0,
    mu_dtype: Any | None = None,
    nesterov: bool = True,
) -> GradientTransformation:
    """Optimistic Adam: the optimistic correction on Adam's direction, then the learning rate.

    .. math:: x_{t+1} = x_t - \\eta \\big((\\alpha + \\beta) a_t - \\beta a_{t-1}\\big)

    where :math:`a_t` is `scale_by_adam`'s output: ``chain(scale_by_adam(...),
    scale_by_optimistic_gradient(alpha, beta), scale_by_learning_rate(lr))``.

    Args:
      learning_rate: :math:`\\eta`, a finite number or a schedule.
      alpha: :math:`\\alpha` (a finite number). Default 1.
      beta: :math:`\\beta` (a finite number). Default 1.
      b1: Adam's first-moment decay, in [0, 1). Default 0.9.
      b2: Adam's second-moment decay, in [0, 1). Default 0.999.
      eps: added to the denominator, >= 0. Default 1e-8.
      eps_root: added inside the square root, >= 0. Default 0.
      mu_dtype: dtype of the first moment (default: the parameter's).
      nesterov: use Nesterov momentum in Adam. Default True.

    Returns:
      A `GradientTransformation` (a chain).

    Raises:
      ValueError: for a hyperparameter outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> opt = gradtx.optimistic_adam_v2(0.1)
      >>> g = jnp.array([1.0, -1.0])
      >>> updates, _ = opt.update(g, opt.init(g))
      >>> updates.round(3).tolist()
      [-0.1, 0.1]

    References:
      Daskalakis et al., "Training GANs with Optimism", ICLR 2018,
      https://arxiv.org/abs/1711.00141
    """
    return chain(
        scale_by_adam(
            b1=b1, b2=b2, eps=eps, eps_root=eps_root, mu_dtype=mu_dtype, nesterov=nesterov
        ),
        scale_by_optimistic_gradient(alpha=alpha, beta=beta),
        scale_by_learning_rate(learning_rate),
    )
