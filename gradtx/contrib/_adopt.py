"""ADOPT: Adam whose momentum averages gradients normalized by the *previous* second moment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import GradientTransformation, chain, numerics, validate
from gradtx.transforms import ScaleByAdamState, scale_by_learning_rate

__all__ = ["adopt", "scale_by_adopt"]


def _quarter_power(count: jax.Array) -> jax.Array:
    return count**0.25


def scale_by_adopt(
    b1: float = 0.9,
    b2: float = 0.9999,
    eps: float = 1e-6,
    mu_dtype: Any = None,
    *,
    nesterov: bool = False,
    use_clipping: bool = True,
    clip_value_fn: Callable[[jax.Array], jax.Array] = _quarter_power,
) -> GradientTransformation:
    r"""Rescale updates by ADOPT (Taniguchi et al. 2024).

    .. math::
        v_0 = g_0^2, \quad m_0 = 0, \quad u_0 = 0 \\
        \tilde g_t = \mathrm{clip}\big(g_t / \max(\sqrt{v_{t-1}}, \epsilon),\ \pm c(t)\big),
        \qquad m_t = \beta_1 m_{t-1} + (1-\beta_1) \tilde g_t \\
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2, \qquad u_t = m_t

    (:math:`t` counts from 0; with ``nesterov`` :math:`u_t = \beta_1 m_t + (1-\beta_1)
    \tilde g_t`). The gradient is normalized by the second moment *before* it enters
    it, and the very first update is exactly 0 (step 0 only initializes :math:`v`). The
    clip :math:`c(t)` = ``clip_value_fn(t)`` (default :math:`t^{1/4}`) is the Nov 2024
    revision of the paper; ``use_clipping=False`` is the original algorithm.

    These are also the numbers of the reference implementation (github.com/iShohei220/
    adopt, ``adopt.py``: step 0 sets ``exp_avg_sq = g**2`` and skips the parameter
    update; later steps clip at ``clip_lambda(step)`` with the pre-increment step); the
    reference's decoupled weight decay is ``chain(scale_by_adopt(), add_decayed_weights
    (wd), scale_by_learning_rate(lr))``.

    Args:
      b1: first-moment decay, in [0, 1). Default 0.9.
      b2: second-moment decay, in [0, 1). Default 0.9999.
      eps: lower bound of :math:`\sqrt{v}`, >= 0. Default 1e-6.
      mu_dtype: storage dtype of the first moment (default: the parameter's).
      nesterov: use Nesterov momentum. Default False.
      use_clipping: clip the normalized gradient. Default True.
      clip_value_fn: the clip as a function of the (int32) step. Default
        ``t ** 0.25``; it runs under standard dtype promotion.

    Returns:
      A `GradientTransformation` with `gradtx.ScaleByAdamState`.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.scale_by_adopt()
      >>> state = tx.init(jnp.zeros(2))
      >>> u, state = tx.update(jnp.array([2.0, -3.0]), state)
      >>> u.tolist()  # the first update is exactly zero
      [0.0, 0.0]
      >>> u, state = tx.update(jnp.array([2.0, -3.0]), state)
      >>> u.round(3).tolist()  # (1 - b1) * g / |g_0|
      [0.1, -0.1]

    References:
      Taniguchi et al., "ADOPT: Modified Adam Can Converge with Any beta2 with the
      Optimal Rate", NeurIPS 2024, https://arxiv.org/abs/2411.02853
    """
    fn = "scale_by_adopt"
    validate.decay(fn, b1=b1, b2=b2)
    validate.non_negative(fn, eps=eps)
    if not callable(clip_value_fn):
        raise TypeError(f"{fn}(clip_value_fn={clip_value_fn!r}): must be callable")
    mu_dtype = numerics.canonicalize_dtype(mu_dtype)

    def init_fn(params):
        return ScaleByAdamState(
            count=numerics.zero_count(),
            mu=tree_lib.zeros_like(params, dtype=mu_dtype),
            nu=tree_lib.zeros_like(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match(fn, updates, state.mu)
        started = state.count > 0
        b2_ = jnp.where(started, b2, 0.0)
        b1_ = jnp.where(started, b1, 1.0)
        nu = numerics.update_moment_per_elem_norm(updates, state.nu, b2_, 2)
        if use_clipping:
            with jax.numpy_dtype_promotion("standard"):
                clip = jnp.asarray(clip_value_fn(state.count))

        def normalized(g, v):
            x = g / jnp.maximum(jnp.sqrt(v), jnp.asarray(eps).astype(v.dtype)).astype(g.dtype)
            if use_clipping:
                c = clip.astype(x.dtype)
                x = jnp.clip(x, -c, c)
            return x

        g_tilde = jax.tree.map(normalized, updates, state.nu)
        mu = numerics.update_moment(g_tilde, state.mu, b1_, 1)
        out = numerics.update_moment(g_tilde, mu, b1_, 1) if nesterov else mu
        out = jax.tree.map(lambda u, g: u.astype(g.dtype), out, updates)
        return out, ScaleByAdamState(
            count=numerics.safe_increment(state.count),
            mu=tree_lib.cast_like(mu, state.mu),
            nu=tree_lib.cast_like(nu, state.nu),
        )

    return GradientTransformation(init_fn, update_fn)


def adopt(
    learning_rate: Any,
    b1: float = 0.9,
    b2: float = 0.9999,
    eps: float = 1e-6,
    mu_dtype: Any = None,
    *,
    nesterov: bool = False,
    use_clipping: bool = True,
    clip_value_fn: Callable[[jax.Array], jax.Array] = _quarter_power,
) -> GradientTransformation:
    """ADOPT: ``chain(scale_by_adopt(...), scale_by_learning_rate(learning_rate))``.

    See `scale_by_adopt` for the equations (the first update is exactly 0).

    Args:
      learning_rate: a number or a schedule.
      b1: first-moment decay, in [0, 1). Default 0.9.
      b2: second-moment decay, in [0, 1). Default 0.9999.
      eps: lower bound of the root second moment, >= 0. Default 1e-6.
      mu_dtype: storage dtype of the first moment.
      nesterov: use Nesterov momentum. Default False.
      use_clipping: clip the normalized gradient. Default True.
      clip_value_fn: the clip as a function of the step. Default ``t ** 0.25``.

    Returns:
      A `GradientTransformation` (a `chain`).

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x ** 2)
      >>> tx = gradtx.contrib.adopt(0.1)
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = tx.init(params)
      >>> for _ in range(3):
      ...     u, state = tx.update(jax.grad(f)(params), state, params)
      ...     params = gradtx.apply_updates(params, u)
      >>> [round(float(x), 3) for x in params]  # step 0 only initializes v
      [0.971, 1.971, 2.971]

    References:
      Taniguchi et al., "ADOPT: Modified Adam Can Converge with Any beta2 with the
      Optimal Rate", NeurIPS 2024, https://arxiv.org/abs/2411.02853
    """
    return chain(
        scale_by_adopt(
            b1,
            b2,
            eps,
            mu_dtype,
            nesterov=nesterov,
            use_clipping=use_clipping,
            clip_value_fn=clip_value_fn,
        ),
        scale_by_learning_rate(learning_rate),
    )
