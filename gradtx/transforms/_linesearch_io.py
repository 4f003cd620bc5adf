"""What the line searches read and print: the loss inputs of ``update`` and Optax's
``verbose=True`` diagnostics, word for word.

The diagnostics are printed with ``jax.debug.print`` (a host callback), so only when the
user asks for them: the line searches call them only when built with ``verbose=True``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from gradtx.core import validate

__all__ = [
    "FLAG_CURVATURE_COND_NOT_SATISFIED",
    "FLAG_INTERVAL_NOT_FOUND",
    "FLAG_INTERVAL_TOO_SMALL",
    "FLAG_NOT_A_DESCENT_DIRECTION",
    "FLAG_NO_STEPSIZE_FOUND",
    "backtracking_report",
    "loss_inputs",
    "zoom_report",
]

FLAG_INTERVAL_NOT_FOUND = (
    "No interval satisfying curvature condition. "
    "Consider increasing maximal possible stepsize of the linesearch."
)
FLAG_INTERVAL_TOO_SMALL = "Length of searched interval has been reduced below threshold."
FLAG_CURVATURE_COND_NOT_SATISFIED = (
    "Returning stepsize with sufficient decrease but curvature condition not satisfied."
)
FLAG_NO_STEPSIZE_FOUND = "Linesearch failed, no stepsize satisfying sufficient decrease found."
FLAG_NOT_A_DESCENT_DIRECTION = (
    "The linesearch failed because the provided direction is not a descent direction. "
)


def _value_fn_kwargs(value_fn: Callable[..., Any], extra_args: dict[str, Any]) -> dict[str, Any]:
    """The extra arguments named after a keyword parameter of ``value_fn`` (not its first)."""
    try:
        parameters = list(inspect.signature(value_fn).parameters.values())
    except (TypeError, ValueError):
        return {}
    named = {
        p.name
        for p in parameters[1:]
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
    named -= {"value", "grad", "value_fn"}
    return {k: v for k, v in extra_args.items() if k in named}


def loss_inputs(fn: str, updates: Any, params: Any, extra_args: dict[str, Any]):
    """Check the update tree; unpack ``value=``, ``grad=``, ``value_fn=`` and its data."""
    validate.require_params(fn, params)
    validate.tree_match(fn, updates, params, what="params")
    value = validate.require_extra_arg(fn, extra_args, "value")
    grad = validate.require_extra_arg(fn, extra_args, "grad")
    value_fn = validate.require_extra_arg(fn, extra_args, "value_fn")
    if not callable(value_fn):
        raise TypeError(f"{fn}: value_fn must be callable, got {type(value_fn).__name__}")
    data = _value_fn_kwargs(value_fn, extra_args)
    _reject_unconsumed(fn, value_fn, extra_args)
    return value, grad, value_fn, data


def _reject_unconsumed(fn: str, value_fn: Callable[..., Any], extra_args: dict[str, Any]) -> None:
    """``TypeError`` naming the extra arguments ``value_fn`` does not take (as Optax)."""
    try:
        parameters = inspect.signature(value_fn).parameters.values()
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return
    consumed = {p.name for p in parameters} | {"value", "grad", "value_fn"}
    remaining = sorted(k for k in extra_args if k not in consumed)
    if remaining:
        raise TypeError(
            f"{fn}: Unexpected keyword arguments passed to update(), that value_fn does "
            f"not consume: {remaining}; pass only value=, grad=, value_fn= and value_fn's "
            "own arguments"
        )


_ZOOM_INFO = (
    "INFO: optax.scale_by_zoom_linesearch:\n"
    "Value at current params: {value_init}\n"
    "Slope along update direction: {slope_init}\n"
    "Stepsize reached: {stepsize}\n"
    "Decrease Error: {decrease_error}\n"
    "Curvature Error: {curvature_error}"
)


def _cond_print(condition: Any, message: str, **kwargs: Any) -> None:
    """Print ``message`` (formatted with ``kwargs``) when ``condition`` holds."""
    jax.lax.cond(
        condition,
        lambda: jax.debug.print(message, **kwargs, ordered=True),
        lambda: None,
    )


def backtracking_report(value, slope, stepsize, decrease_error, atol) -> None:
    """After a backtracking search: Optax's message when no step decreased enough."""
    _cond_print(
        decrease_error > atol,
        "INFO: optax.scale_by_backtracking_linesearch:\n"
        "Backtracking linesearch failed to find a stepsize ensuring sufficent decrease.\n"
        "Value at current params: {value},\n"
        "Slope along update direction: {slope}\n"
        "Stepsize: {stepsize}\n"
        "Decrease Error: {decrease_error}",
        stepsize=stepsize,
        decrease_error=decrease_error,
        value=value,
        slope=slope,
    )
    _cond_print(jnp.isinf(decrease_error), "Using a stepsize of 0 to avoid infinite or nan values.")


