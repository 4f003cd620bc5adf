"""Sharpness-aware minimization (SAM) as a transform, and gradient normalization."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import (
    EmptyState,
    GradientTransformation,
    GradientTransformationExtraArgs,
    OptState,
    Params,
    apply_updates,
    validate,
)

__all__ = ["NormalizeState", "SAMState", "normalize", "sam"]

NormalizeState = EmptyState


def normalize() -> GradientTransformation:
    """Divide the updates by their global L2 norm.

    .. math:: u_t = g_t / \\|g_t\\|_2

    Used as SAM's adversarial step (``sam(opt, chain(normalize(), sgd(-rho)))``). A zero
    gradient gives NaN, as in Optax.

    Returns:
      A `GradientTransformation` with ``NormalizeState`` (= `gradtx.EmptyState`).

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.normalize()
      >>> u, _ = tx.update(jnp.array([3.0, 4.0]), tx.init(jnp.zeros(2)))
      >>> u.round(3).tolist()
      [0.6, 0.8]
    """

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        norm = tree_lib.l2_norm(updates)
        return jax.tree.map(lambda g: (g / norm.astype(g.dtype)).astype(g.dtype), updates), state

    return GradientTransformation(lambda params: NormalizeState(), update_fn)


class SAMState(NamedTuple):
    """State of `sam`.

    Attributes:
      steps_since_sync: position in the period of ``sync_period`` steps (int32).
      opt_state: the outer optimizer's state.
      adv_state: the adversarial optimizer's state.
      cache: the parameters at the start of the period (``None`` in opaque mode).
    """

    steps_since_sync: jax.Array
    opt_state: OptState
    adv_state: OptState
    cache: Params | None


def sam(
    optimizer: GradientTransformation,
    adv_optimizer: GradientTransformation,
    sync_period: int = 2,
    reset_state: bool = True,
    opaque_mode: bool = False,
    batch_axis_name: str | None = None,
) -> GradientTransformationExtraArgs:
    r"""Sharpness-aware minimization: step uphill with ``adv_optimizer``, then descend.

    Over a period of ``sync_period`` steps, the first ``sync_period - 1`` updates are the
    adversarial ones (``-adv_optimizer``'s update: it should *ascend*, e.g.
    ``chain(normalize(), sgd(rho))`` for SAM's :math:`\rho\, g/\|g\|`), and the last
    returns to the cached parameters :math:`x` and applies ``optimizer`` to the gradient
    at the perturbed point:

    .. math:: \tilde x = x + \rho\, \frac{\nabla f(x)}{\|\nabla f(x)\|}, \qquad
        x \leftarrow x + \mathrm{opt}(\nabla f(\tilde x))

    In ``opaque_mode`` one ``update`` runs the whole period, calling
    ``grad_fn(params, i)`` (an extra argument) for the inner gradients.

    Args:
      optimizer: the outer optimizer.
      adv_optimizer: the adversarial optimizer (its update is negated).
      sync_period: steps per period, an integer >= 1. Default 2.
      reset_state: re-initialize ``adv_optimizer``'s state each period. Default True.
      opaque_mode: run the period inside one update with ``grad_fn``. Default False.
      batch_axis_name: in opaque mode, the axis to ``pmean`` the inner gradients over.

    Returns:
      A `GradientTransformationExtraArgs` with `SAMState`; ``update`` needs ``params``
      (and ``grad_fn=`` in opaque mode).

    Raises:
      ValueError: if ``sync_period < 1``; in opaque mode, at ``update`` without
        ``grad_fn``.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> adv = gradtx.chain(gradtx.contrib.normalize(), gradtx.sgd(0.1))
      >>> tx = gradtx.contrib.sam(gradtx.sgd(0.5), adv)
      >>> x = jnp.array([1.0])
      >>> state = tx.init(x)
      >>> u, state = tx.update(x, state, x)  # the adversarial step: +rho g/|g|
      >>> u.round(3).tolist()
      [0.1]
      >>> u, state = tx.update(x + u, state, x + u)  # back to x, minus lr * grad there
      >>> u.round(3).tolist()
      [-0.65]

    References:
      Foret et al., "Sharpness-Aware Minimization for Efficiently Improving
      Generalization", ICLR 2021, https://arxiv.org/abs/2010.01412
    """
    fn = "sam"
    validate.integer(fn, "sync_period", sync_period, 1)

    def init_fn(params):
        return SAMState(
            steps_since_sync=jnp.zeros([], jnp.int32),
            opt_state=optimizer.init(params),
            adv_state=adv_optimizer.init(params),
            # A copy: the state must not hold the params' own buffers (a donated step).
            cache=None if opaque_mode else jax.tree.map(jnp.copy, params),
        )

    def negate(tree):
        return jax.tree.map(lambda x: -x, tree)

    def transparent_update_fn(updates, state, params=None, **extra_args):
        del extra_args
        validate.require_params(fn, params)
        validate.tree_match(fn, updates, state.cache)
        first = state.steps_since_sync == 0
        last = state.steps_since_sync == sync_period - 1
        adv_updates, adv_state = adv_optimizer.update(updates, state.adv_state, params)
        adv_updates = negate(adv_updates)
        opt_updates, opt_state = optimizer.update(updates, state.opt_state, state.cache)
        opt_updates = jax.tree.map(lambda c, p, u: c - p + u, state.cache, params, opt_updates)
        cache = tree_lib.where(first, params, state.cache)
        new = tree_lib.where(last, opt_updates, adv_updates)
        if reset_state:
            adv_state = tree_lib.where(last, adv_optimizer.init(params), adv_state)
        else:
            adv_state = tree_lib.where(last, state.adv_state, adv_state)
        opt_state = tree_lib.where(last, opt_state, state.opt_state)
        return new, SAMState(
            steps_since_sync=(state.steps_since_sync + 1) % sync_period,
            opt_state=opt_state,
            adv_state=adv_state,
            cache=cache,
        )

    def opaque_update_fn(updates, state, params=None, **extra_args):
        validate.require_params(fn, params)
        validate.tree_match(fn, updates, params, what="params")
        grad_fn: Callable[[Any, int], Any] = validate.require_extra_arg(fn, extra_args, "grad_fn")
        adv_params, adv_updates, adv_state = params, updates, state.adv_state
        for i in range(sync_period - 1):
            adv_updates, adv_state = adv_optimizer.update(adv_updates, adv_state, adv_params)
            adv_params = apply_updates(adv_params, negate(adv_updates))
            adv_updates = grad_fn(adv_params, i)
            if batch_axis_name is not None:
                adv_updates = jax.lax.pmean(adv_updates, axis_name=batch_axis_name)
        if reset_state:
            adv_state = adv_optimizer.init(params)
        new, opt_state = optimizer.update(adv_updates, state.opt_state, params)
        return new, SAMState(
            steps_since_sync=jnp.zeros([], jnp.int32),
            opt_state=opt_state,
            adv_state=adv_state,
            cache=None,
        )

    return GradientTransformationExtraArgs(
        init_fn, opaque_update_fn if opaque_mode else transparent_update_fn
    )
