"""Layer-wise adaptive rates: LARS and LAMB."""

from __future__ import annotations

from gradtx.core import GradientTransformation, ScalarOrSchedule, chain, validate
from gradtx.core.masks import MaskOrFn
from gradtx.core.masks import check as check_mask
from gradtx.optimizers._weight_decay import checking_params, maybe_add_decayed_weights
from gradtx.transforms import scale_by_adam, scale_by_learning_rate, scale_by_trust_ratio, trace
from gradtx.wrappers import masked

__all__ = ["lamb", "lars"]


def lars(
    learning_rate: ScalarOrSchedule,
    weight_decay: ScalarOrSchedule = 0.0,
    weight_decay_mask: MaskOrFn = True,
    trust_coefficient: float = 0.001,
    eps: float = 0.0,
    trust_ratio_mask: MaskOrFn = True,
    momentum: float = 0.9,
    nesterov: bool = False,
) -> GradientTransformation:
    """LARS: SGD with momentum whose per-layer step is scaled by a trust ratio.

    Equivalent to ``chain(add_decayed_weights(weight_decay, weight_decay_mask),
    <scale_by_trust_ratio(trust_coefficient=trust_coefficient, eps=eps) where
    trust_ratio_mask is true>, scale_by_learning_rate(learning_rate),
    trace(momentum, nesterov))``; see `scale_by_trust_ratio` for the ratio. Each leaf
    is one layer. Masks are usually set to leave biases and normalisation scales out.

    Args:
      learning_rate: a finite number, or a schedule ``step -> learning rate``.
      weight_decay: L2 rate added before the trust ratio, >= 0, or a schedule.
        Default 0.
      weight_decay_mask: which leaves decay: a bool, a pytree of bools (or prefix),
        or a callable ``params -> pytree``. Default True (all).
      trust_coefficient: the trust coefficient :math:`\\eta`, > 0. Default 0.001.
      eps: added to the update norm in the ratio, >= 0. Default 0.
      trust_ratio_mask: which leaves are rescaled, like ``weight_decay_mask``.
        Default True (all).
      momentum: momentum decay, in [0, 1). Default 0.9.
      nesterov: use Nesterov momentum. Default False.

    Returns:
      A `GradientTransformation` whose state is the tuple of the inner states.
      ``update`` needs ``params``.

    Raises:
      ValueError: for hyperparameters outside the ranges above.
      TypeError: if a mask is a string or a number.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x**2)
      >>> opt = gradtx.lars(learning_rate=10.0)
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = opt.init(params)
      >>> for _ in range(5):
      ...     updates, state = opt.update(jax.grad(f)(params), state, params)
      ...     params = gradtx.apply_updates(params, updates)
      >>> round(float(f(params)), 3)
      10.636

    References:
      You et al., "Large Batch Training of Convolutional Networks", 2017,
      https://arxiv.org/abs/1708.03888
    """
    check_mask("lars", trust_ratio_mask, "trust_ratio_mask")
    validate.optimizer("lars", learning_rate, weight_decay, momentum=momentum)
    check_mask("lars", weight_decay_mask, "weight_decay_mask")
    tx = chain(
        *maybe_add_decayed_weights(weight_decay, weight_decay_mask),
        masked(
            scale_by_trust_ratio(trust_coefficient=trust_coefficient, eps=eps), trust_ratio_mask
        ),
        scale_by_learning_rate(learning_rate),
        trace(decay=momentum, nesterov=nesterov),
    )
    return checking_params("lars", tx)


def lamb(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-6,
    eps_root: float = 0.0,
    weight_decay: ScalarOrSchedule = 0.0,
    mask: MaskOrFn = None,
) -> GradientTransformation:
    """LAMB: Adam steps with decoupled weight decay, rescaled per layer by a trust ratio.

    Equivalent to ``chain(scale_by_adam(b1, b2, eps, eps_root),
    add_decayed_weights(weight_decay, mask), scale_by_trust_ratio(),
    scale_by_learning_rate(learning_rate))``; see `scale_by_adam` and
    `scale_by_trust_ratio` for the equations.

    Args:
      learning_rate: a finite number, or a schedule ``step -> learning rate``.
      b1: first-moment decay, in [0, 1). Default 0.9.
      b2: second-moment decay, in [0, 1). Default 0.999.
      eps: added outside the square root, >= 0. Default 1e-6.
      eps_root: added inside the square root, >= 0. Default 0.
      weight_decay: decoupled weight decay, >= 0, or a schedule. Default 0.
      mask: which parameters decay (``None``: all); see `add_decayed_weights`.

    Returns:
      A `GradientTransformation` whose state is the tuple of the inner states.
      ``update`` needs ``params``.

    Raises:
      ValueError: for hyperparameters outside the ranges above.
      TypeError: if ``mask`` is a string or a number.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x**2)
      >>> opt = gradtx.lamb(learning_rate=0.1)
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = opt.init(params)
      >>> for _ in range(5):
      ...     updates, state = opt.update(jax.grad(f)(params), state, params)
      ...     params = gradtx.apply_updates(params, updates)
      >>> round(float(f(params)), 3)
      5.543

    References:
      You et al., "Large Batch Optimization for Deep Learning: Training BERT in 76
      minutes", ICLR 2020, https://arxiv.org/abs/1904.00962
    """
    validate.optimizer("lamb", learning_rate, weight_decay)
    check_mask("lamb", mask)
    return chain(
        scale_by_adam(b1=b1, b2=b2, eps=eps, eps_root=eps_root),
        *maybe_add_decayed_weights(weight_decay, mask),
        scale_by_trust_ratio(),
        scale_by_learning_rate(learning_rate),
    )
