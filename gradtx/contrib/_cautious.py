"""Cautious optimizers: keep only the coordinates of an update that agree with the gradient;
cautious weight decay: decay only the coordinates the update already moves toward zero."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from gradtx.core import (
    GradientTransformation,
    OptState,
    ScalarOrSchedule,
    masks,
    numerics,
    validate,
)
from gradtx.core.structure import is_none
from gradtx.transforms import add_decayed_weights

__all__ = ["CautiousState", "add_cautious_decayed_weights", "cautious"]


class CautiousState(NamedTuple):
    """State of `cautious`.

    Attributes:
      inner_state: the wrapped optimizer's state.
    """

    inner_state: OptState


def cautious(
    inner: GradientTransformation,
    min_fraction: float = 1e-3,
) -> GradientTransformation:
    r"""Make any optimizer cautious (Liang et al. 2024): drop update coordinates that
    point uphill.

    With :math:`u_t` the inner optimizer's update (gradtx's convention: it is *added*
    to the parameters, so a descent step has :math:`u_t g_t < 0`), per leaf:

    .. math::
        \phi_t = \mathbb{1}[u_t \odot g_t < 0], \qquad
        \bar u_t = \frac{\phi_t \odot u_t}{\max(\mathrm{mean}(\phi_t),\ \rho)}

    where :math:`\rho` is ``min_fraction``. The rescaling by the mask's mean keeps the
    update's average magnitude (the paper's Algorithm 1 and the reference code,
    github.com/kyleliang919/C-Optim ``c_adamw.py``: ``mask / mask.mean().clamp(min=1e-3)``).
    The masked update never increases a first-order model of the loss:
    :math:`\langle \bar u_t, g_t\rangle \le 0`.

    Wrap a whole optimizer (its learning rate included, positive), e.g.
    ``cautious(adamw(lr))``; its weight-decay term is then masked too. The paper's
    C-AdamW masks only the Adam direction and decays the weights unmasked::

        chain(cautious(chain(scale_by_adam(b1, b2), scale(-1.0))), scale(-1.0),
              add_decayed_weights(wd), scale_by_learning_rate(lr))

    When ``b1 = 0`` Adam's update has the sign of :math:`-g` (for a positive learning
    rate), so ``cautious(adamw(lr, b1=0, weight_decay=0))`` equals ``adamw(lr, b1=0,
    weight_decay=0)`` wherever no gradient entry is exactly zero.

    Args:
      inner: the optimizer to wrap (a `GradientTransformation` whose updates are added
        to the parameters).
      min_fraction: the floor :math:`\rho` of the kept fraction in the rescaling, in
        (0, 1]. Default 1e-3 (the reference's). ``1.0`` turns the rescaling off.

    Returns:
      A `GradientTransformation` with `CautiousState`.

    Raises:
      TypeError: if ``inner`` is not a gradient transformation.
      ValueError: if ``min_fraction`` is outside (0, 1].

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.cautious(gradtx.sgd(1.0, momentum=0.9))
      >>> params = jnp.zeros(2)
      >>> state = tx.init(params)
      >>> u, state = tx.update(jnp.array([1.0, 1.0]), state, params)
      >>> u.tolist()
      [-1.0, -1.0]
      >>> u, state = tx.update(jnp.array([1.0, -0.5]), state, params)
      >>> u.tolist()  # momentum still points uphill on the second coordinate: dropped
      [-3.8, 0.0]

    References:
      Liang et al., "Cautious Optimizers: Improving Training with One Line of Code",
      2024, https://arxiv.org/abs/2411.16085
    """
    fn = "cautious"
    inner = validate.transform(fn, "inner", inner)
    validate.interval(fn, "min_fraction", min_fraction, 0.0, 1.0, low_open=True)

    def init_fn(params):
        return CautiousState(inner_state=inner.init(params))

    def update_fn(updates, state, params=None, **extra_args):
        new, inner_state = inner.update(updates, state.inner_state, params, **extra_args)

        def one(u, g):
            if u is None:
                return None
            if not jnp.issubdtype(u.dtype, jnp.inexact):
                return jnp.zeros_like(u)  # integer leaves: a zero update of their dtype
            keep = (u * g.astype(u.dtype)) < 0
            dtype = numerics.compute_dtype(u.dtype)
            fraction = jnp.maximum(jnp.mean(keep.astype(dtype)), jnp.asarray(min_fraction, dtype))
            return jnp.where(keep, u / fraction.astype(u.dtype), jnp.zeros_like(u))

        out = jax.tree.map(one, new, updates, is_leaf=is_none)
        return out, CautiousState(inner_state=inner_state)

    return GradientTransformation(init_fn, update_fn)


def add_cautious_decayed_weights(
    weight_decay: ScalarOrSchedule = 0.0,
    mask: masks.MaskOrFn = None,
) -> GradientTransformation:
    r"""Cautious weight decay (Chen et al. 2025): decay a coordinate only where the
    optimizer's direction already moves it toward zero.

    With :math:`u_t` the incoming direction (before the learning rate, the parameters
    move by :math:`-\eta_t \tilde u_t`):

    .. math::
        \tilde u_t = u_t + \lambda(t)\, \mathbb{1}[u_t \odot \theta_t \ge 0] \odot \theta_t

    so :math:`\theta_{t+1} = \theta_t - \eta_t(u_t + \lambda\, \mathbb{1}[u_t \theta_t
    \ge 0]\, \theta_t)`, the paper's Eq. (CWD). A drop-in for `gradtx.add_decayed_weights`
    (the same place in a chain, the same arguments and state): e.g. cautious AdamW is
    ``chain(scale_by_adam(), add_cautious_decayed_weights(wd), scale_by_learning_rate(lr))``.

    Args:
      weight_decay: the rate :math:`\lambda`, >= 0, or a schedule. Default 0.
      mask: which parameters decay (as in `gradtx.add_decayed_weights`): ``None`` (all),
        a bool, a pytree of bools (or a prefix), or a callable ``params -> pytree``.

    Returns:
      A `GradientTransformation` with `EmptyState`, or `WeightDecaySchedule` when
      ``weight_decay`` is a schedule. ``update`` needs ``params``.

    Raises:
      ValueError: if ``weight_decay`` is negative or not finite.
      TypeError: if ``mask`` is a string or a number.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.add_cautious_decayed_weights(0.5)
      >>> params = jnp.array([2.0, 2.0])
      >>> u, _ = tx.update(jnp.array([1.0, -1.0]), tx.init(params), params)
      >>> u.tolist()  # only the first coordinate already heads toward zero
      [2.0, -1.0]

    References:
      Chen et al., "Cautious Weight Decay", 2025, https://arxiv.org/abs/2510.12402
    """
    fn = "add_cautious_decayed_weights"
    validate.non_negative(fn, weight_decay=weight_decay)
    validate.finite(fn, weight_decay=weight_decay)
    masks.check(fn, mask)
    # add_decayed_weights keeps the schedule and its state (the same as here, unmasked);
    # the cautious condition and the mask select from its decayed updates.
    decay = add_decayed_weights(weight_decay)

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        validate.require_params(fn, params)
        decayed, new_state = decay.update(updates, state, params)

        def cautious_decay(u, d, p):
            if u is None:
                return None
            return jnp.where(u * p.astype(u.dtype) >= 0, d, u)

        decayed = jax.tree.map(cautious_decay, updates, decayed, params, is_leaf=is_none)
        if mask is not None:
            decayed = masks.select(masks.resolve(mask, params), decayed, updates)
        return decayed, new_state

    return GradientTransformation(decay.init, update_fn)
