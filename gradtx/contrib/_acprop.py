"""ACProp: asynchronous centering, the belief of AdaBelief with the previous second moment."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import GradientTransformation, chain, numerics, validate
from gradtx.transforms import ScaleByBeliefState, add_decayed_weights, scale_by_learning_rate

__all__ = ["acprop", "scale_by_acprop"]


def scale_by_acprop(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-16,
    eps_root: float = 1e-16,
) -> GradientTransformation:
    r"""Rescale updates by ACProp: the gradient over the *previous* centred second moment.

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        s_t = \beta_2 s_{t-1} + (1-\beta_2) (g_t - m_{t-1})^2 + \epsilon_{root} \\
        u_t = g_t / (\sqrt{s_{t-1} / (1-\beta_2^{t-1})} + \epsilon), \qquad
        u_1 = g_1 / (1 + \epsilon)

    The momentum is kept in the state but, as in Optax, the update divides the raw
    gradient (the momentum-free variant of the paper's Algorithm 2).

    Args:
      b1: first-moment decay, in [0, 1). Default 0.9.
      b2: centred second-moment decay, in [0, 1). Default 0.999.
      eps: added outside the root, >= 0. Default 1e-16.
      eps_root: added to the second moment each step, >= 0. Default 1e-16.

    Returns:
      A `GradientTransformation` with `gradtx.ScaleByBeliefState`.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.scale_by_acprop()
      >>> u, _ = tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))
      >>> u.tolist()  # the first step is the gradient
      [2.0]

    References:
      Zhuang et al., "Momentum Centering and Asynchronous Update for Adaptive Gradient
      Methods", NeurIPS 2021, https://arxiv.org/abs/2110.05454
    """
    fn = "scale_by_acprop"
    validate.decay(fn, b1=b1, b2=b2)
    validate.non_negative(fn, eps=eps, eps_root=eps_root)

    def init_fn(params):
        return ScaleByBeliefState(
            count=numerics.zero_count(),
            mu=tree_lib.zeros_like(params),
            nu=tree_lib.zeros_like(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match(fn, updates, state.mu)
        count = numerics.safe_increment(state.count)
        with jax.numpy_dtype_promotion("standard"):
            mu = numerics.update_moment(updates, state.mu, b1, 1)
            error = jax.tree.map(lambda g, m: g - m, updates, state.mu)
            nu = numerics.update_moment_per_elem_norm(error, state.nu, b2, 2)
            nu = jax.tree.map(lambda v: v + eps_root, nu)
            initial = state.count == 0
            t = jnp.where(initial, count, state.count)
            nu_hat = numerics.bias_correction(state.nu, b2, t)
            nu_hat = jax.tree.map(lambda v: jnp.where(initial, 1, v), nu_hat)
            new = jax.tree.map(
                lambda g, v: (g / (jnp.sqrt(v) + eps)).astype(g.dtype), updates, nu_hat
            )
        return new, ScaleByBeliefState(
            count=count, mu=tree_lib.cast_like(mu, state.mu), nu=tree_lib.cast_like(nu, state.nu)
        )

    return GradientTransformation(init_fn, update_fn)


def acprop(
    learning_rate: Any,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-16,
    eps_root: float = 1e-16,
    weight_decay: float = 0.0,
    mask: Any = None,
) -> GradientTransformation:
    """ACProp with decoupled weight decay.

    ``chain(scale_by_acprop(b1, b2, eps, eps_root), add_decayed_weights(weight_decay,
    mask), scale_by_learning_rate(learning_rate))``; see `scale_by_acprop`.

    Args:
      learning_rate: a number or a schedule.
      b1: first-moment decay, in [0, 1). Default 0.9.
      b2: second-moment decay, in [0, 1). Default 0.999.
      eps: added outside the root, >= 0. Default 1e-16.
      eps_root: added to the second moment, >= 0. Default 1e-16.
      weight_decay: decoupled weight decay, >= 0. Default 0.
      mask: which parameters decay.

    Returns:
      A `GradientTransformation` (a `chain`).

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.acprop(0.1)
      >>> params = jnp.zeros(1)
      >>> u, _ = tx.update(jnp.array([2.0]), tx.init(params), params)
      >>> u.round(3).tolist()
      [-0.2]

    References:
      Zhuang et al., "Momentum Centering and Asynchronous Update for Adaptive Gradient
      Methods", NeurIPS 2021, https://arxiv.org/abs/2110.05454
    """
    return chain(
        scale_by_acprop(b1=b1, b2=b2, eps=eps, eps_root=eps_root),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
