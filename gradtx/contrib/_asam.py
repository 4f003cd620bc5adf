"""ASAM's adversarial step: SAM's ascent made invariant to parameter rescaling."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gradtx.contrib._sam import sam
from gradtx.core import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    init_empty_state,
    numerics,
    validate,
)
from gradtx.core.structure import is_none

__all__ = ["asam", "scale_by_asam"]


def scale_by_asam(rho: float = 0.5, eta: float = 0.01) -> GradientTransformation:
    r"""The adversarial step of adaptive SAM (Kwon et al. 2021), as an ``adv_optimizer``.

    With :math:`T_w = |w| + \eta` (elementwise, the paper's element-wise
    normalization operator) and the norm over the whole tree:

    .. math::
        u_t = -\rho\, \frac{T_w^2\, g_t}{\lVert T_w\, g_t \rVert_2}

    In the convention of SAM's adversarial optimizer (``chain(normalize(), sgd(rho))``,
    whose updates SAM negates to ascend): ``sam(optimizer, scale_by_asam(rho, eta))``
    is ASAM, i.e. the perturbation :math:`\epsilon = \rho T_w^2 g / \lVert T_w g
    \rVert` of the paper's Algorithm 1 (and the reference, github.com/SamsungLabs/ASAM,
    ``asam.py``, ``ASAM.ascent_step``, which adds 1e-16 to the norm, as here). With
    all parameters at 0 and ``eta=1`` it is SAM's step :math:`-\rho g / \lVert g\rVert`.
    The paper's defaults are :math:`\rho = 0.5`, :math:`\eta = 0.01` (CIFAR).

    Args:
      rho: the neighbourhood radius :math:`\rho`, >= 0. Default 0.5.
      eta: the offset :math:`\eta` of :math:`T_w`, >= 0. Default 0.01.

    Returns:
      A stateless `GradientTransformation` (`EmptyState`); ``update`` needs ``params``.

    Raises:
      ValueError: if ``rho`` or ``eta`` is negative.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.scale_by_asam(rho=1.0, eta=0.0)
      >>> w, g = jnp.array([1.0, 2.0]), jnp.array([1.0, 1.0])
      >>> u, _ = tx.update(g, tx.init(w), w)
      >>> u.round(4).tolist()  # -(1, 4) / |(1, 2)|
      [-0.4472, -1.7889]

    References:
      Kwon et al., "ASAM: Adaptive Sharpness-Aware Minimization for Scale-Invariant
      Learning of Deep Neural Networks", ICML 2021, https://arxiv.org/abs/2102.11600
    """
    fn = "scale_by_asam"
    validate.non_negative(fn, rho=rho, eta=eta)

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        validate.require_params(fn, params)

        def scaled(g, w):
            if g is None:
                return None
            return (jnp.abs(w.astype(g.dtype)) + jnp.asarray(eta).astype(g.dtype)) * g

        tg = jax.tree.map(scaled, updates, params, is_leaf=is_none)
        leaves = jax.tree.leaves(tg)
        if not leaves:
            return updates, state
        dtype = numerics.widest_float_dtype(leaves)
        norm = jnp.sqrt(sum(jnp.sum(numerics.abs_sq(x).astype(dtype)) for x in leaves))
        factor = -rho / (norm + 1e-16)

        def step(t, w):
            if t is None:
                return None
            return (factor.astype(t.dtype) * t * (jnp.abs(w.astype(t.dtype)) + eta)).astype(t.dtype)

        return jax.tree.map(step, tg, params, is_leaf=is_none), state

    return GradientTransformation(init_empty_state, update_fn)


def asam(
    optimizer: GradientTransformation,
    rho: float = 0.5,
    eta: float = 0.01,
    sync_period: int = 2,
    reset_state: bool = True,
    opaque_mode: bool = False,
    batch_axis_name: str | None = None,
) -> GradientTransformationExtraArgs:
    r"""Adaptive sharpness-aware minimization: `sam` with ASAM's adversarial step.

    ``sam(optimizer, scale_by_asam(rho, eta), sync_period, reset_state, opaque_mode,
    batch_axis_name)``: over a period of ``sync_period`` steps the parameters first move
    to the worst point of the scale-invariant neighbourhood, then ``optimizer`` steps
    from the original parameters with the gradient there (the paper's Algorithm 1):

    .. math::
        \tilde w = w + \rho\, \frac{T_w^2 \nabla f(w)}{\lVert T_w \nabla f(w)
        \rVert_2}, \quad T_w = |w| + \eta, \qquad
        w \leftarrow w + \mathrm{opt}(\nabla f(\tilde w)) .

    Args:
      optimizer: the outer optimizer (e.g. ``gradtx.sgd(0.1, momentum=0.9)``, the
        paper's).
      rho: the neighbourhood radius :math:`\rho`, >= 0. Default 0.5.
      eta: the offset :math:`\eta` of :math:`T_w`, >= 0. Default 0.01.
      sync_period: steps per period, an integer >= 1. Default 2 (one ascent step).
      reset_state: see `sam`. Default True.
      opaque_mode: run the period inside one update with ``grad_fn=`` (see `sam`).
        Default False.
      batch_axis_name: see `sam`.

    Returns:
      A `GradientTransformationExtraArgs` with `SAMState`; ``update`` needs ``params``.

    Raises:
      ValueError: for ``rho`` or ``eta`` < 0, or ``sync_period`` < 1.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.asam(gradtx.sgd(0.5), rho=1.0, eta=0.0)
      >>> w = jnp.array([1.0, 2.0])
      >>> state = tx.init(w)
      >>> u, state = tx.update(jnp.ones(2), state, w)  # the ascent: +(1, 4) / |(1, 2)|
      >>> u.round(4).tolist()
      [0.4472, 1.7889]

    References:
      Kwon et al., "ASAM: Adaptive Sharpness-Aware Minimization for Scale-Invariant
      Learning of Deep Neural Networks", ICML 2021, https://arxiv.org/abs/2102.11600
    """
    validate.non_negative("asam", rho=rho, eta=eta)
    return sam(
        optimizer,
        scale_by_asam(rho, eta),
        sync_period,
        reset_state,
        opaque_mode,
        batch_axis_name,
    )
