"""The learning-rate range test ("LR finder") as one compiled ``lax.scan``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx.core import _validate
from gradtx.core._base import GradientTransformation, Schedule, with_extra_args_support
from gradtx.core._update import apply_updates
from gradtx.schedules._basic import _check_steps

__all__ = ["LRRangeTestResult", "lr_range_test", "plot_lr_range_test"]


class LRRangeTestResult(NamedTuple):
    """What `lr_range_test` returns.

    Attributes:
      learning_rates: ``(num_steps,)`` the learning rate of each step, increasing
        geometrically from ``min_lr`` to ``max_lr``.
      losses: ``(num_steps,)`` the raw loss at each step (before its update); NaN after
        the divergence cut-off.
      smoothed_losses: ``(num_steps,)`` the bias-corrected exponential moving average
        of the losses; NaN after the cut-off.
      suggested_lr: scalar, the learning rate where the smoothed loss falls fastest
        (per unit of :math:`\\log \\eta`) before the cut-off.
      num_valid: int32 scalar, the number of steps before the cut-off (``num_steps``
        when the loss never diverged).
    """

    learning_rates: jax.Array
    losses: jax.Array
    smoothed_losses: jax.Array
    suggested_lr: jax.Array
    num_valid: jax.Array


def _geometric(min_lr: float, max_lr: float, num_steps: int) -> Schedule:
    ratio = max_lr / min_lr

    def schedule(count):
        frac = jnp.asarray(count).astype(jnp.float32) / (num_steps - 1)
        return min_lr * jnp.power(jnp.float32(ratio), frac)

    return schedule


def lr_range_test(
    loss_fn: Callable[..., jax.Array],
    tx_factory: Callable[[Schedule], GradientTransformation],
    params: Any,
    batches: Any = None,
    min_lr: float = 1e-7,
    max_lr: float = 10.0,
    num_steps: int = 100,
    *,
    smoothing: float = 0.98,
    divergence_threshold: float = 4.0,
    skip_start: int = 10,
    skip_end: int = 5,
) -> LRRangeTestResult:
    """Train briefly with a geometrically increasing learning rate and suggest a maximum.

    Step :math:`t = 0, \\dots, N-1` trains with

    .. math:: \\eta_t = \\eta_{min} (\\eta_{max} / \\eta_{min})^{t / (N - 1)}

    and records the loss :math:`\\ell_t`. The smoothed loss is the bias-corrected
    exponential moving average (fast.ai's)

    .. math::
        a_t = \\beta a_{t-1} + (1 - \\beta)\\ell_t, \\qquad
        \\bar\\ell_t = a_t / (1 - \\beta^{t+1}).

    The run stops (parameters frozen, further losses NaN) at the first step where
    :math:`\\bar\\ell_t` is not finite or exceeds the best smoothed loss so far by
    ``divergence_threshold - 1`` times its magnitude (4x the best, for positive
    losses). The suggested learning rate is the one where :math:`\\bar\\ell` falls
    fastest with :math:`\\log\\eta`, measured by the central difference
    :math:`\\bar\\ell_{t+w} - \\bar\\ell_{t-w}` with :math:`w = \\max(1, N / 20)` (wide
    enough to average out minibatch noise), among the valid steps
    ``[skip_start, num_valid - skip_end)``. If too few steps are valid, it falls back to
    a tenth of the rate with the lowest smoothed loss.

    Smith reads the range test as: the loss starts to fall at a sensible minimum rate
    and stops falling (then climbs) at the maximum. The steepest point (fast.ai's
    "steep" suggestion) lies between the two and is a conservative choice for a
    constant rate or the peak of a one-cycle schedule; with heavy momentum, rates a few
    times larger often train faster, and the rate where the loss stops falling is a
    hard upper bound.

    The whole test (initialisation, ``num_steps`` training steps, smoothing and the
    suggestion) is one jitted function around a ``lax.scan``.

    Args:
      loss_fn: ``loss_fn(params, batch) -> scalar`` (or ``loss_fn(params)`` when
        ``batches`` is None).
      tx_factory: ``learning_rate -> GradientTransformation``; it receives a schedule,
        e.g. ``gradtx.adam`` or ``lambda lr: gradtx.sgd(lr, momentum=0.9)``.
      params: the initial parameters (not modified).
      batches: None, or a pytree whose leaves share a leading axis of batches; step
        ``t`` uses batch ``t % n``. Default None.
      min_lr: the first learning rate, > 0. Default 1e-7.
      max_lr: the last learning rate, > ``min_lr``. Default 10.
      num_steps: number of training steps, an integer >= 2. Default 100.
      smoothing: the EMA factor :math:`\\beta`, in [0, 1). Default 0.98.
      divergence_threshold: the cut-off ratio to the best smoothed loss, > 1. Default 4.
      skip_start: valid steps ignored at the start for the suggestion, an integer >= 0.
        Default 10.
      skip_end: valid steps ignored before the cut-off, an integer >= 0. Default 5.

    Returns:
      An `LRRangeTestResult`.

    Raises:
      ValueError: for arguments outside the ranges above.
      TypeError: for non-integer step counts or a non-callable ``loss_fn``/``tx_factory``.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> loss = lambda p: jnp.sum((p - 3.0) ** 2)
      >>> sgd = lambda lr: gradtx.scale_by_learning_rate(lr)
      >>> res = gradtx.lr_range_test(loss, sgd, jnp.zeros(2), min_lr=1e-4, max_lr=10.0,
      ...                            num_steps=60, skip_start=5)
      >>> bool(1e-3 < float(res.suggested_lr) < 1.0), int(res.num_valid) < 60
      (True, True)

    References:
      Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
      https://arxiv.org/abs/1506.01186;
      Howard and Gugger, "Fastai: A Layered API for Deep Learning", Information 2020,
      https://arxiv.org/abs/2002.04688
    """
    fn = "lr_range_test"
    for name, f in (("loss_fn", loss_fn), ("tx_factory", tx_factory)):
        if not callable(f):
            raise TypeError(f"{fn}({name}={f!r}): {name} must be callable")
    _validate.positive(fn, min_lr=min_lr)
    _validate.finite(fn, min_lr=min_lr, max_lr=max_lr)
    _validate.interval(fn, "max_lr", max_lr, float(min_lr), low_open=True)
    num_steps = _check_steps(fn, "num_steps", num_steps, 2)
    _validate.decay(fn, smoothing=smoothing)
    _validate.interval(fn, "divergence_threshold", divergence_threshold, 1.0, low_open=True)
    skip_start = _check_steps(fn, "skip_start", skip_start, 0)
    skip_end = _check_steps(fn, "skip_end", skip_end, 0)

    schedule = _geometric(float(min_lr), float(max_lr), int(num_steps))
    num_batches = None if batches is None else jax.tree.leaves(batches)[0].shape[0]

    def objective(p, t, data):
        if data is None:
            return loss_fn(p)
        batch = jax.tree.map(lambda x: x[t % num_batches], data)
        return loss_fn(p, batch)

    @jax.jit
    def run(params, data):
        tx = with_extra_args_support(tx_factory(schedule))
        state0 = tx.init(params)
        beta = jnp.float32(smoothing)

        def body(carry, t):
            p, s, avg, best, stopped = carry
            loss, grads = jax.value_and_grad(objective)(p, t, data)
            loss = jnp.asarray(loss).astype(jnp.float32)
            avg_new = beta * avg + (1 - beta) * loss
            smooth = avg_new / (1 - beta ** (t + 1).astype(jnp.float32))
            best_new = jnp.minimum(best, smooth)
            limit = best_new + (divergence_threshold - 1.0) * jnp.abs(best_new)
            diverged = ~jnp.isfinite(smooth) | (smooth > limit)
            stop_now = stopped | diverged
            updates, s_new = tx.update(grads, s, p, value=loss)
            p_new = apply_updates(p, updates)

            def keep(old, new):
                return jax.tree.map(lambda o, n: jnp.where(stop_now, o, n), old, new)

            carry = (keep(p, p_new), keep(s, s_new), avg_new, best_new, stop_now)
            nan = jnp.float32(jnp.nan)
            out = (jnp.where(stopped, nan, loss), jnp.where(stopped, nan, smooth), diverged)
            return carry, out

        init = (params, state0, jnp.float32(0.0), jnp.float32(jnp.inf), jnp.array(False))
        steps = jnp.arange(num_steps, dtype=jnp.int32)
        _, (losses, smoothed, diverged) = jax.lax.scan(body, init, steps)
        first_bad = jnp.argmax(diverged)
        num_valid = jnp.where(jnp.any(diverged), first_bad, num_steps).astype(jnp.int32)
        lrs = jax.vmap(schedule)(steps)

        idx = jnp.arange(num_steps)
        w = max(1, num_steps // 20)
        nxt = smoothed[jnp.minimum(idx + w, num_steps - 1)]
        prev = smoothed[jnp.maximum(idx - w, 0)]
        slope = nxt - prev
        ok = (idx >= max(skip_start, w)) & (idx < num_valid - skip_end) & (idx + w < num_valid)
        steepest = jnp.argmin(jnp.where(ok, slope, jnp.inf))
        lowest = jnp.argmin(jnp.where(idx < num_valid, smoothed, jnp.inf))
        suggested = jnp.where(jnp.any(ok), lrs[steepest], lrs[lowest] / 10.0)
        return LRRangeTestResult(lrs, losses, smoothed, suggested, num_valid)

    return run(params, batches)


def plot_lr_range_test(result: LRRangeTestResult, ax: Any = None) -> Any:
    """Plot the losses of an `lr_range_test` against the learning rate (log scale).

    Draws the raw losses (faint), the smoothed losses, and a vertical line at the
    suggested learning rate. matplotlib is imported only when this is called.

    Args:
      result: an `LRRangeTestResult`.
      ax: a matplotlib ``Axes`` to draw on; a new figure's axes when None.

    Returns:
      The ``Axes``.

    Raises:
      ImportError: when matplotlib is not installed.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> res = gradtx.lr_range_test(lambda p: jnp.sum(p**2),
      ...                            lambda lr: gradtx.scale_by_learning_rate(lr),
      ...                            jnp.ones(2), num_steps=20, skip_start=2)
      >>> ax = gradtx.plot_lr_range_test(res)  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if ax is None:
        _, ax = plt.subplots()
    lrs = np.asarray(result.learning_rates)
    ax.plot(lrs, np.asarray(result.losses), alpha=0.3, label="loss")
    ax.plot(lrs, np.asarray(result.smoothed_losses), label="smoothed loss")
    suggested = float(result.suggested_lr)
    ax.axvline(suggested, color="red", linestyle="--", label=f"suggested {suggested:.2e}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.legend()
    return ax
