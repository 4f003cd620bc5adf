"""Hyperparameter and structure checks shared by every factory.

Hyperparameters are checked at construction, when they are concrete numbers. Traced
values (``inject_hyperparams`` re-calls factories inside ``update``) and schedules
(callables) are skipped. Messages follow one format::

    scale_by_adam(b1=1.5): b1 must be in [0, 1)
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradtx.core._base import with_extra_args_support


class TreeMismatchError(ValueError):
    """An update tree does not match the tree a transform was initialised with."""


def _as_float(value: Any) -> float | None:
    """A concrete scalar as a Python float; ``None`` for tracers, schedules, arrays."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, jax.core.Tracer) or callable(value):
        return None
    if isinstance(value, (np.ndarray, np.generic, jax.Array)):
        # jnp.issubdtype: NumPy does not count bfloat16 (an ml_dtypes type) as a number.
        if np.ndim(value) != 0 or not jnp.issubdtype(np.asarray(value).dtype, jnp.number):
            return None
        return float(np.asarray(value).real)
    return None


def check_kind(fn: str, name: str, value: Any, *, allow_callable: bool = True) -> None:
    """``TypeError`` for something that is not a number, an array or (optionally) a schedule."""
    ok = isinstance(value, (numbers.Number, np.ndarray, np.generic, jax.Array))
    ok = ok or isinstance(value, jax.core.Tracer) or (allow_callable and callable(value))
    if isinstance(value, str) or not ok:
        kinds = "a number, an array or a schedule" if allow_callable else "a number"
        raise TypeError(
            f"{fn}({name}={value!r}): {name} must be {kinds}, got {type(value).__name__}"
        )


