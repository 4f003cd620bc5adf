"""The Adam family of optimizers: documented ``chain``s of a ``scale_by_*`` transform,
optional decoupled weight decay and the learning rate.

The update equations live on the transforms (`scale_by_adam` and friends); each alias
here only fixes the composition and Optax's signature and defaults.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from gradtx.core import GradientTransformation, ScalarOrSchedule, chain, validate
from gradtx.optimizers._weight_decay import maybe_add_decayed_weights
from gradtx.transforms import (
    scale_by_adam,
    scale_by_adamax,
    scale_by_adan,
    scale_by_amsgrad,
    scale_by_belief,
    scale_by_learning_rate,
    scale_by_lion,
    scale_by_novograd,
    scale_by_radam,
    scale_by_yogi,
)

__all__ = [
    "adabelief",
    "adam",
    "adamax",
    "adamaxw",
    "adamw",
    "adan",
    "amsgrad",
    "lion",
    "nadam",
    "nadamw",
    "novograd",
    "radam",
    "yogi",
]


def adam(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: Any = None,
    *,
    nesterov: bool = False,
    nu_dtype: Any = None,
) -> GradientTransformation:
    """Adam: step along the ratio of the gradients' first and second moment estimates.

    Equivalent to::

        chain(scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov,
                            nu_dtype=nu_dtype),
              scale_by_learning_rate(learning_rate))

    The update equations are on `scale_by_adam`.

    Args:
      learning_rate: a finite number or a schedule ``step -> learning rate``.
      b1: first-moment decay, in [0, 1). Default 0.9.
      b2: second-moment decay, in [0, 1). Default 0.999.
      eps: added outside the square root, >= 0. Default 1e-8.
      eps_root: added inside the square root, >= 0. Default 0.
      mu_dtype: storage dtype of the first moment (default: the parameter's); see
        `scale_by_adam` on bfloat16.
      nesterov: use Nesterov momentum (NAdam, see `nadam`). Default False.
      nu_dtype: storage dtype of the second moment (default: the parameter's); beyond
        Optax, keyword-only. The arithmetic still runs in the gradient's dtype.

    Returns:
      A `GradientTransformation` (a `chain`) with state
      ``(ScaleByAdamState, EmptyState)`` (``ScaleByScheduleState`` for a schedule).

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> opt = gradtx.adam(learning_rate=0.1)
      >>> params = jnp.array([1.0, -2.0])
      >>> state = opt.init(params)
      >>> for _ in range(3):
      ...     grads = jax.grad(lambda p: jnp.sum(p**2))(params)
      ...     updates, state = opt.update(grads, state, params)
      ...     params = gradtx.apply_updates(params, updates)
      >>> params.round(3).tolist()
      [0.702, -1.701]

    References:
      Kingma and Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015,
      https://arxiv.org/abs/1412.6980
    """
    validate.optimizer("adam", learning_rate, b1=b1, b2=b2)
    return chain(
        scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov, nu_dtype=nu_dtype),
        scale_by_learning_rate(learning_rate),
    )


nadam = partial(adam, nesterov=True)
nadam.__doc__ = """NAdam: `adam` with ``nesterov=True``; see `adam` and `scale_by_adam`.

References:
  Dozat, "Incorporating Nesterov Momentum into Adam", ICLR workshop 2016,
  https://openreview.net/forum?id=OM0jvwB8jIp57ZJjtNEZ
"""


def adamw(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: Any = None,
    weight_decay: ScalarOrSchedule = 1e-4,
    mask: Any = None,
    *,
    nesterov: bool = False,
    nu_dtype: Any = None,
) -> GradientTransformation:
    """AdamW: Adam with decoupled weight decay.

    Equivalent to::

        chain(scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov,
                            nu_dtype=nu_dtype),
              add_decayed_weights(weight_decay, mask),
              scale_by_learning_rate(learning_rate))

    so the parameters shrink by ``learning_rate * weight_decay * params`` per step,
    outside Adam's rescaling. The update equations are on `scale_by_adam`.

    Args:
      learning_rate: a finite number or a schedule ``step -> learning rate``.
      b1: first-moment decay, in [0, 1). Default 0.9.
      b2: second-moment decay, in [0, 1). Default 0.999.
      eps: added outside the square root, >= 0. Default 1e-8.
      eps_root: added inside the square root, >= 0. Default 0.
      mu_dtype: storage dtype of the first moment (default: the parameter's); see
        `scale_by_adam` on bfloat16.
      weight_decay: decay rate, >= 0, or a schedule. Default 1e-4.
      mask: which parameters decay: ``None`` (all), a pytree of bools shaped like the
        params (or a prefix of it), or a callable ``params -> such a pytree``.
      nesterov: use Nesterov momentum (NAdamW, see `nadamw`). Default False.
      nu_dtype: storage dtype of the second moment (default: the parameter's); beyond
        Optax, keyword-only. The arithmetic still runs in the gradient's dtype.

    Returns:
      A `GradientTransformation` (a `chain`) whose ``update`` needs ``params``.

    Raises:
      ValueError: for hyperparameters outside the ranges above.
      TypeError: for a ``mask`` that is neither a pytree nor a callable.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> params = {"w": jnp.array([1.0, -2.0]), "b": jnp.array([0.5])}
      >>> opt = gradtx.adamw(0.1, weight_decay=0.5, mask={"w": True, "b": False})
      >>> state = opt.init(params)
      >>> grads = jax.tree.map(jnp.zeros_like, params)  # only the decay acts
      >>> updates, state = opt.update(grads, state, params)
      >>> new = gradtx.apply_updates(params, updates)
      >>> new["w"].round(3).tolist(), new["b"].tolist()
      ([0.95, -1.9], [0.5])

    References:
      Loshchilov and Hutter, "Decoupled Weight Decay Regularization", ICLR 2019,
      https://arxiv.org/abs/1711.05101
    """
    validate.optimizer("adamw", learning_rate, weight_decay, b1=b1, b2=b2)
    return chain(
        scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov, nu_dtype=nu_dtype),
        *maybe_add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


nadamw = partial(adamw, nesterov=True)
nadamw.__doc__ = """NAdamW: `adamw` with ``nesterov=True``; see `adamw` and `scale_by_adam`.

References:
  Dozat, "Incorporating Nesterov Momentum into Adam", ICLR workshop 2016,
  https://openreview.net/forum?id=OM0jvwB8jIp57ZJjtNEZ
"""


def adamax(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    *,
    nu_dtype: Any = None,
) -> GradientTransformation:
    """Adamax: Adam with the exponentially weighted infinity norm as second moment.

    Equivalent to::

        chain(scale_by_adamax(b1, b2, eps, nu_dtype=nu_dtype),
              scale_by_learning_rate(learning_rate))

    The update equations are on `scale_by_adamax`.

    Args:
      learning_rate: a finite number or a schedule ``step -> learning rate``.
      b1: first-moment decay, in [0, 1). Default 0.9.
      b2: decay of the infinity norm, in [0, 1). Default 0.999.
      eps: floor of the infinity norm, >= 0. Default 1e-8.
      nu_dtype: storage dtype of the infinity norm (default: the parameter's); beyond
        Optax, keyword-only.

    Returns:
      A `GradientTransformation` (a `chain`) with state
      ``(ScaleByAdamState, EmptyState)`` (``ScaleByScheduleState`` for a schedule).

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> opt = gradtx.adamax(learning_rate=0.1)
      >>> params = jnp.array([1.0, -2.0])
      >>> state = opt.init(params)
      >>> for _ in range(3):
      ...     grads = jax.grad(lambda p: jnp.sum(p**2))(params)
      ...     updates, state = opt.update(grads, state, params)
      ...     params = gradtx.apply_updates(params, updates)
      >>> params.round(3).tolist()
      [0.716, -1.708]

    References:
      Kingma and Ba, "Adam: A Method for Stochastic Optimization" (Section 7.1), ICLR 2015,
      https://arxiv.org/abs/1412.6980
    """
    validate.optimizer("adamax", learning_rate, b1=b1, b2=b2)
    return chain(
        scale_by_adamax(b1, b2, eps, nu_dtype=nu_dtype),
        scale_by_learning_rate(learning_rate),
    )


def adamaxw(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: ScalarOrSchedule = 1e-4,
    mask: Any = None,
    *,
    nu_dtype: Any = None,
) -> GradientTransformation:
    """AdamaxW: Adamax with decoupled weight decay.

    Equivalent to::

        chain(scale_by_adamax(b1, b2, eps, nu_dtype=nu_dtype),
              add_decayed_weights(weight_decay, mask),
              scale_by_learning_rate(learning_rate))

    The update equations are on `scale_by_adamax`.

    Args:
      learning_rate: a finite number or a schedule ``step -> learning rate``.
      b1: first-moment decay, in [0, 1). Default 0.9.
      b2: decay of the infinity norm, in [0, 1). Default 0.999.
      eps: floor of the infinity norm, >= 0. Default 1e-8.
      weight_decay: decay rate, >= 0, or a schedule. Default 1e-4.
      mask: which parameters decay: ``None`` (all), a pytree of bools shaped like the
        params (or a prefix of it), or a callable ``params -> such a pytree``.
      nu_dtype: storage dtype of the infinity norm (default: the parameter's); beyond
        Optax, keyword-only.

    Returns:
      A `GradientTransformation` (a `chain`) whose ``update`` needs ``params``.

    Raises:
      ValueError: for hyperparameters outside the ranges above.
      TypeError: for a ``mask`` that is neither a pytree nor a callable.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> params = jnp.array([1.0, -2.0])
      >>> opt = gradtx.adamaxw(0.1, weight_decay=0.5)
      >>> updates, _ = opt.update(jnp.array([1.0, 1.0]), opt.init(params), params)
      >>> updates.round(3).tolist()  # -0.1 * (sign(g) + 0.5 * params)
      [-0.15, 0.0]

    References:
      Loshchilov and Hutter, "Decoupled Weight Decay Regularization", ICLR 2019,
      https://arxiv.org/abs/1711.05101
    """
    validate.optimizer("adamaxw", learning_rate, weight_decay, b1=b1, b2=b2)
    return chain(
        scale_by_adamax(b1, b2, eps, nu_dtype=nu_dtype),
        *maybe_add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


def amsgrad(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: Any = None,
    bias_correction_mu: bool = True,
    bias_correction_nu: bool = True,
    *,
    nu_dtype: Any = None,
) -> GradientTransformation:
    """AMSGrad: Adam with a running maximum of the second moment.

    Equivalent to::

        chain(scale_by_amsgrad(b1, b2, eps, eps_root, mu_dtype,
                               bias_correction_mu, bias_correction_nu, nu_dtype=nu_dtype),
              scale_by_learning_rate(learning_rate))

    The update equations are on `scale_by_amsgrad`.

    Args:
      learning_rate: a finite number or a schedule ``step -> learning rate``.
      b1: first-moment decay, in [0, 1). Default 0.9.
      b2: second-moment decay, in [0, 1). Default 0.999.
      eps: added outside the square root, >= 0. Default 1e-8.
      eps_root: added inside the square root, >= 0. Default 0.
      mu_dtype: storage dtype of the first moment (default: the parameter's); see
        `scale_by_adam` on bfloat16.
      bias_correction_mu: debias the first moment. Default True.
      bias_correction_nu: debias the second moment before the maximum. Default True.
      nu_dtype: storage dtype of the second moment and of its running maximum (default:
        the parameter's); beyond Optax, keyword-only.

    Returns:
      A `GradientTransformation` (a `chain`) with state
      ``(ScaleByAmsgradState, EmptyState)`` (``ScaleByScheduleState`` for a schedule).

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> opt = gradtx.amsgrad(learning_rate=0.1)
      >>> params = jnp.array([1.0, -2.0])
      >>> state = opt.init(params)
      >>> for _ in range(3):
      ...     grads = jax.grad(lambda p: jnp.sum(p**2))(params)
      ...     updates, state = opt.update(grads, state, params)
      ...     params = gradtx.apply_updates(params, updates)
      >>> params.round(3).tolist()
      [0.716, -1.708]

    References:
      Reddi et al., "On the Convergence of Adam and Beyond", ICLR 2018,
      https://arxiv.org/abs/1904.09237
    """
    validate.optimizer("amsgrad", learning_rate, b1=b1, b2=b2)
    return chain(
        scale_by_amsgrad(
            b1,
            b2,
            eps,
            eps_root,
            mu_dtype,
            bias_correction_mu,
            bias_correction_nu,
            nu_dtype=nu_dtype,
        ),
        scale_by_learning_rate(learning_rate),
    )


def adabelief(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-16,
    eps_root: float = 1e-16,
    *,
    nesterov: bool = False,
    nu_dtype: Any = None,
) -> GradientTransformation:
    """AdaBelief: Adam whose step shrinks when the gradient deviates from its prediction.

    Equivalent to::

        chain(scale_by_belief(b1, b2, eps, eps_root, nesterov=nesterov, nu_dtype=nu_dtype),
              scale_by_learning_rate(learning_rate))

    The update equations are on `scale_by_belief`.

    Args:
      learning_rate: a finite number or a schedule ``step -> learning rate``.
      b1: first-moment decay, in [0, 1). Default 0.9.
      b2: decay of the prediction-error moment, in [0, 1). Default 0.999.
      eps: added outside the square root, >= 0. Default 1e-16.
      eps_root: added to the second moment each step, >= 0. Default 1e-16.
      nesterov: use Nesterov momentum. Default False.
      nu_dtype: storage dtype of the prediction-error moment (default: the parameter's);
        beyond Optax, keyword-only.

    Returns:
      A `GradientTransformation` (a `chain`) with state
      ``(ScaleByBeliefState, EmptyState)`` (``ScaleByScheduleState`` for a schedule).

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> opt = gradtx.adabelief(learning_rate=0.1)
      >>> params = jnp.array([1.0, -2.0])
      >>> state = opt.init(params)
      >>> for _ in range(3):
      ...     grads = jax.grad(lambda p: jnp.sum(p**2))(params)
      ...     updates, state = opt.update(grads, state, params)
      ...     params = gradtx.apply_updates(params, updates)
      >>> params.round(3).tolist()
      [0.652, -1.651]

    References:
      Zhuang et al., "AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed
      Gradients", NeurIPS 2020, https://arxiv.org/abs/2010.07468
    """
    validate.optimizer("adabelief", learning_rate, b1=b1, b2=b2)
    return chain(
        scale_by_belief(b1, b2, eps, eps_root, nesterov=nesterov, nu_dtype=nu_dtype),
        scale_by_learning_rate(learning_rate),
    )


def lion(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.99,
    mu_dtype: Any = None,
    weight_decay: ScalarOrSchedule = 1e-3,
    mask: Any = None,
) -> GradientTransformation:
    """Lion: signed momentum with decoupled weight decay.

    Equivalent to::

        chain(scale_by_lion(b1, b2, mu_dtype),
              add_decayed_weights(weight_decay, mask),
              scale_by_learning_rate(learning_rate))

    Each coordinate moves by exactly ``learning_rate`` (plus the decay), so Lion wants a
    learning rate 3-10x smaller, and a weight decay 3-10x larger, than AdamW. The update
    equations are on `scale_by_lion`.

    Args:
      learning_rate: a finite number or a schedule ``step -> learning rate``.
      b1: weight of the momentum in the update, in [0, 1]. Default 0.9.
      b2: momentum decay, in [0, 1]. Default 0.99.
      mu_dtype: storage dtype of the momentum (default: the parameter's); see
        `scale_by_lion` on bfloat16.
      weight_decay: decay rate, >= 0, or a schedule. Default 1e-3.
      mask: which parameters decay: ``None`` (all), a pytree of bools shaped like the
        params (or a prefix of it), or a callable ``params -> such a pytree``.

    Returns:
      A `GradientTransformation` (a `chain`) whose ``update`` needs ``params``.

    Raises:
      ValueError: for hyperparameters outside the ranges above.
      TypeError: for a ``mask`` that is neither a pytree nor a callable.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> params = jnp.array([1.0, -2.0])
      >>> opt = gradtx.lion(0.01, weight_decay=0.0)
      >>> updates, _ = opt.update(jnp.array([0.3, -1e-4]), opt.init(params), params)
      >>> updates.round(4).tolist()
      [-0.01, 0.01]

    References:
      Chen et al., "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023,
      https://arxiv.org/abs/2302.06675
    """
    validate.unit("lion", b1=b1, b2=b2)  # Lion's b1 and b2 may be 1, unlike Adam's
    validate.optimizer("lion", learning_rate, weight_decay)
    return chain(
        scale_by_lion(b1, b2, mu_dtype),
        *maybe_add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


def radam(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    threshold: float = 5.0,
    *,
    nesterov: bool = False,
    nu_dtype: Any = None,
) -> GradientTransformation:
    """RAdam: Adam that falls back to momentum SGD while the second moment is unreliable.

    Equivalent to::

        chain(scale_by_radam(b1, b2, eps, eps_root, threshold, nesterov=nesterov,
                             nu_dtype=nu_dtype),
              scale_by_learning_rate(learning_rate))

    The update equations are on `scale_by_radam`.

    Args:
      learning_rate: a finite number or a schedule ``step -> learning rate``.
      b1: first-moment decay, in [0, 1). Default 0.9.
      b2: second-moment decay, in [0, 1). Default 0.999.
      eps: added outside the square root, >= 0. Default 1e-8.
      eps_root: added inside the square root, >= 0. Default 0.
      threshold: smallest variance-tractability :math:`\\rho_t` at which the adaptive
        step is used, >= 4. Default 5.
      nesterov: use Nesterov momentum. Default False.
      nu_dtype: storage dtype of the second moment (default: the parameter's); beyond
        Optax, keyword-only. The arithmetic still runs in the gradient's dtype.

    Returns:
      A `GradientTransformation` (a `chain`) with state
      ``(ScaleByAdamState, EmptyState)`` (``ScaleByScheduleState`` for a schedule).

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> opt = gradtx.radam(learning_rate=0.1)
      >>> params = jnp.array([1.0, -2.0])
      >>> state = opt.init(params)
      >>> for _ in range(3):
      ...     grads = jax.grad(lambda p: jnp.sum(p**2))(params)
      ...     updates, state = opt.update(grads, state, params)
      ...     params = gradtx.apply_updates(params, updates)
      >>> params.round(3).tolist()  # the first steps are momentum SGD
      [0.462, -0.925]

    References:
      Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond", ICLR 2020,
      https://arxiv.org/abs/1908.03265
    """
    validate.interval("radam", "threshold", threshold, 4.0)
    validate.optimizer("radam", learning_rate, b1=b1, b2=b2)
    return chain(
        scale_by_radam(b1, b2, eps, eps_root, threshold, nesterov=nesterov, nu_dtype=nu_dtype),
        scale_by_learning_rate(learning_rate),
    )


def yogi(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-3,
    *,
    nu_dtype: Any = None,
) -> GradientTransformation:
    """Yogi: Adam whose second moment changes additively, by at most :math:`(1-\\beta_2) g^2`.

    Equivalent to::

        chain(scale_by_yogi(b1, b2, eps, nu_dtype=nu_dtype),
              scale_by_learning_rate(learning_rate))

    The update equations are on `scale_by_yogi`.

    Args:
      learning_rate: a finite number or a schedule ``step -> learning rate``.
      b1: first-moment decay, in [0, 1). Default 0.9.
      b2: second-moment rate, in [0, 1). Default 0.999.
      eps: added outside the square root, >= 0. Default 1e-3.
      nu_dtype: storage dtype of the second moment (default: the parameter's); beyond
        Optax, keyword-only. The arithmetic still runs in the gradient's dtype.

    Returns:
      A `GradientTransformation` (a `chain`) with state
      ``(ScaleByAdamState, EmptyState)`` (``ScaleByScheduleState`` for a schedule).

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> opt = gradtx.yogi(learning_rate=0.1)
      >>> params = jnp.array([1.0, -2.0])
      >>> state = opt.init(params)
      >>> for _ in range(3):
      ...     grads = jax.grad(lambda p: jnp.sum(p**2))(params)
      ...     updates, state = opt.update(grads, state, params)
      ...     params = gradtx.apply_updates(params, updates)
      >>> params.round(3).tolist()
      [0.702, -1.701]

    References:
      Zaheer et al., "Adaptive Methods for Nonconvex Optimization", NeurIPS 2018,
      https://proceedings.neurips.cc/paper/2018/file/90365351ccc7437a1309dc64e4db32a3-Paper.pdf
    """
    validate.optimizer("yogi", learning_rate, b1=b1, b2=b2)
    return chain(
        scale_by_yogi(b1, b2, eps, nu_dtype=nu_dtype),
        scale_by_learning_rate(learning_rate),
    )


def adan(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.98,
    b2: float = 0.92,
    b3: float = 0.99,
    eps: float = 1e-8,
    eps_root: float = 1e-8,
    weight_decay: ScalarOrSchedule = 0.0,
    mask: Any = None,
) -> GradientTransformation:
    """Adan: adaptive Nesterov momentum, with decoupled weight decay.

    Equivalent to::

        chain(scale_by_adan(b1, b2, b3, eps, eps_root),
              add_decayed_weights(weight_decay, mask),
              scale_by_learning_rate(learning_rate))

    The decay is AdamW's :math:`\\theta - \\eta\\lambda\\theta`, not the paper's
    proximal :math:`\\theta / (1 + \\eta\\lambda)` (they agree to first order). The update
    equations, and a note on how the gradient difference is weighted, are on
    `scale_by_adan`.

    Args:
      learning_rate: a finite number or a schedule ``step -> learning rate``.
      b1: decay of the gradient EMA, in [0, 1). Default 0.98.
      b2: decay of the gradient-difference EMA, in [0, 1). Default 0.92.
      b3: decay of the squared EMA, in [0, 1). Default 0.99.
      eps: added outside the square root, >= 0. Default 1e-8.
      eps_root: added inside the square root, >= 0. Default 1e-8.
      weight_decay: decay rate, >= 0, or a schedule. Default 0.
      mask: which parameters decay: ``None`` (all), a pytree of bools shaped like the
        params (or a prefix of it), or a callable ``params -> such a pytree``.

    Returns:
      A `GradientTransformation` (a `chain`) whose ``update`` needs ``params``.

    Raises:
      ValueError: for hyperparameters outside the ranges above.
      TypeError: for a ``mask`` that is neither a pytree nor a callable.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> opt = gradtx.adan(learning_rate=0.1)
      >>> params = jnp.array([1.0, -2.0])
      >>> state = opt.init(params)
      >>> for _ in range(3):
      ...     grads = jax.grad(lambda p: jnp.sum(p**2))(params)
      ...     updates, state = opt.update(grads, state, params)
      ...     params = gradtx.apply_updates(params, updates)
      >>> params.round(3).tolist()
      [0.701, -1.700]

    References:
      Xie et al., "Adan: Adaptive Nesterov Momentum Algorithm for Faster Optimizing Deep
      Models", IEEE TPAMI 2024, https://arxiv.org/abs/2208.06677
    """
    validate.optimizer("adan", learning_rate, weight_decay, b1=b1, b2=b2, b3=b3)
    return chain(
        scale_by_adan(b1, b2, b3, eps, eps_root),
        *maybe_add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


def novograd(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.25,
    eps: float = 1e-6,
    eps_root: float = 0.0,
    weight_decay: float = 0.0,
) -> GradientTransformation:
    """NovoGrad: momentum on gradients normalised by a per-layer second moment.

    Equivalent to::

        chain(scale_by_novograd(b1, b2, eps, eps_root, weight_decay),
              scale_by_learning_rate(learning_rate))

    The weight decay is inside the normalised momentum (as in the paper), not decoupled.
    The update equations are on `scale_by_novograd`.

    Args:
      learning_rate: a finite number or a schedule ``step -> learning rate``.
      b1: momentum decay, in [0, 1). Default 0.9.
      b2: decay of the per-layer squared norms, in [0, 1). Default 0.25.
      eps: added outside the square root, >= 0. Default 1e-6.
      eps_root: added inside the square root, >= 0. Default 0.
      weight_decay: >= 0; when not 0, ``update`` needs ``params``. Default 0.

    Returns:
      A `GradientTransformation` (a `chain`) with state
      ``(ScaleByNovogradState, EmptyState)`` (``ScaleByScheduleState`` for a schedule).

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> opt = gradtx.novograd(learning_rate=0.1)
      >>> params = jnp.array([3.0, -4.0])
      >>> updates, _ = opt.update(params, opt.init(params), params)
      >>> updates.round(4).tolist()  # -0.1 * g / ||g||
      [-0.06, 0.08]

    References:
      Ginsburg et al., "Stochastic Gradient Methods with Layer-wise Adaptive Moments for
      Training of Deep Networks", arXiv 2019, https://arxiv.org/abs/1905.11286
    """
    validate.non_negative("novograd", weight_decay=weight_decay)  # applied by the scaler
    validate.optimizer("novograd", learning_rate, b1=b1, b2=b2)
    return chain(
        scale_by_novograd(b1, b2, eps, eps_root, weight_decay),
        scale_by_learning_rate(learning_rate),
    )
