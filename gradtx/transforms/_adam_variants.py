"""Further members of the Adam family: Lion (signed momentum), NovoGrad (layer-wise second
moment) and Adan (Nesterov momentum on gradient differences).

As in ``_adam_family``, float16 and bfloat16 gradients are computed in float32 and only the
results are rounded (updates to the gradient's dtype, moments to their storage dtype).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import GradientTransformation, Updates, numerics, validate
from gradtx.transforms._moment_math import (
    _adam_ratio,
    _lerp,
    _same_dtypes_positive,
    _sub,
    _wide,
    _widen,
)

__all__ = [
    "ScaleByAdanState",
    "ScaleByLionState",
    "ScaleByNovogradState",
    "scale_by_adan",
    "scale_by_lion",
    "scale_by_novograd",
]


# --- Lion ----------------------------------------------------------------------------


class ScaleByLionState(NamedTuple):
    """State of `scale_by_lion`.

    Attributes:
      count: updates so far (int32, saturating).
      mu: the momentum, dtype ``mu_dtype`` or the parameter's.
    """

    count: jax.Array
    mu: Updates


_LION_MODES = ("hard", "smooth", "refined")


def scale_by_lion(
    b1: float = 0.9,
    b2: float = 0.99,
    mu_dtype: Any = None,
    *,
    mode: str = "hard",
    smooth_beta: float = 1.0,
) -> GradientTransformation:
    r"""Rescale updates by Lion: the sign of an interpolated momentum.

    .. math::
        c_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad u_t = \operatorname{sign}(c_t) \\
        m_t = \beta_2 m_{t-1} + (1-\beta_2) g_t

    ``mode="smooth"`` replaces the sign by :math:`\tanh(\text{smooth\_beta}\, c_t)` and
    ``mode="refined"`` by :math:`c_t` where :math:`|c_t| < 1`, :math:`\operatorname{sign}(c_t)`
    elsewhere. Every coordinate of a ``"hard"`` update is :math:`\pm 1` (or 0), so Lion
    wants a learning rate 3-10x smaller than AdamW's.

    Args:
      b1: interpolation weight of the momentum in the update :math:`\beta_1`, in [0, 1].
        Default 0.9.
      b2: momentum decay :math:`\beta_2`, in [0, 1]. Default 0.99.
      mu_dtype: storage dtype of the momentum (default: the parameter's). The
        arithmetic runs in the gradient's dtype (at least float32) and only the stored
        moment is rounded; Optax also rounds the decay and the product to ``mu_dtype``,
        so with bfloat16 the two differ by ~0.1-1% (gradtx staying closer to full
        precision).
      mode: ``"hard"`` (the paper's sign), ``"smooth"`` or ``"refined"``. Default "hard".
      smooth_beta: slope of the ``"smooth"`` mode, > 0. Default 1.

    Returns:
      A `GradientTransformation` with `ScaleByLionState`.

    Raises:
      ValueError: for hyperparameters outside the ranges above or an unknown ``mode``.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_lion()
      >>> u, state = tx.update(jnp.array([0.2, -3.0, 0.0]), tx.init(jnp.zeros(3)))
      >>> u.tolist(), state.mu.round(3).tolist()
      ([1.0, -1.0, 0.0], [0.002, -0.03, 0.0])

    References:
      Chen et al., "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023,
      https://arxiv.org/abs/2302.06675
    """
    fn = "scale_by_lion"
    validate.unit(fn, b1=b1, b2=b2)
    validate.one_of(fn, "mode", mode, _LION_MODES)
    validate.positive(fn, smooth_beta=smooth_beta)
    mu_dtype = numerics.canonicalize_dtype(mu_dtype)

    def squash(c):
        if mode == "hard":
            return jnp.sign(c)
        if mode == "smooth":
            return jnp.tanh(numerics.scalar_mul(smooth_beta, c))
        return jnp.where(jnp.abs(c) < 1.0, c, jnp.sign(c))

    def init_fn(params):
        return ScaleByLionState(
            count=numerics.zero_count(), mu=tree_lib.zeros_like(params, dtype=mu_dtype)
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match(fn, updates, state.mu)
        grads = _wide(updates)
        mu_prev = _widen(state.mu, grads)
        new_updates = jax.tree.map(
            lambda u, g, m: squash(_lerp(b1, m, g)).astype(u.dtype), updates, grads, mu_prev
        )
        mu = numerics.update_moment(grads, mu_prev, b2, 1)
        new_state = ScaleByLionState(
            count=numerics.safe_increment(state.count), mu=tree_lib.cast_like(mu, state.mu)
        )
        return new_updates, new_state

    return GradientTransformation(init_fn, update_fn)


# --- NovoGrad ------------------------------------------------------------------------


class ScaleByNovogradState(NamedTuple):
    """State of `scale_by_novograd`.

    Attributes:
      count: updates so far (int32, saturating).
      mu: the momentum (also the last update), dtype ``mu_dtype`` or the parameter's.
      nu: one scalar per leaf: the EMA of the leaf's squared gradient norm, dtype
        ``nu_dtype`` or the parameter's.
    """

    count: jax.Array
    mu: Updates
    nu: Updates


def scale_by_novograd(
    b1: float = 0.9,
    b2: float = 0.25,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    weight_decay: float = 0.0,
    mu_dtype: Any = None,
    *,
    nu_dtype: Any = None,
) -> GradientTransformation:
    r"""Rescale updates by NovoGrad: Adam with one second moment per layer (leaf).

    For each leaf (layer) :math:`l` with gradient :math:`g^l_t` and parameter :math:`w^l_t`:

    .. math::
        v^l_t = \begin{cases} \|g^l_1\|^2 & t = 1 \\
          \beta_2 v^l_{t-1} + (1-\beta_2) \|g^l_t\|^2 & t > 1 \end{cases} \\
        m^l_t = \beta_1 m^l_{t-1} + \frac{g^l_t}{\sqrt{v^l_t + \epsilon_{root}} + \epsilon}
          + \lambda w^l_t, \qquad m^l_0 = 0 \\
        u^l_t = m^l_t

    The update is the new momentum itself (stored in ``mu_dtype``, so a bfloat16 momentum
    gives bfloat16-rounded updates, as in Optax). There is no bias correction.

    Args:
      b1: momentum decay :math:`\beta_1`, in [0, 1). Default 0.9.
      b2: decay of the squared norms :math:`\beta_2`, in [0, 1). Default 0.25.
      eps: added outside the square root, >= 0. Default 1e-8.
      eps_root: added inside the square root, >= 0. Default 0.
      weight_decay: :math:`\lambda`, >= 0; when not 0, ``update`` needs ``params``.
        Default 0.
      mu_dtype: storage dtype of the momentum (default: the parameter's). The
        arithmetic runs in the gradient's dtype (at least float32) and only the stored
        moment is rounded; Optax also rounds the decay and the product to ``mu_dtype``,
        so with bfloat16 the two differ by ~0.1-1% (gradtx staying closer to full
        precision).
      nu_dtype: dtype of the per-leaf norms (default: the parameter's).

    Returns:
      A `GradientTransformation` with `ScaleByNovogradState`.

    Raises:
      ValueError: for hyperparameters outside the ranges above, or (in ``update``) when
        ``weight_decay`` is not 0 and ``params`` is missing.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_novograd()
      >>> u, _ = tx.update({"w": jnp.array([3.0, 4.0])}, tx.init({"w": jnp.zeros(2)}))
      >>> u["w"].round(4).tolist()  # g / ||g||
      [0.6, 0.8]

    References:
      Ginsburg et al., "Stochastic Gradient Methods with Layer-wise Adaptive Moments for
      Training of Deep Networks", arXiv 2019, https://arxiv.org/abs/1905.11286
    """
    fn = "scale_by_novograd"
    validate.decay(fn, b1=b1, b2=b2)
    validate.non_negative(fn, eps=eps, eps_root=eps_root, weight_decay=weight_decay)
    mu_dtype = numerics.canonicalize_dtype(mu_dtype)
    nu_dtype = numerics.canonicalize_dtype(nu_dtype)
    decays = not (_is_zero(weight_decay))

    def init_fn(params):
        def zero_scalar(p):
            dtype = nu_dtype if nu_dtype is not None else jnp.result_type(p)
            return jnp.zeros([], dtype)

        return ScaleByNovogradState(
            count=numerics.zero_count(),
            mu=tree_lib.zeros_like(params, dtype=mu_dtype),
            nu=jax.tree.map(zero_scalar, params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        validate.tree_match(fn, updates, state.mu)
        if decays:
            validate.require_params(fn, params)
        first = state.count == 0
        count = numerics.safe_increment(state.count)
        grads = _wide(updates)

        # The first step starts both moments afresh (nu = ||g||^2, mu = the scaled
        # gradient); the branches are separate computations, as in Optax.
        def sq_norm(g):
            return jnp.linalg.norm(g.astype(numerics.compute_dtype(g.dtype))) ** 2

        def first_nu(g_tree, nu_tree):
            def one(g, v):
                sq = sq_norm(g)
                return sq.astype(numerics.common_dtype(sq.dtype, v.dtype))

            return jax.tree.map(one, g_tree, nu_tree)

        def later_nu(g_tree, nu_tree):
            return jax.tree.map(lambda g, v: _lerp(b2, v, sq_norm(g)), g_tree, nu_tree)

        nu = jax.lax.cond(first, first_nu, later_nu, grads, _widen(state.nu, grads))

        def step(g, v, p):
            s = _adam_ratio(g, v, eps, eps_root)
            if decays:
                s = numerics.promote_add(s, numerics.scalar_mul(weight_decay, p))
            return s

        def first_mu(mu_tree, g_tree, nu_tree, p_tree):
            def one(m, g, v, p):
                s = step(g, v, p)
                return s.astype(numerics.common_dtype(s.dtype, m.dtype))

            return jax.tree.map(one, mu_tree, g_tree, nu_tree, p_tree)

        def later_mu(mu_tree, g_tree, nu_tree, p_tree):
            def one(m, g, v, p):
                return numerics.promote_add(numerics.scalar_mul(b1, m), step(g, v, p))

            return jax.tree.map(one, mu_tree, g_tree, nu_tree, p_tree)

        p_tree = params if decays else grads  # unused placeholder without decay
        mu_prev = _widen(state.mu, grads)
        mu = jax.lax.cond(first, first_mu, later_mu, mu_prev, grads, nu, p_tree)
        mu = tree_lib.cast_like(mu, state.mu)
        new_updates = jax.tree.map(lambda g, m: m.astype(g.dtype), updates, mu)
        new_state = ScaleByNovogradState(count=count, mu=mu, nu=_same_dtypes_positive(nu, state.nu))
        return new_updates, new_state

    return GradientTransformation(init_fn, update_fn)


def _is_zero(value: Any) -> bool:
    """Whether a hyperparameter is certainly 0 (a concrete number); tracers are not."""
    return isinstance(value, (int, float)) and value == 0


# --- Adan ----------------------------------------------------------------------------


class ScaleByAdanState(NamedTuple):
    """State of `scale_by_adan` (Optax's field names and order).

    Attributes:
      m: EMA of the gradients, dtype of the parameter.
      v: EMA of the gradient differences, dtype of the parameter.
      n: EMA of the squared look-ahead gradients, dtype ``nu_dtype`` or the parameter's.
      g: the previous gradient, dtype of the parameter.
      t: updates so far (int32, saturating).
    """

    m: Updates
    v: Updates
    n: Updates
    g: Updates
    t: jax.Array


def scale_by_adan(
    b1: float = 0.98,
    b2: float = 0.92,
    b3: float = 0.99,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    *,
    nu_dtype: Any = None,
) -> GradientTransformation:
    r"""Rescale updates by Adan: adaptive Nesterov momentum on gradients and their changes.

    With :math:`\Delta_t = g_t - g_{t-1}` (and :math:`\Delta_1 = 0`):

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) \Delta_t \\
        n_t = \beta_3 n_{t-1} + (1-\beta_3) (g_t + (1-\beta_2) \Delta_t)^2 \\
        u_t = \frac{\hat m_t + (1-\beta_2) \hat v_t}{\sqrt{\hat n_t + \epsilon_{root}} + \epsilon}

    where hats are Adam's bias corrections :math:`x / (1-\beta^t)`. The decays follow the
    ``0.9x`` convention of the authors' code (the paper writes :math:`1-\beta`).

    .. note::
       The weight of :math:`\Delta_t` in :math:`n_t` and :math:`u_t` is
       :math:`1-\beta_2` (0.08 by default) to give the same numbers as Optax 0.2.8. The
       paper's Algorithm 1 and the authors' code use :math:`\beta_2` (0.92) there
       (see https://github.com/google-deepmind/optax/pull/1715). Both agree on the first
       step, where :math:`\Delta_1 = 0`.

    Args:
      b1: decay of the gradient EMA :math:`\beta_1`, in [0, 1). Default 0.98.
      b2: decay of the gradient-difference EMA :math:`\beta_2`, in [0, 1). Default 0.92.
      b3: decay of the squared EMA :math:`\beta_3`, in [0, 1). Default 0.99.
      eps: added outside the square root, >= 0. Default 1e-8.
      eps_root: added inside the square root, >= 0. Default 0.
      nu_dtype: dtype of the second moment ``n`` (default: the parameter's).

    Returns:
      A `GradientTransformation` with `ScaleByAdanState`.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_adan()
      >>> u, _ = tx.update(jnp.array([2.0, -3.0]), tx.init(jnp.zeros(2)))
      >>> u.round(4).tolist()  # the first step is sign(g) up to eps
      [1.0, -1.0]

    References:
      Xie et al., "Adan: Adaptive Nesterov Momentum Algorithm for Faster Optimizing Deep
      Models", IEEE TPAMI 2024, https://arxiv.org/abs/2208.06677
    """
    fn = "scale_by_adan"
    validate.decay(fn, b1=b1, b2=b2, b3=b3)
    validate.non_negative(fn, eps=eps, eps_root=eps_root)
    nu_dtype = numerics.canonicalize_dtype(nu_dtype)

    def init_fn(params):
        return ScaleByAdanState(
            m=tree_lib.zeros_like(params),
            v=tree_lib.zeros_like(params),
            n=tree_lib.zeros_like(params, dtype=nu_dtype),
            g=tree_lib.zeros_like(params),
            t=numerics.zero_count(),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match(fn, updates, state.m)
        first = state.t == 0
        grads = _wide(updates)

        def difference(g, prev):
            d = _sub(g, prev).astype(g.dtype)
            return jnp.where(first, jnp.zeros_like(d), d)

        diff = jax.tree.map(difference, grads, state.g)
        m = numerics.update_moment(grads, _widen(state.m, grads), b1, 1)
        v = numerics.update_moment(diff, _widen(state.v, grads), b2, 1)
        look_ahead = jax.tree.map(
            lambda g, d: numerics.promote_add(g, numerics.scalar_mul(1 - b2, d)), grads, diff
        )
        n = numerics.update_moment_per_elem_norm(look_ahead, _widen(state.n, grads), b3, 2)
        t = numerics.safe_increment(state.t)
        m_hat = numerics.bias_correction(m, b1, t)
        v_hat = numerics.bias_correction(v, b2, t)
        n_hat = numerics.bias_correction(n, b3, t)

        def one(g, mh, vh, nh):
            direction = numerics.promote_add(mh, numerics.scalar_mul(1 - b2, vh))
            return _adam_ratio(direction, nh, eps, eps_root).astype(g.dtype)

        new_updates = jax.tree.map(one, updates, m_hat, v_hat, n_hat)
        new_state = ScaleByAdanState(
            m=tree_lib.cast_like(m, state.m),
            v=tree_lib.cast_like(v, state.v),
            n=_same_dtypes_positive(n, state.n),
            g=tree_lib.cast_like(updates, state.g),
            t=t,
        )
        return new_updates, new_state

    return GradientTransformation(init_fn, update_fn)
