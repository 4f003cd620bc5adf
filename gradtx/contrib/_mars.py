"""MARS: Adam on a variance-reduced (STORM-like) gradient estimate, clipped per tensor."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import GradientTransformation, ScalarOrSchedule, Updates, chain, numerics, validate
from gradtx.core.masks import MaskOrFn
from gradtx.core.structure import is_none
from gradtx.transforms import (
    ScaleByAdamState,
    add_decayed_weights,
    scale_by_adam,
    scale_by_learning_rate,
)

__all__ = ["ScaleByMarsState", "mars", "scale_by_mars"]


class ScaleByMarsState(NamedTuple):
    """State of `scale_by_mars`.

    Attributes:
      adam: the state of the Adam step on the corrected gradients (`ScaleByAdamState`).
      last_grad: the previous step's gradient, dtype the parameter's (zeros at first).
    """

    adam: ScaleByAdamState
    last_grad: Updates


def _clip_per_tensor(c: jax.Array, max_norm: float) -> jax.Array:
    dtype = numerics.compute_dtype(c.dtype)
    norm = jnp.sqrt(jnp.sum(numerics.abs_sq(c).astype(dtype)))
    factor = jnp.where(norm > max_norm, max_norm / jnp.where(norm > 0, norm, 1), 1)
    return (c.astype(dtype) * factor.astype(dtype)).astype(c.dtype)


def scale_by_mars(
    b1: float = 0.95,
    b2: float = 0.99,
    eps: float = 1e-8,
    gamma: float = 0.025,
    max_norm: float | None = 1.0,
    mu_dtype: Any = None,
) -> GradientTransformation:
    r"""Rescale updates by MARS-AdamW (Yuan et al. 2024), the approximate form.

    .. math::
        c_t = g_t + \gamma \frac{\beta_1}{1-\beta_1}(g_t - g_{t-1}), \qquad
        \tilde c_t = c_t \cdot \min\Big(1, \frac{C}{\lVert c_t \rVert_2}\Big)
        \quad \text{(per tensor)} \\
        m_t = \beta_1 m_{t-1} + (1-\beta_1)\tilde c_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2)\tilde c_t^2, \qquad
        u_t = \frac{m_t/(1-\beta_1^t)}{\sqrt{v_t/(1-\beta_2^t)} + \epsilon}

    with :math:`g_0 = 0` and :math:`C` = ``max_norm``. This is Algorithm 2 of the paper
    with the approximation of its Section 4 (``is_approx=True``: the previous step's
    gradient stands in for the gradient at the previous parameters on the current
    batch), as in the reference implementation (github.com/AGI-Arena/MARS,
    ``MARS/mars.py``, ``mars_type="mars-adamw"``). The Adam step is `gradtx.scale_by_adam`
    applied to :math:`\tilde c_t`, so ``gamma=0`` and ``max_norm=None`` is exactly Adam,
    and ``gamma=0`` alone is Adam on gradients clipped to norm ``max_norm`` per tensor.

    Every leaf takes the MARS step (the reference's ``optimize_1d=True``); the
    reference's default sends vectors to plain AdamW with betas (0.9, 0.95), which
    `gradtx.multi_transform` expresses.

    Args:
      b1: first-moment decay, in [0, 1). Default 0.95.
      b2: second-moment decay, in [0, 1). Default 0.99.
      eps: added to the root second moment, >= 0. Default 1e-8.
      gamma: the variance-reduction scale :math:`\gamma`, >= 0. Default 0.025.
      max_norm: the per-tensor clip :math:`C` of :math:`c_t`, > 0, or ``None`` (no
        clip). Default 1.0.
      mu_dtype: storage dtype of the first moment (default: the parameter's).

    Returns:
      A `GradientTransformation` with `ScaleByMarsState`.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.scale_by_mars()
      >>> u, _ = tx.update(jnp.array([2.0, -3.0]), tx.init(jnp.zeros(2)))
      >>> u.round(4).tolist()  # the first step is Adam's: sign(c) up to eps
      [1.0, -1.0]

    References:
      Yuan et al., "MARS: Unleashing the Power of Variance Reduction for Training Large
      Models", ICML 2025, https://arxiv.org/abs/2411.10438
    """
    fn = "scale_by_mars"
    validate.decay(fn, b1=b1, b2=b2)
    validate.non_negative(fn, eps=eps, gamma=gamma)
    if max_norm is not None:
        validate.positive(fn, max_norm=max_norm)
    adam = scale_by_adam(b1, b2, eps, mu_dtype=mu_dtype)
    factor = gamma * b1 / (1.0 - b1)

    def init_fn(params):
        return ScaleByMarsState(adam=adam.init(params), last_grad=tree_lib.zeros_like(params))

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match(fn, updates, state.last_grad)

        def corrected(g, last):
            if g is None:
                return None
            c = g
            if not (isinstance(factor, (int, float)) and factor == 0):
                diff = g - last.astype(g.dtype)
                c = numerics.promote_add(g, numerics.scalar_mul(factor, diff)).astype(g.dtype)
            if max_norm is not None:
                c = _clip_per_tensor(c, max_norm)
            return c

        c = jax.tree.map(corrected, updates, state.last_grad, is_leaf=is_none)
        out, adam_state = adam.update(c, state.adam)
        last_grad = jax.tree.map(
            lambda g, old: None if g is None else g.astype(old.dtype),
            updates,
            state.last_grad,
            is_leaf=is_none,
        )
        return out, ScaleByMarsState(adam=adam_state, last_grad=last_grad)

    return GradientTransformation(init_fn, update_fn)


def mars(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.95,
    b2: float = 0.99,
    eps: float = 1e-8,
    gamma: float = 0.025,
    max_norm: float | None = 1.0,
    weight_decay: ScalarOrSchedule = 0.0,
    mask: MaskOrFn = None,
    mu_dtype: Any = None,
) -> GradientTransformation:
    r"""MARS-AdamW: ``chain(scale_by_mars(...), add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate))``.

    The parameters move by :math:`-\eta_t(u_t + \lambda\theta_t)` with :math:`u_t` of
    `scale_by_mars` (the reference's ``p.mul_(1 - lr * wd)`` then ``p.add_(-lr * u)``).
    With ``gamma=0`` it is AdamW on gradients clipped per tensor to norm ``max_norm``.

    Args:
      learning_rate: a number or a schedule (the reference's default is 3e-3).
      b1: first-moment decay, in [0, 1). Default 0.95.
      b2: second-moment decay, in [0, 1). Default 0.99.
      eps: added to the root second moment, >= 0. Default 1e-8.
      gamma: the variance-reduction scale, >= 0. Default 0.025.
      max_norm: the per-tensor clip of the corrected gradient, > 0, or ``None``.
        Default 1.0.
      weight_decay: decoupled weight decay, >= 0, or a schedule. Default 0.
      mask: which parameters decay (see `gradtx.add_decayed_weights`).
      mu_dtype: storage dtype of the first moment.

    Returns:
      A `GradientTransformation` (a `chain`).

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x ** 2)
      >>> tx = gradtx.contrib.mars(0.1)
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = tx.init(params)
      >>> for _ in range(3):
      ...     u, state = tx.update(jax.grad(f)(params), state, params)
      ...     params = gradtx.apply_updates(params, u)
      >>> [round(float(x), 3) for x in params]
      [0.701, 1.7, 2.7]

    References:
      Yuan et al., "MARS: Unleashing the Power of Variance Reduction for Training Large
      Models", ICML 2025, https://arxiv.org/abs/2411.10438
    """
    return chain(
        scale_by_mars(b1, b2, eps, gamma, max_norm, mu_dtype),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
