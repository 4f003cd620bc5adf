"""DoG and DoWG: step sizes from the distance travelled and the gradient norms.

The scalar bookkeeping runs under JAX's standard dtype promotion so it reproduces
Optax's numbers whatever the caller's promotion mode; updates keep the gradients' dtypes.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import GradientTransformation, Params, chain, identity, numerics, validate
from gradtx.transforms import add_decayed_weights, scale_by_learning_rate

__all__ = ["DoGState", "DoWGState", "dog", "dowg"]


class DoGState(NamedTuple):
    """State of DoG (the transform inside `dog`).

    Attributes:
      is_init_step: whether the next update is the first (bool).
      init_params: the initial parameters :math:`x_0`.
      max_dist: :math:`\\bar r_t = \\max(r_\\epsilon, \\max_i \\|x_i - x_0\\|)` (lowest float
        dtype of the params).
      sum_sq_norm_grads: :math:`\\sum_i \\|g_i\\|^2` (that dtype).
    """

    is_init_step: jax.Array
    init_params: Params
    max_dist: jax.Array
    sum_sq_norm_grads: jax.Array


class DoWGState(NamedTuple):
    """State of DoWG (the transform inside `dowg`).

    Attributes:
      init_params: the initial parameters :math:`x_0`.
      weighted_sq_norm_grads: :math:`\\sum_i \\bar r_i^2 \\|g_i\\|^2`.
      estim_sq_dist: :math:`\\bar r_t^2`, the largest squared distance from :math:`x_0`.
    """

    init_params: Params
    weighted_sq_norm_grads: jax.Array
    estim_sq_dist: jax.Array


def _scaled(rate: jax.Array, updates: Any) -> Any:
    return jax.tree.map(lambda g: (rate.astype(g.dtype) * g).astype(g.dtype), updates)


def _scale_by_dog(init_step, eps) -> GradientTransformation:
    fn = "dog"
    kind, value = init_step
    validate.one_of(fn, "init_step[0]", kind, ("distance", "learning_rate", "heuristic"))

    def init_fn(params):
        dtype = numerics.lowest_float_dtype(params)
        if kind == "distance":
            r_eps = value
        elif kind == "heuristic":
            with jax.numpy_dtype_promotion("standard"):
                r_eps = value * (1 + tree_lib.l2_norm(params))
        else:
            r_eps = 0.0
        return DoGState(
            is_init_step=jnp.asarray(True),
            # A copy: the state must not hold the params' own buffers (a donated step).
            init_params=jax.tree.map(jnp.copy, params),
            max_dist=jnp.asarray(r_eps, dtype),
            sum_sq_norm_grads=jnp.asarray(0.0, dtype),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        validate.require_params(fn, params)
        validate.tree_match(fn, updates, state.init_params)
        with jax.numpy_dtype_promotion("standard"):
            dist = tree_lib.l2_norm(jax.tree.map(lambda a, b: a - b, state.init_params, params))
            max_dist = jnp.maximum(state.max_dist, dist)
            total = state.sum_sq_norm_grads + tree_lib.l2_norm(updates, squared=True)
            rate = max_dist / jnp.sqrt(total + eps)
            if kind == "learning_rate":
                rate = jnp.where(state.is_init_step, value, rate)
        return _scaled(rate, updates), DoGState(
            is_init_step=jnp.asarray(False),
            init_params=state.init_params,
            max_dist=max_dist.astype(state.max_dist.dtype),
            sum_sq_norm_grads=total.astype(state.sum_sq_norm_grads.dtype),
        )

    return GradientTransformation(init_fn, update_fn)


def dog(
    learning_rate: Any = 1.0,
    init_step: tuple[str, float] = ("heuristic", 1e-6),
    eps: float = 1e-8,
    weight_decay: float | None = None,
    mask: Any = None,
) -> GradientTransformation:
    r"""DoG ("distance over gradients"): SGD with the step size :math:`\bar r_t / \sqrt{G_t}`.

    .. math::
        \bar r_t = \max\big(r_\epsilon, \max_{i \le t} \|x_i - x_0\|\big), \qquad
        G_t = \sum_{i \le t} \|g_i\|^2, \qquad
        u_t = -\eta_t \frac{\bar r_t}{\sqrt{G_t + \epsilon}}\, g_t

    ``init_step`` sets the first step: ``("distance", r)`` gives :math:`r_\epsilon = r`,
    ``("heuristic", a)`` gives :math:`r_\epsilon = a (1 + \|x_0\|)` and
    ``("learning_rate", s)`` takes :math:`s` as the first step size. The chain is
    ``chain(add_decayed_weights(weight_decay, mask) or identity(), <DoG>,
    scale_by_learning_rate(learning_rate))``.

    Args:
      learning_rate: a multiplier :math:`\eta_t` (number or schedule). Default 1.
      init_step: ``(kind, value)`` as above. Default ``("heuristic", 1e-6)``.
      eps: added under the root, >= 0. Default 1e-8.
      weight_decay: weight decay added to the gradient (``None``: none), >= 0.
      mask: which parameters decay.

    Returns:
      A `GradientTransformation` (a `chain` with `DoGState`); ``update`` needs ``params``.

    Raises:
      ValueError: for an unknown ``init_step`` kind or ``eps < 0``.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x ** 2)
      >>> tx = gradtx.contrib.dog()
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = tx.init(params)
      >>> for _ in range(30):
      ...     u, state = tx.update(jax.grad(f)(params), state, params)
      ...     params = gradtx.apply_updates(params, u)
      >>> bool(f(params) < 14.0)
      True

    References:
      Ivgi et al., "DoG is SGD's Best Friend: A Parameter-Free Dynamic Step Size
      Schedule", ICML 2023, https://arxiv.org/abs/2302.12022
    """
    validate.non_negative("dog", eps=eps)
    return chain(
        add_decayed_weights(weight_decay, mask) if weight_decay is not None else identity(),
        _scale_by_dog(init_step, eps),
        scale_by_learning_rate(learning_rate),
    )


def _scale_by_dowg(init_estim_sq_dist, eps) -> GradientTransformation:
    fn = "dowg"

    def init_fn(params):
        dtype = numerics.lowest_float_dtype(params)
        start = eps if init_estim_sq_dist is None else init_estim_sq_dist
        return DoWGState(
            # A copy: the state must not hold the params' own buffers (a donated step).
            init_params=jax.tree.map(jnp.copy, params),
            weighted_sq_norm_grads=jnp.asarray(0.0, dtype),
            estim_sq_dist=jnp.asarray(start, dtype),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        validate.require_params(fn, params)
        validate.tree_match(fn, updates, state.init_params)
        with jax.numpy_dtype_promotion("standard"):
            diff = jax.tree.map(lambda a, b: a - b, state.init_params, params)
            sq_dist = jnp.maximum(state.estim_sq_dist, tree_lib.l2_norm(diff, squared=True))
            weighted = (
                sq_dist * tree_lib.l2_norm(updates, squared=True) + state.weighted_sq_norm_grads
            )
            rate = sq_dist / (jnp.sqrt(weighted) + eps)
        return _scaled(rate, updates), state._replace(
            estim_sq_dist=sq_dist.astype(state.estim_sq_dist.dtype),
            weighted_sq_norm_grads=weighted.astype(state.weighted_sq_norm_grads.dtype),
        )

    return GradientTransformation(init_fn, update_fn)


def dowg(
    learning_rate: Any = 1.0,
    init_estim_sq_dist: float | None = None,
    eps: float = 1e-4,
    weight_decay: float | None = None,
    mask: Any = None,
) -> GradientTransformation:
    r"""DoWG ("distance over weighted gradients"): DoG with distance-weighted gradient sums.

    .. math::
        \bar r_t^2 = \max\big(\bar r_{t-1}^2, \|x_t - x_0\|^2\big), \qquad
        v_t = v_{t-1} + \bar r_t^2 \|g_t\|^2, \qquad
        u_t = -\eta_t \frac{\bar r_t^2}{\sqrt{v_t} + \epsilon}\, g_t

    with :math:`\bar r_0^2` = ``init_estim_sq_dist`` (default ``eps``).

    Args:
      learning_rate: a multiplier :math:`\eta_t` (number or schedule). Default 1.
      init_estim_sq_dist: the initial squared distance estimate (default ``eps``).
      eps: added to the root, >= 0. Default 1e-4.
      weight_decay: weight decay added to the gradient (``None``: none), >= 0.
      mask: which parameters decay.

    Returns:
      A `GradientTransformation` (a `chain` with `DoWGState`); ``update`` needs
      ``params``.

    Raises:
      ValueError: if ``eps < 0``.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x ** 2)
      >>> tx = gradtx.contrib.dowg()
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = tx.init(params)
      >>> for _ in range(30):
      ...     u, state = tx.update(jax.grad(f)(params), state, params)
      ...     params = gradtx.apply_updates(params, u)
      >>> bool(f(params) < 14.0)
      True

    References:
      Khaled et al., "DoWG Unleashed: An Efficient Universal Parameter-Free
      Gradient Descent Method", NeurIPS 2023, https://arxiv.org/abs/2305.16284
    """
    validate.non_negative("dowg", eps=eps)
    return chain(
        add_decayed_weights(weight_decay, mask) if weight_decay is not None else identity(),
        _scale_by_dowg(init_estim_sq_dist, eps),
        scale_by_learning_rate(learning_rate),
    )
