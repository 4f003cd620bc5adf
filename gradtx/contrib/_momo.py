"""MoMo: momentum (or Adam) with a Polyak-type step size from a model of the loss.

The scalar bookkeeping (loss average, inner products, the step size) runs under JAX's
standard dtype promotion, so that it reproduces Optax's numbers whatever promotion mode
the caller has set; the updates are cast to the gradients' dtypes and the state to the
dtypes ``init`` gave it (the scalars in the parameters' lowest float dtype, as Optax).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gradtx import tree as tree_lib
from gradtx.contrib import _util
from gradtx.core import GradientTransformationExtraArgs, Updates, numerics, validate

__all__ = ["MomoAdamState", "MomoState", "momo", "momo_adam"]

# Optax's threshold under which the momentum's norm counts as zero (no step).
_TINY = float(np.finfo(np.float64).eps)


class MomoState(NamedTuple):
    """State of `momo`.

    Attributes:
      exp_avg: the momentum :math:`d_k` (the parameter's dtype).
      barf: the loss average :math:`\\bar f_k` (lowest float dtype of the params).
      gamma: the average :math:`\\gamma_k` of :math:`\\langle g_k, x_k\\rangle`.
      lb: the loss lower bound in use (fixed unless ``adapt_lower_bound``).
      count: updates so far (int32, saturating).
    """

    exp_avg: Updates
    barf: jax.Array
    gamma: jax.Array
    lb: jax.Array
    count: jax.Array


class MomoAdamState(NamedTuple):
    """State of `momo_adam`.

    Attributes:
      exp_avg: the first moment :math:`d_k` (the parameter's dtype).
      exp_avg_sq: the second moment :math:`v_k`.
      barf: the loss average :math:`\\bar f_k` (lowest float dtype of the params).
      gamma: the average :math:`\\gamma_k` of :math:`\\langle g_k, x_k\\rangle`.
      lb: the loss lower bound in use (fixed unless ``adapt_lower_bound``).
      count: updates so far (int32, saturating).
    """

    exp_avg: Updates
    exp_avg_sq: Updates
    barf: jax.Array
    gamma: jax.Array
    lb: jax.Array
    count: jax.Array


def _check(fn, learning_rate, lower_bound, weight_decay, **decays):
    validate.decay(fn, **decays)
    validate.non_negative(fn, weight_decay=weight_decay)
    validate.finite(fn, learning_rate=learning_rate, lower_bound=lower_bound)


def _scalars(params, lower_bound):
    dtype = numerics.lowest_float_dtype(params)
    return jnp.zeros([], dtype), jnp.zeros([], dtype), jnp.asarray(lower_bound, dtype)


def _value(fn, extra_args, dtype):
    return jnp.asarray(validate.require_extra_arg(fn, extra_args, "value")).astype(dtype)


def _step_size(barf, gamma, iprod, norm, lb, alpha, wd, lower_bound, adapt, bc1):
    """Optax's MoMo step size ``tau`` and the next lower bound (standard promotion)."""
    decay = 1 + alpha * wd
    if adapt:
        cap = decay * (barf - gamma) + iprod
        lb = jnp.where(
            cap < decay * bc1 * lb, jnp.maximum(cap / (2 * bc1 * decay), lower_bound), lb
        )
    t1 = jnp.maximum(decay * (barf - bc1 * lb - gamma) + iprod, 0.0) / norm
    t1 = jnp.where(norm <= _TINY, 0.0, t1)
    tau = jnp.minimum(alpha / bc1, t1)
    new_lb = None
    if adapt:
        new_lb = jnp.maximum(((barf + iprod - gamma) - 0.5 * tau * norm) / bc1, lower_bound)
    return tau, new_lb


def _apply(direction, params, tau, alpha, wd, divide):
    """The update ``x_{k+1} - x_k``: Optax's, or with ``divide`` the reference's
    proximal step ``(x - tau d) / (1 + alpha wd) - x``."""
    decay = 1 + alpha * wd
    if divide:
        return jax.tree.map(lambda d, p: (p - tau * d) / decay - p, direction, params)
    return jax.tree.map(lambda d, p: -(alpha * wd) / decay * p - tau * d, direction, params)


def momo(
    learning_rate: Any = 1.0,
    beta: float = 0.9,
    lower_bound: float = 0.0,
    weight_decay: float = 0.0,
    adapt_lower_bound: bool = False,
    *,
    divide: bool = False,
) -> GradientTransformationExtraArgs:
    r"""MoMo: SGD with momentum and the step size :math:`\min(\alpha, \text{Polyak})`.

    With :math:`\beta_0 = 0` (the averages start at the first values) and
    :math:`\beta_k = \beta` after, :math:`f_k` the loss passed as ``value`` and
    :math:`f_*` the lower bound:

    .. math::
        \bar f_k = \beta_k \bar f_{k-1} + (1-\beta_k) f_k, \qquad
        d_k = \beta_k d_{k-1} + (1-\beta_k) g_k, \qquad
        \gamma_k = \beta_k \gamma_{k-1} + (1-\beta_k) \langle g_k, x_k\rangle \\
        \tau_k = \min\Big(\alpha_k,\ \frac{\big((1+\alpha_k\lambda)(\bar f_k - f_* -
        \gamma_k) + \langle d_k, x_k\rangle\big)_+}{\|d_k\|^2}\Big), \qquad
        u_k = -\frac{\alpha_k \lambda}{1+\alpha_k \lambda} x_k - \tau_k d_k

    (no step where :math:`\|d_k\|^2` is below float64's epsilon). With
    ``adapt_lower_bound`` the bound is estimated on the fly (reset to half the model's
    value when the model falls below it; then :math:`f_* = \max(h_k - \tfrac12 \tau_k
    \|d_k\|^2, \text{lower\_bound})`, :math:`h_k = \bar f_k + \langle d_k, x_k\rangle -
    \gamma_k`).

    Optax's weight decay is not the reference's: the reference implementation
    (github.com/fabian-sp/MoMo, ``momo/momo.py``, Algorithm 4 of the paper) takes the
    proximal step :math:`x_{k+1} = (x_k - \tau_k d_k) / (1 + \alpha_k \lambda)`, which
    also divides the gradient step. ``divide=True`` gives the reference's step; the
    default keeps Optax's numbers (the two agree when ``weight_decay`` is 0).

    ``update`` needs ``params`` and the current loss as ``value=`` (e.g. from
    ``jax.value_and_grad``).

    Args:
      learning_rate: the cap :math:`\alpha_k` on the step size (a number or a
        schedule). Default 1.
      beta: the momentum :math:`\beta`, in [0, 1). Default 0.9.
      lower_bound: the loss lower bound :math:`f_*` (0 for most losses). Default 0.
      weight_decay: :math:`\lambda`, >= 0. Default 0.
      adapt_lower_bound: estimate the bound on the fly. Default False.
      divide: the reference's proximal weight decay. Default False (Optax).

    Returns:
      A `GradientTransformationExtraArgs` with `MomoState`; ``update`` needs
      ``params`` and ``value``.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x ** 2)
      >>> tx = gradtx.contrib.momo()
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = tx.init(params)
      >>> for _ in range(20):
      ...     value, grad = jax.value_and_grad(f)(params)
      ...     u, state = tx.update(grad, state, params, value=value)
      ...     params = gradtx.apply_updates(params, u)
      ...     if int(state.count) in (1, 20):
      ...         print(round(float(f(params)), 2))  # the first (Polyak) step halves x
      3.5
      1.09

    References:
      Schaipp et al., "MoMo: Momentum Models for Adaptive Learning Rates", ICML 2024,
      https://arxiv.org/abs/2305.07583
    """
    fn = "momo"
    _check(fn, learning_rate, lower_bound, weight_decay, beta=beta)

    def init_fn(params):
        barf, gamma, lb = _scalars(params, lower_bound)
        return MomoState(tree_lib.zeros_like(params), barf, gamma, lb, numerics.zero_count())

    def update_fn(updates, state, params=None, **extra_args):
        validate.require_params(fn, params)
        validate.tree_match(fn, updates, state.exp_avg)
        value = _value(fn, extra_args, state.barf.dtype)
        alpha = _util.value(learning_rate, state.count)
        with jax.numpy_dtype_promotion("standard"):
            bt = jnp.where(state.count == 0, 0.0, beta)
            barf = bt * state.barf + (1 - bt) * value
            exp_avg = jax.tree.map(lambda m, g: bt * m + (1 - bt) * g, state.exp_avg, updates)
            gamma = bt * state.gamma + (1 - bt) * tree_lib.vdot(updates, params)
            norm = tree_lib.vdot(exp_avg, exp_avg)
            iprod = tree_lib.vdot(exp_avg, params)
            tau, new_lb = _step_size(
                barf,
                gamma,
                iprod,
                norm,
                state.lb,
                alpha,
                weight_decay,
                lower_bound,
                adapt_lower_bound,
                1.0,
            )
            new = _apply(exp_avg, params, tau, alpha, weight_decay, divide)
        return tree_lib.cast_like(new, updates), MomoState(
            exp_avg=tree_lib.cast_like(exp_avg, state.exp_avg),
            barf=barf.astype(state.barf.dtype),
            gamma=gamma.astype(state.gamma.dtype),
            lb=state.lb if new_lb is None else new_lb.astype(state.lb.dtype),
            count=numerics.safe_increment(state.count),
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)


def momo_adam(
    learning_rate: Any = 1e-2,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    lower_bound: float = 0.0,
    weight_decay: float = 0.0,
    adapt_lower_bound: bool = False,
    *,
    divide: bool = False,
) -> GradientTransformationExtraArgs:
    r"""MoMo-Adam: Adam's direction with the step size :math:`\min(\alpha/\rho_k,
    \text{Polyak})`.

    With :math:`\rho_k = 1-\beta_1^k`, the averages :math:`\bar f_k, d_k, \gamma_k` as
    in `momo` but with :math:`\beta_1` from the first step (zero-initialized),
    :math:`v_k = \beta_2 v_{k-1} + (1-\beta_2) g_k^2` and :math:`D_k = \epsilon +
    \sqrt{v_k / (1-\beta_2^k)}`:

    .. math::
        \tau_k = \min\Big(\frac{\alpha_k}{\rho_k},\
        \frac{\big((1+\alpha_k\lambda)(\bar f_k - \rho_k f_* - \gamma_k) +
        \langle d_k, x_k\rangle\big)_+}{\langle d_k, d_k / D_k\rangle}\Big), \qquad
        u_k = -\frac{\alpha_k \lambda}{1+\alpha_k \lambda} x_k - \tau_k d_k / D_k

    ``divide=True`` gives the reference implementation's proximal weight decay
    (github.com/fabian-sp/MoMo, ``momo/momo_adam.py`` with its default
    ``divide=True``): :math:`x_{k+1} = (x_k - \tau_k d_k / D_k)/(1+\alpha_k\lambda)`;
    the default keeps Optax's numbers (equal when ``weight_decay`` is 0).

    Args:
      learning_rate: the cap :math:`\alpha_k` (a number or a schedule). Default 1e-2.
      b1: first-moment decay, in [0, 1). Default 0.9.
      b2: second-moment decay, in [0, 1). Default 0.999.
      eps: added to the root second moment, >= 0. Default 1e-8.
      lower_bound: the loss lower bound :math:`f_*`. Default 0.
      weight_decay: :math:`\lambda`, >= 0. Default 0.
      adapt_lower_bound: estimate the bound on the fly. Default False.
      divide: the reference's proximal weight decay. Default False (Optax).

    Returns:
      A `GradientTransformationExtraArgs` with `MomoAdamState`; ``update`` needs
      ``params`` and ``value``.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x ** 2)
      >>> tx = gradtx.contrib.momo_adam()
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = tx.init(params)
      >>> for _ in range(20):
      ...     value, grad = jax.value_and_grad(f)(params)
      ...     u, state = tx.update(grad, state, params, value=value)
      ...     params = gradtx.apply_updates(params, u)
      >>> round(float(f(params)), 2)  # the step is capped by learning_rate / (1 - b1^k)
      11.73

    References:
      Schaipp et al., "MoMo: Momentum Models for Adaptive Learning Rates", ICML 2024,
      https://arxiv.org/abs/2305.07583
    """
    fn = "momo_adam"
    _check(fn, learning_rate, lower_bound, weight_decay, b1=b1, b2=b2)
    validate.non_negative(fn, eps=eps)

    def init_fn(params):
        barf, gamma, lb = _scalars(params, lower_bound)
        return MomoAdamState(
            tree_lib.zeros_like(params),
            tree_lib.zeros_like(params),
            barf,
            gamma,
            lb,
            numerics.zero_count(),
        )

    def update_fn(updates, state, params=None, **extra_args):
        validate.require_params(fn, params)
        validate.tree_match(fn, updates, state.exp_avg)
        value = _value(fn, extra_args, state.barf.dtype)
        alpha = _util.value(learning_rate, state.count)
        count = numerics.safe_increment(state.count)
        with jax.numpy_dtype_promotion("standard"):
            barf = b1 * state.barf + (1 - b1) * value
            exp_avg = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.exp_avg, updates)
            exp_avg_sq = jax.tree.map(
                lambda v, g: b2 * v + (1 - b2) * g * g, state.exp_avg_sq, updates
            )
            bc2 = jnp.asarray(1 - b2**count, dtype=barf.dtype)
            bc1 = jnp.asarray(1 - b1**count, dtype=barf.dtype)
            precond = jax.tree.map(lambda v: eps + jnp.sqrt(v / bc2), exp_avg_sq)
            direction = jax.tree.map(lambda m, d: m / d, exp_avg, precond)
            norm = tree_lib.vdot(exp_avg, direction)
            gamma = b1 * state.gamma + (1 - b1) * tree_lib.vdot(updates, params)
            iprod = tree_lib.vdot(exp_avg, params)
            tau, new_lb = _step_size(
                barf,
                gamma,
                iprod,
                norm,
                state.lb,
                alpha,
                weight_decay,
                lower_bound,
                adapt_lower_bound,
                bc1,
            )
            new = _apply(direction, params, tau, alpha, weight_decay, divide)
        return tree_lib.cast_like(new, updates), MomoAdamState(
            exp_avg=tree_lib.cast_like(exp_avg, state.exp_avg),
            exp_avg_sq=tree_lib.cast_like(exp_avg_sq, state.exp_avg_sq),
            barf=barf.astype(state.barf.dtype),
            gamma=gamma.astype(state.gamma.dtype),
            lb=state.lb if new_lb is None else new_lb.astype(state.lb.dtype),
            count=count,
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)
