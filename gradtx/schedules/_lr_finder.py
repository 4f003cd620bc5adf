"""The learning-rate range test ("LR finder") as one compiled ``lax.scan``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx.core import (
    GradientTransformation,
    Schedule,
    apply_updates,
    validate,
    with_extra_args_support,
)
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
      suggested_lr: scalar, the suggestion of the rule chosen by ``rule`` (by default
        ``"lagfree_minimum"``: the lowest point of a lag-free local fit of the raw
        losses, divided by 1.25).
      num_valid: int32 scalar, the number of steps before the cut-off (``num_steps``
        when the loss never diverged).
      suggestions: ``{"steep", "valley", "minimum", "lagfree_minimum"} -> scalar``,
        every rule's suggested learning rate (see `lr_range_test`).
    """

    learning_rates: jax.Array
    losses: jax.Array
    smoothed_losses: jax.Array
    suggested_lr: jax.Array
    num_valid: jax.Array
    suggestions: dict[str, jax.Array]


def _geometric(min_lr: float, max_lr: float, num_steps: int) -> Schedule:
    ratio = max_lr / min_lr

    def schedule(count):
        frac = jnp.asarray(count).astype(jnp.float32) / (num_steps - 1)
        return min_lr * jnp.power(jnp.float32(ratio), frac)

    return schedule


RULES = ("steep", "valley", "minimum", "lagfree_minimum")  # LRRangeTestResult.suggestions
LAGFREE_DIVISOR = 1.25  # lagfree_minimum: the fit's minimum / 1.25 (measured: README)


def _local_quadratic(losses, num_valid, w):
    """The lag-free curve: a local quadratic least-squares fit of each valid step's log-loss.

    Each step's value is the fit's value at that step, over the valid steps within ``+-w``
    (the window is cut at the start and at ``num_valid``); a centred fit has no lag. The
    log is taken when every valid loss is positive, else the losses are fitted as they are.
    """
    n = losses.shape[0]
    idx = jnp.arange(n)
    valid = idx < num_valid
    positive = jnp.all(jnp.where(valid, losses > 0, True))
    y = jnp.where(valid, losses, 1.0)
    y = jnp.where(positive, jnp.log(jnp.where(positive, y, 1.0)), y)
    offsets = jnp.arange(-w, w + 1)
    at = idx[:, None] + offsets[None, :]  # (n, 2w + 1)
    inside = (at >= 0) & (at < num_valid)
    m = inside.astype(jnp.float32)
    u = (offsets / w).astype(jnp.float32)[None, :]  # in [-1, 1]: well-conditioned moments
    yy = jnp.where(inside, y[jnp.clip(at, 0, n - 1)], 0.0)
    s = [jnp.sum(m * u**k, axis=1) for k in range(5)]
    t = [jnp.sum(m * u**k * yy, axis=1) for k in range(3)]
    gram = jnp.stack([jnp.stack(s[0:3], -1), jnp.stack(s[1:4], -1), jnp.stack(s[2:5], -1)], axis=-2)
    # a ridge of 1e-6 keeps windows of fewer than three points solvable
    gram = gram + 1e-6 * jnp.eye(3, dtype=jnp.float32)[None]
    coef = jnp.linalg.solve(gram, jnp.stack(t, -1)[..., None])[..., 0, 0]
    return jnp.where(valid, coef, jnp.nan)


