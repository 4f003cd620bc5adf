"""Stochastic gradient descent and its sign and noisy variants."""

from __future__ import annotations

from typing import Any

import jax

from gradtx.core import GradientTransformation, ScalarOrSchedule, chain, identity, validate
from gradtx.transforms import add_noise, scale_by_learning_rate, scale_by_sign, trace

__all__ = ["noisy_sgd", "sgd", "sign_sgd"]


def sgd(
    learning_rate: ScalarOrSchedule,
    momentum: float | None = None,
    nesterov: bool = False,
    accumulator_dtype: Any = None,
) -> GradientTransformation:
    """Stochastic gradient descent, optionally with heavy-ball or Nesterov momentum.

    Equivalent to ``chain(trace(momentum, nesterov, accumulator_dtype),
    scale_by_learning_rate(learning_rate))``, without the `trace` when ``momentum``
    is ``None``. See `trace` for the momentum equations.

    Args:
      learning_rate: a finite number, or a schedule ``step -> learning rate``.
      momentum: the momentum decay, in [0, 1), or ``None`` for plain SGD (default).
      nesterov: use Nesterov momentum. Default False.
      accumulator_dtype: dtype of the momentum buffer (default: the parameter's).

    Returns:
      A `GradientTransformation` whose state is the tuple of the inner states.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x**2)
      >>> opt = gradtx.sgd(learning_rate=0.1, momentum=0.9)
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = opt.init(params)
      >>> for _ in range(3):
      ...     updates, state = opt.update(jax.grad(f)(params), state, params)
      ...     params = gradtx.apply_updates(params, updates)
      >>> round(float(f(params)), 3)
      0.054

    References:
      Robbins and Monro, "A Stochastic Approximation Method", Annals of Mathematical
      Statistics 1951; Sutskever et al., "On the importance of initialization and
      momentum in deep learning", ICML 2013.
    """
    validate.optimizer("sgd", learning_rate, momentum=momentum)
    return chain(
        identity()
        if momentum is None
        else trace(decay=momentum, nesterov=nesterov, accumulator_dtype=accumulator_dtype),
        scale_by_learning_rate(learning_rate),
    )


def sign_sgd(learning_rate: ScalarOrSchedule) -> GradientTransformation:
    """Gradient descent on the sign of each gradient element (signSGD).

    Equivalent to ``chain(scale_by_sign(), scale_by_learning_rate(learning_rate))``.

    Args:
      learning_rate: a finite number, or a schedule ``step -> learning rate``.

    Returns:
      A `GradientTransformation` whose state is the tuple of the inner states.

    Raises:
      ValueError: if ``learning_rate`` is NaN or infinite.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> opt = gradtx.sign_sgd(learning_rate=0.1)
      >>> params = jnp.array([1.0, -2.0])
      >>> updates, _ = opt.update(jnp.array([3.0, -0.01]), opt.init(params), params)
      >>> [round(x, 4) for x in updates.tolist()]
      [-0.1, 0.1]

    References:
      Bernstein et al., "signSGD: Compressed Optimisation for Non-Convex Problems",
      ICML 2018, https://arxiv.org/abs/1802.04434
    """
    validate.optimizer("sign_sgd", learning_rate)
    return chain(scale_by_sign(), scale_by_learning_rate(learning_rate))


def noisy_sgd(
    learning_rate: ScalarOrSchedule,
    eta: float = 0.01,
    gamma: float = 0.55,
    key: jax.Array | int | None = None,
    *,
    seed: int | None = None,
) -> GradientTransformation:
    """Gradient descent on gradients with annealed Gaussian noise added.

    Equivalent to ``chain(add_noise(eta, gamma, key, seed=seed),
    scale_by_learning_rate(learning_rate))``; see `add_noise` for the noise schedule
    :math:`\\sigma_t^2 = \\eta / t^{\\gamma}`.

    Args:
      learning_rate: a finite number, or a schedule ``step -> learning rate``.
      eta: base variance of the noise, >= 0. Default 0.01.
      gamma: annealing exponent, >= 0. Default 0.55.
      key: a PRNG key or an int seed (``None``: ``seed``, or 0).
      seed: an int seed, accepted for compatibility; give ``key`` or ``seed``.

    Returns:
      A `GradientTransformation` whose state is the tuple of the inner states.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x**2)
      >>> opt = gradtx.noisy_sgd(learning_rate=0.1, key=jax.random.key(0))
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = opt.init(params)
      >>> for _ in range(10):
      ...     updates, state = opt.update(jax.grad(f)(params), state, params)
      ...     params = gradtx.apply_updates(params, updates)
      >>> bool(f(params) < 0.5)
      True

    References:
      Neelakantan et al., "Adding Gradient Noise Improves Learning for Very Deep
      Networks", 2015, https://arxiv.org/abs/1511.06807
    """
    validate.optimizer("noisy_sgd", learning_rate)
    return chain(
        add_noise(eta, gamma, key, seed=seed),
        scale_by_learning_rate(learning_rate),
    )
