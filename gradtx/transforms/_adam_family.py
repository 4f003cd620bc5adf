"""Adam and its relatives: moment estimates with bias correction."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import _numerics, _validate
from gradtx.core._base import GradientTransformation, Updates

__all__ = ["ScaleByAdamState", "scale_by_adam"]


class ScaleByAdamState(NamedTuple):
    """State of `scale_by_adam`.

    Attributes:
      count: updates so far (int32, saturating).
      mu: first-moment EMA, dtype ``mu_dtype`` or the parameter's.
      nu: second-moment EMA, dtype ``nu_dtype`` or the parameter's.
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
    """Rescale updates by Adam's bias-corrected moment estimates.

    .. math::
        m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t, \\qquad
        v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2 \\\\
        \\hat m_t = m_t / (1-\\beta_1^t), \\qquad \\hat v_t = v_t / (1-\\beta_2^t) \\\\
        u_t = \\hat m_t / (\\sqrt{\\hat v_t + \\epsilon_{root}} + \\epsilon)

    With ``nesterov=True`` (NAdam), :math:`\\hat m_t` is replaced by
    :math:`\\beta_1 m_t / (1-\\beta_1^{t+1}) + (1-\\beta_1) g_t / (1-\\beta_1^t)`.

    Args:
      b1: first-moment decay :math:`\\beta_1`, in [0, 1). Default 0.9.
      b2: second-moment decay :math:`\\beta_2`, in [0, 1). Default 0.999.
      eps: added outside the square root, >= 0. Default 1e-8.
      eps_root: added inside the square root, >= 0. Default 0.
      mu_dtype: dtype of the first moment (default: the parameter's).
      nesterov: use Nesterov momentum (NAdam). Default False.
      nu_dtype: dtype of the second moment (default: the parameter's).

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
    _validate.decay(fn, b1=b1, b2=b2)
    _validate.non_negative(fn, eps=eps, eps_root=eps_root)
    mu_dtype = _numerics.canonicalize_dtype(mu_dtype)
    nu_dtype = _numerics.canonicalize_dtype(nu_dtype)

    def init_fn(params):
        return ScaleByAdamState(
            count=_numerics.zero_count(),
            mu=tree_lib.zeros_like(params, dtype=mu_dtype),
            nu=tree_lib.zeros_like(params, dtype=nu_dtype),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        _validate.tree_match(fn, updates, state.mu)
        mu = _numerics.update_moment(updates, state.mu, b1, 1)
        nu = _numerics.update_moment_per_elem_norm(updates, state.nu, b2, 2)
        count = _numerics.safe_increment(state.count)
        if nesterov:
            mu_hat = jax.tree.map(
                lambda m, g: b1 * m + (1 - b1) * g,
                _numerics.bias_correction(mu, b1, _numerics.safe_increment(count)),
                _numerics.bias_correction(updates, b1, count),
            )
        else:
            mu_hat = _numerics.bias_correction(mu, b1, count)
        nu_hat = _numerics.bias_correction(nu, b2, count)
        new_updates = jax.tree.map(
            lambda g, m, v: (m / (jnp.sqrt(v + eps_root) + eps)).astype(g.dtype),
            updates,
            mu_hat,
            nu_hat,
        )
        new_state = ScaleByAdamState(
            count=count,
            mu=_same_dtypes(mu, state.mu),
            nu=_same_dtypes(nu, state.nu),
        )
        return new_updates, new_state

    return GradientTransformation(init_fn, update_fn)


def _same_dtypes(new: Any, old: Any) -> Any:
    """Cast each leaf of ``new`` back to the dtype of the matching leaf of ``old``."""
    return jax.tree.map(lambda n, o: n.astype(o.dtype), new, old)
