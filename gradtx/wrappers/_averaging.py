"""``average_params``: Polyak or EMA averages of the parameters, kept in state."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx.core import GradientTransformation, OptState, Params, numerics, validate
from gradtx.core.structure import is_none
from gradtx.wrappers._util import shallowest_first

__all__ = ["AverageParamsState", "average_params", "averaged_params"]


class AverageParamsState(NamedTuple):
    """State of `average_params`.

    Attributes:
      count: updates averaged so far (int32, saturating).
      averaged_params: the running average of the parameters after each update (the
        initial parameters before any update), in the accumulator dtype.
      inner_state: the wrapped optimizer's state.
    """

    count: jax.Array
    averaged_params: Params
    inner_state: OptState


def average_params(
    inner: GradientTransformation, decay: float | None = None, *, accumulator_dtype: Any = None
) -> GradientTransformation:
    """Keep a running average of the parameters, for evaluation (Polyak or EMA averaging).

    The updates of ``inner`` are returned unchanged; the state also averages the
    parameters *after* each update, :math:`\\theta_t = \\theta_{t-1} + u_t`:

    .. math::
        \\text{Polyak } (\\text{decay} = \\text{None}):\\quad
        \\bar\\theta_t = \\bar\\theta_{t-1} + (\\theta_t - \\bar\\theta_{t-1}) / t
        = \\frac{1}{t} \\sum_{s=1}^{t} \\theta_s \\\\
        \\text{EMA } (\\text{decay} = \\beta):\\quad
        \\bar\\theta_t = \\beta \\bar\\theta_{t-1} + (1 - \\beta) \\theta_t, \\quad
        \\bar\\theta_0 = \\theta_0

    Read the average with ``gradtx.averaged_params(state)``; the optimisation itself is
    unaffected. Wrap the whole optimizer (and put it inside `MultiSteps`, not around it,
    so that micro-steps are not averaged).

    Args:
      inner: the optimizer whose iterates are averaged (with its learning rate).
      decay: ``None`` (default) for the uniform Polyak-Ruppert mean of all iterates, or
        an EMA decay :math:`\\beta` in [0, 1).
      accumulator_dtype: dtype of the average. Default ``None``: each parameter's dtype
        promoted to at least float32 (a bfloat16 running mean would stop moving).

    Returns:
      A `GradientTransformation` with `AverageParamsState`; ``update`` needs ``params``.

    Raises:
      TypeError: if ``inner`` is not a transform.
      ValueError: if ``decay`` is outside [0, 1).

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.average_params(gradtx.scale(-1.0))
      >>> params = jnp.zeros(1)
      >>> state = tx.init(params)
      >>> for g in (1.0, 2.0, 3.0):  # iterates -1, -3, -6
      ...     u, state = tx.update(jnp.array([g]), state, params)
      ...     params = gradtx.apply_updates(params, u)
      >>> gradtx.averaged_params(state).round(4).tolist()
      [-3.3333]

    References:
      Polyak and Juditsky, "Acceleration of Stochastic Approximation by Averaging",
      SIAM J. Control Optim. 1992, https://doi.org/10.1137/0330046
    """
    fn = "average_params"
    inner = validate.transform(fn, "inner", inner)
    if decay is not None:
        validate.decay(fn, decay=decay)
    accumulator_dtype = numerics.canonicalize_dtype(accumulator_dtype)

    def acc_dtype(p):
        if accumulator_dtype is not None:
            return accumulator_dtype
        return numerics.compute_dtype(jnp.result_type(p))

    def init_fn(params):
        return AverageParamsState(
            count=numerics.zero_count(),
            # A copy (jnp.array copies, keeping the sharding): the state must not hold
            # the params' own buffers, which a donated step would free.
            averaged_params=jax.tree.map(lambda p: jnp.array(p, acc_dtype(p)), params),
            inner_state=inner.init(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        validate.require_params(fn, params)
        new_updates, inner_state = inner.update(updates, state.inner_state, params, **extra_args)
        count = numerics.safe_increment(state.count)

        def average(avg, p, u):
            if avg is None:
                return None
            new_p = _applied(p, u, avg.dtype)
            if decay is None:
                weight = 1.0 / count.astype(avg.dtype)
                return avg + weight * (new_p - avg)
            return numerics.scalar_mul(decay, avg) + numerics.scalar_mul(1.0 - decay, new_p)

        averaged = jax.tree.map(
            average, state.averaged_params, params, new_updates, is_leaf=is_none
        )
        averaged = jax.tree.map(lambda a, o: a.astype(o.dtype), averaged, state.averaged_params)
        return new_updates, AverageParamsState(count, averaged, inner_state)

    return GradientTransformation(init_fn, update_fn)


def _applied(p: jax.Array, u: jax.Array | None, dtype: Any) -> jax.Array:
    """``apply_updates(p, u)`` as stored in ``p``'s dtype, returned in ``dtype``.

    Every rounding to ``p``'s precision is explicit: under ``jit`` XLA may keep bfloat16
    values in float32 (excess precision), and the average would then be of iterates
    slightly different from the parameters actually stored.
    """
    p = jnp.asarray(p)
    p_dtype = jnp.result_type(p)
    narrower = (
        jnp.issubdtype(p_dtype, jnp.floating) and jnp.finfo(p_dtype).bits < jnp.finfo(dtype).bits
    )

    def rounded(x):
        x = jnp.asarray(x).astype(dtype)
        if not narrower:
            return x
        info = jnp.finfo(p_dtype)
        return jax.lax.reduce_precision(x, exponent_bits=info.nexp, mantissa_bits=info.nmant)

    if u is None:
        return p.astype(dtype)
    return rounded(rounded(p) + rounded(u))


def averaged_params(state: Any) -> Params:
    """The averaged parameters kept by an `average_params` state, wherever it is nested.

    Args:
      state: an optimizer state containing an `AverageParamsState` (directly, or inside
        ``chain``, ``MultiSteps``, ``masked`` ... states); the shallowest one is used.

    Returns:
      The averaged parameter tree (in the accumulator dtype; cast it for evaluation if
      needed).

    Raises:
      KeyError: if the state holds no `AverageParamsState`, or several at the same depth.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.chain(gradtx.average_params(gradtx.scale(-1.0), decay=0.5))
      >>> state = tx.init(jnp.ones(1))
      >>> _, state = tx.update(jnp.ones(1), state, jnp.ones(1))
      >>> gradtx.averaged_params(state).tolist()  # 0.5 * 1 + 0.5 * 0
      [0.5]
    """
    found = [(d, v) for d, v in shallowest_first(state, "averaged_params")]
    if not found:
        raise KeyError(
            "averaged_params: the state holds no average_params state; wrap the optimizer "
            "with gradtx.average_params(...)"
        )
    depth = found[0][0]
    shallowest = [v for d, v in found if d == depth]
    if len(shallowest) > 1:
        raise KeyError(
            f"averaged_params: {len(shallowest)} average_params states at the same depth; "
            "index the state by hand to choose one"
        )
    return shallowest[0]
