"""AdEMAMix: Adam with a second, slow momentum; and its simplified form."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.contrib import _util
from gradtx.core import GradientTransformation, Updates, chain, numerics, validate
from gradtx.transforms import add_decayed_weights, scale_by_learning_rate

__all__ = [
    "ScaleByAdemamixState",
    "ScaleBySimplifiedAdEMAMixState",
    "ademamix",
    "scale_by_ademamix",
    "scale_by_simplified_ademamix",
    "simplified_ademamix",
]


class ScaleByAdemamixState(NamedTuple):
    """State of `scale_by_ademamix`.

    Attributes:
      count: updates so far (int32, saturating).
      count_m2: updates of the slow momentum so far (int32); the schedules' step.
      m1: fast first-moment EMA, dtype ``mu_dtype`` or the parameter's.
      m2: slow first-moment EMA, same dtype.
      nu: second-moment EMA, same dtype.
    """

    count: jax.Array
    count_m2: jax.Array
    m1: Updates
    m2: Updates
    nu: Updates


class ScaleBySimplifiedAdEMAMixState(NamedTuple):
    """State of `scale_by_simplified_ademamix`.

    Attributes:
      t: updates so far (int32, saturating).
      m: the accumulated momentum :math:`m_t = \\beta_1 m_{t-1} + g_t`.
      n: second-moment EMA.
    """

    t: jax.Array
    m: Updates
    n: Updates


def _ratio(num: jax.Array, v: jax.Array, eps: Any, eps_root: Any, like: jax.Array) -> jax.Array:
    """``num / (sqrt(v + eps_root) + eps)`` in the wider of the operands' dtypes."""
    den = jnp.sqrt(numerics.promote_add(v, jnp.asarray(eps_root).astype(v.dtype)))
    den = numerics.promote_add(den, jnp.asarray(eps).astype(den.dtype))
    dtype = numerics.common_dtype(num.dtype, den.dtype)
    return (num.astype(dtype) / den.astype(dtype)).astype(like.dtype)


