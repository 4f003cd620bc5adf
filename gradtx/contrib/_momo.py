"""MoMo and MoMo-Adam: model-based momentum with a Polyak-type adaptive step.

They read the loss through ``value=``. The scalar bookkeeping runs under JAX's standard
dtype promotion (Optax's numbers whatever the caller's mode); updates keep the
gradients' dtypes and the state the dtypes ``init`` gave it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.contrib import _util
from gradtx.core import _numerics, _validate
from gradtx.core._base import GradientTransformationExtraArgs, Updates

__all__ = ["MomoAdamState", "MomoState", "momo", "momo_adam"]


class MomoState(NamedTuple):
    """State of `momo`.

    Attributes:
      exp_avg: momentum of the gradients.
      barf: momentum of the loss values (lowest float dtype of the params).
      gamma: momentum of :math:`\\langle g_t, x_t\\rangle`.
      lb: the current lower bound of the loss.
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
      exp_avg: momentum of the gradients.
      exp_avg_sq: EMA of the squared gradients.
      barf: momentum of the loss values (lowest float dtype of the params).
      gamma: momentum of :math:`\\langle g_t, x_t\\rangle`.
      lb: the current lower bound of the loss.
      count: updates so far (int32, saturating).
    """

    exp_avg: Updates
    exp_avg_sq: Updates
    barf: jax.Array
    gamma: jax.Array
    lb: jax.Array
    count: jax.Array


def _loss(fn: str, params: Any, extra_args: dict) -> Any:
    _validate.require_params(fn, params)
    return _validate.require_extra_arg(fn, extra_args, "value")


def _as_updates(new: Any, grads: Any) -> Any:
    return jax.tree.map(lambda u, g: u.astype(g.dtype), new, grads)


def momo(
    learning_rate: Any = 1.0,
    beta: float = 0.9,
    lower_bound: float = 0.0,
    weight_decay: float = 0.0,
    adapt_lower_bound: bool = False,
) -> GradientTransformationExtraArgs:
    r"""MoMo: SGD with momentum whose step is capped by a Polyak step on a loss model.

    .. math::
        \bar f_t = \beta \bar f_{t-1} + (1-\beta) f(x_t), \quad
        d_t = \beta d_{t-1} + (1-\beta) g_t, \quad
        \gamma_t = \beta \gamma_{t-1} + (1-\beta) \langle g_t, x_t\rangle \\
        \tau_t = \min\Big(\alpha_t,\ \frac{\big((1+\alpha_t\lambda)(\bar f_t - f_* -
        \gamma_t) + \langle d_t, x_t\rangle\big)_+}{\|d_t\|^2}\Big), \qquad
        u_t = -\frac{\alpha_t \lambda}{1+\alpha_t\lambda} x_t - \tau_t d_t

    (:math:`\beta = 0` on the first step; :math:`f_*` = ``lower_bound``, estimated
    online with ``adapt_lower_bound``). ``update`` needs ``value=`` (the loss at
    ``params``).

    Args:
      learning_rate: the cap :math:`\alpha_t` (number or schedule). Default 1.
      beta: momentum, in [0, 1). Default 0.9.
      lower_bound: a lower bound :math:`f_*` of the loss. Default 0.
      weight_decay: :math:`\lambda`, >= 0. Default 0.
      adapt_lower_bound: estimate :math:`f_*` online. Default False.

    Returns:
      A `GradientTransformationExtraArgs` with `MomoState`; ``update`` needs ``params``
      and ``value``.

    Raises:
      ValueError: for hyperparameters outside the ranges above; at ``update`` without
        ``params`` or ``value``.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x ** 2)
      >>> tx = gradtx.contrib.momo()
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = tx.init(params)
      >>> for _ in range(10):
      ...     loss, g = jax.value_and_grad(f)(params)
      ...     u, state = tx.update(g, state, params, value=loss)
      ...     params = gradtx.apply_updates(params, u)
      >>> bool(f(params) < 14.0)
      True

    References:
      Schaipp et al., "MoMo: Momentum Models for Adaptive Learning Rates", ICML 2024,
      https://arxiv.org/abs/2305.07583
    """
    fn = "momo"
    _validate.decay(fn, beta=beta)
    _validate.non_negative(fn, weight_decay=weight_decay)
    _validate.finite(fn, learning_rate=learning_rate, lower_bound=lower_bound)

    def init_fn(params):
        dtype = _util.lowest_float_dtype(params)
        return MomoState(
            exp_avg=tree_lib.zeros_like(params),
            barf=jnp.zeros([], dtype),
            gamma=jnp.zeros([], dtype),
            lb=jnp.asarray(lower_bound, dtype),
            count=_numerics.zero_count(),
        )

    def update_fn(updates, state, params=None, **extra_args):
        value = _loss(fn, params, extra_args)
        alpha = _util.value(learning_rate, state.count)
        with jax.numpy_dtype_promotion("standard"):
            bt = jnp.where(state.count == 0, 0.0, beta)
            barf = bt * state.barf + (1 - bt) * jnp.asarray(value, state.barf.dtype)
            exp_avg = jax.tree.map(lambda m, g: bt * m + (1 - bt) * g, state.exp_avg, updates)
            gamma = bt * state.gamma + (1 - bt) * tree_lib.vdot(updates, params)
            norm_sq = tree_lib.l2_norm(exp_avg, squared=True)
            iprod = tree_lib.vdot(exp_avg, params)
            decay = 1 + alpha * weight_decay
            if adapt_lower_bound:
                cap = decay * (barf - gamma) + iprod
                lb = jnp.where(
                    cap < decay * state.lb,
                    jnp.maximum(cap / (2 * decay), lower_bound),
                    state.lb,
                )
            else:
                lb = state.lb
            t1 = jnp.maximum(decay * (barf - lb - gamma) + iprod, 0.0) / norm_sq
            t1 = jnp.where(norm_sq <= jnp.finfo(float).eps, 0.0, t1)
            tau = jnp.minimum(alpha, t1)
            new = jax.tree.map(
                lambda m, p: -(alpha * weight_decay) / decay * p - tau * m, exp_avg, params
            )
            if adapt_lower_bound:
                lb = jnp.maximum((barf + iprod - gamma) - 0.5 * tau * norm_sq, lower_bound)
            else:
                lb = state.lb
        return _as_updates(new, updates), MomoState(
            exp_avg=_util.stored(exp_avg, state.exp_avg),
            barf=barf.astype(state.barf.dtype),
            gamma=gamma.astype(state.gamma.dtype),
            lb=jnp.asarray(lb).astype(state.lb.dtype),
            count=_numerics.safe_increment(state.count),
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
) -> GradientTransformationExtraArgs:
    r"""MoMo-Adam: `momo`'s capped Polyak step in Adam's preconditioned geometry.

    With :math:`D_t = \epsilon + \sqrt{v_t / (1-\beta_2^t)}` and the bias correction
    :math:`\rho_t = 1-\beta_1^t`:

    .. math::
        \tau_t = \min\Big(\frac{\alpha_t}{\rho_t},\ \frac{\big((1+\alpha_t\lambda)
        (\bar f_t - \rho_t f_* - \gamma_t) + \langle d_t, x_t\rangle\big)_+}
        {\langle d_t, d_t / D_t\rangle}\Big), \qquad
        u_t = -\frac{\alpha_t\lambda}{1+\alpha_t\lambda} x_t - \tau_t\, d_t / D_t

    (the momenta as in `momo`, with :math:`\beta_1` from the first step). ``update``
    needs ``value=``.

    Args:
      learning_rate: the cap :math:`\alpha_t` (number or schedule). Default 1e-2.
      b1: momentum, in [0, 1). Default 0.9.
      b2: second-moment decay, in [0, 1). Default 0.999.
      eps: added to the root second moment, >= 0. Default 1e-8.
      lower_bound: a lower bound :math:`f_*` of the loss. Default 0.
      weight_decay: :math:`\lambda`, >= 0. Default 0.
      adapt_lower_bound: estimate :math:`f_*` online. Default False.

    Returns:
      A `GradientTransformationExtraArgs` with `MomoAdamState`; ``update`` needs
      ``params`` and ``value``.

    Raises:
      ValueError: for hyperparameters outside the ranges above; at ``update`` without
        ``params`` or ``value``.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x ** 2)
      >>> tx = gradtx.contrib.momo_adam(0.5)
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = tx.init(params)
      >>> for _ in range(10):
      ...     loss, g = jax.value_and_grad(f)(params)
      ...     u, state = tx.update(g, state, params, value=loss)
      ...     params = gradtx.apply_updates(params, u)
      >>> bool(f(params) < 14.0)
      True

    References:
      Schaipp et al., "MoMo: Momentum Models for Adaptive Learning Rates", ICML 2024,
      https://arxiv.org/abs/2305.07583
    """
    fn = "momo_adam"
    _validate.decay(fn, b1=b1, b2=b2)
    _validate.non_negative(fn, eps=eps, weight_decay=weight_decay)
    _validate.finite(fn, learning_rate=learning_rate, lower_bound=lower_bound)

    def init_fn(params):
        dtype = _util.lowest_float_dtype(params)
        return MomoAdamState(
            exp_avg=tree_lib.zeros_like(params),
            exp_avg_sq=tree_lib.zeros_like(params),
            barf=jnp.zeros([], dtype),
            gamma=jnp.zeros([], dtype),
            lb=jnp.asarray(lower_bound, dtype),
            count=_numerics.zero_count(),
        )

    def update_fn(updates, state, params=None, **extra_args):
        value = _loss(fn, params, extra_args)
        count = _numerics.safe_increment(state.count)
        alpha = _util.value(learning_rate, state.count)
        with jax.numpy_dtype_promotion("standard"):
            barf = b1 * state.barf + (1 - b1) * jnp.asarray(value, state.barf.dtype)
            exp_avg = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.exp_avg, updates)
            exp_avg_sq = jax.tree.map(
                lambda v, g: b2 * v + (1 - b2) * g * g, state.exp_avg_sq, updates
            )
            bc2 = jnp.asarray(1 - b2**count, barf.dtype)
            precond = jax.tree.map(lambda v: eps + jnp.sqrt(v / bc2), exp_avg_sq)
            weighted = jax.tree.map(lambda m, d: m / d, exp_avg, precond)
            norm_sq = tree_lib.vdot(exp_avg, weighted)
            gamma = b1 * state.gamma + (1 - b1) * tree_lib.vdot(updates, params)
            iprod = tree_lib.vdot(exp_avg, params)
            bc1 = jnp.asarray(1 - b1**count, barf.dtype)
            decay = 1 + alpha * weight_decay
            if adapt_lower_bound:
                cap = decay * (barf - gamma) + iprod
                lb = jnp.where(
                    cap < decay * bc1 * state.lb,
                    jnp.maximum(cap / (2 * bc1 * decay), lower_bound),
                    state.lb,
                )
            else:
                lb = state.lb
            t1 = jnp.maximum(decay * (barf - bc1 * lb - gamma) + iprod, 0.0) / norm_sq
            t1 = jnp.where(norm_sq <= jnp.finfo(float).eps, 0.0, t1)
            tau = jnp.minimum(alpha / bc1, t1)
            new = jax.tree.map(
                lambda m, d, p: -(alpha * weight_decay) / decay * p - tau * m / d,
                exp_avg,
                precond,
                params,
            )
            if adapt_lower_bound:
                lb = jnp.maximum(((barf + iprod - gamma) - 0.5 * tau * norm_sq) / bc1, lower_bound)
            else:
                lb = state.lb
        return _as_updates(new, updates), MomoAdamState(
            exp_avg=_util.stored(exp_avg, state.exp_avg),
            exp_avg_sq=_util.stored(exp_avg_sq, state.exp_avg_sq),
            barf=barf.astype(state.barf.dtype),
            gamma=gamma.astype(state.gamma.dtype),
            lb=jnp.asarray(lb).astype(state.lb.dtype),
            count=count,
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)
