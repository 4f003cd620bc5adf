r"""Transforms of per-example gradients: aggregation, accumulation, gradient statistics.

Optax's ``optax.experimental.aggregating``, with its names, signatures and states. A
usual transform receives the gradient of the batch loss; an `Aggregator` receives the
per-example gradients (leaves of shape ``[*batch_shape, *param_shape]``, as
``jax.vmap(jax.grad(loss), (None, 0))`` gives them) and returns one update per parameter.
`process` runs a per-example *preprocessor*, an *aggregator* (with, optionally, an
accumulation over micro-batches) and a usual *postprocessor* (the optimizer) in turn;
the postprocessor only runs once the aggregator's state says ``ready``.

The running statistics are exact: a mean over :math:`n` micro-batches is accumulated
as :math:`\bar g_j = \bar g_{j-1} + (g_j - \bar g_{j-1}) / j` (Welford), and the sum of
squared deviations of :math:`j` micro-batches of :math:`b` examples each is merged with
the next one's (Chan et al.) as

.. math::
    S_j = S_{j-1} + s_j + \delta_j^2 \, \frac{(j - 1)\, b}{j},
    \qquad \delta_j = m_j - \bar g_{j-1},

where :math:`m_j` and :math:`s_j` are the micro-batch's mean and sum of squared
deviations; the variance of all :math:`n b` examples is :math:`S_n / (n b - 1)`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import (
    ArrayTree,
    GradientTransformation,
    GradientTransformationExtraArgs,
    OptState,
    Params,
    TransformInitFn,
    Updates,
    chain,
    identity,
    init_empty_state,
    safe_int32_increment,
    validate,
)

__all__ = [
    "AccumulateAvgUpdatesState",
    "AggregatedUpdates",
    "Aggregator",
    "AggregatorUpdateFn",
    "MaybeAxis",
    "PerElementMeanAndSumSqDiffGradsState",
    "PerElementMeanAndVarianceEMAState",
    "PerElementUpdates",
    "accumulate_avg_updates",
    "add_mean_variance_to_opt",
    "average_incrementally_updates",
    "average_per_element_updates",
    "get_batch_size_from_per_elt_updates",
    "get_per_element_mean_and_sum_sq_diff_grads",
    "get_unbiased_mean_and_variance_ema",
    "process",
    "track_per_element_mean_and_variance_with_ema",
]

PerElementUpdates = ArrayTree
AggregatedUpdates = ArrayTree
MaybeAxis = int | Sequence[int] | None


class AggregatorUpdateFn(Protocol):
    """``update(per_elt_updates, state, params=None, **extra_args) -> (updates, state)``:
    per-example updates in, one aggregated update per parameter out.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx.experimental import aggregating
      >>> def median_update(per_elt_updates, state, params=None, **extra_args):
      ...     return jnp.median(per_elt_updates, axis=0), state
      >>> agg = aggregating.Aggregator(lambda params: (), median_update)
      >>> agg.update(jnp.array([[1.0], [2.0], [9.0]]), agg.init(None))[0].tolist()
      [2.0]
    """

    def __call__(
        self,
        per_elt_updates: PerElementUpdates,
        state: OptState,
        params: Params | None = None,
        **extra_args: Any,
    ) -> tuple[AggregatedUpdates, OptState]:
        """Aggregate per-example updates into one update direction."""


class Aggregator(GradientTransformationExtraArgs):
    """A transform whose ``update`` takes per-example updates and aggregates them.

    The same pair ``(init, update)`` as a `GradientTransformationExtraArgs`, but ``update``
    receives leaves of shape ``[*batch_shape, *param_shape]`` (per-example gradients,
    e.g. from ``jax.vmap(jax.grad(loss), (None, 0))``) and returns leaves of shape
    ``param_shape``. The distinct class tells callers which gradients to feed it.

    Args:
      init: ``init(params) -> state``.
      update: an `AggregatorUpdateFn`.

    Returns:
      The NamedTuple itself.

    Examples:
      >>> import jax.numpy as jnp
      >>> import gradtx
      >>> from gradtx.experimental import aggregating
      >>> agg = aggregating.average_per_element_updates()
      >>> isinstance(agg, aggregating.Aggregator)
      True
      >>> per_example = jnp.array([[1.0, 2.0], [3.0, 6.0]])
      >>> agg.update(per_example, agg.init(jnp.zeros(2)))[0].tolist()
      [2.0, 4.0]
    """

    init: TransformInitFn
    update: AggregatorUpdateFn


def process(
    preprocessor: GradientTransformation,
    aggregator: GradientTransformation | Aggregator,
    postprocessor: GradientTransformation,
    aggregator_has_aux: bool = False,
) -> GradientTransformation | Aggregator:
    """Per-example preprocessing, then aggregation, then a usual transform.

    At each ``update``: ``preprocessor`` maps the per-example gradients to per-example
    updates, ``aggregator`` reduces them to one update per parameter, and
    ``postprocessor`` (typically an optimizer) transforms that. If the aggregator's
    state has a ``ready`` field (an accumulator over micro-batches), the postprocessor
    runs only when it is true; the other steps return zeros and leave its state as is.

    Args:
      preprocessor: maps per-example gradients to per-example updates (e.g. per-example
        clipping).
      aggregator: reduces per-example updates to one update (an `Aggregator`, or a usual
        transform when the inputs are already aggregated, e.g. `accumulate_avg_updates`).
      postprocessor: the transform applied to the aggregated update.
      aggregator_has_aux: whether the aggregator returns ``(updates, aux)``, with ``aux``
        a dict passed to the postprocessor as extra keyword arguments (see
        `get_per_element_mean_and_sum_sq_diff_grads`).

    Returns:
      An `Aggregator` if ``aggregator`` is one, else a `GradientTransformationExtraArgs`;
      its state is the tuple ``(preprocessor state, aggregator state, postprocessor
      state)``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import gradtx
      >>> from gradtx.experimental import aggregating
      >>> opt = aggregating.process(
      ...     gradtx.identity(),
      ...     aggregating.average_per_element_updates(),
      ...     gradtx.sgd(learning_rate=0.5),
      ... )
      >>> params = jnp.array([1.0, -1.0])
      >>> per_example = jnp.array([[1.0, 0.0], [3.0, 2.0]])
      >>> updates, state = opt.update(per_example, opt.init(params))
      >>> updates.tolist()
      [-1.0, -0.5]
    """

    def init_fn(params):
        return (preprocessor.init(params), aggregator.init(params), postprocessor.init(params))

    def update_fn(per_elt_grads, state, params=None, **extra_args):
        pre_state, agg_state, post_state = state
        per_elt_updates, pre_state = preprocessor.update(
            per_elt_grads, pre_state, params, **extra_args
        )
        aggregated, agg_state = aggregator.update(per_elt_updates, agg_state, params, **extra_args)
        if aggregator_has_aux:
            aggregated, aux = aggregated
            extra_args = {**extra_args, **aux}
        ready = tree_lib.get(agg_state, "ready", True)

        # params and the extra arguments are closed over, not operands, so that
        # non-array ones (a value_fn=) pass through too.
        def post(g, s):
            return postprocessor.update(g, s, params, **extra_args)

        def wait(g, s):
            return tree_lib.zeros_like(g), s

        updates, post_state = jax.lax.cond(ready, post, wait, aggregated, post_state)
        return updates, (pre_state, agg_state, post_state)

    if isinstance(aggregator, Aggregator):
        return Aggregator(init_fn, update_fn)
    return GradientTransformationExtraArgs(init_fn, update_fn)


def _steps(fn: str, accumulation_steps: Any) -> None:
    validate.integer(fn, "accumulation_steps", accumulation_steps, 1)


def _mean(x: jax.Array, axis: Any, keepdims: bool = False) -> jax.Array:
    return jnp.mean(x, axis=axis, keepdims=keepdims)


def average_per_element_updates(per_elt_axis: int | Sequence[int] = 0) -> Aggregator:
    """The mean of the per-example updates over the example axis (or axes).

    Args:
      per_elt_axis: the example axis, or a sequence of axes. Default 0.

    Returns:
      A stateless `Aggregator` (`EmptyState`).

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx.experimental import aggregating
      >>> agg = aggregating.average_per_element_updates(per_elt_axis=(0, 1))
      >>> agg.update(jnp.ones((2, 3, 4)), agg.init(jnp.zeros(4)))[0].shape
      (4,)
    """
    axis = per_elt_axis if isinstance(per_elt_axis, int) else tuple(per_elt_axis)

    def update_fn(per_elt_updates, state, params=None, **extra_args):
        del params, extra_args
        return jax.tree.map(lambda x: _mean(x, axis), per_elt_updates), state

    return Aggregator(init_empty_state, update_fn)


class AccumulateAvgUpdatesState(NamedTuple):
    """State of `accumulate_avg_updates` (Optax's fields).

    Attributes:
      micro_step: micro-batches averaged since the last emission (int32, in ``[0, k)``).
      ready: whether the last ``update`` emitted the average (bool scalar).
      avg_grad: the running mean of this cycle's updates (zeros after an emission).
    """

    micro_step: jax.Array
    ready: jax.Array
    avg_grad: Updates


def _running_mean(mean: jax.Array, x: jax.Array, n: jax.Array) -> jax.Array:
    """Welford's ``mean + (x - mean) / n`` in the common dtype of ``mean`` and ``x``."""
    dtype = jnp.promote_types(jnp.result_type(mean), jnp.result_type(x))
    mean, x = jnp.asarray(mean, dtype), jnp.asarray(x, dtype)
    return mean + (x - mean) / n.astype(dtype)


def accumulate_avg_updates(accumulation_steps: int) -> GradientTransformation:
    r"""The mean of ``accumulation_steps`` consecutive updates, emitted every k-th call.

    .. math::
        \bar g_j = \bar g_{j-1} + (g_j - \bar g_{j-1}) / j, \qquad
        u_j = [j = k]\, \bar g_k

    The other calls return zeros; ``ready`` in the state says which call emitted. Used
    as the aggregator of `process`, the postprocessor (the optimizer) then steps once per
    ``k`` micro-batches, on their mean gradient (one batch ``k`` times the size).

    Args:
      accumulation_steps: the number ``k`` of micro-batches per emission, an integer
        ``>= 1``; with 1 the transform is `identity`.

    Returns:
      A `GradientTransformation` with `AccumulateAvgUpdatesState` state (`identity` for
      ``k = 1``).

    Raises:
      ValueError: if ``accumulation_steps < 1``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx.experimental import aggregating
      >>> tx = aggregating.accumulate_avg_updates(2)
      >>> state = tx.init(jnp.zeros(1))
      >>> u1, state = tx.update(jnp.array([1.0]), state)
      >>> u2, state = tx.update(jnp.array([3.0]), state)
      >>> u1.tolist(), u2.tolist(), bool(state.ready)
      ([0.0], [2.0], True)
    """
    _steps("accumulate_avg_updates", accumulation_steps)
    if accumulation_steps == 1:
        return identity()

    def init_fn(params):
        return AccumulateAvgUpdatesState(
            micro_step=jnp.zeros([], jnp.int32),
            ready=jnp.asarray(False),
            avg_grad=tree_lib.zeros_like(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        validate.tree_match("accumulate_avg_updates", updates, state.avg_grad, what="params")
        micro_step = state.micro_step + 1
        mean = jax.tree.map(lambda u, a: _running_mean(a, u, micro_step), updates, state.avg_grad)
        # The updates keep their dtypes and the state its own (an integer leaf gets zeros).
        avg = tree_lib.cast_like(mean, state.avg_grad)
        out = tree_lib.cast_like(mean, updates)
        done = micro_step == accumulation_steps
        emitted = AccumulateAvgUpdatesState(
            micro_step=jnp.zeros_like(micro_step),
            ready=jnp.asarray(True),
            avg_grad=tree_lib.zeros_like(avg),
        )
        waiting = AccumulateAvgUpdatesState(
            micro_step=micro_step, ready=jnp.asarray(False), avg_grad=avg
        )
        return tree_lib.where(done, (out, emitted), (tree_lib.zeros_like(out), waiting))

    return GradientTransformation(init_fn, update_fn)


def average_incrementally_updates(
    per_elt_axis: MaybeAxis, accumulation_steps: int
) -> Aggregator | GradientTransformation:
    """Average over the example axis, then over ``accumulation_steps`` micro-batches.

    Args:
      per_elt_axis: the example axis (or axes) of the per-example updates, or ``None``
        when the updates are already averaged (then only the accumulation remains).
      accumulation_steps: the number of micro-batches per emission (see
        `accumulate_avg_updates`).

    Returns:
      ``accumulate_avg_updates(accumulation_steps)`` if ``per_elt_axis`` is ``None``,
      else an `Aggregator`: ``chain(average_per_element_updates(per_elt_axis),
      accumulate_avg_updates(accumulation_steps))``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx.experimental import aggregating
      >>> agg = aggregating.average_incrementally_updates(0, accumulation_steps=2)
      >>> state = agg.init(jnp.zeros(1))
      >>> u1, state = agg.update(jnp.array([[1.0], [3.0]]), state)
      >>> u2, state = agg.update(jnp.array([[5.0], [7.0]]), state)
      >>> u1.tolist(), u2.tolist()
      ([0.0], [4.0])
    """
    if per_elt_axis is None:
        return accumulate_avg_updates(accumulation_steps)
    inner = chain(
        average_per_element_updates(per_elt_axis), accumulate_avg_updates(accumulation_steps)
    )
    return Aggregator(inner.init, inner.update)


def get_batch_size_from_per_elt_updates(
    per_elt_updates: Updates, per_elt_axis: int | list[int]
) -> int:
    """The number of examples in per-example updates (the product of the example axes).

    Args:
      per_elt_updates: the per-example updates.
      per_elt_axis: the example axis, or a list of axes.

    Returns:
      The batch size, a Python int.

    Raises:
      ValueError: if the leaves disagree on it.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx.experimental import aggregating
      >>> updates = {"w": jnp.zeros((2, 3, 5)), "b": jnp.zeros((2, 3))}
      >>> aggregating.get_batch_size_from_per_elt_updates(updates, [0, 1])
      6
    """

    def size(leaf):
        shape = jnp.shape(leaf)
        if isinstance(per_elt_axis, int):
            return shape[per_elt_axis]
        return math.prod(shape[i] for i in per_elt_axis)

    sizes = [size(leaf) for leaf in jax.tree.leaves(per_elt_updates)]
    if any(s != sizes[0] for s in sizes):
        raise ValueError(f"Per-element updates must have the same batch size. Got: {sizes}")
    return sizes[0]


class PerElementMeanAndSumSqDiffGradsState(NamedTuple):
    """State of `get_per_element_mean_and_sum_sq_diff_grads` with accumulation (Optax's
    fields).

    Attributes:
      micro_step: micro-batches merged since the last emission (int32).
      ready: whether the last ``update`` emitted the statistics (bool scalar).
      mean_grads: the mean gradient of this cycle's examples.
      sum_sq_diff_grads: their sum of squared deviations from that mean.
    """

    micro_step: jax.Array
    ready: jax.Array
    mean_grads: Updates
    sum_sq_diff_grads: Updates


def _batch_moments(per_elt_updates: Updates, axis: Any) -> tuple[Updates, Updates]:
    """Each leaf's mean over ``axis`` and sum of squared deviations from it."""
    means = jax.tree.map(lambda x: _mean(x, axis, keepdims=True), per_elt_updates)
    sq_dev = jax.tree.map(
        lambda x, m: jnp.sum(jnp.square(x - m), axis=axis), per_elt_updates, means
    )
    return jax.tree.map(lambda m: jnp.squeeze(m, axis=axis), means), sq_dev


def get_per_element_mean_and_sum_sq_diff_grads(
    per_elt_axis: int | Sequence[int] = 0,
    accumulation_steps: int = 1,
) -> Aggregator:
    r"""The mean of the per-example gradients, and their sum of squared deviations.

    For a batch of :math:`b` per-example gradients :math:`g_i` it returns
    ``(mean, aux)`` with mean :math:`\bar g = \frac1b \sum_i g_i` and ``aux =
    {"sum_sq_diff_grads": sum_i (g_i - mean)**2, "sample_size": b}`` (so the sample
    variance is ``sum_sq_diff_grads / (sample_size - 1)``). With ``accumulation_steps =
    k > 1`` the statistics of ``k`` micro-batches are merged exactly (see the module
    docstring) and emitted every ``k``-th call with ``sample_size = k b``; the other
    calls return zeros. Use it in `process` with ``aggregator_has_aux=True`` (as
    `add_mean_variance_to_opt` does).

    Args:
      per_elt_axis: the example axis, or a sequence of axes. Default 0.
      accumulation_steps: the number of micro-batches per emission, an integer >= 1.
        Default 1 (no accumulation, stateless).

    Returns:
      An `Aggregator` returning ``((mean, aux), state)``; its state is `EmptyState` for
      ``k = 1``, else a `PerElementMeanAndSumSqDiffGradsState`.

    Raises:
      ValueError: if ``accumulation_steps < 1``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx.experimental import aggregating
      >>> agg = aggregating.get_per_element_mean_and_sum_sq_diff_grads()
      >>> (mean, aux), _ = agg.update(jnp.array([[1.0], [3.0]]), agg.init(jnp.zeros(1)))
      >>> mean.tolist(), aux["sum_sq_diff_grads"].tolist(), aux["sample_size"]
      ([2.0], [2.0], 2)
    """
    _steps("get_per_element_mean_and_sum_sq_diff_grads", accumulation_steps)
    axis = per_elt_axis if isinstance(per_elt_axis, int) else tuple(per_elt_axis)

    if accumulation_steps == 1:

        def stateless_update(per_elt_updates, state, params=None, **extra_args):
            del params, extra_args
            batch_size = get_batch_size_from_per_elt_updates(per_elt_updates, per_elt_axis)
            means, sq_dev = _batch_moments(per_elt_updates, axis)
            return (means, {"sum_sq_diff_grads": sq_dev, "sample_size": batch_size}), state

        return Aggregator(init_empty_state, stateless_update)

    def init_fn(params):
        return PerElementMeanAndSumSqDiffGradsState(
            micro_step=jnp.zeros([], jnp.int32),
            ready=jnp.asarray(False),
            mean_grads=tree_lib.zeros_like(params),
            sum_sq_diff_grads=tree_lib.zeros_like(params),
        )

    def update_fn(per_elt_updates, state, params=None, **extra_args):
        del params, extra_args
        batch_size = get_batch_size_from_per_elt_updates(per_elt_updates, per_elt_axis)
        micro_step = state.micro_step + 1
        batch_means, batch_sq_dev = _batch_moments(per_elt_updates, axis)
        # Chan et al.'s merge of (j - 1) b examples with b more: the cross term's weight.
        weight = state.micro_step * batch_size / micro_step

        def merge_sq_dev(total, part, mean, batch_mean):
            dtype = jnp.promote_types(jnp.result_type(total), jnp.result_type(part))
            delta = batch_mean.astype(dtype) - mean.astype(dtype)
            return total.astype(dtype) + part.astype(dtype) + delta**2 * weight.astype(dtype)

        sq_dev = jax.tree.map(
            merge_sq_dev, state.sum_sq_diff_grads, batch_sq_dev, state.mean_grads, batch_means
        )
        means = jax.tree.map(
            lambda m, x: _running_mean(m, x, micro_step), state.mean_grads, batch_means
        )
        outputs = (means, {"sum_sq_diff_grads": sq_dev, "sample_size": batch_size * micro_step})
        emitted = PerElementMeanAndSumSqDiffGradsState(
            micro_step=jnp.zeros_like(micro_step),
            ready=jnp.asarray(True),
            mean_grads=tree_lib.zeros_like(means),
            sum_sq_diff_grads=tree_lib.zeros_like(sq_dev),
        )
        waiting = PerElementMeanAndSumSqDiffGradsState(
            micro_step=micro_step,
            ready=jnp.asarray(False),
            mean_grads=means,
            sum_sq_diff_grads=sq_dev,
        )
        done = micro_step == accumulation_steps
        return tree_lib.where(done, (outputs, emitted), (tree_lib.zeros_like(outputs), waiting))

    return Aggregator(init_fn, update_fn)


class PerElementMeanAndVarianceEMAState(NamedTuple):
    """State of `track_per_element_mean_and_variance_with_ema` (Optax's fields).

    Attributes:
      count: steps tracked (int32, saturating).
      ema_decay: the decay (a float scalar), kept for `get_unbiased_mean_and_variance_ema`.
      mean_grads_ema: the moving average of the mean gradient (not debiased).
      variance_grads_ema: the moving average of the gradient variance (not debiased).
    """

    count: jax.Array
    ema_decay: jax.Array
    mean_grads_ema: Updates
    variance_grads_ema: Updates


def _ema(decay: Any, new: jax.Array, old: jax.Array) -> jax.Array:
    """``(1 - decay) new + decay old`` in the dtype of ``old`` (``1 - decay`` taken before
    the cast, so a Python decay rounds once, as in Optax)."""
    dtype = jnp.result_type(old)
    keep = jnp.asarray(1.0 - decay).astype(dtype)
    return keep * jnp.asarray(new).astype(dtype) + jnp.asarray(decay).astype(dtype) * old


def track_per_element_mean_and_variance_with_ema(
    ema_decay: jax.typing.ArrayLike = 0.9,
) -> GradientTransformationExtraArgs:
    r"""Moving averages of the gradient mean and variance; the updates pass unchanged.

    With ``sum_sq_diff_grads`` :math:`S_t` and ``sample_size`` :math:`n_t` given as extra
    arguments (the aux of `get_per_element_mean_and_sum_sq_diff_grads`, passed on by
    `process`) and the incoming mean gradient :math:`\bar g_t`:

    .. math::
        \mu_t = (1 - \beta) \bar g_t + \beta \mu_{t-1}, \qquad
        \sigma^2_t = (1 - \beta) \frac{S_t}{n_t - 1} + \beta \sigma^2_{t-1}

    `get_unbiased_mean_and_variance_ema` reads them debiased.

    Args:
      ema_decay: the decay :math:`\beta`. Default 0.9.

    Returns:
      A `GradientTransformationExtraArgs` with `PerElementMeanAndVarianceEMAState` state;
      its ``update`` needs the keyword arguments ``sum_sq_diff_grads`` and
      ``sample_size``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx.experimental import aggregating
      >>> tx = aggregating.track_per_element_mean_and_variance_with_ema(0.5)
      >>> g = jnp.array([2.0])
      >>> _, state = tx.update(
      ...     g, tx.init(g), sum_sq_diff_grads=jnp.array([3.0]), sample_size=4
      ... )
      >>> state.mean_grads_ema.tolist(), state.variance_grads_ema.tolist()
      ([1.0], [0.5])
    """

    def init_fn(params):
        return PerElementMeanAndVarianceEMAState(
            count=jnp.zeros([], jnp.int32),
            ema_decay=jnp.asarray(ema_decay),
            mean_grads_ema=tree_lib.zeros_like(params),
            variance_grads_ema=tree_lib.zeros_like(params),
        )

    def update_fn(
        updates, state, params=None, *, sum_sq_diff_grads=None, sample_size=None, **extra_args
    ):
        del params, extra_args
        if sum_sq_diff_grads is None or sample_size is None:
            raise ValueError(
                "track_per_element_mean_and_variance_with_ema: update needs the keyword "
                "arguments sum_sq_diff_grads= and sample_size= (pass the aux of "
                "get_per_element_mean_and_sum_sq_diff_grads, e.g. through "
                "process(..., aggregator_has_aux=True))"
            )
        mean_ema = jax.tree.map(lambda g, m: _ema(ema_decay, g, m), updates, state.mean_grads_ema)

        inv = 1 / (sample_size - 1)  # a Python float for a Python sample size

        def variance(s, v):
            dtype = jnp.result_type(v)
            return _ema(ema_decay, jnp.asarray(inv).astype(dtype) * s.astype(dtype), v)

        var_ema = jax.tree.map(variance, sum_sq_diff_grads, state.variance_grads_ema)
        return updates, state._replace(
            count=safe_int32_increment(state.count),
            mean_grads_ema=mean_ema,
            variance_grads_ema=var_ema,
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)


def get_unbiased_mean_and_variance_ema(state: OptState) -> tuple[Updates, Updates]:
    r"""The debiased moving averages :math:`\mu_t / (1 - \beta^t)` and
    :math:`\sigma^2_t / (1 - \beta^t)` of `track_per_element_mean_and_variance_with_ema`.

    Args:
      state: an optimizer state holding one `PerElementMeanAndVarianceEMAState` (at any
        depth).

    Returns:
      ``(mean, variance)``, trees shaped like the parameters.

    Raises:
      ValueError: if ``state`` holds no `PerElementMeanAndVarianceEMAState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from gradtx.experimental import aggregating
      >>> tx = aggregating.track_per_element_mean_and_variance_with_ema(ema_decay=0.5)
      >>> stats = {"sum_sq_diff_grads": jnp.array([3.0]), "sample_size": 4}
      >>> _, state = tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)), **stats)
      >>> mean, var = aggregating.get_unbiased_mean_and_variance_ema(state)
      >>> mean.tolist(), var.tolist()
      ([2.0], [1.0])
    """
    found = tree_lib.get(state, "PerElementMeanAndVarianceEMAState", None)
    if found is None:
        raise ValueError(
            "State must have PerElementMeanAndVarianceEMAState to compute unbiased"
            " mean and variance EMA."
        )

    def debias(x):
        dtype = jnp.result_type(x)
        decay = jnp.asarray(found.ema_decay).astype(dtype)
        return x / (1 - decay ** found.count.astype(dtype))

    return (
        jax.tree.map(debias, found.mean_grads_ema),
        jax.tree.map(debias, found.variance_grads_ema),
    )


def add_mean_variance_to_opt(
    opt: GradientTransformation,
    ema_decay: jax.typing.ArrayLike = 0.9,
    per_elt_axis: int | list[int] = 0,
    accumulation_steps: int = 1,
) -> GradientTransformation | Aggregator:
    """``opt`` on the mean of per-example gradients, tracking their mean and variance.

    ``process(identity(), get_per_element_mean_and_sum_sq_diff_grads(per_elt_axis,
    accumulation_steps), chain(track_per_element_mean_and_variance_with_ema(ema_decay),
    opt), aggregator_has_aux=True)``: feed it per-example gradients; ``opt`` steps on
    their mean (every ``accumulation_steps`` calls), and
    `get_unbiased_mean_and_variance_ema` reads the tracked statistics from the state.

    Args:
      opt: the optimizer.
      ema_decay: the decay of the moving averages. Default 0.9.
      per_elt_axis: the example axis, or a list of axes. Default 0.
      accumulation_steps: the number of micro-batches per step of ``opt``. Default 1.

    Returns:
      An `Aggregator`.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import gradtx
      >>> from gradtx.experimental import aggregating
      >>> opt = aggregating.add_mean_variance_to_opt(gradtx.sgd(0.1), ema_decay=0.9)
      >>> params = jnp.zeros(2)
      >>> per_example = jnp.array([[1.0, 2.0], [3.0, 2.0]])
      >>> updates, state = opt.update(per_example, opt.init(params))
      >>> mean, var = aggregating.get_unbiased_mean_and_variance_ema(state)
      >>> updates.tolist(), mean.tolist(), var.tolist()
      ([-0.2, -0.2], [2.0, 2.0], [2.0, 0.0])
    """
    return process(
        preprocessor=identity(),
        aggregator=get_per_element_mean_and_sum_sq_diff_grads(per_elt_axis, accumulation_steps),
        postprocessor=chain(track_per_element_mean_and_variance_with_ema(ema_decay), opt),
        aggregator_has_aux=True,
    )