def scale_by_ademamix(
    b1: float = 0.9,
    b2: float = 0.999,
    b3: Any = 0.9999,
    alpha: Any = 6.0,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: Any = None,
) -> GradientTransformation:
    r"""Rescale updates by AdEMAMix: Adam's step plus :math:`\alpha` times a slow EMA.

    .. math::
        m^{(1)}_t = \beta_1 m^{(1)}_{t-1} + (1-\beta_1) g_t, \qquad
        m^{(2)}_t = \beta_3 m^{(2)}_{t-1} + (1-\beta_3) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        u_t = \frac{m^{(1)}_t / (1-\beta_1^t) + \alpha\, m^{(2)}_t}
        {\sqrt{v_t / (1-\beta_2^t) + \epsilon_{root}} + \epsilon}

    The slow EMA is not bias-corrected (Pagliardini et al. 2024, Algorithm 1).
    ``alpha`` and ``b3`` may be schedules of the step (the paper warms both up over
    :math:`T_{\alpha,\beta_3}` steps). Defaults are Optax's: ``alpha`` is 6 here but 5
    in `ademamix`, as in Optax; the paper's experiments use values in [4, 10].

    Args:
      b1: fast EMA decay, in [0, 1). Default 0.9.
      b2: second-moment decay, in [0, 1). Default 0.999.
      b3: slow EMA decay, in [0, 1), or a schedule. Default 0.9999.
      alpha: weight of the slow EMA, or a schedule. Default 6.
      eps: added outside the square root, >= 0. Default 1e-8.
      eps_root: added inside the square root, >= 0. Default 0.
      mu_dtype: storage dtype of the three moments (default: the parameter's).

    Returns:
      A `GradientTransformation` with `ScaleByAdemamixState`.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.scale_by_ademamix(alpha=5.0)
      >>> u, _ = tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))
      >>> u.round(4).tolist()  # 1 + alpha * (1 - b3) on the first step
      [1.0005]

    References:
      Pagliardini et al., "The AdEMAMix Optimizer: Better, Faster, Older", ICLR 2025,
      https://arxiv.org/abs/2409.03137 (code: github.com/apple/ml-ademamix)
    """
    fn = "scale_by_ademamix"
    validate.decay(fn, b1=b1, b2=b2, b3=b3)
    validate.non_negative(fn, eps=eps, eps_root=eps_root)
    validate.finite(fn, alpha=alpha)
    mu_dtype = numerics.canonicalize_dtype(mu_dtype)

    def init_fn(params):
        zeros = tree_lib.zeros_like(params, dtype=mu_dtype)
        return ScaleByAdemamixState(
            count=numerics.zero_count(),
            count_m2=numerics.zero_count(),
            m1=zeros,
            m2=tree_lib.zeros_like(params, dtype=mu_dtype),
            nu=tree_lib.zeros_like(params, dtype=mu_dtype),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match(fn, updates, state.m1)
        c_b3 = _util.value(b3, state.count_m2)
        c_alpha = _util.value(alpha, state.count_m2)
        m1 = numerics.update_moment(updates, state.m1, b1, 1)
        m2 = numerics.update_moment(updates, state.m2, c_b3, 1)
        nu = numerics.update_moment_per_elem_norm(updates, state.nu, b2, 2)
        count = numerics.safe_increment(state.count)
        m1_hat = numerics.bias_correction(m1, b1, count)
        nu_hat = numerics.bias_correction(nu, b2, count)
        new = jax.tree.map(
            lambda a, b, v, g: _ratio(
                numerics.promote_add(a, numerics.scalar_mul(c_alpha, b)), v, eps, eps_root, g
            ),
            m1_hat,
            m2,
            nu_hat,
            updates,
        )
        return new, ScaleByAdemamixState(
            count=count,
            count_m2=numerics.safe_increment(state.count_m2),
            m1=tree_lib.cast_like(m1, state.m1),
            m2=tree_lib.cast_like(m2, state.m2),
            nu=tree_lib.cast_like(nu, state.nu),
        )

    return GradientTransformation(init_fn, update_fn)


def ademamix(
    learning_rate: Any,
    b1: float = 0.9,
    b2: float = 0.999,
    b3: Any = 0.9999,
    alpha: Any = 5.0,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: Any = None,
    weight_decay: float = 0.0,
    mask: Any = None,
) -> GradientTransformation:
    """AdEMAMix with decoupled weight decay.

    ``chain(scale_by_ademamix(b1, b2, b3, alpha, eps, eps_root, mu_dtype),
    add_decayed_weights(weight_decay, mask), scale_by_learning_rate(learning_rate))``;
    see `scale_by_ademamix` (note the default ``alpha`` is 5 here, 6 there, as Optax).

    Args:
      learning_rate: a number or a schedule.
      b1: fast EMA decay, in [0, 1). Default 0.9.
      b2: second-moment decay, in [0, 1). Default 0.999.
      b3: slow EMA decay, in [0, 1), or a schedule. Default 0.9999.
      alpha: weight of the slow EMA, or a schedule. Default 5.
      eps: added outside the square root, >= 0. Default 1e-8.
      eps_root: added inside the square root, >= 0. Default 0.
      mu_dtype: storage dtype of the moments.
      weight_decay: decoupled weight decay, >= 0. Default 0.
      mask: which parameters decay (see `gradtx.add_decayed_weights`).

    Returns:
      A `GradientTransformation` (a `chain`).

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.ademamix(0.1)
      >>> params = jnp.zeros(1)
      >>> u, _ = tx.update(jnp.array([2.0]), tx.init(params), params)
      >>> u.round(4).tolist()
      [-0.1]

    References:
      Pagliardini et al., "The AdEMAMix Optimizer: Better, Faster, Older", ICLR 2025,
      https://arxiv.org/abs/2409.03137
    """
    return chain(
        scale_by_ademamix(b1, b2, b3, alpha, eps, eps_root, mu_dtype),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


def scale_by_simplified_ademamix(
    b1: float = 0.99,
    b2: float = 0.95,
    alpha: Any = 0.0,
    eps: float = 1e-8,
    eps_root: float = 0.0,
) -> GradientTransformation:
    r"""Rescale updates by simplified AdEMAMix (one momentum, accumulated not averaged).

    .. math::
        m_t = \beta_1 m_{t-1} + g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        u_t = \frac{m_t + \alpha g_t}{\sqrt{v_t / (1-\beta_2^t) + \epsilon_{root}} + \epsilon}

    With ``alpha = 0`` and :math:`\beta_1` replaced by an EMA this is Adam; the sum
    :math:`m_t` plays the role of AdEMAMix's slow EMA (Morwani et al. 2025).

    Args:
      b1: momentum decay, in [0, 1). Default 0.99.
      b2: second-moment decay, in [0, 1). Default 0.95.
      alpha: weight of the current gradient, or a schedule. Default 0.
      eps: added outside the square root, >= 0. Default 1e-8.
      eps_root: added inside the square root, >= 0. Default 0.

    Returns:
      A `GradientTransformation` with `ScaleBySimplifiedAdEMAMixState`.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.scale_by_simplified_ademamix()
      >>> u, _ = tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))
      >>> u.round(4).tolist()
      [1.0]

    References:
      Morwani et al., "Connections between Schedule-Free Optimizers, AdEMAMix, and
      Accelerated SGD Variants", 2025, https://arxiv.org/abs/2502.02431
    """
    fn = "scale_by_simplified_ademamix"
    validate.decay(fn, b1=b1, b2=b2)
    validate.non_negative(fn, eps=eps, eps_root=eps_root)
    validate.finite(fn, alpha=alpha)

    def init_fn(params):
        return ScaleBySimplifiedAdEMAMixState(
            t=numerics.zero_count(),
            m=tree_lib.zeros_like(params),
            n=tree_lib.zeros_like(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match(fn, updates, state.m)
        c_alpha = _util.value(alpha, state.t)
        m = jax.tree.map(
            lambda g, m_: numerics.promote_add(g, numerics.scalar_mul(b1, m_)), updates, state.m
        )
        n = numerics.update_moment_per_elem_norm(updates, state.n, b2, 2)
        t = numerics.safe_increment(state.t)
        n_hat = numerics.bias_correction(n, b2, t)
        new = jax.tree.map(
            lambda m_, v, g: _ratio(
                numerics.promote_add(m_, numerics.scalar_mul(c_alpha, g)), v, eps, eps_root, g
            ),
            m,
            n_hat,
            updates,
        )
        return new, ScaleBySimplifiedAdEMAMixState(
            t=t, m=tree_lib.cast_like(m, state.m), n=tree_lib.cast_like(n, state.n)
        )

    return GradientTransformation(init_fn, update_fn)


def simplified_ademamix(
    learning_rate: Any,
    b1: float = 0.99,
    b2: float = 0.95,
    alpha: Any = 0.0,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    weight_decay: float = 0.0,
    mask: Any = None,
) -> GradientTransformation:
    """Simplified AdEMAMix with decoupled weight decay.

    ``chain(scale_by_simplified_ademamix(b1, b2, alpha, eps, eps_root),
    add_decayed_weights(weight_decay, mask), scale_by_learning_rate(learning_rate))``;
    see `scale_by_simplified_ademamix`.

    Args:
      learning_rate: a number or a schedule.
      b1: momentum decay, in [0, 1). Default 0.99.
      b2: second-moment decay, in [0, 1). Default 0.95.
      alpha: weight of the current gradient, or a schedule. Default 0.
      eps: added outside the square root, >= 0. Default 1e-8.
      eps_root: added inside the square root, >= 0. Default 0.
      weight_decay: decoupled weight decay, >= 0. Default 0.
      mask: which parameters decay.

    Returns:
      A `GradientTransformation` (a `chain`).

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.simplified_ademamix(0.1)
      >>> params = jnp.zeros(1)
      >>> u, _ = tx.update(jnp.array([2.0]), tx.init(params), params)
      >>> u.round(4).tolist()
      [-0.1]

    References:
      Morwani et al., "Connections between Schedule-Free Optimizers, AdEMAMix, and
      Accelerated SGD Variants", 2025, https://arxiv.org/abs/2502.02431
    """
    return chain(
        scale_by_simplified_ademamix(b1, b2, alpha, eps, eps_root),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
