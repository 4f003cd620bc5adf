"""Adam and its relatives: moment estimates with bias correction.

Every transform here keeps a first moment ``mu`` and a per-element second moment ``nu``
(AMSGrad also its running maximum). The storage dtypes are the caller's: ``mu_dtype``
where Optax has it, and a keyword-only ``nu_dtype`` (beyond Optax) for the second moment,
so that either can be kept in bfloat16 while the arithmetic runs in the wider dtype.

Half precision: for float16 and bfloat16 gradients the whole step (moments, bias
corrections, ``m / (sqrt(v + eps_root) + eps)``) is computed in float32 and only the
results are rounded: the update to the gradient's dtype, the moments to their storage
dtype. In float16, ``eps = 1e-8`` and ``(1 - b2) g**2`` for ``|g| < ~2e-4`` would round
to 0 and a zero or tiny gradient would give 0/0 or x/0. Float32 and float64 leaves are
computed in their own dtype, unchanged. A second moment *stored* in float16 would round
values below ~3e-8 to 0, and a zero gradient after gradients below ~5e-3 would then
overflow the float16 update (``m / eps``); it is stored as float16's smallest subnormal
instead, which keeps the update finite. For float16 parameters ``nu_dtype=jnp.float32``
is still the accurate choice.

Lion, NovoGrad and Adan live in ``_adam_variants``; the moment arithmetic both share is in
``_moment_math``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import GradientTransformation, Updates, numerics, validate

__all__ = [
    "ScaleByAdamState",
    "ScaleByAmsgradState",
    "ScaleByBeliefState",
    "scale_by_adam",
    "scale_by_adamax",
    "scale_by_amsgrad",
    "scale_by_belief",
    "scale_by_radam",
    "scale_by_yogi",
]


from gradtx.transforms._moment_math import (
    _adam_ratio,
    _debiased_first_moment,
    _divide,
    _promote_maximum,
    _same_dtypes_positive,
    _sub,
    _wide,
    _widen,
)


def _adam_step(
    fn: str,
    updates: Any,
    state: Any,
    b1: Any,
    b2: Any,
    eps: Any,
    eps_root: Any,
    first_moment: Any,
    second_moment: Any,
) -> tuple[Any, jax.Array, Any, Any, Any]:
    """The update shared by `scale_by_adam` and `scale_by_amsgrad`.

    Updates the moments ``mu``, ``nu`` (in float32 for half-precision gradients, see
    `_wide`), increments the count, and returns ``m / (sqrt(v + eps_root) + eps)`` with
    ``m = first_moment(mu, grads, count)`` and ``v = second_moment(nu, count)``.

    Returns:
      ``(new_updates, count, mu, nu, v)``: the updates in the gradients' dtypes, ``mu``
      and ``nu`` in the dtypes of ``state.mu`` and ``state.nu``, and ``v`` unrounded.
    """
    validate.tree_match(fn, updates, state.mu)
    grads = _wide(updates)
    mu = numerics.update_moment(grads, _widen(state.mu, grads), b1, 1)
    nu = numerics.update_moment_per_elem_norm(grads, _widen(state.nu, grads), b2, 2)
    count = numerics.safe_increment(state.count)
    m = first_moment(mu, grads, count)
    v = second_moment(nu, count)
    new_updates = jax.tree.map(
        lambda g, m_, v_: _adam_ratio(m_, v_, eps, eps_root).astype(g.dtype), updates, m, v
    )
    return (
        new_updates,
        count,
        tree_lib.cast_like(mu, state.mu),
        _same_dtypes_positive(nu, state.nu),
        v,
    )


# --- Adam ----------------------------------------------------------------------------


class ScaleByAdamState(NamedTuple):
    """State of `scale_by_adam` (also of `scale_by_adamax`, `scale_by_radam`, `scale_by_yogi`).

    Attributes:
      count: updates so far (int32, saturating).
      mu: first-moment EMA, dtype ``mu_dtype`` or the parameter's.
      nu: second-moment EMA (Adamax: the exponentially weighted infinity norm), dtype
        ``nu_dtype`` or the parameter's.
    """

    count: jax.Array
    mu: Updates
    nu: Updates


def scale_by_adam(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: Any = None,
    *,
    nesterov: bool = False,
    nu_dtype: Any = None,
) -> GradientTransformation:
    r"""Rescale updates by Adam's bias-corrected moment estimates.

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        \hat m_t = m_t / (1-\beta_1^t), \qquad \hat v_t = v_t / (1-\beta_2^t) \\
        u_t = \hat m_t / (\sqrt{\hat v_t + \epsilon_{root}} + \epsilon)

    With ``nesterov=True`` (NAdam), :math:`\hat m_t` is replaced by
    :math:`\beta_1 m_t / (1-\beta_1^{t+1}) + (1-\beta_1) g_t / (1-\beta_1^t)`.

    Args:
      b1: first-moment decay :math:`\beta_1`, in [0, 1). Default 0.9.
      b2: second-moment decay :math:`\beta_2`, in [0, 1). Default 0.999.
      eps: added outside the square root, >= 0. Default 1e-8.
      eps_root: added inside the square root, >= 0. Default 0.
      mu_dtype: storage dtype of the first moment (default: the parameter's). The
        arithmetic runs in the gradient's dtype (at least float32) and only the stored
        moment is rounded; Optax also rounds the decay and the product to ``mu_dtype``,
        so with bfloat16 the two differ by ~0.1-1% (gradtx staying closer to full
        precision).
      nesterov: use Nesterov momentum (NAdam). Default False.
      nu_dtype: storage dtype of the second moment (default: the parameter's); the
        arithmetic runs in the gradient's dtype (at least float32).

    Returns:
      A `GradientTransformation` with `ScaleByAdamState`.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_adam()
      >>> u, _ = tx.update(jnp.array([2.0, -3.0]), tx.init(jnp.zeros(2)))
      >>> u.round(4).tolist()  # the first Adam step is sign(g) up to eps
      [1.0, -1.0]

    References:
      Kingma and Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015,
      https://arxiv.org/abs/1412.6980;
      Dozat, "Incorporating Nesterov Momentum into Adam", ICLR workshop 2016.
    """
    fn = "scale_by_adam"
    validate.decay(fn, b1=b1, b2=b2)
    validate.non_negative(fn, eps=eps, eps_root=eps_root)
    mu_dtype = numerics.canonicalize_dtype(mu_dtype)
    nu_dtype = numerics.canonicalize_dtype(nu_dtype)

    def init_fn(params):
        return ScaleByAdamState(
            count=numerics.zero_count(),
            mu=tree_lib.zeros_like(params, dtype=mu_dtype),
            nu=tree_lib.zeros_like(params, dtype=nu_dtype),
        )

    def first_moment(mu, grads, count):
        return _debiased_first_moment(mu, grads, b1, count, nesterov)

    def second_moment(nu, count):
        return numerics.bias_correction(nu, b2, count)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        updates = numerics.python_scalars_as_arrays(updates)  # as in Optax
        new_updates, count, mu, nu, _ = _adam_step(
            fn, updates, state, b1, b2, eps, eps_root, first_moment, second_moment
        )
        return new_updates, ScaleByAdamState(count=count, mu=mu, nu=nu)

    return GradientTransformation(init_fn, update_fn)


# --- AMSGrad -------------------------------------------------------------------------


class ScaleByAmsgradState(NamedTuple):
    """State of `scale_by_amsgrad`.

    Attributes:
      count: updates so far (int32, saturating).
      mu: first-moment EMA, dtype ``mu_dtype`` or the parameter's.
      nu: second-moment EMA, dtype ``nu_dtype`` or the parameter's.
      nu_max: running maximum of the (bias-corrected) second moment, dtype as ``nu``.
    """

    count: jax.Array
    mu: Updates
    nu: Updates
    nu_max: Updates


def scale_by_amsgrad(
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
    r"""Rescale updates by AMSGrad: Adam with a non-decreasing second moment.

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        \hat m_t = m_t / (1-\beta_1^t), \qquad
        \tilde v_t = \max(\tilde v_{t-1},\, v_t / (1-\beta_2^t)), \quad \tilde v_0 = 0 \\
        u_t = \hat m_t / (\sqrt{\tilde v_t + \epsilon_{root}} + \epsilon)

    ``bias_correction_mu=False`` uses :math:`m_t` for :math:`\hat m_t` and
    ``bias_correction_nu=False`` takes the maximum of the raw :math:`v_t`; both off is
    the paper's Algorithm 2.

    Args:
      b1: first-moment decay :math:`\beta_1`, in [0, 1). Default 0.9.
      b2: second-moment decay :math:`\beta_2`, in [0, 1). Default 0.999.
      eps: added outside the square root, >= 0. Default 1e-8.
      eps_root: added inside the square root, >= 0. Default 0.
      mu_dtype: storage dtype of the first moment (default: the parameter's). The
        arithmetic runs in the gradient's dtype (at least float32) and only the stored
        moment is rounded; Optax also rounds the decay and the product to ``mu_dtype``,
        so with bfloat16 the two differ by ~0.1-1% (gradtx staying closer to full
        precision).
      bias_correction_mu: debias the first moment. Default True.
      bias_correction_nu: debias the second moment before the maximum. Default True.
      nu_dtype: dtype of the second moment and of its maximum (default: the parameter's).

    Returns:
      A `GradientTransformation` with `ScaleByAmsgradState`.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_amsgrad()
      >>> state = tx.init(jnp.zeros(2))
      >>> _, state = tx.update(jnp.array([4.0, 1.0]), state)
      >>> u, state = tx.update(jnp.array([0.1, 1.0]), state)
      >>> state.nu_max.round(2).tolist()  # the large first gradient is remembered
      [16.0, 1.0]

    References:
      Reddi et al., "On the Convergence of Adam and Beyond", ICLR 2018,
      https://arxiv.org/abs/1904.09237
    """
    fn = "scale_by_amsgrad"
    validate.decay(fn, b1=b1, b2=b2)
    validate.non_negative(fn, eps=eps, eps_root=eps_root)
    mu_dtype = numerics.canonicalize_dtype(mu_dtype)
    nu_dtype = numerics.canonicalize_dtype(nu_dtype)

    def init_fn(params):
        return ScaleByAmsgradState(
            count=numerics.zero_count(),
            mu=tree_lib.zeros_like(params, dtype=mu_dtype),
            nu=tree_lib.zeros_like(params, dtype=nu_dtype),
            nu_max=tree_lib.zeros_like(params, dtype=nu_dtype),
        )

    def first_moment(mu, grads, count):
        del grads
        return numerics.bias_correction(mu, b1, count) if bias_correction_mu else mu

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args

        def running_max(nu, count):
            nu_eff = numerics.bias_correction(nu, b2, count) if bias_correction_nu else nu
            return jax.tree.map(_promote_maximum, state.nu_max, nu_eff)

        new_updates, count, mu, nu, nu_max = _adam_step(
            fn, updates, state, b1, b2, eps, eps_root, first_moment, running_max
        )
        new_state = ScaleByAmsgradState(
            count=count, mu=mu, nu=nu, nu_max=_same_dtypes_positive(nu_max, state.nu_max)
        )
        return new_updates, new_state

    return GradientTransformation(init_fn, update_fn)


# --- Adamax --------------------------------------------------------------------------


def scale_by_adamax(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    *,
    nu_dtype: Any = None,
) -> GradientTransformation:
    r"""Rescale updates by Adamax: Adam with the infinity norm as second moment.

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t = \max(|g_t| + \epsilon,\; \beta_2 v_{t-1}) \\
        u_t = \frac{m_t}{(1-\beta_1^t)\, v_t}

    :math:`v_t` needs no bias correction. ``eps`` sits inside the maximum (as in Optax),
    so :math:`v_t \ge \epsilon`.

    Args:
      b1: first-moment decay :math:`\beta_1`, in [0, 1). Default 0.9.
      b2: decay of the infinity norm :math:`\beta_2`, in [0, 1). Default 0.999.
      eps: floor of the infinity norm, >= 0 (0 divides by zero on a zero gradient).
        Default 1e-8.
      nu_dtype: dtype of the infinity norm ``nu`` (default: the parameter's).

    Returns:
      A `GradientTransformation` with `ScaleByAdamState`.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_adamax()
      >>> state = tx.init(jnp.zeros(2))
      >>> _, state = tx.update(jnp.array([2.0, -1.0]), state)
      >>> u, state = tx.update(jnp.array([1.0, -4.0]), state)
      >>> state.nu.round(3).tolist()  # max(|g_t|, b2 * v_{t-1})
      [1.998, 4.0]

    References:
      Kingma and Ba, "Adam: A Method for Stochastic Optimization" (Section 7.1), ICLR 2015,
      https://arxiv.org/abs/1412.6980
    """
    fn = "scale_by_adamax"
    validate.decay(fn, b1=b1, b2=b2)
    validate.non_negative(fn, eps=eps)
    nu_dtype = numerics.canonicalize_dtype(nu_dtype)

    def init_fn(params):
        return ScaleByAdamState(
            count=numerics.zero_count(),
            mu=tree_lib.zeros_like(params),
            nu=tree_lib.zeros_like(params, dtype=nu_dtype),
        )

    def infinity_moment(g, v):
        return _promote_maximum(
            jnp.abs(g) + numerics.as_dtype(eps, g.dtype), numerics.scalar_mul(b2, v)
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match(fn, updates, state.mu)
        grads = _wide(updates)
        count = numerics.safe_increment(state.count)
        mu = numerics.update_moment(grads, _widen(state.mu, grads), b1, 1)
        nu = jax.tree.map(infinity_moment, grads, _widen(state.nu, grads))
        mu_hat = numerics.bias_correction(mu, b1, count)
        new_updates = jax.tree.map(
            lambda g, m, v: _divide(m, v).astype(g.dtype), updates, mu_hat, nu
        )
        new_state = ScaleByAdamState(
            count=count,
            mu=tree_lib.cast_like(mu, state.mu),
            nu=_same_dtypes_positive(nu, state.nu),
        )
        return new_updates, new_state

    return GradientTransformation(init_fn, update_fn)


# --- AdaBelief -----------------------------------------------------------------------


class ScaleByBeliefState(NamedTuple):
    """State of `scale_by_belief`.

    Attributes:
      count: updates so far (int32, saturating).
      mu: first-moment EMA, dtype of the parameter.
      nu: EMA of the squared prediction error :math:`(g_t - m_t)^2` plus
        ``eps_root``, dtype ``nu_dtype`` or the parameter's.
    """

    count: jax.Array
    mu: Updates
    nu: Updates


def scale_by_belief(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-16,
    eps_root: float = 1e-16,
    *,
    nesterov: bool = False,
    nu_dtype: Any = None,
) -> GradientTransformation:
    r"""Rescale updates by AdaBelief: Adam whose second moment is the gradient's surprise.

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t \\
        s_t = \beta_2 s_{t-1} + (1-\beta_2) (g_t - m_t)^2 + \epsilon_{root} \\
        \hat m_t = m_t / (1-\beta_1^t), \qquad \hat s_t = s_t / (1-\beta_2^t) \\
        u_t = \hat m_t / (\sqrt{\hat s_t} + \epsilon)

    With ``nesterov=True``, :math:`\hat m_t` is replaced by
    :math:`\beta_1 m_t / (1-\beta_1^{t+1}) + (1-\beta_1) g_t / (1-\beta_1^t)` (as in
    `scale_by_adam`).

    Args:
      b1: first-moment decay :math:`\beta_1`, in [0, 1). Default 0.9.
      b2: decay of the prediction-error moment :math:`\beta_2`, in [0, 1). Default 0.999.
      eps: added outside the square root, >= 0. Default 1e-16.
      eps_root: added to :math:`s_t` at every step (kept in the state), >= 0. Must be
        positive to differentiate through the update. Default 1e-16.
      nesterov: use Nesterov momentum. Default False.
      nu_dtype: dtype of :math:`s_t` (default: the parameter's).

    Returns:
      A `GradientTransformation` with `ScaleByBeliefState`.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_belief()
      >>> u, _ = tx.update(jnp.array([2.0, -3.0]), tx.init(jnp.zeros(2)))
      >>> u.round(4).tolist()  # first step: g / |g - m_1| = sign(g) / b1
      [1.1111, -1.1111]

    References:
      Zhuang et al., "AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed
      Gradients", NeurIPS 2020, https://arxiv.org/abs/2010.07468
    """
    fn = "scale_by_belief"
    validate.decay(fn, b1=b1, b2=b2)
    validate.non_negative(fn, eps=eps, eps_root=eps_root)
    nu_dtype = numerics.canonicalize_dtype(nu_dtype)

    def init_fn(params):
        return ScaleByBeliefState(
            count=numerics.zero_count(),
            mu=tree_lib.zeros_like(params),
            nu=tree_lib.zeros_like(params, dtype=nu_dtype),
        )

    def add_eps_root(s):
        return s + numerics.as_dtype(eps_root, s.dtype)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match(fn, updates, state.mu)
        grads = _wide(updates)
        mu = numerics.update_moment(grads, _widen(state.mu, grads), b1, 1)
        prediction_error = jax.tree.map(_sub, grads, mu)
        nu = numerics.update_moment_per_elem_norm(prediction_error, _widen(state.nu, grads), b2, 2)
        nu = jax.tree.map(add_eps_root, nu)
        count = numerics.safe_increment(state.count)
        mu_hat = _debiased_first_moment(mu, grads, b1, count, nesterov)
        nu_hat = numerics.bias_correction(nu, b2, count)
        new_updates = jax.tree.map(
            lambda g, m, v: _adam_ratio(m, v, eps, 0.0).astype(g.dtype),
            updates,
            mu_hat,
            nu_hat,
        )
        new_state = ScaleByBeliefState(
            count=count,
            mu=tree_lib.cast_like(mu, state.mu),
            nu=_same_dtypes_positive(nu, state.nu),
        )
        return new_updates, new_state

    return GradientTransformation(init_fn, update_fn)


# --- RAdam ---------------------------------------------------------------------------


def scale_by_radam(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    threshold: float = 5.0,
    *,
    nesterov: bool = False,
    nu_dtype: Any = None,
) -> GradientTransformation:
    r"""Rescale updates by Rectified Adam: momentum SGD until the variance is tractable.

    .. math::
        \rho_\infty = \frac{2}{1-\beta_2} - 1, \qquad
        \rho_t = \rho_\infty - \frac{2 t \beta_2^t}{1-\beta_2^t} \\
        r_t = \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}}
        \\
        u_t = \begin{cases}
          r_t\, \hat m_t / (\sqrt{\hat v_t + \epsilon_{root}} + \epsilon)
            & \rho_t \ge \text{threshold} \\
          \hat m_t & \text{otherwise}
        \end{cases}

    with :math:`\hat m_t, \hat v_t` the bias-corrected moments of `scale_by_adam`
    (``nesterov=True`` uses the NAdam :math:`\hat m_t` there too).

    Args:
      b1: first-moment decay :math:`\beta_1`, in [0, 1). Default 0.9.
      b2: second-moment decay :math:`\beta_2`, in [0, 1). Default 0.999.
      eps: added outside the square root, >= 0. Default 1e-8.
      eps_root: added inside the square root, >= 0. Default 0.
      threshold: smallest :math:`\rho_t` at which the adaptive step is used, >= 4 (the
        rectifier :math:`r_t` is undefined below 4; the paper uses 4). Default 5.
      nesterov: use Nesterov momentum. Default False.
      nu_dtype: storage dtype of the second moment (default: the parameter's); the
        arithmetic runs in the gradient's dtype (at least float32).

    Returns:
      A `GradientTransformation` with `ScaleByAdamState`.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_radam()
      >>> u, _ = tx.update(jnp.array([2.0, -3.0]), tx.init(jnp.zeros(2)))
      >>> u.round(4).tolist()  # rho_1 = 1 < 5: the debiased momentum itself
      [2.0, -3.0]

    References:
      Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond", ICLR 2020,
      https://arxiv.org/abs/1908.03265
    """
    fn = "scale_by_radam"
    validate.decay(fn, b1=b1, b2=b2)
    validate.non_negative(fn, eps=eps, eps_root=eps_root)
    validate.interval(fn, "threshold", threshold, 4.0)
    nu_dtype = numerics.canonicalize_dtype(nu_dtype)

    def init_fn(params):
        return ScaleByAdamState(
            count=numerics.zero_count(),
            mu=tree_lib.zeros_like(params),
            nu=tree_lib.zeros_like(params, dtype=nu_dtype),
        )

    def rho(count):
        """(rho_inf, rho_t); a Python b2 keeps rho_inf in double precision, as Optax does."""
        if numerics.is_python_number(b2):
            rho_inf = 2.0 / (1.0 - b2) - 1.0
            dtype = numerics.canonicalize_dtype(float)
            b2t = jnp.asarray(b2, dtype) ** count.astype(dtype)
        else:
            beta2 = jnp.asarray(b2)
            beta2 = beta2.astype(numerics.compute_dtype(beta2.dtype))
            rho_inf = 2.0 / (1.0 - beta2) - 1.0
            b2t = beta2 ** count.astype(beta2.dtype)
        rho_t = rho_inf - 2.0 * count.astype(b2t.dtype) * b2t / (1.0 - b2t)
        return rho_inf, rho_t

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match(fn, updates, state.mu)
        grads = _wide(updates)
        mu = numerics.update_moment(grads, _widen(state.mu, grads), b1, 1)
        nu = numerics.update_moment_per_elem_norm(grads, _widen(state.nu, grads), b2, 2)
        count = numerics.safe_increment(state.count)
        mu_hat = _debiased_first_moment(mu, grads, b1, count, nesterov)
        nu_hat = numerics.bias_correction(nu, b2, count)
        rho_inf, rho_t = rho(count)
        rectified = rho_t >= threshold
        # Evaluated on both branches of the select; kept finite where not rectified.
        safe_rho = jnp.where(rectified, rho_t, rho_inf)
        r = jnp.sqrt(
            (safe_rho - 4.0)
            * (safe_rho - 2.0)
            * rho_inf
            / ((rho_inf - 4.0) * (rho_inf - 2.0) * safe_rho)
        )

        def one(g, m, v):
            adaptive = r.astype(m.dtype) * m
            adaptive = _adam_ratio(adaptive, v, eps, eps_root)
            out = jnp.where(rectified, adaptive, m.astype(adaptive.dtype))
            return out.astype(g.dtype)

        new_updates = jax.tree.map(one, updates, mu_hat, nu_hat)
        new_state = ScaleByAdamState(
            count=count,
            mu=tree_lib.cast_like(mu, state.mu),
            nu=_same_dtypes_positive(nu, state.nu),
        )
        return new_updates, new_state

    return GradientTransformation(init_fn, update_fn)


# --- Yogi ----------------------------------------------------------------------------


def scale_by_yogi(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-3,
    eps_root: float = 0.0,
    initial_accumulator_value: float = 1e-6,
    *,
    nu_dtype: Any = None,
) -> GradientTransformation:
    r"""Rescale updates by Yogi: Adam whose second moment moves additively.

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t \\
        v_t = v_{t-1} - (1-\beta_2)\, \operatorname{sign}(v_{t-1} - g_t^2)\, g_t^2 \\
        u_t = \frac{m_t / (1-\beta_1^t)}{\sqrt{v_t / (1-\beta_2^t) + \epsilon_{root}}
              + \epsilon}

    with :math:`m_0 = v_0 =` ``initial_accumulator_value``. The paper's Algorithm 2 has no
    bias correction; like Optax, this transform applies Adam's (the difference fades as
    :math:`t` grows).

    Args:
      b1: first-moment decay :math:`\beta_1`, in [0, 1). Default 0.9.
      b2: second-moment rate :math:`\beta_2`, in [0, 1). Default 0.999.
      eps: added outside the square root, >= 0. Default 1e-3.
      eps_root: added inside the square root, >= 0. Default 0.
      initial_accumulator_value: starting value of both moments, >= 0. Default 1e-6.
      nu_dtype: storage dtype of the second moment (default: the parameter's); the
        arithmetic runs in the gradient's dtype (at least float32).

    Returns:
      A `GradientTransformation` with `ScaleByAdamState`.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_yogi()
      >>> u, _ = tx.update(jnp.array([2.0, -3.0]), tx.init(jnp.zeros(2)))
      >>> u.round(4).tolist()
      [0.9994, -0.9996]

    References:
      Zaheer et al., "Adaptive Methods for Nonconvex Optimization", NeurIPS 2018,
      https://proceedings.neurips.cc/paper/2018/file/90365351ccc7437a1309dc64e4db32a3-Paper.pdf
    """
    fn = "scale_by_yogi"
    validate.decay(fn, b1=b1, b2=b2)
    validate.non_negative(
        fn, eps=eps, eps_root=eps_root, initial_accumulator_value=initial_accumulator_value
    )
    nu_dtype = numerics.canonicalize_dtype(nu_dtype)

    def filled(params, dtype=None):
        def one(p):
            leaf_dtype = dtype if dtype is not None else jnp.result_type(p)
            # full_like: the moment inherits the parameter's sharding.
            return jnp.full_like(
                p, numerics.as_dtype(initial_accumulator_value, leaf_dtype), leaf_dtype
            )

        return jax.tree.map(one, params)

    def init_fn(params):
        return ScaleByAdamState(
            count=numerics.zero_count(), mu=filled(params), nu=filled(params, nu_dtype)
        )

    def second_moment(g, v):
        g2 = numerics.abs_sq(g)
        dtype = numerics.weak_common_dtype(g2, v, b2)
        g2, v = g2.astype(dtype), v.astype(dtype)
        return v - numerics.as_dtype(1 - b2, dtype) * (jnp.sign(v - g2) * g2)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match(fn, updates, state.mu)
        grads = _wide(updates)
        mu = numerics.update_moment(grads, _widen(state.mu, grads), b1, 1)
        nu = jax.tree.map(second_moment, grads, state.nu)
        count = numerics.safe_increment(state.count)
        mu_hat = numerics.bias_correction(mu, b1, count)
        nu_hat = numerics.bias_correction(nu, b2, count)
        new_updates = jax.tree.map(
            lambda g, m, v: _adam_ratio(m, v, eps, eps_root).astype(g.dtype),
            updates,
            mu_hat,
            nu_hat,
        )
        new_state = ScaleByAdamState(
            count=count,
            mu=tree_lib.cast_like(mu, state.mu),
            nu=_same_dtypes_positive(nu, state.nu),
        )
        return new_updates, new_state

    return GradientTransformation(init_fn, update_fn)
