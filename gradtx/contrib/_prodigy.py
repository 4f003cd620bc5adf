"""Prodigy and D-Adaptation: learning-rate-free Adam by estimating the distance to the solution.

Both keep the running estimate :math:`d` of :math:`\\|x_0 - x_*\\|` as a scalar in the
parameters' lowest float dtype (as Optax). The scalar bookkeeping runs under JAX's
standard dtype promotion, so that it reproduces Optax's numbers whatever promotion mode
the caller has set; the updates are cast to the gradients' dtypes and the state to the
dtypes ``init`` gave it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.contrib import _util
from gradtx.core import GradientTransformationExtraArgs, Updates, numerics, validate

__all__ = ["DAdaptAdamWState", "ProdigyState", "dadapt_adamw", "prodigy"]


class ProdigyState(NamedTuple):
    """State of `prodigy`.

    Attributes:
      exp_avg: EMA of :math:`d\\,g` (the parameter's dtype).
      exp_avg_sq: EMA of :math:`d^2 g^2`.
      grad_sum: the weighted sum :math:`s` of the scaled gradients.
      params0: the initial parameters :math:`x_0`.
      estim_lr: the distance estimate :math:`d` (lowest float dtype of the params).
      numerator_weighted: the weighted sum of :math:`\\langle g, x_0 - x\\rangle`.
      count: updates so far (int32, saturating).
    """

    exp_avg: Updates
    exp_avg_sq: Updates
    grad_sum: Updates
    params0: Updates
    estim_lr: jax.Array
    numerator_weighted: jax.Array
    count: jax.Array


class DAdaptAdamWState(NamedTuple):
    """State of `dadapt_adamw`.

    Attributes:
      exp_avg: EMA of :math:`d\\,g` (the parameter's dtype).
      exp_avg_sq: EMA of :math:`g^2`.
      grad_sum: the weighted sum :math:`s` of the scaled gradients.
      estim_lr: the distance estimate :math:`d` (lowest float dtype of the params).
      numerator_weighted: the weighted sum of :math:`\\langle g, s / \\sqrt{v}\\rangle`.
      count: updates so far (int32, saturating).
    """

    exp_avg: Updates
    exp_avg_sq: Updates
    grad_sum: Updates
    estim_lr: jax.Array
    numerator_weighted: jax.Array
    count: jax.Array


def _float_count(count: jax.Array) -> jax.Array:
    return count.astype(jnp.result_type(float))


def _leaf_updates(new: Any, grads: Any) -> Any:
    return jax.tree.map(lambda u, g: u.astype(g.dtype), new, grads)


def prodigy(
    learning_rate: Any = 1.0,
    betas: tuple[float, float] = (0.9, 0.999),
    beta3: float | None = None,
    eps: float = 1e-8,
    estim_lr0: float = 1e-6,
    estim_lr_coef: float = 1.0,
    weight_decay: float = 0.0,
    safeguard_warmup: bool = False,
) -> GradientTransformationExtraArgs:
    r"""Prodigy: Adam with the learning rate :math:`d_t \eta_t` estimated on the fly.

    .. math::
        \hat\eta_t = \eta_t d_t \sqrt{1-\beta_2^t} / (1-\beta_1^t), \qquad
        m_t = \beta_1 m_{t-1} + (1-\beta_1) d_t g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) d_t^2 g_t^2 \\
        r_t = \beta_3 r_{t-1} + \tfrac{d_t}{d_0} \hat\eta_t \langle g_t, x_0 - x_t\rangle,
        \qquad s_t = \beta_3 s_{t-1} + \tfrac{d_t}{d_0} \hat\eta_t g_t \\
        d_{t+1} = \max\big(d_t,\ c\, r_t / \|s_t\|_1\big), \qquad
        u_t = -\hat\eta_t \big(m_t / (\sqrt{v_t} + d_t \epsilon) + \lambda x_t\big)

    (with ``safeguard_warmup`` the :math:`s` update uses :math:`d_t` in place of
    :math:`\hat\eta_t`). The learning rate :math:`\eta_t` is a multiplier, 1 by default.

    Args:
      learning_rate: the multiplier :math:`\eta_t` (a number or a schedule). Default 1.
      betas: ``(beta1, beta2)``, each in [0, 1). Default (0.9, 0.999).
      beta3: decay of :math:`r, s` in [0, 1) (default :math:`\sqrt{\beta_2}`).
      eps: added to the root second moment (times :math:`d`), >= 0. Default 1e-8.
      estim_lr0: the initial estimate :math:`d_0`, > 0. Default 1e-6.
      estim_lr_coef: the coefficient :math:`c`, > 0. Default 1.
      weight_decay: decoupled weight decay :math:`\lambda`, >= 0. Default 0.
      safeguard_warmup: leave :math:`\eta_t` out of :math:`s` (for warmup). Default False.

    Returns:
      A `GradientTransformationExtraArgs` with `ProdigyState`; ``update`` needs ``params``.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x ** 2)
      >>> tx = gradtx.contrib.prodigy()
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = tx.init(params)
      >>> for _ in range(50):
      ...     u, state = tx.update(jax.grad(f)(params), state, params)
      ...     params = gradtx.apply_updates(params, u)
      >>> bool(state.estim_lr > 1e-3), bool(f(params) < 14.0)  # d grew from 1e-6
      (True, True)

    References:
      Mishchenko and Defazio, "Prodigy: An Expeditiously Adaptive Parameter-Free
      Learner", ICML 2024, https://arxiv.org/abs/2306.06101
    """
    fn = "prodigy"
    beta1, beta2 = betas
    validate.decay(fn, beta1=beta1, beta2=beta2, beta3=beta3)
    validate.non_negative(fn, eps=eps, weight_decay=weight_decay)
    validate.positive(fn, estim_lr0=estim_lr0, estim_lr_coef=estim_lr_coef)
    validate.finite(fn, learning_rate=learning_rate)
    if beta3 is None:
        beta3 = beta2**0.5

    def init_fn(params):
        dtype = numerics.lowest_float_dtype(params)
        return ProdigyState(
            exp_avg=tree_lib.zeros_like(params),
            exp_avg_sq=tree_lib.zeros_like(params),
            grad_sum=tree_lib.zeros_like(params),
            # A copy: the state must not hold the params' own buffers (a donated step).
            params0=jax.tree.map(jnp.copy, params),
            estim_lr=jnp.asarray(estim_lr0, dtype),
            numerator_weighted=jnp.zeros([], dtype),
            count=numerics.zero_count(),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        validate.require_params(fn, params)
        validate.tree_match(fn, updates, state.exp_avg)
        count = numerics.safe_increment(state.count)
        lr = _util.value(learning_rate, state.count)
        d = state.estim_lr
        with jax.numpy_dtype_promotion("standard"):
            t = _float_count(count)
            bc = ((1 - beta2**t) ** 0.5) / (1 - beta1**t)
            dlr = jnp.asarray(d * lr * bc, dtype=d.dtype)
            dg = jax.tree.map(lambda g: d * g, updates)
            diff = jax.tree.map(lambda p0, p: p0 - p, state.params0, params)
            numerator_acum = tree_lib.vdot(updates, diff)
            exp_avg = jax.tree.map(lambda m, x: beta1 * m + (1 - beta1) * x, state.exp_avg, dg)
            exp_avg_sq = jax.tree.map(
                lambda v, x: beta2 * v + (1 - beta2) * x * x, state.exp_avg_sq, dg
            )
            step = d if safeguard_warmup else dlr
            grad_sum = jax.tree.map(
                lambda s, x: beta3 * s + step * x / estim_lr0, state.grad_sum, dg
            )
            numerator = beta3 * state.numerator_weighted + (d / estim_lr0) * dlr * numerator_acum
            denominator = _util.l1_norm(grad_sum, numerator.dtype)
            # A zero ||s||_1 (no gradient yet, an empty tree) leaves d as it is, not 0/0.
            ratio = numerator / jnp.where(denominator > 0, denominator, 1)
            estim_lr = jnp.where(denominator > 0, jnp.maximum(d, estim_lr_coef * ratio), d)
            new = jax.tree.map(
                lambda m, v, p: -weight_decay * dlr * p - dlr * m / (jnp.sqrt(v) + d * eps),
                exp_avg,
                exp_avg_sq,
                params,
            )
        return _leaf_updates(new, updates), ProdigyState(
            exp_avg=tree_lib.cast_like(exp_avg, state.exp_avg),
            exp_avg_sq=tree_lib.cast_like(exp_avg_sq, state.exp_avg_sq),
            grad_sum=tree_lib.cast_like(grad_sum, state.grad_sum),
            params0=state.params0,
            estim_lr=estim_lr.astype(d.dtype),
            numerator_weighted=numerator.astype(d.dtype),
            count=count,
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)


def dadapt_adamw(
    learning_rate: Any = 1.0,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    estim_lr0: float = 1e-6,
    weight_decay: float = 0.0,
) -> GradientTransformationExtraArgs:
    r"""D-Adaptation AdamW: Adam whose step size is a running distance estimate :math:`d_t`.

    .. math::
        \hat\eta_t = \eta_t d_t \sqrt{1-\beta_2^t} / (1-\beta_1^t), \qquad
        m_t = \beta_1 m_{t-1} + (1-\beta_1) \hat\eta_t g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        r_t = \sqrt{\beta_2} r_{t-1} + (1-\sqrt{\beta_2}) \hat\eta_t
        \langle g_t, s_{t-1} / (\sqrt{v_{t-1}} + \epsilon)\rangle, \qquad
        s_t = \sqrt{\beta_2} s_{t-1} + (1-\sqrt{\beta_2}) \hat\eta_t g_t \\
        d_{t+1} = \max\big(d_t,\ r_t / ((1-\sqrt{\beta_2}) \|s_t\|_1)\big), \qquad
        u_t = -m_t / (\sqrt{v_t} + \epsilon) - \lambda \hat\eta_t x_t

    Args:
      learning_rate: the multiplier :math:`\eta_t` (a number or a schedule). Default 1.
      betas: ``(beta1, beta2)``, each in [0, 1). Default (0.9, 0.999).
      eps: added to the root second moment, >= 0. Default 1e-8.
      estim_lr0: the initial estimate :math:`d_0`, > 0. Default 1e-6.
      weight_decay: decoupled weight decay :math:`\lambda`, >= 0. Default 0.

    Returns:
      A `GradientTransformationExtraArgs` with `DAdaptAdamWState`; ``update`` needs
      ``params``.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x ** 2)
      >>> tx = gradtx.contrib.dadapt_adamw()
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = tx.init(params)
      >>> for _ in range(50):
      ...     u, state = tx.update(jax.grad(f)(params), state, params)
      ...     params = gradtx.apply_updates(params, u)
      >>> bool(state.estim_lr > 1e-6)
      True

    References:
      Defazio and Mishchenko, "Learning-Rate-Free Learning by D-Adaptation", ICML 2023,
      https://arxiv.org/abs/2301.07733
    """
    fn = "dadapt_adamw"
    beta1, beta2 = betas
    validate.decay(fn, beta1=beta1, beta2=beta2)
    validate.non_negative(fn, eps=eps, weight_decay=weight_decay)
    validate.positive(fn, estim_lr0=estim_lr0)
    validate.finite(fn, learning_rate=learning_rate)

    def init_fn(params):
        dtype = numerics.lowest_float_dtype(params)
        return DAdaptAdamWState(
            exp_avg=tree_lib.zeros_like(params),
            exp_avg_sq=tree_lib.zeros_like(params),
            grad_sum=tree_lib.zeros_like(params),
            estim_lr=jnp.asarray(estim_lr0, dtype),
            numerator_weighted=jnp.zeros([], dtype),
            count=numerics.zero_count(),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        validate.require_params(fn, params)
        validate.tree_match(fn, updates, state.exp_avg)
        count = numerics.safe_increment(state.count)
        lr = _util.value(learning_rate, state.count)
        with jax.numpy_dtype_promotion("standard"):
            sb2 = beta2**0.5
            t = _float_count(count)
            bc = ((1 - beta2**t) ** 0.5) / (1 - beta1**t)
            dlr = (state.estim_lr * lr * bc).astype(state.numerator_weighted.dtype)
            weighted = jax.tree.map(
                lambda s, v: s / (jnp.sqrt(v) + eps), state.grad_sum, state.exp_avg_sq
            )
            numerator_acum = tree_lib.vdot(updates, weighted)
            exp_avg = jax.tree.map(
                lambda m, g: beta1 * m + (1 - beta1) * dlr * g, state.exp_avg, updates
            )
            exp_avg_sq = jax.tree.map(
                lambda v, g: beta2 * v + (1 - beta2) * g * g, state.exp_avg_sq, updates
            )
            grad_sum = jax.tree.map(
                lambda s, g: sb2 * s + (1 - sb2) * dlr * g, state.grad_sum, updates
            )
            l1 = _util.l1_norm(grad_sum, state.numerator_weighted.dtype)
            numerator = sb2 * state.numerator_weighted + (1 - sb2) * dlr * numerator_acum
            scaled = (1 - sb2) * l1  # zero (no gradient yet, an empty tree): d stays
            ratio = numerator / jnp.where(scaled > 0, scaled, 1)
            estim_lr = jnp.where(scaled > 0, jnp.maximum(state.estim_lr, ratio), state.estim_lr)
            new = jax.tree.map(
                lambda m, v, p: -weight_decay * dlr * p - m / (jnp.sqrt(v) + eps),
                exp_avg,
                exp_avg_sq,
                params,
            )
        return _leaf_updates(new, updates), DAdaptAdamWState(
            exp_avg=tree_lib.cast_like(exp_avg, state.exp_avg),
            exp_avg_sq=tree_lib.cast_like(exp_avg_sq, state.exp_avg_sq),
            grad_sum=tree_lib.cast_like(grad_sum, state.grad_sum),
            estim_lr=estim_lr.astype(state.estim_lr.dtype),
            numerator_weighted=numerator.astype(state.numerator_weighted.dtype),
            count=count,
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)