def zoom_report(
    value_init,
    slope_init,
    stepsize,
    decrease_error,
    curvature_error,
    max_stepsize_without_interval,
    failed,
    interval_length,
    interval_threshold,
    safe_stepsize,
) -> None:
    """After one trial of a zoom search (the trial's own errors): Optax's messages.

    ``max_stepsize_without_interval``: phase 1 reached ``max_learning_rate`` with no
    bracket (the search ends there); ``failed``: the search ran out of steps or of
    interval and falls back to the best step with sufficient decrease
    (``safe_stepsize``, 0 when there is none).
    """
    info = dict(
        value_init=value_init,
        slope_init=slope_init,
        stepsize=stepsize,
        decrease_error=decrease_error,
        curvature_error=curvature_error,
    )
    _cond_print(
        max_stepsize_without_interval,
        _ZOOM_INFO + FLAG_INTERVAL_NOT_FOUND + "\n" + FLAG_CURVATURE_COND_NOT_SATISFIED,
        **info,
    )

    def on_failure():
        jax.debug.print(_ZOOM_INFO, **info, ordered=True)
        _cond_print(
            interval_length <= interval_threshold,
            FLAG_INTERVAL_TOO_SMALL + " Interval length: {interval_length}.",
            interval_length=interval_length,
        )
        jax.lax.cond(
            safe_stepsize > 0.0,
            lambda: jax.debug.print(
                FLAG_CURVATURE_COND_NOT_SATISFIED
                + " Stepsize ensuring sufficient decrease: {safe_stepsize}.",
                safe_stepsize=safe_stepsize,
                ordered=True,
            ),
            _no_stepsize_found,
        )

    def _no_stepsize_found():
        jax.debug.print(FLAG_NO_STEPSIZE_FOUND, ordered=True)
        is_descent_dir = slope_init < 0.0
        _cond_print(
            ~is_descent_dir,
            FLAG_NOT_A_DESCENT_DIRECTION
            + "The slope (={slope_init}) at stepsize=0 should be negative",
            slope_init=slope_init,
        )
        _cond_print(
            is_descent_dir, "Consider augmenting the maximal number of linesearch iterations."
        )
        eps = jnp.finfo(jnp.float32).eps
        _cond_print(
            (stepsize < eps) & is_descent_dir,
            "Computed stepsize (={stepsize}) is below machine precision (={eps}), "
            "consider passing to higher precision like x64, using "
            "jax.config.update('jax_enable_x64', True).",
            stepsize=stepsize,
            eps=eps,
        )
        abs_slope_init = jnp.abs(slope_init)
        _cond_print(
            (abs_slope_init > 1e16) & is_descent_dir,
            "Very large absolute slope at stepsize=0. (|slope|={abs_slope_init}). "
            "The objective is badly conditioned. Consider reparameterizing objective "
            "(e.g., normalizing parameters) or finding a better guess for the initial "
            "parameters for the solver.",
            abs_slope_init=abs_slope_init,
        )
        outside_domain = jnp.isinf(decrease_error)
        _cond_print(
            outside_domain,
            "Cannot even make a step without getting Inf or Nan. "
            "The linesearch won't make a step and the optimizer is stuck.",
        )
        _cond_print(
            ~outside_domain,
            "Making an unsafe step, not decreasing enough the objective. Convergence of "
            "the solver is compromised as it does not reduce values.",
        )

    jax.lax.cond(failed, on_failure, lambda: None)
