"""``training_monitor``: gradient, update and parameter statistics kept in state (no host sync)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import GradientTransformation, OptState, identity, numerics, validate
from gradtx.core.structure import is_none

__all__ = ["MonitorStatsState", "training_monitor"]


class MonitorStatsState(NamedTuple):
    """State of `training_monitor`: the last step's measurements.

    All norms are Euclidean, computed in float32 (float32 scalars; ``NaN`` for the
    parameter norm and ratio when ``update`` got no params). Before the first update they
    are zero and the flags false.

    Attributes:
      count: updates so far (int32, saturating).
      grad_norm: global norm of the incoming gradients.
      update_norm: global norm of the outgoing updates (the inner transform's output).
      param_norm: global norm of the params passed to ``update``.
      update_param_ratio: ``update_norm / param_norm``.
      leaf_grad_norms: per-leaf gradient norms, a tree with the gradients' structure.
      vanishing: per-leaf bool, ``leaf_grad_norm < vanishing_threshold``.
      exploding: per-leaf bool, ``leaf_grad_norm > exploding_threshold``.
      inner_state: the wrapped transform's state (``EmptyState()`` when standalone).
    """

    count: jax.Array
    grad_norm: jax.Array
    update_norm: jax.Array
    param_norm: jax.Array
    update_param_ratio: jax.Array
    leaf_grad_norms: Any
    vanishing: Any
    exploding: Any
    inner_state: OptState


def _f32_norm(x: jax.Array) -> jax.Array:
    return jnp.asarray(tree_lib.l2_norm(x)).astype(jnp.float32)


def training_monitor(
    inner: GradientTransformation | None = None,
    *,
    vanishing_threshold: float = 1e-7,
    exploding_threshold: float = 1e3,
) -> GradientTransformation:
    """Record gradient, update and parameter statistics in the state, without host sync.

    Wrap the whole optimizer, ``tx = training_monitor(adam(1e-3))``, to see both sides of it:
    the gradients coming in and the updates going out. Each step stores

    .. math::
        \\|g\\|, \\quad \\|u\\|, \\quad \\|\\theta\\|, \\quad \\|u\\| / \\|\\theta\\|, \\quad
        \\|g_i\\| \\text{ per leaf}, \\quad [\\|g_i\\| < \\epsilon_v], \\quad
        [\\|g_i\\| > \\epsilon_e]

    in a `MonitorStatsState`, as device arrays: read them after the step (e.g.
    ``state.grad_norm``, ``gradtx.tree.get(state, "vanishing")``) whenever you log,
    and no step waits for the host. ``training_monitor()`` with no inner transform passes the
    updates through unchanged (so the "update" statistics equal the gradient ones);
    place it anywhere in a ``chain`` to look at the updates at that point.

    Relation to Optax: ``optax.monitor(measures)`` (gradtx's `monitor`, with `snapshot`
    and `measure_with_ema`) records measurements you define, at one point of a chain,
    and changes nothing else. ``training_monitor`` is gradtx's own: it wraps a transform
    to see its input and output, and records a fixed set of statistics. It was called
    ``monitor`` before gradtx took Optax's meaning for that name.

    Args:
      inner: the transform to wrap, or ``None`` (default) for a pass-through.
      vanishing_threshold: :math:`\\epsilon_v`, flag leaves whose gradient norm is below
        it; >= 0. Default 1e-7.
      exploding_threshold: :math:`\\epsilon_e`, flag leaves whose gradient norm is above
        it; > ``vanishing_threshold``. Default 1e3.

    Returns:
      A `GradientTransformation` with `MonitorStatsState`.

    Raises:
      TypeError: if ``inner`` is neither a transform nor ``None``.
      ValueError: for thresholds outside the ranges above.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.training_monitor(gradtx.scale(-0.1))
      >>> params = {"w": jnp.array([3.0, 4.0]), "dead": jnp.ones(2)}
      >>> grads = {"w": jnp.array([6.0, 8.0]), "dead": jnp.zeros(2)}
      >>> _, state = tx.update(grads, tx.init(params), params)
      >>> round(float(state.grad_norm), 3), round(float(state.update_param_ratio), 3)
      (10.0, 0.192)
      >>> bool(state.vanishing["dead"]), bool(state.vanishing["w"])
      (True, False)
    """
    fn = "training_monitor"
    inner = identity() if inner is None else validate.transform(fn, "inner", inner)
    validate.non_negative(fn, vanishing_threshold=vanishing_threshold)
    validate.positive(fn, exploding_threshold=exploding_threshold)
    validate.finite(fn, vanishing_threshold=vanishing_threshold)
    thresholds = (vanishing_threshold, exploding_threshold)
    if all(isinstance(t, (int, float)) for t in thresholds) and not (
        vanishing_threshold < exploding_threshold
    ):
        raise ValueError(
            f"{fn}(vanishing_threshold={vanishing_threshold!r}): vanishing_threshold must be "
            f"< exploding_threshold={exploding_threshold!r}"
        )

    def leaf_norms(tree):
        return jax.tree.map(lambda g: None if g is None else _f32_norm(g), tree, is_leaf=is_none)

    def init_fn(params):
        zeros = jax.tree.map(lambda _: jnp.zeros([], jnp.float32), params)

        def falses():
            return jax.tree.map(lambda _: jnp.zeros([], bool), params)

        def zero():  # one buffer per field: a donated state must not alias itself
            return jnp.zeros([], jnp.float32)

        return MonitorStatsState(
            count=numerics.zero_count(),
            grad_norm=zero(),
            update_norm=zero(),
            param_norm=zero(),
            update_param_ratio=zero(),
            leaf_grad_norms=zeros,
            vanishing=falses(),
            exploding=falses(),
            inner_state=inner.init(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        new_updates, inner_state = inner.update(updates, state.inner_state, params, **extra_args)
        norms = leaf_norms(updates)
        update_norm = _f32_norm(new_updates)
        if params is None:
            param_norm = jnp.full([], jnp.nan, jnp.float32)
        else:
            param_norm = _f32_norm(params)
        new_state = MonitorStatsState(
            count=numerics.safe_increment(state.count),
            grad_norm=_f32_norm(updates),
            update_norm=update_norm,
            param_norm=param_norm,
            update_param_ratio=update_norm / param_norm,
            leaf_grad_norms=norms,
            vanishing=jax.tree.map(lambda n: n < vanishing_threshold, norms),
            exploding=jax.tree.map(lambda n: n > exploding_threshold, norms),
            inner_state=inner_state,
        )
        return new_updates, new_state

    return GradientTransformation(init_fn, update_fn)
