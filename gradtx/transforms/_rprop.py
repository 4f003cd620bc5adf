"""Rprop: per-element step sizes adapted from the sign of successive gradients."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import GradientTransformation, Updates, numerics, validate

__all__ = ["ScaleByRpropState", "scale_by_rprop"]


class ScaleByRpropState(NamedTuple):
    """State of `scale_by_rprop`.

    Attributes:
      step_sizes: the per-element step sizes :math:`\\Delta`, in the parameters' dtypes.
      prev_updates: the last step :math:`\\Delta \\operatorname{sign}(g)` (zero where the
        gradient changed sign), in the parameters' dtypes.
    """

    step_sizes: Updates
    prev_updates: Updates


def scale_by_rprop(
    learning_rate: float,
    eta_minus: float = 0.5,
    eta_plus: float = 1.2,
    min_step_size: float = 1e-6,
    max_step_size: float = 50.0,
    *,
    lagged: bool = True,
) -> GradientTransformation:
    """Resilient backpropagation (iRprop-): per-element steps driven by gradient signs.

    Each element keeps its own step size :math:`\\Delta`, started at ``learning_rate``.
    With :math:`s = g_t \\cdot d_{t-1}` (the product with the last step):

    .. math::
        \\Delta_t = \\begin{cases}
          \\operatorname{clip}(\\eta^+ \\Delta_{t-1}, \\Delta_{\\min}, \\Delta_{\\max}) & s > 0 \\\\
          \\operatorname{clip}(\\eta^- \\Delta_{t-1}, \\Delta_{\\min}, \\Delta_{\\max}) & s < 0 \\\\
          \\Delta_{t-1} & s = 0
        \\end{cases}, \\qquad
        d_t = \\begin{cases} 0 & s < 0 \\\\ \\Delta_t \\operatorname{sign}(g_t) & \\text{otherwise}
        \\end{cases}

    Setting :math:`d_t = 0` after a sign change is iRprop- (Igel & Hüsken): the next
    step then sees :math:`s = 0` and keeps the reduced step size. The output has the
    gradient's sign; `rprop` negates it.

    Optax departs from the paper here: it returns :math:`d_{t-1}` (zero where
    :math:`s < 0`), i.e. the step computed one update earlier, so the first update is
    zero. That is the default (``lagged=True``), for parity; ``lagged=False`` returns
    :math:`d_t`, the paper's step taken at once.

    Args:
      learning_rate: the initial step size :math:`\\Delta_0`, >= 0.
      eta_minus: :math:`\\eta^-`, the factor after a sign change, in [0, 1]. Default 0.5.
      eta_plus: :math:`\\eta^+`, the factor while the sign holds, >= 1. Default 1.2.
      min_step_size: :math:`\\Delta_{\\min}`, >= 0. Default 1e-6.
      max_step_size: :math:`\\Delta_{\\max}`, >= ``min_step_size``. Default 50.
      lagged: return the previous step, as Optax does (default), or the current one
        (the paper's algorithm).

    Returns:
      A `GradientTransformation` with `ScaleByRpropState`.

    Raises:
      ValueError: for a hyperparameter outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_rprop(0.1, lagged=False)
      >>> g = jnp.array([1.0, -2.0])
      >>> state = tx.init(g)
      >>> for grad in (g, g, -g):
      ...     updates, state = tx.update(grad, state)
      ...     print(updates.round(3).tolist())
      [0.1, -0.1]
      [0.12, -0.12]
      [0.0, 0.0]
      >>> state.step_sizes.round(3).tolist()
      [0.06, 0.06]

    References:
      Riedmiller & Braun, "A Direct Adaptive Method for Faster Backpropagation Learning:
      The RPROP Algorithm", ICNN 1993, https://doi.org/10.1109/ICNN.1993.298623;
      Igel & Hüsken, "Improving the Rprop Learning Algorithm", NC 2000.
    """
    fn = "scale_by_rprop"
    validate.non_negative(fn, learning_rate=learning_rate)
    validate.unit(fn, eta_minus=eta_minus)
    validate.interval(fn, "eta_plus", eta_plus, 1.0)
    validate.non_negative(fn, min_step_size=min_step_size, max_step_size=max_step_size)
    if isinstance(min_step_size, (int, float)) and isinstance(max_step_size, (int, float)):
        if max_step_size < min_step_size:
            raise ValueError(
                f"{fn}(max_step_size={max_step_size!r}): max_step_size must be >= "
                f"min_step_size={min_step_size!r}"
            )

    def init_fn(params):
        return ScaleByRpropState(
            step_sizes=tree_lib.full_like(params, learning_rate),
            prev_updates=tree_lib.zeros_like(params),
        )

    def one(g, step, prev):
        s = g * prev.astype(g.dtype)
        factor = jnp.where(
            s > 0,
            numerics.as_dtype(eta_plus, step.dtype),
            numerics.as_dtype(eta_minus, step.dtype),
        )
        grown = jnp.clip(
            step * factor,
            numerics.as_dtype(min_step_size, step.dtype),
            numerics.as_dtype(max_step_size, step.dtype),
        )
        new_step = jnp.where(s == 0, step, grown).astype(step.dtype)
        zero = jnp.zeros_like(prev)
        new_prev = jnp.where(s < 0, zero, new_step * jnp.sign(g).astype(step.dtype))
        out = jnp.where(s < 0, zero, prev) if lagged else new_prev
        return out.astype(g.dtype), new_step, new_prev.astype(prev.dtype)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match(fn, updates, state.step_sizes)
        treedef = jax.tree.structure(updates)
        triples = [
            one(g, s, p)
            for g, s, p in zip(
                treedef.flatten_up_to(updates),
                treedef.flatten_up_to(state.step_sizes),
                treedef.flatten_up_to(state.prev_updates),
                strict=True,
            )
        ]
        out, steps, prevs = (treedef.unflatten([t[i] for t in triples]) for i in range(3))
        return out, ScaleByRpropState(step_sizes=steps, prev_updates=prevs)

    return GradientTransformation(init_fn, update_fn)