def interval(
    fn: str,
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """Check ``low <(=) value <(=) high`` for a concrete ``value``; NaN always fails.

    Args:
      fn: the factory's name, for the message.
      name: the argument's name.
      value: the value; tracers and callables are not checked.
      low: lower bound, or ``None`` for unbounded.
      high: upper bound, or ``None`` for unbounded.
      low_open: exclude ``low``.
      high_open: exclude ``high``.

    Returns:
      ``None``.

    Raises:
      ValueError: naming ``fn``, ``name``, the value and the rule.
    """
    if value is None:
        return
    check_kind(fn, name, value)
    x = _as_float(value)
    if x is None:
        return
    ok = not math.isnan(x)
    if ok and low is not None:
        ok = x > low if low_open else x >= low
    if ok and high is not None:
        ok = x < high if high_open else x <= high
    if not ok:
        raise ValueError(
            f"{fn}({name}={value!r}): {name} must be {_rule(low, high, low_open, high_open)}"
        )


def _rule(low, high, low_open, high_open) -> str:
    def fmt(v):
        return repr(v) if not float(v).is_integer() else str(int(v))

    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{fmt(low)}, {fmt(high)}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {fmt(low)}"
    if high is not None:
        return f"{'<' if high_open else '<='} {fmt(high)}"
    return "a number (not NaN)"


def decay(fn: str, **values: Any) -> None:
    """Each value in ``[0, 1)`` (moment decays such as ``b1``, ``b2``, ``decay``)."""
    for name, value in values.items():
        interval(fn, name, value, 0.0, 1.0, high_open=True)


def unit(fn: str, **values: Any) -> None:
    """Each value in ``[0, 1]``."""
    for name, value in values.items():
        interval(fn, name, value, 0.0, 1.0)


def non_negative(fn: str, **values: Any) -> None:
    """Each value ``>= 0`` (``eps``, ``weight_decay`` ...)."""
    for name, value in values.items():
        interval(fn, name, value, 0.0)


def positive(fn: str, **values: Any) -> None:
    """Each value ``> 0`` (``max_norm``, ``threshold`` ...)."""
    for name, value in values.items():
        interval(fn, name, value, 0.0, low_open=True)


def finite(fn: str, **values: Any) -> None:
    """Each value a number that is neither NaN nor infinite (learning rates, scales)."""
    for name, value in values.items():
        if value is None:
            continue
        check_kind(fn, name, value)
        x = _as_float(value)
        if x is not None and not math.isfinite(x):
            raise ValueError(f"{fn}({name}={value!r}): {name} must be finite")


def integer(fn: str, name: str, value: Any, minimum: int) -> None:
    """A Python/NumPy integer ``>= minimum`` (step counts, memory sizes)."""
    if isinstance(value, jax.core.Tracer):
        return
    if isinstance(value, (np.ndarray, jax.Array)) and np.ndim(value) == 0:
        if np.issubdtype(np.asarray(value).dtype, np.integer):
            value = int(np.asarray(value))
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        if isinstance(value, numbers.Real) and float(value).is_integer():
            value = int(value)
        else:
            raise TypeError(f"{fn}({name}={value!r}): {name} must be an integer >= {minimum}")
    if value < minimum:
        raise ValueError(f"{fn}({name}={value!r}): {name} must be an integer >= {minimum}")


def one_of(fn: str, name: str, value: Any, allowed: tuple[Any, ...]) -> None:
    """``value`` is one of ``allowed`` (string modes)."""
    if value not in allowed:
        raise ValueError(f"{fn}({name}={value!r}): {name} must be one of {allowed}")


# --- structure checks, run at trace time inside update ---------------------------


def tree_match(fn: str, updates: Any, reference: Any, *, what: str = "state", shapes: bool = True):
    """Raise `TreeMismatchError` when ``updates`` and ``reference`` differ in structure or shapes.

    Args:
      fn: the transform's name.
      updates: the incoming update tree.
      reference: the tree the state was built from (a moment, or the params).
      what: what ``reference`` is, for the message.
      shapes: also compare each leaf's shape (a mismatch would silently broadcast).

    Returns:
      ``None``.

    Raises:
      TreeMismatchError: with both structures (or both shapes) in the message.
    """
    u_def = jax.tree.structure(updates)
    r_def = jax.tree.structure(reference)
    if u_def != r_def:
        raise TreeMismatchError(
            f"{fn}: the update tree does not match the {what} it was initialised with.\n"
            f"  updates: {u_def}\n  {what}: {r_def}"
        )
    if shapes:
        for (path, u), r in zip(
            jax.tree_util.tree_leaves_with_path(updates), jax.tree.leaves(reference), strict=True
        ):
            if np.shape(u) != np.shape(r):
                raise TreeMismatchError(
                    f"{fn}: leaf {jax.tree_util.keystr(path)} has shape {np.shape(u)} but the "
                    f"{what} has shape {np.shape(r)}; it would broadcast silently."
                )


def transform(fn: str, name: str, value: Any, *, subject: str | None = None) -> Any:
    """``TypeError`` unless ``value`` has callable ``init`` and ``update``; returns it wrapped.

    The result's ``update`` accepts extra keyword arguments even when ``value``'s does
    not (`gradtx.with_extra_args_support`).

    Args:
      fn: the factory's name, for the message.
      name: the argument's name (``"inner"``, ``"transforms[0]"`` ...).
      value: the argument.
      subject: what the message says must be a transform; ``name`` unless given
        (``chain`` says ``"each argument"``).

    Returns:
      ``value`` as a `GradientTransformationExtraArgs`.

    Raises:
      TypeError: naming ``fn``, ``name`` and the type found.
    """
    if not (callable(getattr(value, "init", None)) and callable(getattr(value, "update", None))):
        raise TypeError(
            f"{fn}({name}={value!r}): {subject or name} must be a gradient transformation "
            f"(an object with init and update), got {type(value).__name__}"
        )
    return with_extra_args_support(value)


def prng_key(key: Any) -> jax.Array:
    """A key argument as a typed PRNG key: from an int seed, a typed key, or raw
    ``uint32`` key data."""
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key
    if isinstance(key, (jax.Array, np.ndarray)) and np.ndim(key) == 1:
        return jax.random.wrap_key_data(jnp.asarray(key, jnp.uint32))
    return jax.random.key(key)


def require_params(fn: str, params: Any) -> None:
    """Raise when a transform that needs ``params`` is called without them."""
    if params is None:
        raise ValueError(f"{fn}: update() needs params; call tx.update(updates, state, params).")


class MissingExtraArgError(TypeError, ValueError):
    """A transform's ``update`` was called without an extra argument it needs.

    A ``TypeError`` as in Optax (whose ``update`` takes it as a required keyword) and a
    ``ValueError`` (gradtx's earlier error) at once, so either ``except`` catches it.
    """


def require_extra_arg(fn: str, extra_args: dict[str, Any], name: str) -> Any:
    """Return ``extra_args[name]`` or raise `MissingExtraArgError` saying how to pass it."""
    if extra_args.get(name) is None:
        raise MissingExtraArgError(
            f"{fn}: update() needs {name}=...; pass it through the chain, e.g. "
            f"tx.update(grads, state, params, {name}=...)."
        )
    return extra_args[name]


def optimizer(fn: str, learning_rate: Any, weight_decay: Any = None, **decays: Any) -> None:
    """The checks an optimizer alias runs under its own name before it builds its chain.

    In this order: ``learning_rate`` is finite (`finite`), each of ``decays`` (moment
    decays such as ``b1``, ``b2``, ``momentum``) is in [0, 1) (`decay`), and
    ``weight_decay`` is >= 0 (`non_negative`). ``None``, schedules and tracers pass, so
    the transforms of the chain then check the rest of their arguments under their
    own names.

    Examples:
      >>> from gradtx.core import validate
      >>> validate.optimizer("adamw", 1e-3, 1e-4, b1=0.9, b2=0.999)
      >>> validate.optimizer("adamw", 1e-3, b1=1.0)
      Traceback (most recent call last):
      ...
      ValueError: adamw(b1=1.0): b1 must be in [0, 1)
    """
    finite(fn, learning_rate=learning_rate)
    decay(fn, **decays)
    non_negative(fn, weight_decay=weight_decay)
