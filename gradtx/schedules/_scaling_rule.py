"""The linear learning-rate scaling rule for changing the batch size."""

from __future__ import annotations

from gradtx.core import ScalarOrSchedule, validate
from gradtx.schedules._basic import _check_steps

__all__ = ["linear_scaling_rule"]


def linear_scaling_rule(base_lr: ScalarOrSchedule, base_batch: int, batch: int) -> ScalarOrSchedule:
    """Scale a learning rate tuned at ``base_batch`` to the batch size ``batch``.

    .. math:: \\eta = \\eta_{base} \\cdot \\frac{B}{B_{base}}

    "When the minibatch size is multiplied by k, multiply the learning rate by k"
    (Goyal et al.). It keeps the SGD update per *example* roughly unchanged, so training
    curves measured in epochs line up. Caveats, all from the paper or its follow-ups:

    * it needs a **warmup** (Goyal et al. ramp linearly from ``base_lr`` over the first
      5 epochs, e.g. `warmup_cosine_decay_schedule`); without it large batches diverge
      early in training;
    * it holds only up to a point: it broke down beyond about 8k images per batch on
      ImageNet, where accuracy degrades whatever the learning rate;
    * it is derived for **SGD** (with momentum). For Adam-type optimizers a
      square-root rule (``base_lr * sqrt(B / B_base)``) is the usual starting point
      (Malladi et al., NeurIPS 2022);
    * weight decay is *not* rescaled, and batch-norm statistics should be computed
      over the same per-worker batch size as in the base run;
    * it is a starting point to re-tune from, not a guarantee.

    Args:
      base_lr: the learning rate tuned at ``base_batch`` (a finite number), or a
        schedule, in which case every value of it is scaled.
      base_batch: the batch size ``base_lr`` was tuned for, an integer >= 1.
      batch: the new batch size, an integer >= 1.

    Returns:
      ``base_lr * batch / base_batch`` (a float or array), or a schedule returning it.

    Raises:
      ValueError: for a non-finite ``base_lr`` or batch sizes < 1.
      TypeError: for non-integer batch sizes.

    Examples:
      >>> import gradtx
      >>> gradtx.linear_scaling_rule(0.1, base_batch=256, batch=1024)
      0.4
      >>> sched = gradtx.linear_scaling_rule(gradtx.constant_schedule(0.1), 256, 128)
      >>> round(float(sched(0)), 4)
      0.05

    References:
      Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", 2017,
      https://arxiv.org/abs/1706.02677;
      Malladi et al., "On the SDEs and Scaling Rules for Adaptive Gradient Algorithms",
      NeurIPS 2022, https://arxiv.org/abs/2205.10287
    """
    fn = "linear_scaling_rule"
    validate.finite(fn, base_lr=base_lr)
    base_batch = _check_steps(fn, "base_batch", base_batch, 1)
    batch = _check_steps(fn, "batch", batch, 1)
    factor = int(batch) / int(base_batch)
    if callable(base_lr):
        return lambda count: factor * base_lr(count)
    return base_lr * factor