def _suggestions(lrs, losses, smoothed, num_valid, skip_start, skip_end):
    """Every rule's suggested learning rate (a dict of scalars), computed under jit.

    fast.ai's rules look at the smoothed losses, ``lagfree_minimum`` at the lag-free fit
    of the raw ones, in the window ``[lo, hi)`` of valid steps,
    ``lo = skip_start``, ``hi = num_valid - skip_end``; where the window is too short for a
    rule, it falls back to a tenth of the rate with the lowest smoothed valid loss.
    """
    n = lrs.shape[0]
    idx = jnp.arange(n)
    valid = idx < num_valid
    lowest = jnp.argmin(jnp.where(valid, smoothed, jnp.inf))
    fallback = lrs[lowest] / 10.0
    hi = num_valid - skip_end
    window = (idx >= skip_start) & (idx < hi)
    out = {}

    # steep: the most negative central difference over +-w steps (w = N/20).
    w = max(1, n // 20)
    slope = smoothed[jnp.minimum(idx + w, n - 1)] - smoothed[jnp.maximum(idx - w, 0)]
    ok = window & (idx >= w) & (idx + w < num_valid)
    steepest = jnp.argmin(jnp.where(ok, slope, jnp.inf))
    out["steep"] = jnp.where(jnp.any(ok), lrs[steepest], fallback)

    # valley: the longest decreasing subsequence of the smoothed losses in the window;
    # suggest the point half-way along it (fast.ai's rule, from its end and length).
    def longest(lengths, i):
        earlier = window & (idx < i) & (smoothed > smoothed[i])
        length = jnp.where(window[i], 1 + jnp.max(jnp.where(earlier, lengths, 0)), 0)
        return lengths.at[i].set(length), None

    lengths, _ = jax.lax.scan(longest, jnp.zeros(n, jnp.int32), idx)
    end = jnp.argmax(lengths)  # the first of the longest
    third = lengths[end] // 3  # fast.ai's start is end - length (one before the first point)
    pick = end - lengths[end] + third + third // 2
    out["valley"] = jnp.where(lengths[end] >= 3, lrs[pick], fallback)

    # minimum: a tenth of the rate with the lowest smoothed loss in the window.
    low_w = jnp.argmin(jnp.where(window, smoothed, jnp.inf))
    out["minimum"] = jnp.where(jnp.any(window), lrs[low_w] / 10.0, fallback)

    # lagfree_minimum: the lowest point of the lag-free local fit of the raw losses, / 1.25.
    fit = _local_quadratic(losses, num_valid, w)
    low_f = jnp.argmin(jnp.where(window, fit, jnp.inf))
    out["lagfree_minimum"] = jnp.where(jnp.any(window), lrs[low_f] / LAGFREE_DIVISOR, fallback)
    return out


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
    rule: str = "lagfree_minimum",
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
    losses). Four rules read a learning rate off the window
    ``[skip_start, num_valid - skip_end)`` of valid steps, three of them fast.ai's (on
    fast.ai's smoothed curve :math:`\\bar\\ell`); all are returned in ``suggestions``
    and ``rule`` picks ``suggested_lr``:

    * ``"steep"``: where :math:`\\bar\\ell` falls fastest with :math:`\\log\\eta`, by the
      central difference :math:`\\bar\\ell_{t+w} - \\bar\\ell_{t-w}`,
      :math:`w = \\max(1, N / 20)` (wide enough to average out minibatch noise);
    * ``"valley"``: fast.ai's default since 2021: the longest decreasing subsequence
      of :math:`\\bar\\ell` in the window, from step :math:`s = e - L` to its end
      :math:`e` (first of the longest, length :math:`L`); the suggestion is step
      :math:`s + \\lfloor d/3 \\rfloor + \\lfloor d/6 \\rfloor`, :math:`d = e - s`, half-way
      along it;
    * ``"minimum"``: a tenth of the rate with the lowest :math:`\\bar\\ell`;
    * ``"lagfree_minimum"`` (the default, gradtx's): the rate at the lowest point of a
      lag-free curve, divided by :math:`k = 1.25`. The curve is a centred local
      quadratic least-squares fit (Savitzky-Golay) of :math:`\\log \\ell` (of
      :math:`\\ell` if a valid loss is :math:`\\le 0`) over the valid steps within
      :math:`\\pm w`, evaluated at the centre. The EMA :math:`\\bar\\ell` lags the raw
      loss by about :math:`\\beta / (1 - \\beta) = 49` steps, about four decades of the
      default range, so every feature read off it sits far below where the raw loss puts
      it; a centred fit has no lag.

    If too few steps are valid for a rule, it falls back to a tenth of the rate with
    the lowest smoothed valid loss.

    Which rule to trust is an empirical question: ``benchmarks/bench_lr_finder.py``
    compares each rule with the best constant rate of a log grid on five problems and
    two optimizers (the README has its table). With the default range (fast.ai's:
    ``1e-7 .. 10`` in 100 steps, :math:`\\beta = 0.98`) "lagfree_minimum" lands within
    3x of the best rate, at a final loss within 2x, in 7 of 10 cases, "steep" in 4,
    "minimum" in 3 and "valley" in none (its long flat start drags it 20-1000x low); so
    "lagfree_minimum" is the default. It misses where a constant rate from scratch
    trains worse than the range test's built-in warm-up suggests (AdamW on a
    transformer and on logistic regression: 10-20x too high), so plot the result with
    `plot_lr_range_test` and judge.

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
      rule: which suggestion is ``suggested_lr``: ``"steep"``, ``"valley"``,
        ``"minimum"`` or ``"lagfree_minimum"``. Default ``"lagfree_minimum"``.

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
      >>> sorted(res.suggestions)
      ['lagfree_minimum', 'minimum', 'steep', 'valley']

    References:
      Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
      https://arxiv.org/abs/1506.01186;
      Howard and Gugger, "Fastai: A Layered API for Deep Learning", Information 2020,
      https://arxiv.org/abs/2002.04688 (the rules: fastai's ``lr_find`` suggestion
      functions ``steep``, ``valley`` and ``minimum``);
      Savitzky and Golay, "Smoothing and Differentiation of Data by Simplified Least
      Squares Procedures", Analytical Chemistry 1964, https://doi.org/10.1021/ac60214a047
      (the local quadratic fit of ``lagfree_minimum``)
    """
    fn = "lr_range_test"
    for name, f in (("loss_fn", loss_fn), ("tx_factory", tx_factory)):
        if not callable(f):
            raise TypeError(f"{fn}({name}={f!r}): {name} must be callable")
    validate.positive(fn, min_lr=min_lr)
    validate.finite(fn, min_lr=min_lr, max_lr=max_lr)
    validate.interval(fn, "max_lr", max_lr, float(min_lr), low_open=True)
    num_steps = _check_steps(fn, "num_steps", num_steps, 2)
    validate.decay(fn, smoothing=smoothing)
    validate.interval(fn, "divergence_threshold", divergence_threshold, 1.0, low_open=True)
    skip_start = _check_steps(fn, "skip_start", skip_start, 0)
    skip_end = _check_steps(fn, "skip_end", skip_end, 0)
    validate.one_of(fn, "rule", rule, RULES)

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

        suggestions = _suggestions(lrs, losses, smoothed, num_valid, skip_start, skip_end)
        return LRRangeTestResult(lrs, losses, smoothed, suggestions[rule], num_valid, suggestions)

    return run(params, batches)


def plot_lr_range_test(result: LRRangeTestResult, ax: Any = None) -> Any:
    """Plot the losses of an `lr_range_test` against the learning rate (log-log).

    Draws the raw losses (faint) and the smoothed losses up to the divergence cut-off,
    a dotted vertical line at the cut-off, and a dashed vertical line with a marker on
    the smoothed curve at every rule's suggestion (the default rule's line is solid and
    thicker). The loss axis is logarithmic when every valid loss is positive, else
    linear; either way it is clipped to the range of the valid losses (at the top, of
    the smoothed ones), so the spike at the divergence does not flatten the curve.
    matplotlib is imported only when this is called.

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
        _, ax = plt.subplots(layout="constrained")
    lrs = np.asarray(result.learning_rates, np.float64)
    n = len(lrs)
    valid = max(1, min(int(result.num_valid), n))
    raw = np.asarray(result.losses, np.float64)[:valid]
    smooth = np.asarray(result.smoothed_losses, np.float64)[:valid]
    ax.plot(lrs[:valid], raw, color="C0", alpha=0.3, label="loss")
    ax.plot(lrs[:valid], smooth, color="C0", label="smoothed loss")
    shown = np.concatenate([raw, smooth])
    shown = shown[np.isfinite(shown)]
    log_y = shown.size > 0 and bool(np.all(shown > 0))
    top = smooth[np.isfinite(smooth)]
    if valid < n:
        ax.axvline(lrs[valid], color="k", linestyle=":", label=f"diverged {lrs[valid]:.2e}")
    default = float(result.suggested_lr)
    for i, (name, value) in enumerate(result.suggestions.items()):
        lr = float(value)
        main = lr == default
        color = f"C{i + 1}"
        ax.axvline(
            lr,
            color=color,
            linestyle="-" if main else "--",
            linewidth=2.0 if main else 1.0,
            label=f"{name} {lr:.2e}" + (" (suggested)" if main else ""),
        )
        at = int(np.argmin(np.abs(np.log(lrs[:valid]) - np.log(lr))))
        ax.plot([lr], [smooth[at]], "o", color=color)
    ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    if shown.size:
        # the top is the smoothed curve's: raw spikes just before the cut-off are clipped
        low, high = float(np.min(shown)), float(np.max(top if top.size else shown))
        if log_y:
            ax.set_ylim(low / 1.2, high * 1.2)
        else:
            pad = 0.05 * (high - low) or 1.0
            ax.set_ylim(low - pad, high + pad)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.legend(fontsize="small")
    return ax
