"""Schedule-free learning: interpolation and averaging in place of momentum and decay.

`schedule_free` wraps any base optimizer; `schedule_free_sgd` and `schedule_free_adamw`
are the two common cases, and `schedule_free_eval_params` gives the averaged point
:math:`x_t` at which to evaluate.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    OptState,
    Params,
    chain,
    identity,
    numerics,
    validate,
    with_extra_args_support,
)
from gradtx.schedules import warmup_constant_schedule
from gradtx.transforms import add_decayed_weights, scale_by_learning_rate, scale_by_rms

__all__ = [
    "ScheduleFreeState",
    "schedule_free",
    "schedule_free_adamw",
    "schedule_free_eval_params",
    "schedule_free_sgd",
]


class ScheduleFreeState(NamedTuple):
    """State of `schedule_free`.

    Attributes:
      b1: the interpolation weight :math:`\\beta_1`, in the params' lowest float dtype.
      weight_sum: :math:`\\sum_i \\gamma_{\\max,i}^{p}` so far (that dtype).
      step_count: the step, starting at 1 (int32); the schedule is evaluated at it.
      max_lr: the largest learning rate so far (that dtype).
      base_optimizer_state: the base optimizer's state.
      z: the base optimizer's iterate :math:`z_t`, dtype ``state_dtype`` or the params'.
    """

    b1: jax.Array
    weight_sum: jax.Array
    step_count: jax.Array
    max_lr: jax.Array
    base_optimizer_state: OptState
    z: Params


def _average_point(y: jax.Array, z: jax.Array, b1: Any) -> jax.Array:
    """``x = (y - (1 - b1) z) / b1``: the average recovered from ``y`` and ``z``."""
    b1 = numerics.as_dtype(b1, jnp.result_type(y))
    return (y - (1 - b1) * z.astype(y.dtype)) / b1


def schedule_free_eval_params(state: OptState, params: Params) -> Params:
    """The parameters to evaluate a `schedule_free` model at: the average :math:`x_t`.

    .. math:: x_t = (y_t - (1-\\beta_1) z_t) / \\beta_1

    Args:
      state: a `ScheduleFreeState` (the state of `schedule_free` and its aliases).
      params: the current parameters :math:`y_t` (those the gradients are taken at).

    Returns:
      The tree :math:`x_t`, with the structure and dtypes of ``params``.

    Raises:
      ValueError: if ``state`` has no ``b1`` and ``z`` (not a `ScheduleFreeState`).

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.schedule_free_sgd(0.5, b1=0.5)
      >>> params = jnp.array([1.0])
      >>> u, state = tx.update(jnp.array([1.0]), tx.init(params), params)
      >>> gradtx.contrib.schedule_free_eval_params(state, params + u).tolist()
      [0.5]
    """
    b1, z = getattr(state, "b1", None), getattr(state, "z", None)
    if b1 is None or z is None:
        raise ValueError(
            "schedule_free_eval_params: state must be a ScheduleFreeState (the state of "
            f"schedule_free), got {type(state).__name__}"
        )
    return jax.tree.map(lambda y, z_: _average_point(y, z_, b1).astype(y.dtype), params, z)


def schedule_free(
    base_optimizer: GradientTransformation,
    learning_rate: Any,
    b1: float = 0.9,
    weight_lr_power: float = 2.0,
    state_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    r"""Make ``base_optimizer`` schedule-free (Defazio et al. 2024).

    The base optimizer's updates move an iterate :math:`z`; the gradients are taken at
    the interpolation :math:`y` of :math:`z` and the running average :math:`x`:

    .. math::
        z_{t+1} = z_t + \mathrm{base}(\nabla f(y_t)), \qquad
        c_{t+1} = \frac{\gamma_{\max,t}^{p}}{\sum_{i \le t} \gamma_{\max,i}^{p}} \\
        x_{t+1} = (1 - c_{t+1})\, x_t + c_{t+1} z_{t+1}, \qquad
        y_{t+1} = \beta_1 x_{t+1} + (1-\beta_1) z_{t+1}

    where :math:`\gamma_{\max,t}` is the largest learning rate so far and :math:`p` is
    ``weight_lr_power``. The parameters the caller holds are :math:`y`; evaluate at
    :math:`x` with `schedule_free_eval_params`. Switch off the base optimizer's momentum
    (e.g. ``adam(b1=0)``): the interpolation replaces it.

    Args:
      base_optimizer: the transform that updates :math:`z` (with its learning rate).
      learning_rate: the base optimizer's learning rate (a number or a schedule, with
        warmup but no decay), used for the averaging weights.
      b1: the interpolation :math:`\beta_1`, in (0, 1]. Default 0.9.
      weight_lr_power: the power :math:`p` of the learning rate in the weights.
        Default 2.
      state_dtype: dtype of :math:`z` (default: the params').

    Returns:
      A `GradientTransformationExtraArgs` with `ScheduleFreeState`; ``update`` needs
      ``params``.

    Raises:
      ValueError: if ``b1`` is outside (0, 1] or ``weight_lr_power`` is not finite.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.schedule_free(gradtx.sgd(0.5), 0.5, b1=0.5)
      >>> params = jnp.array([1.0])
      >>> u, state = tx.update(jnp.array([1.0]), tx.init(params), params)
      >>> u.tolist(), state.z.tolist()  # z moves by -0.5, y = x + (z - x) / 2
      ([-0.5], [0.5])

    References:
      Defazio et al., "The Road Less Scheduled", NeurIPS 2024,
      https://arxiv.org/abs/2405.15682 (code: github.com/facebookresearch/schedule_free)
    """
    fn = "schedule_free"
    validate.interval(fn, "b1", b1, 0.0, 1.0, low_open=True)
    validate.finite(fn, weight_lr_power=weight_lr_power)
    validate.finite(fn, learning_rate=learning_rate)
    state_dtype = numerics.canonicalize_dtype(state_dtype)
    base_optimizer = with_extra_args_support(base_optimizer)

    def init_fn(params):
        dtype = numerics.lowest_float_dtype(params)
        z = tree_lib.cast(params, state_dtype)
        return ScheduleFreeState(
            b1=jnp.asarray(b1, dtype),
            weight_sum=jnp.zeros([], dtype),
            step_count=jnp.ones([], jnp.int32),
            max_lr=jnp.zeros([], dtype),
            base_optimizer_state=base_optimizer.init(params),
            z=jax.tree.map(jnp.copy, z),
        )

    def update_fn(updates, state, params=None, **extra_args):
        validate.require_params(fn, params)
        validate.tree_match(fn, updates, state.z)
        dtype = state.max_lr.dtype
        lr = learning_rate(state.step_count) if callable(learning_rate) else learning_rate
        max_lr = jnp.maximum(state.max_lr, jnp.asarray(lr).astype(dtype))
        weight = max_lr**weight_lr_power
        total = state.weight_sum + weight
        ck = jnp.where(
            jnp.isnan(weight) | jnp.isnan(total),
            jnp.full(weight.shape, jnp.nan, dtype),
            jnp.nan_to_num(weight / total, nan=0.0, posinf=jnp.inf),
        )
        base_updates, base_state = base_optimizer.update(
            updates, state.base_optimizer_state, params, **extra_args
        )
        z = jax.tree.map(
            lambda z_, u: numerics.promote_add(z_, u).astype(z_.dtype), state.z, base_updates
        )

        def step(y, z_old, z_new, g):
            x = _average_point(y, z_old, b1)
            c = ck.astype(x.dtype)
            x = (1 - c) * x + c * z_new.astype(x.dtype)
            b = numerics.as_dtype(b1, jnp.result_type(x))
            new_y = b * x + (1 - b) * z_new.astype(x.dtype)
            return (new_y - y).astype(g.dtype)

        new_updates = jax.tree.map(step, params, state.z, z, updates)
        return new_updates, ScheduleFreeState(
            b1=state.b1,
            weight_sum=total,
            step_count=numerics.safe_increment(state.step_count),
            max_lr=max_lr,
            base_optimizer_state=base_state,
            z=z,
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)


def _warmed_up(learning_rate: Any, warmup_steps: int | None) -> Any:
    if warmup_steps is None:
        return learning_rate
    return warmup_constant_schedule(
        init_value=0, peak_value=learning_rate, warmup_steps=warmup_steps
    )


def schedule_free_sgd(
    learning_rate: float = 1.0,
    warmup_steps: int | None = None,
    b1: float = 0.9,
    weight_decay: float | None = None,
    weight_lr_power: float = 2.0,
    state_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Schedule-free SGD: `schedule_free` over plain SGD.

    ``schedule_free(chain([add_decayed_weights(weight_decay),] sgd(lr)), lr, b1, ...)``
    with ``lr`` warmed up linearly from 0 over ``warmup_steps`` when given. See
    `schedule_free` for the equations.

    Args:
      learning_rate: SGD's learning rate. Default 1.
      warmup_steps: length of a linear warmup from 0 (``None``: no warmup).
      b1: the interpolation :math:`\\beta_1`, in (0, 1]. Default 0.9.
      weight_decay: weight decay added to the gradient (``None``: none), >= 0.
      weight_lr_power: see `schedule_free`. Default 2.
      state_dtype: dtype of :math:`z` (default: the params').

    Returns:
      A `GradientTransformationExtraArgs` with `ScheduleFreeState`; ``update`` needs
      ``params``.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x ** 2)
      >>> tx = gradtx.contrib.schedule_free_sgd(0.1)
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = tx.init(params)
      >>> for _ in range(20):
      ...     u, state = tx.update(jax.grad(f)(params), state, params)
      ...     params = gradtx.apply_updates(params, u)
      >>> bool(f(gradtx.contrib.schedule_free_eval_params(state, params)) < 0.5)
      True

    References:
      Defazio et al., "The Road Less Scheduled", NeurIPS 2024,
      https://arxiv.org/abs/2405.15682
    """
    learning_rate = _warmed_up(learning_rate, warmup_steps)
    optimizer = chain(identity(), scale_by_learning_rate(learning_rate))
    if weight_decay is not None:
        optimizer = chain(add_decayed_weights(weight_decay), optimizer)
    return schedule_free(optimizer, learning_rate, b1, weight_lr_power, state_dtype)


def schedule_free_adamw(
    learning_rate: float = 0.0025,
    warmup_steps: int | None = None,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    weight_lr_power: float = 2.0,
    state_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Schedule-free AdamW: `schedule_free` over Adam without momentum, with weight decay.

    The base optimizer is ``chain(scale_by_rms(b2, eps, eps_in_sqrt=False,
    bias_correction=True), add_decayed_weights(weight_decay),
    scale_by_learning_rate(lr))``, which is ``adamw(lr, b1=0, ...)`` without the unused
    first moment (as Optax). See `schedule_free` for the equations.

    Args:
      learning_rate: AdamW's learning rate. Default 0.0025.
      warmup_steps: length of a linear warmup from 0 (``None``: no warmup).
      b1: the interpolation :math:`\\beta_1`, in (0, 1]. Default 0.9.
      b2: second-moment decay, in [0, 1). Default 0.999.
      eps: added outside the square root, >= 0. Default 1e-8.
      weight_decay: decoupled weight decay, >= 0. Default 0.
      weight_lr_power: see `schedule_free`. Default 2.
      state_dtype: dtype of :math:`z` (default: the params').

    Returns:
      A `GradientTransformationExtraArgs` with `ScheduleFreeState`; ``update`` needs
      ``params``.

    Raises:
      ValueError: for hyperparameters outside the ranges above.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x ** 2)
      >>> tx = gradtx.contrib.schedule_free_adamw(1.0)
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = tx.init(params)
      >>> for _ in range(5):
      ...     u, state = tx.update(jax.grad(f)(params), state, params)
      ...     params = gradtx.apply_updates(params, u)
      >>> round(float(f(gradtx.contrib.schedule_free_eval_params(state, params))), 2)
      0.41

    References:
      Defazio et al., "The Road Less Scheduled", NeurIPS 2024,
      https://arxiv.org/abs/2405.15682
    """
    learning_rate = _warmed_up(learning_rate, warmup_steps)
    optimizer = chain(
        scale_by_rms(decay=b2, eps=eps, eps_in_sqrt=False, bias_correction=True),
        add_decayed_weights(weight_decay),
        scale_by_learning_rate(learning_rate),
    )
    return schedule_free(optimizer, learning_rate, b1, weight_lr_power, state_dtype)
