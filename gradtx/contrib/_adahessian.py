"""AdaHessian: Adam with the squared Hessian diagonal in place of the squared gradient."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.contrib._curvature import (
    HutchinsonState,
    diag_estimator,
    first_moment,
    init_state,
    refresh_every,
)
from gradtx.core import (
    GradientTransformationExtraArgs,
    Updates,
    chain,
    numerics,
    validate,
)
from gradtx.transforms import add_decayed_weights, scale_by_learning_rate

__all__ = ["ScaleByAdaHessianState", "adahessian", "scale_by_adahessian"]


class ScaleByAdaHessianState(NamedTuple):
    """State of `scale_by_adahessian`.

    Attributes:
      count: updates so far (int32, saturating).
      mu: first moment of the gradients, dtype ``mu_dtype`` or the parameter's.
      nu: EMA of the squared (spatially averaged) Hessian-diagonal estimates.
      hessian_fn_state: the estimator's `HutchinsonState` (its PRNG key).
    """

    count: jax.Array
    mu: Updates
    nu: Updates
    hessian_fn_state: HutchinsonState


def _spatial_average(d: jax.Array) -> jax.Array:
    """``|d|``, averaged over all but the last two axes of a leaf of rank >= 3."""
    d = jnp.abs(d)
    if d.ndim < 3:
        return d
    return jnp.broadcast_to(jnp.mean(d, axis=tuple(range(d.ndim - 2)), keepdims=True), d.shape)


def scale_by_adahessian(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-4,
    hessian_power: float = 1.0,
    update_interval: int = 1,
    num_samples: int = 1,
    spatial_average: bool = False,
    key: jax.Array | None = None,
    mu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    r"""Rescale updates by AdaHessian: Adam's step over the RMS of Hutchinson's diagonal.

    With :math:`D_t` Hutchinson's estimate of the Hessian diagonal of ``value_fn`` at
    ``params`` (`gradtx.second_order.hessian_diag`, ``num_samples`` Rademacher probes;
    with ``spatial_average`` :math:`|D_t|` averaged over the spatial axes of each kernel)
    and :math:`t` the step:

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t \\
        v_n = \beta_2 v_{n-1} + (1-\beta_2) D_t^2 \quad \text{(the } n\text{-th refresh)} \\
        u_t = \frac{m_t / (1-\beta_1^t)}{\big(v_n / (1-\beta_2^n)\big)^{k/2} + \epsilon}

    :math:`k` is ``hessian_power``. The estimate is refreshed on steps
    :math:`0, s, 2s, \dots` (:math:`s` = ``update_interval``, the paper's delayed Hessian
    update) inside `jax.lax.cond`; in between :math:`v` (and :math:`n`) stay as they are.
    With ``update_interval=1`` this is the reference step (github.com/amirgholami/
    adahessian, ``instruction/adahessian.py``, ``Adahessian.step``); ``adahessian``
    adds its weight decay :math:`\lambda x` after the preconditioning, as there.

    ``spatial_average`` follows the reference's ``get_trace`` for convolution kernels:
    there ``(out, in, h, w)`` kernels average :math:`|D|` over ``(h, w)``; here every
    leaf of rank >= 3 averages over all but its last two axes (Flax's ``(h, w, in, out)``
    layout). (The reference also averages 2-D weights over their input axis by default;
    leave ``spatial_average`` off for the per-coordinate estimate of the paper.)

    Args:
      b1: decay of the gradient EMA, in [0, 1). Default 0.9.
      b2: decay of the squared-Hessian EMA, in [0, 1). Default 0.999.
      eps: added to the denominator, >= 0. Default 1e-4 (the reference's).
      hessian_power: the power :math:`k`, in [0, 1]. Default 1.
      update_interval: steps :math:`s` between Hessian estimates, an integer >= 1.
        Default 1.
      num_samples: Hutchinson probes per estimate, an integer >= 1. Default 1.
      spatial_average: average :math:`|D|` over the spatial axes of rank >= 3 leaves.
        Default False.
      key: the PRNG key of the probes (default ``jax.random.PRNGKey(0)``).
      mu_dtype: storage dtype of the first moment.

    Returns:
      A `GradientTransformationExtraArgs` with `ScaleByAdaHessianState`; ``update``
      needs ``params`` and ``value_fn=`` (the loss of ``params``).

    Raises:
      ValueError: for hyperparameters outside the ranges above; at ``update`` without
        ``params`` or ``value_fn``.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(jnp.array([1.0, 100.0]) * x ** 2)
      >>> tx = gradtx.contrib.scale_by_adahessian()
      >>> x = jnp.array([1.0, 1.0])
      >>> u, _ = tx.update(jax.grad(f)(x), tx.init(x), x, value_fn=f)
      >>> u.round(3).tolist()  # g / |diag H| (up to eps): a Newton step on a quadratic
      [1.0, 1.0]

    References:
      Yao et al., "ADAHESSIAN: An Adaptive Second Order Optimizer for Machine Learning",
      AAAI 2021, https://arxiv.org/abs/2006.00719
    """
    fn = "scale_by_adahessian"
    validate.decay(fn, b1=b1, b2=b2)
    validate.non_negative(fn, eps=eps)
    validate.unit(fn, hessian_power=hessian_power)
    validate.integer(fn, "update_interval", update_interval, 1)
    mu_dtype = numerics.canonicalize_dtype(mu_dtype)
    estimator = diag_estimator(fn, "hutchinson", key, num_samples)

    def init_fn(params):
        return init_state(ScaleByAdaHessianState, params, mu_dtype, estimator)

    def update_fn(updates, state, params=None, **extra_args):
        count, mu = first_moment(fn, updates, state, params, b1)

        hess_state, nu = refresh_every(
            update_interval,
            estimator,
            state.count,
            state.hessian_fn_state,
            state.nu,
            b2,
            2,
            updates,
            params,
            extra_args,
            (lambda d: jax.tree.map(_spatial_average, d)) if spatial_average else None,
        )
        # Refreshes so far, this step's included: the EMA's own count.
        refreshes = (count - 1) // update_interval + 1
        mu_hat = numerics.bias_correction(mu, b1, count)
        nu_hat = numerics.bias_correction(nu, b2, refreshes)

        def precondition(m, v, g):
            dtype = numerics.common_dtype(m.dtype, v.dtype)
            v = jnp.maximum(v.astype(dtype), 0)
            den = v ** numerics.as_dtype(hessian_power / 2, jnp.result_type(v))
            u = m.astype(dtype) / (den + numerics.as_dtype(eps, jnp.result_type(den)))
            return u.astype(g.dtype)

        new = jax.tree.map(precondition, mu_hat, nu_hat, updates)
        return new, ScaleByAdaHessianState(
            count=count, mu=tree_lib.cast_like(mu, state.mu), nu=nu, hessian_fn_state=hess_state
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)


def adahessian(
    learning_rate: Any = 0.15,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-4,
    weight_decay: float = 0.0,
    hessian_power: float = 1.0,
    *,
    weight_decay_mask: Any = None,
    update_interval: int = 1,
    num_samples: int = 1,
    spatial_average: bool = False,
    key: jax.Array | None = None,
    mu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    r"""AdaHessian with (decoupled, as the reference) weight decay.

    ``chain(scale_by_adahessian(b1, b2, eps, hessian_power, ...),
    add_decayed_weights(weight_decay, weight_decay_mask),
    scale_by_learning_rate(learning_rate))``: the reference's
    :math:`x \leftarrow x - \eta\,(u_t + \lambda x)`. See `scale_by_adahessian` for the
    equations. The defaults are the reference's (learning rate 0.15, eps 1e-4).

    Args:
      learning_rate: a number or a schedule. Default 0.15.
      b1: decay of the gradient EMA, in [0, 1). Default 0.9.
      b2: decay of the squared-Hessian EMA, in [0, 1). Default 0.999.
      eps: added to the denominator, >= 0. Default 1e-4.
      weight_decay: weight decay :math:`\lambda`, >= 0. Default 0.
      hessian_power: the power :math:`k`, in [0, 1]. Default 1.
      weight_decay_mask: mask of the weight decay.
      update_interval: steps between Hessian estimates, >= 1. Default 1.
      num_samples: Hutchinson probes per estimate, >= 1. Default 1.
      spatial_average: see `scale_by_adahessian`. Default False.
      key: the PRNG key of the probes (default ``jax.random.PRNGKey(0)``).
      mu_dtype: storage dtype of the first moment.

    Returns:
      A `GradientTransformationExtraArgs` (a `chain` whose first state is
      `ScaleByAdaHessianState`); ``update`` needs ``params`` and ``value_fn=``.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(jnp.array([1.0, 100.0]) * x ** 2)
      >>> tx = gradtx.contrib.adahessian(0.2)
      >>> x = jnp.array([1.0, 1.0])
      >>> state = tx.init(x)
      >>> @jax.jit
      ... def step(x, state):
      ...     u, state = tx.update(jax.grad(f)(x), state, x, value_fn=f)
      ...     return gradtx.apply_updates(x, u), state
      >>> for _ in range(30):
      ...     x, state = step(x, state)
      >>> x.round(2).tolist()  # both curvatures (2 and 200) contract alike
      [0.03, 0.03]

    References:
      Yao et al., "ADAHESSIAN: An Adaptive Second Order Optimizer for Machine Learning",
      AAAI 2021, https://arxiv.org/abs/2006.00719
    """
    validate.non_negative("adahessian", weight_decay=weight_decay)
    return chain(
        scale_by_adahessian(
            b1,
            b2,
            eps,
            hessian_power,
            update_interval,
            num_samples,
            spatial_average,
            key,
            mu_dtype,
        ),
        add_decayed_weights(weight_decay, weight_decay_mask),
        scale_by_learning_rate(learning_rate),
    )
