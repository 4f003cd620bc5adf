"""Lookahead: k fast steps forward, one slow step back."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from gradtx.core import GradientTransformation, OptState, Params, numerics, validate
from gradtx.core.structure import is_none, is_params_placeholder

__all__ = ["LookaheadParams", "LookaheadSlowParamsState", "LookaheadState", "lookahead"]


class LookaheadState(NamedTuple):
    """State of `lookahead` with `LookaheadParams` (Optax's class and fields).

    Attributes:
      fast_state: the fast optimizer's state.
      steps_since_sync: fast steps since the last synchronisation (int32, in
        ``[0, sync_period)``).
    """

    fast_state: OptState
    steps_since_sync: jax.Array


class LookaheadSlowParamsState(NamedTuple):
    """State of `lookahead` given plain params (beyond Optax): the slow weights in state.

    Attributes:
      fast_state: the fast optimizer's state.
      steps_since_sync: fast steps since the last synchronisation (int32, in
        ``[0, sync_period)``).
      slow_params: the slow weights (a copy of the params at ``init``).
    """

    fast_state: OptState
    steps_since_sync: jax.Array
    slow_params: Params


class LookaheadParams(NamedTuple):
    """Fast and slow parameters for `lookahead` (Optax's class).

    Compute gradients at ``fast``; evaluate at ``slow``.

    Attributes:
      fast: the fast weights (the ones the inner optimizer moves).
      slow: the slow weights (the lookahead average, for evaluation).
    """

    fast: Params
    slow: Params

    @classmethod
    def init_synced(cls, params: Params) -> LookaheadParams:
        """Fast and slow weights both equal to ``params``.

        Args:
          params: the initial parameters.

        Returns:
          ``LookaheadParams(fast=params, slow=params)``.
        """
        return cls(fast=params, slow=params)


def lookahead(
    fast_optimizer: GradientTransformation,
    sync_period: int,
    slow_step_size: float,
    reset_state: bool = False,
) -> GradientTransformation:
    """Lookahead: every ``sync_period`` fast steps, pull the weights toward a slow copy.

    The fast optimizer steps the fast weights :math:`\\theta`; every :math:`k`-th step the
    slow weights :math:`\\phi` move a fraction :math:`\\alpha` toward the fast ones and the
    fast weights restart from there:

    .. math::
        \\theta_{t+1} = \\theta_t + u_t, \\qquad
        \\text{every } k \\text{ steps: } \\phi \\leftarrow \\phi + \\alpha (\\theta_{t+1} - \\phi),
        \\quad \\theta_{t+1} \\leftarrow \\phi

    Two ways to hold the slow weights:

    * **Optax's**: params are `LookaheadParams` (``LookaheadParams.init_synced(p)``), the
      gradients are taken at ``params.fast``, and the returned updates are
      `LookaheadParams` for both; apply them with ``apply_updates``.
    * **plain params** (beyond Optax): ``init`` receives the ordinary parameter tree; the
      slow weights are kept in ``state.slow_params`` (a `LookaheadSlowParamsState`) and
      the updates have the gradients' structure, so lookahead composes with any
      training loop. Read the slow weights with ``gradtx.tree.get(state, "slow_params")``.

    ``gradtx.tree.map_params`` maps the fast optimizer's parameter-shaped state of a
    `LookaheadState`, as in Optax (its placeholder stands for the fast params).

    The updates must be applied unmodified (do not chain transforms after lookahead).

    Args:
      fast_optimizer: the inner optimizer (with its learning rate).
      sync_period: :math:`k`, an integer >= 1.
      slow_step_size: :math:`\\alpha`, in [0, 1].
      reset_state: re-initialise the fast optimizer's state at every synchronisation.
        Default False.

    Returns:
      A `GradientTransformation` with `LookaheadState` (Optax's) for `LookaheadParams`,
      `LookaheadSlowParamsState` for plain params; ``update`` needs ``params``.

    Raises:
      TypeError: if ``fast_optimizer`` is not a transform or ``sync_period`` is not an
        integer.
      ValueError: if ``sync_period < 1`` or ``slow_step_size`` is outside [0, 1].

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.lookahead(gradtx.scale(-1.0), sync_period=2, slow_step_size=0.5)
      >>> params = jnp.zeros(1)
      >>> state = tx.init(params)
      >>> for _ in range(2):
      ...     u, state = tx.update(jnp.ones(1), state, params)
      ...     params = gradtx.apply_updates(params, u)
      >>> params.tolist()  # fast went to -2, the slow weights moved halfway
      [-1.0]

    References:
      Zhang et al., "Lookahead Optimizer: k steps forward, 1 step back", NeurIPS 2019,
      https://arxiv.org/abs/1907.08610
    """
    fn = "lookahead"
    fast_optimizer = validate.transform(fn, "fast_optimizer", fast_optimizer)
    validate.integer(fn, "sync_period", sync_period, 1)
    validate.unit(fn, slow_step_size=slow_step_size)
    alpha = slow_step_size

    def init_fn(params):
        if isinstance(params, LookaheadParams) or is_params_placeholder(params):
            # ``tree.map_params`` traces ``init`` on a placeholder: as in Optax, it stands
            # for the fast params, so the template is Optax's `LookaheadState`.
            fast = params.fast if isinstance(params, LookaheadParams) else params
            return LookaheadState(
                fast_state=fast_optimizer.init(fast),
                steps_since_sync=numerics.zero_count(),
            )
        return LookaheadSlowParamsState(
            fast_state=fast_optimizer.init(params),
            steps_since_sync=numerics.zero_count(),
            # A copy: the state must not hold the params' own buffers (donation).
            slow_params=jax.tree.map(jnp.copy, params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        validate.require_params(fn, params)
        paired = isinstance(params, LookaheadParams)
        fast = params.fast if paired else params
        if paired:
            slow = params.slow
        elif not isinstance(state, LookaheadSlowParamsState):
            raise ValueError(
                f"{fn}: update() got plain params but the state was initialised with "
                "LookaheadParams; pass LookaheadParams to update as well."
            )
        else:
            slow = state.slow_params
        fast_updates, fast_state = fast_optimizer.update(
            updates, state.fast_state, fast, **extra_args
        )
        sync = state.steps_since_sync == sync_period - 1

        def diff(f, u, s):
            # theta_{t+1} - phi with theta_{t+1} = f + u, in float32 or wider: f + u rounded
            # to bfloat16 would lose most of a small update.
            if u is None:
                return None
            dtype = numerics.compute_dtype(
                numerics.common_dtype(jnp.result_type(f), jnp.result_type(u))
            )
            return (f.astype(dtype) + u.astype(dtype)) - s.astype(dtype)

        last_difference = jax.tree.map(diff, fast, fast_updates, slow, is_leaf=is_none)

        def slow_step(d, s):
            if d is None:
                return None
            step = jnp.where(sync, numerics.scalar_mul(alpha, d), jnp.zeros_like(d))
            return step.astype(jnp.result_type(s))

        def fast_step(u, d):
            if u is None:
                return None
            pull = jnp.where(sync, numerics.scalar_mul(1.0 - alpha, d), jnp.zeros_like(d))
            return numerics.promote_add(u, -pull).astype(jnp.result_type(u))

        slow_updates = jax.tree.map(slow_step, last_difference, slow, is_leaf=is_none)
        new_fast_updates = jax.tree.map(fast_step, fast_updates, last_difference, is_leaf=is_none)
        if reset_state:
            fresh = fast_optimizer.init(fast)
            fast_state = jax.tree.map(
                lambda new, init: jnp.where(sync, init, new).astype(jnp.result_type(new)),
                fast_state,
                fresh,
            )
        steps = (state.steps_since_sync + 1) % sync_period
        if paired:
            new_state = LookaheadState(fast_state=fast_state, steps_since_sync=steps)
            return LookaheadParams(fast=new_fast_updates, slow=slow_updates), new_state
        slow_params = jax.tree.map(
            lambda s, d: s if d is None else numerics.promote_add(s, d).astype(s.dtype),
            slow,
            slow_updates,
            is_leaf=is_none,
        )
        new_state = LookaheadSlowParamsState(fast_state, steps, slow_params)
        return new_fast_updates, new_state

    return GradientTransformation(init_fn, update_fn)
