"""Scaling by accumulated squared gradients: RMSProp, centred RMSProp, Adagrad, Adadelta."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import GradientTransformation, Updates, numerics, validate

__all__ = [
    "ScaleByAdaDeltaState",
    "ScaleByRStdDevState",
    "ScaleByRStdDevWithCountState",
    "ScaleByRmsState",
    "ScaleByRmsWithCountState",
    "ScaleByRssState",
    "scale_by_adadelta",
    "scale_by_rms",
    "scale_by_rss",
    "scale_by_stddev",
]


def _common(*xs: jax.Array) -> list[jax.Array]:
    """The arrays cast to their common dtype."""
    dtype = numerics.common_dtype(*(x.dtype for x in xs))
    return [x.astype(dtype) for x in xs]


def _wide(*xs: jax.Array) -> list[jax.Array]:
    """The arrays in at least float32: a float16 ``eps`` of 1e-8 would round to zero."""
    return [x.astype(numerics.compute_dtype(x.dtype)) for x in xs]


def _inverse_root(x: jax.Array, eps: Any, eps_in_sqrt: bool) -> jax.Array:
    """``1 / sqrt(x + eps)`` or ``1 / (sqrt(x) + eps)``."""
    eps = numerics.as_dtype(eps, x.dtype)
    if eps_in_sqrt:
        return jax.lax.rsqrt(x + eps)
    return 1 / (jnp.sqrt(x) + eps)


class ScaleByRmsState(NamedTuple):
    """State of `scale_by_rms` without bias correction.

    Attributes:
      nu: EMA of the squared gradients, parameter dtype.
    """

    nu: Updates


class ScaleByRmsWithCountState(NamedTuple):
    """State of `scale_by_rms` with ``bias_correction=True``.

    Attributes:
      count: updates so far (int32, saturating).
      nu: EMA of the squared gradients, parameter dtype.
    """

    count: jax.Array
    nu: Updates


def scale_by_rms(
    decay: float = 0.9,
    eps: float = 1e-8,
    initial_scale: float = 0.0,
    eps_in_sqrt: bool = True,
    bias_correction: bool = False,
) -> GradientTransformation:
    """Divide the updates by the root of an EMA of their squares (RMSProp).

    .. math::
        v_t = \\rho\\, v_{t-1} + (1-\\rho)\\, g_t^2, \\quad v_0 = s, \\qquad
        \\hat v_t = v_t \\text{ or } v_t / (1-\\rho^t) \\\\
        u_t = \\frac{g_t}{\\sqrt{\\hat v_t + \\epsilon}} \\;\\text{(eps in sqrt)}
        \\quad\\text{or}\\quad u_t = \\frac{g_t}{\\sqrt{\\hat v_t} + \\epsilon}

    ``scale_by_rms(decay=b2, eps_in_sqrt=False, bias_correction=True)`` equals
    ``scale_by_adam(b1=0, b2=b2)`` without storing a first moment.

    Args:
      decay: EMA decay :math:`\\rho`, in [0, 1). Default 0.9.
      eps: stabiliser :math:`\\epsilon`, >= 0. Default 1e-8.
      initial_scale: initial value :math:`s` of :math:`v`, >= 0. Default 0 (with
        ``eps=0`` the first updates can then divide by zero).
      eps_in_sqrt: add :math:`\\epsilon` inside the square root (default) or outside.
      bias_correction: divide :math:`v_t` by :math:`1-\\rho^t`. Default False.

    Returns:
      A `GradientTransformation` with `ScaleByRmsState`, or `ScaleByRmsWithCountState`
      when ``bias_correction`` is true.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_rms(decay=0.75, eps=0.0)
      >>> u, state = tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))
      >>> u.round(4).tolist(), state.nu.tolist()  # 2 / sqrt(0.25 * 4)
      ([2.0], [1.0])

    References:
      Tieleman and Hinton, "Lecture 6.5 - RMSProp", COURSERA: Neural Networks for
      Machine Learning, 2012.
    """
    fn = "scale_by_rms"
    validate.decay(fn, decay=decay)
    validate.non_negative(fn, eps=eps, initial_scale=initial_scale)
    validate.finite(fn, initial_scale=initial_scale)

    def init_fn(params):
        nu = tree_lib.full_like(params, initial_scale)
        if bias_correction:
            return ScaleByRmsWithCountState(count=numerics.zero_count(), nu=nu)
        return ScaleByRmsState(nu=nu)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match(fn, updates, state.nu)
        nu = numerics.update_moment_per_elem_norm(updates, state.nu, decay, 2)
        if bias_correction:
            count = numerics.safe_increment(state.count)
            nu_hat = numerics.bias_correction(nu, decay, count)
        else:
            nu_hat = nu

        def one(g, v):
            g_, v_ = _wide(*_common(g, v))
            return (_inverse_root(v_, eps, eps_in_sqrt) * g_).astype(g.dtype)

        new_updates = jax.tree.map(one, updates, nu_hat)
        nu = tree_lib.cast_like(nu, state.nu)
        if bias_correction:
            return new_updates, ScaleByRmsWithCountState(count=count, nu=nu)
        return new_updates, ScaleByRmsState(nu=nu)

    return GradientTransformation(init_fn, update_fn)


class ScaleByRStdDevState(NamedTuple):
    """State of `scale_by_stddev` without bias correction.

    Attributes:
      mu: EMA of the gradients, parameter dtype.
      nu: EMA of the squared gradients, parameter dtype.
    """

    mu: Updates
    nu: Updates


class ScaleByRStdDevWithCountState(NamedTuple):
    """State of `scale_by_stddev` with ``bias_correction=True``.

    Attributes:
      count: updates so far (int32, saturating).
      mu: EMA of the gradients, parameter dtype.
      nu: EMA of the squared gradients, parameter dtype.
    """

    count: jax.Array
    mu: Updates
    nu: Updates


def scale_by_stddev(
    decay: float = 0.9,
    eps: float = 1e-8,
    initial_scale: float = 0.0,
    eps_in_sqrt: bool = True,
    bias_correction: bool = False,
) -> GradientTransformation:
    """Divide the updates by a running estimate of their standard deviation (centred RMSProp).

    .. math::
        m_t = \\rho\\, m_{t-1} + (1-\\rho)\\, g_t, \\quad m_0 = 0, \\qquad
        v_t = \\rho\\, v_{t-1} + (1-\\rho)\\, g_t^2, \\quad v_0 = s \\\\
        u_t = \\frac{g_t}{\\sqrt{\\hat v_t - \\hat m_t^2 + \\epsilon}}
        \\;\\text{(eps in sqrt)}
        \\quad\\text{or}\\quad
        u_t = \\frac{g_t}{\\sqrt{\\hat v_t - \\hat m_t^2} + \\epsilon}

    where the hats are the moments, divided by :math:`1-\\rho^t` when
    ``bias_correction`` is true.

    Args:
      decay: EMA decay :math:`\\rho`, in [0, 1). Default 0.9.
      eps: stabiliser :math:`\\epsilon`, >= 0. Default 1e-8.
      initial_scale: initial value :math:`s` of :math:`v`, >= 0. Default 0.
      eps_in_sqrt: add :math:`\\epsilon` inside the square root (default) or outside.
      bias_correction: debias both moments. Default False.

    Returns:
      A `GradientTransformation` with `ScaleByRStdDevState`, or
      `ScaleByRStdDevWithCountState` when ``bias_correction`` is true.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_stddev(decay=0.5, eps=0.0)
      >>> u, state = tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))
      >>> u.round(4).tolist()  # 2 / sqrt(0.5 * 4 - (0.5 * 2) ** 2)
      [2.0]

    References:
      Graves, "Generating Sequences With Recurrent Neural Networks", 2013,
      https://arxiv.org/abs/1308.0850
    """
    fn = "scale_by_stddev"
    validate.decay(fn, decay=decay)
    validate.non_negative(fn, eps=eps, initial_scale=initial_scale)
    validate.finite(fn, initial_scale=initial_scale)

    def init_fn(params):
        mu = tree_lib.zeros_like(params)
        nu = tree_lib.full_like(params, initial_scale)
        if bias_correction:
            return ScaleByRStdDevWithCountState(count=numerics.zero_count(), mu=mu, nu=nu)
        return ScaleByRStdDevState(mu=mu, nu=nu)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match(fn, updates, state.nu)
        mu = numerics.update_moment(updates, state.mu, decay, 1)
        nu = numerics.update_moment_per_elem_norm(updates, state.nu, decay, 2)
        if bias_correction:
            count = numerics.safe_increment(state.count)
            mu_hat = numerics.bias_correction(mu, decay, count)
            nu_hat = numerics.bias_correction(nu, decay, count)
        else:
            mu_hat, nu_hat = mu, nu

        def one(g, m, v):
            g_, m_, v_ = _wide(*_common(g, m, v))
            # Clamp: rounding in the stored moments can make E[g^2] - E[g]^2 slightly negative.
            variance = jnp.maximum(v_ - numerics.abs_sq(m_), 0.0)
            return (_inverse_root(variance, eps, eps_in_sqrt) * g_).astype(g.dtype)

        new_updates = jax.tree.map(one, updates, mu_hat, nu_hat)
        mu, nu = tree_lib.cast_like(mu, state.mu), tree_lib.cast_like(nu, state.nu)
        if bias_correction:
            return new_updates, ScaleByRStdDevWithCountState(count=count, mu=mu, nu=nu)
        return new_updates, ScaleByRStdDevState(mu=mu, nu=nu)

    return GradientTransformation(init_fn, update_fn)


class ScaleByRssState(NamedTuple):
    """State of `scale_by_rss`.

    Attributes:
      sum_of_squares: the running sum of squared gradients, parameter dtype.
    """

    sum_of_squares: Updates


def scale_by_rss(
    initial_accumulator_value: float = 0.1,
    eps: float = 1e-7,
) -> GradientTransformation:
    """Divide the updates by the root of the sum of all squared gradients so far (Adagrad).

    .. math::
        G_t = G_{t-1} + g_t^2, \\quad G_0 = a, \\qquad
        u_t = \\begin{cases} g_t / \\sqrt{G_t + \\epsilon} & G_t > 0 \\\\
        0 & G_t = 0 \\end{cases}

    Optax's placement of :math:`\\epsilon` (inside the root, added to :math:`G_t`) is
    kept; PyTorch adds it outside the root.

    Args:
      initial_accumulator_value: initial value :math:`a` of the sum, >= 0. Default 0.1.
      eps: stabiliser :math:`\\epsilon`, >= 0. Default 1e-7.

    Returns:
      A `GradientTransformation` with `ScaleByRssState`.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_rss(initial_accumulator_value=0.0, eps=0.0)
      >>> state = tx.init(jnp.zeros(2))
      >>> u, state = tx.update(jnp.array([3.0, 0.0]), state)
      >>> u, state = tx.update(jnp.array([4.0, 0.0]), state)
      >>> u.round(4).tolist()  # 4 / sqrt(9 + 16); a zero sum gives 0
      [0.8, 0.0]

    References:
      Duchi et al., "Adaptive Subgradient Methods for Online Learning and Stochastic
      Optimization", JMLR 2011, https://jmlr.org/papers/v12/duchi11a.html
    """
    fn = "scale_by_rss"
    validate.non_negative(fn, initial_accumulator_value=initial_accumulator_value, eps=eps)
    validate.finite(fn, initial_accumulator_value=initial_accumulator_value)

    def init_fn(params):
        return ScaleByRssState(sum_of_squares=tree_lib.full_like(params, initial_accumulator_value))

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match(fn, updates, state.sum_of_squares)
        sum_of_squares = jax.tree.map(
            lambda g, s: numerics.promote_add(numerics.abs_sq(g), s),
            updates,
            state.sum_of_squares,
        )

        def one(g, s):
            g_, s_ = _common(g, s)
            inv = jnp.where(
                s_ > 0, jax.lax.rsqrt(s_ + numerics.as_dtype(eps, s_.dtype)), jnp.zeros_like(s_)
            )
            return (inv * g_).astype(g.dtype)

        new_updates = jax.tree.map(one, updates, sum_of_squares)
        sum_of_squares = tree_lib.cast_like(sum_of_squares, state.sum_of_squares)
        return new_updates, ScaleByRssState(sum_of_squares=sum_of_squares)

    return GradientTransformation(init_fn, update_fn)


class ScaleByAdaDeltaState(NamedTuple):
    """State of `scale_by_adadelta`.

    Attributes:
      e_g: EMA of the squared gradients, parameter dtype.
      e_x: EMA of the squared updates, parameter dtype.
    """

    e_g: Updates
    e_x: Updates


def scale_by_adadelta(rho: float = 0.9, eps: float = 1e-6) -> GradientTransformation:
    """Scale the updates by the ratio of update and gradient RMS (Adadelta).

    .. math::
        E[g^2]_t = \\rho E[g^2]_{t-1} + (1-\\rho) g_t^2 \\\\
        u_t = \\frac{\\sqrt{E[\\Delta x^2]_{t-1} + \\epsilon}}
        {\\sqrt{E[g^2]_t + \\epsilon}}\\, g_t \\\\
        E[\\Delta x^2]_t = \\rho E[\\Delta x^2]_{t-1} + (1-\\rho) u_t^2

    with both averages starting at zero. The output points along the gradient (the
    sign flip and the learning rate come from `scale_by_learning_rate`).

    Args:
      rho: EMA decay :math:`\\rho`, in [0, 1). Default 0.9.
      eps: stabiliser :math:`\\epsilon`, > 0 in practice (the first update is
        :math:`\\sqrt{\\epsilon / ((1-\\rho) g^2 + \\epsilon)}\\, g`), >= 0. Default 1e-6.

    Returns:
      A `GradientTransformation` with `ScaleByAdaDeltaState`.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_adadelta(rho=0.9, eps=1e-6)
      >>> u, state = tx.update(jnp.array([1.0]), tx.init(jnp.zeros(1)))
      >>> round(float(u[0]), 6)  # sqrt(1e-6 / (0.1 + 1e-6))
      0.003162

    References:
      Zeiler, "ADADELTA: An Adaptive Learning Rate Method", 2012,
      https://arxiv.org/abs/1212.5701
    """
    fn = "scale_by_adadelta"
    validate.decay(fn, rho=rho)
    validate.non_negative(fn, eps=eps)

    def init_fn(params):
        return ScaleByAdaDeltaState(
            e_g=tree_lib.zeros_like(params), e_x=tree_lib.zeros_like(params)
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match(fn, updates, state.e_g)
        e_g = numerics.update_moment_per_elem_norm(updates, state.e_g, rho, 2)

        def one(g, eg, ex):
            g_, eg_, ex_ = _common(g, eg, ex)
            eps_ = numerics.as_dtype(eps, g_.dtype)
            return jnp.sqrt(ex_ + eps_) / jnp.sqrt(eg_ + eps_) * g_

        steps = jax.tree.map(one, updates, e_g, state.e_x)
        e_x = numerics.update_moment_per_elem_norm(steps, state.e_x, rho, 2)
        new_updates = tree_lib.cast_like(steps, updates)
        new_state = ScaleByAdaDeltaState(
            e_g=tree_lib.cast_like(e_g, state.e_g), e_x=tree_lib.cast_like(e_x, state.e_x)
        )
        return new_updates, new_state

    return GradientTransformation(init_fn, update_fn)
