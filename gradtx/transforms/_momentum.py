"""Momentum: a decaying sum (``trace``) or average (``ema``) of past updates."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax

from gradtx import tree as tree_lib
from gradtx.core import GradientTransformation, Updates, numerics, validate

__all__ = ["EmaState", "TraceState", "ema", "trace"]


def _is_none(x: Any) -> bool:
    return x is None


def _decayed_sum(decay: Any, g: jax.Array, t: jax.Array) -> jax.Array:
    """``g + decay * t`` in the common dtype of ``g`` and ``t``."""
    return numerics.promote_add(g, numerics.scalar_mul(decay, t))


class TraceState(NamedTuple):
    """State of `trace`.

    Attributes:
      trace: the momentum buffer, dtype ``accumulator_dtype`` or the parameter's.
    """

    trace: Updates


def trace(
    decay: float,
    nesterov: bool = False,
    accumulator_dtype: Any = None,
) -> GradientTransformation:
    """Heavy-ball momentum: a decaying sum of past updates.

    .. math::
        m_t = g_t + \\mu\\, m_{t-1}, \\qquad
        u_t = \\begin{cases} g_t + \\mu\\, m_t & \\text{Nesterov} \\\\
        m_t & \\text{otherwise} \\end{cases}

    with :math:`m_0 = 0`. Unlike `ema`, the new update enters with weight 1, so the
    steady-state gain is :math:`1/(1-\\mu)`.

    Args:
      decay: the momentum :math:`\\mu`, in [0, 1]; 1 keeps a running sum of the
        updates (well defined, as in Optax).
      nesterov: use Nesterov's look-ahead form. Default False.
      accumulator_dtype: dtype of the buffer (default: the parameter's). The sum is
        formed in the wider of the gradient's and the buffer's dtypes.

    Returns:
      A `GradientTransformation` with `TraceState`.

    Raises:
      ValueError: if ``decay`` is outside [0, 1].

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.trace(decay=0.5)
      >>> state = tx.init(jnp.zeros(1))
      >>> for _ in range(3):
      ...     u, state = tx.update(jnp.ones(1), state)
      >>> u.tolist()  # 1 + 0.5 + 0.25
      [1.75]

    References:
      Polyak, "Some methods of speeding up the convergence of iteration methods",
      USSR Computational Mathematics and Mathematical Physics 1964;
      Sutskever et al., "On the importance of initialization and momentum in deep
      learning", ICML 2013.
    """
    fn = "trace"
    validate.interval(fn, "decay", decay, 0.0, 1.0)
    accumulator_dtype = numerics.canonicalize_dtype(accumulator_dtype)

    def init_fn(params):
        return TraceState(trace=tree_lib.zeros_like(params, dtype=accumulator_dtype))

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match(fn, updates, state.trace)
        new_trace = jax.tree.map(
            lambda g, t: None if g is None else _decayed_sum(decay, g, t),
            updates,
            state.trace,
            is_leaf=_is_none,
        )
        if nesterov:
            out = jax.tree.map(lambda g, m: _decayed_sum(decay, g, m), updates, new_trace)
        else:
            out = new_trace
        out = tree_lib.cast_like(out, updates)
        return out, TraceState(trace=tree_lib.cast_like(new_trace, state.trace))

    return GradientTransformation(init_fn, update_fn)


class EmaState(NamedTuple):
    """State of `ema`.

    Attributes:
      count: updates so far (int32, saturating).
      ema: the moving average, dtype ``accumulator_dtype`` or the parameter's.
    """

    count: jax.Array
    ema: Updates


def ema(
    decay: float,
    debias: bool = True,
    accumulator_dtype: Any = None,
) -> GradientTransformation:
    """An exponential moving average of past updates, optionally debiased.

    .. math::
        m_t = \\beta\\, m_{t-1} + (1-\\beta)\\, g_t, \\qquad
        u_t = \\begin{cases} m_t / (1-\\beta^t) & \\text{debias} \\\\
        m_t & \\text{otherwise} \\end{cases}

    with :math:`m_0 = 0` and :math:`t = 1, 2, \\dots`

    Args:
      decay: the decay :math:`\\beta`, in [0, 1).
      debias: divide by :math:`1-\\beta^t` to remove the bias towards the zero
        initialisation. Default True.
      accumulator_dtype: dtype of the average (default: the parameter's).

    Returns:
      A `GradientTransformation` with `EmaState`.

    Raises:
      ValueError: if ``decay`` is outside [0, 1).

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.ema(decay=0.9)
      >>> u, state = tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))
      >>> u.round(5).tolist(), state.ema.round(5).tolist()  # debiased vs raw
      ([2.0], [0.2])
    """
    fn = "ema"
    validate.decay(fn, decay=decay)
    accumulator_dtype = numerics.canonicalize_dtype(accumulator_dtype)

    def init_fn(params):
        return EmaState(
            count=numerics.zero_count(),
            ema=tree_lib.zeros_like(params, dtype=accumulator_dtype),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match(fn, updates, state.ema)
        new_ema = numerics.update_moment(updates, state.ema, decay, 1)
        count = numerics.safe_increment(state.count)
        out = numerics.bias_correction(new_ema, decay, count) if debias else new_ema
        out = tree_lib.cast_like(out, updates)
        return out, EmaState(count=count, ema=tree_lib.cast_like(new_ema, state.ema))

    return GradientTransformation(init_fn, update_fn)
