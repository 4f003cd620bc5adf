"""``dynamic_loss_scale``: mixed-precision loss scaling with overflow skipping."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from gradtx import tree as tree_lib
from gradtx.core import GradientTransformation, OptState, numerics, validate
from gradtx.core.structure import is_none
from gradtx.wrappers._util import all_finite, shallowest_first

__all__ = ["DynamicLossScaleState", "dynamic_loss_scale", "loss_scale"]


class DynamicLossScaleState(NamedTuple):
    """State of `dynamic_loss_scale`.

    Attributes:
      loss_scale: the current loss scale :math:`S` (float32 scalar); multiply the loss
        by it before differentiating (`loss_scale` reads it).
      good_steps: consecutive finite steps since the scale last changed (int32).
      last_finite: whether the last step's gradients were finite (bool).
      total_skipped: steps skipped for non-finite gradients since ``init`` (int32,
        saturating).
      inner_state: the wrapped optimizer's state (untouched by a skipped step).
    """

    loss_scale: jax.Array
    good_steps: jax.Array
    last_finite: jax.Array
    total_skipped: jax.Array
    inner_state: OptState


def dynamic_loss_scale(
    inner: GradientTransformation,
    init_scale: float = 2.0**15,
    growth_interval: int = 2000,
    factor: float = 2.0,
    min_scale: float = 1.0,
    *,
    max_scale: float = 2.0**24,
) -> GradientTransformation:
    """Dynamic loss scaling for float16 / bfloat16 training, with overflow skipping.

    Small float16 gradients underflow to zero. Loss scaling multiplies the loss by a
    large :math:`S` before differentiating, so the backward pass works on
    :math:`S\\nabla L`; this wrapper divides the incoming gradients by :math:`S` (in
    float32, then back to each leaf's dtype) before ``inner`` sees them. If any scaled
    gradient is not finite (the backward pass overflowed) the step is skipped: the
    updates are zero, ``inner``'s state is untouched, and :math:`S` shrinks. After
    ``growth_interval`` finite steps in a row, :math:`S` grows:

    .. math::
        u_t = \\begin{cases} \\mathrm{inner}(\\tilde g_t / S_t) & \\tilde g_t
        \\text{ finite} \\\\ 0 & \\text{otherwise} \\end{cases}
        \\qquad
        S_{t+1} = \\begin{cases} \\max(S_t / f,\\ S_{\\min}) & \\text{not finite} \\\\
        \\min(f S_t,\\ S_{\\max}) & n_t = N \\\\ S_t & \\text{otherwise} \\end{cases}

    where :math:`\\tilde g_t` are the gradients of the scaled loss, :math:`f` the
    ``factor``, :math:`N` the ``growth_interval`` and :math:`n_t` the count of
    consecutive finite steps. bfloat16 has float32's exponent range and rarely needs
    scaling, but the skipping still protects it from spikes.

    The training-loop pattern (keep float32 master parameters, compute in float16, and
    compute the loss's final reduction in float32)::

        tx = gradtx.dynamic_loss_scale(gradtx.adam(1e-3))
        state = tx.init(params)

        def scaled_loss(params, batch, scale):
            return loss_fn(params, batch).astype(jnp.float32) * scale

        @jax.jit
        def step(params, state, batch):
            grads = jax.grad(scaled_loss)(params, batch, gradtx.loss_scale(state))
            updates, state = tx.update(grads, state, params)
            return gradtx.apply_updates(params, updates), state

    Args:
      inner: the optimizer that receives the unscaled gradients.
      init_scale: the initial scale :math:`S_0`, finite and >= ``min_scale``.
        Default :math:`2^{15}`.
      growth_interval: :math:`N`, consecutive finite steps before the scale grows; an
        integer >= 1. Default 2000.
      factor: :math:`f`, the growth and shrink factor, finite and >= 1 (1 keeps the scale
        fixed). Default 2.
      min_scale: the smallest scale :math:`S_{\\min}`, > 0. Default 1.
      max_scale: the largest scale :math:`S_{\\max}`, finite and >= ``init_scale``.
        Default :math:`2^{24}`. The cap keeps the scale finite when the gradients never
        overflow (e.g. they are all zero for a long time).

    Returns:
      A `GradientTransformation` with `DynamicLossScaleState`.

    Raises:
      TypeError: if ``inner`` is not a transform or ``growth_interval`` not an integer.
      ValueError: for arguments outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.dynamic_loss_scale(gradtx.scale(-1.0), init_scale=8.0)
      >>> state = tx.init(jnp.zeros(1, jnp.float16))
      >>> u, state = tx.update(jnp.array([4.0], jnp.float16), state)  # grads of 8 * loss
      >>> u.tolist(), float(gradtx.loss_scale(state))
      ([-0.5], 8.0)
      >>> u, state = tx.update(jnp.array([jnp.inf], jnp.float16), state)  # overflow
      >>> u.tolist(), float(gradtx.loss_scale(state)), int(state.total_skipped)
      ([0.0], 4.0, 1)

    References:
      Micikevicius et al., "Mixed Precision Training", ICLR 2018,
      https://arxiv.org/abs/1710.03740
    """
    fn = "dynamic_loss_scale"
    inner = validate.transform(fn, "inner", inner)
    validate.positive(fn, init_scale=init_scale, min_scale=min_scale, max_scale=max_scale)
    validate.finite(
        fn, init_scale=init_scale, min_scale=min_scale, max_scale=max_scale, factor=factor
    )
    validate.integer(fn, "growth_interval", growth_interval, 1)
    validate.interval(fn, "factor", factor, 1.0)
    bounds = (min_scale, init_scale, max_scale)
    if (
        all(isinstance(v, (int, float)) for v in bounds)
        and not min_scale <= init_scale <= max_scale
    ):
        raise ValueError(
            f"{fn}(init_scale={init_scale!r}): init_scale must be in [min_scale, max_scale] "
            f"= [{min_scale!r}, {max_scale!r}]"
        )

    def init_fn(params):
        return DynamicLossScaleState(
            loss_scale=jnp.asarray(init_scale, jnp.float32),
            good_steps=numerics.zero_count(),
            last_finite=jnp.asarray(True),
            total_skipped=numerics.zero_count(),
            inner_state=inner.init(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        finite = all_finite(updates)
        scale = state.loss_scale

        def unscale(g):
            if g is None:
                return None
            g = jnp.asarray(g)
            dtype = numerics.common_dtype(numerics.compute_dtype(g.dtype), scale.dtype)
            return (g.astype(dtype) / scale.astype(dtype)).astype(g.dtype)

        grads = jax.tree.map(unscale, updates, is_leaf=is_none)

        def step(_):
            new_updates, inner_state = inner.update(grads, state.inner_state, params, **extra_args)
            return new_updates, tree_lib.cast_like(inner_state, state.inner_state)

        out_shape = jax.eval_shape(step, None)[0]

        def skip(_):
            zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), out_shape)
            return zeros, state.inner_state

        new_updates, inner_state = lax.cond(finite, step, skip, None)

        good_steps = jnp.where(
            finite, numerics.safe_increment(state.good_steps), jnp.zeros_like(state.good_steps)
        )
        grow = good_steps >= growth_interval
        new_scale = jnp.where(
            finite,
            jnp.where(grow, jnp.minimum(scale * factor, max_scale), scale),
            jnp.maximum(scale / factor, min_scale),
        ).astype(scale.dtype)
        new_state = DynamicLossScaleState(
            loss_scale=new_scale,
            good_steps=jnp.where(grow, jnp.zeros_like(good_steps), good_steps),
            last_finite=finite,
            total_skipped=jnp.where(
                finite, state.total_skipped, numerics.safe_increment(state.total_skipped)
            ),
            inner_state=inner_state,
        )
        return new_updates, new_state

    return GradientTransformation(init_fn, update_fn)


def loss_scale(state: Any, dtype: Any = jnp.float32) -> jax.Array:
    """The current loss scale of a `dynamic_loss_scale` state, wherever it is nested.

    Multiply the (float32) loss by it before ``jax.grad``; see `dynamic_loss_scale`.

    Args:
      state: an optimizer state containing a `DynamicLossScaleState` (the shallowest is
        used).
      dtype: the dtype to return it in. Default float32 (a float16 scale above 65504
        would be infinite, so scale a float32 loss).

    Returns:
      A scalar array.

    Raises:
      KeyError: if the state holds no `DynamicLossScaleState`.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.chain(gradtx.dynamic_loss_scale(gradtx.scale(-1.0), init_scale=4.0))
      >>> float(gradtx.loss_scale(tx.init(jnp.zeros(1))))
      4.0
    """
    found = [v for _, v in shallowest_first(state, "loss_scale") if jnp.shape(v) == ()]
    if not found:
        raise KeyError(
            "loss_scale: the state holds no dynamic_loss_scale state; wrap the optimizer "
            "with gradtx.dynamic_loss_scale(...)"
        )
    return jnp.asarray(found[0]).astype(dtype)
