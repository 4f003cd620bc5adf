"""Run an optimizer on a function as one compiled ``lax.scan`` and keep the whole path."""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gradtx import tree as tree_lib
from gradtx.core import (
    GradientTransformation,
    OptState,
    Params,
    apply_updates,
    validate,
    with_extra_args_support,
)

__all__ = ["Trajectory", "run"]


class Trajectory(NamedTuple):
    """The path of one optimisation run.

    Attributes:
      params: the parameters at every step, start included: each leaf has a leading axis
        of length ``steps + 1`` (``params[0]`` is ``x0``, ``params[-1]`` the final point).
      losses: ``fn`` at each of those points, shape ``(steps + 1,)``.
      grad_norms: the global norm of the exact (noise-free) gradient at each point,
        shape ``(steps + 1,)``.
      state: the optimizer state after the last step.
    """

    params: Params
    losses: jax.Array
    grad_norms: jax.Array
    state: OptState


def _as_params(x0: Any) -> Params:
    """``x0`` as a tree of JAX arrays; integer leaves become the default float dtype.

    A flat list or tuple of numbers is one 1-D array (a point), not a tree of scalars.
    """
    if isinstance(x0, (list, tuple)) and all(isinstance(v, numbers.Number) for v in x0):
        x0 = np.asarray(x0)

    def leaf(x):
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.inexact):
            x = x.astype(jnp.result_type(float))
        return x

    return jax.tree.map(leaf, x0)


def _is_zero(value: Any) -> bool:
    """Whether a concrete scalar is exactly zero (tracers count as non-zero)."""
    if isinstance(value, jax.core.Tracer):
        return False
    return bool(np.asarray(value) == 0)


def _check(tx: Any, fn: Any, steps: Any, noise_scale: Any, key: Any) -> bool:
    """Validate the arguments of `run`; return whether gradient noise is on."""
    if not (hasattr(tx, "init") and hasattr(tx, "update")):
        raise TypeError(
            f"run(tx={tx!r}): tx must be a GradientTransformation (an object with init and update)"
        )
    if not callable(fn):
        raise TypeError(f"run(fn={fn!r}): fn must be a callable params -> scalar loss")
    validate.integer("run", "steps", steps, 0)
    validate.non_negative("run", noise_scale=noise_scale)
    noisy = not _is_zero(noise_scale)
    if noisy and key is None:
        raise ValueError(
            f"run(noise_scale={noise_scale!r}): gradient noise needs a PRNG key; "
            "pass key=jax.random.key(0) (or set noise_scale=0.0)"
        )
    return noisy


def _scan(
    tx: GradientTransformation,
    fn: Callable[[Params], jax.Array],
    steps: int,
    noisy: bool,
    x0: Params,
    noise_scale: jax.Array,
    key: jax.Array | None,
) -> Trajectory:
    """The body of `run` (traced once per ``tx``, ``fn``, ``steps``, ``noisy`` and shapes)."""
    tx = with_extra_args_support(tx)
    value_and_grad = jax.value_and_grad(fn)

    def step(carry, _):
        params, state, key = carry
        loss, grad = value_and_grad(params)
        grad_norm = tree_lib.global_norm(grad)
        if noisy:
            key, sub = jax.random.split(key)
            noise = tree_lib.random_like(sub, grad)
            grad = jax.tree.map(lambda g, n: g + jnp.asarray(noise_scale, n.dtype) * n, grad, noise)
        updates, state = tx.update(grad, state, params, value=loss, grad=grad, value_fn=fn)
        new_params = apply_updates(params, updates)
        return (new_params, state, key), (params, loss, grad_norm)

    carry = (x0, tx.init(x0), key)
    (params, state, _), (path, losses, grad_norms) = jax.lax.scan(step, carry, length=steps)
    loss, grad = value_and_grad(params)
    return Trajectory(
        params=jax.tree.map(lambda p, last: jnp.concatenate([p, last[None]]), path, params),
        losses=jnp.concatenate([losses, loss[None]]),
        grad_norms=jnp.concatenate([grad_norms, tree_lib.global_norm(grad)[None]]),
        state=state,
    )


_scan_jit = jax.jit(_scan, static_argnums=(0, 1, 2, 3))


def run(
    tx: GradientTransformation,
    fn: Callable[[Params], jax.Array],
    x0: Params,
    steps: int,
    *,
    noise_scale: float = 0.0,
    key: jax.Array | None = None,
) -> Trajectory:
    """Run ``steps`` optimizer steps on ``fn`` from ``x0`` in one compiled ``lax.scan``.

    Each step evaluates the loss and gradient, optionally perturbs the gradient with
    Gaussian noise, and applies the transform:

    .. math::
        \\ell_t, g_t = f(x_t), \\nabla f(x_t), \\qquad
        \\tilde g_t = g_t + \\sigma\\,\\xi_t,\\ \\xi_t \\sim \\mathcal N(0, I) \\\\
        u_t, s_{t+1} = \\mathrm{tx.update}(\\tilde g_t, s_t, x_t,
        \\mathrm{value}=\\ell_t, \\mathrm{grad}=\\tilde g_t, \\mathrm{value\\_fn}=f),
        \\qquad x_{t+1} = x_t + u_t

    so transforms that need the loss (``reduce_on_plateau``, line searches, the
    second-order transforms reading ``value_fn=``) work unchanged; third-party transforms
    whose ``update`` takes no extra keyword arguments are wrapped to ignore them.

    The whole run is one ``jax.jit``-compiled ``lax.scan``. ``tx``, ``fn`` and ``steps``
    are static: a second call with the same ``tx`` and ``fn`` objects and the same shapes
    and dtypes of ``x0`` reuses the compiled program (build ``tx`` once, not per call).
    ``noise_scale`` is a traced value: changing it does not recompile.

    Args:
      tx: any gradient transformation (``init``/``update`` pair).
      fn: ``fn(params) -> scalar`` loss, differentiable with ``jax.grad``; a
        `gradtx.landscapes.Landscape`'s ``fn`` or any closure over fixed data.
      x0: the starting parameters: an array (e.g. ``landscape.x0``) or any pytree.
        A flat list of numbers is one array; integer leaves become the default float dtype.
      steps: the number of optimizer steps, an integer >= 0.
      noise_scale: standard deviation :math:`\\sigma` of the Gaussian noise added to every
        gradient leaf, >= 0. Default 0 (exact gradients).
      key: PRNG key for the noise; required when ``noise_scale > 0`` (ignored otherwise).
        The same key gives the same noise sequence.

    Returns:
      A `Trajectory`: ``params`` (leading axis ``steps + 1``, start included), ``losses``
      and ``grad_norms`` (each ``(steps + 1,)``, the gradient norm is of the noise-free
      gradient) and the final optimizer ``state``.

    Raises:
      ValueError: if ``steps < 0``, ``noise_scale < 0``, or ``noise_scale > 0`` without
        ``key``.
      TypeError: if ``tx`` has no ``init``/``update``, ``fn`` is not callable or ``steps``
        is not an integer.

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> from gradtx import experiments, landscapes
      >>> L = landscapes.ill_conditioned_quadratic(condition_number=10.0)
      >>> tx = gradtx.chain(gradtx.scale_by_adam(), gradtx.scale_by_learning_rate(0.1))
      >>> traj = experiments.run(tx, L.fn, L.x0, steps=200)
      >>> traj.losses.shape, traj.params.shape
      ((201,), (201, 2))
      >>> bool(traj.losses[-1] < 1e-3 * traj.losses[0])
      True
    """
    noisy = _check(tx, fn, steps, noise_scale, key)
    x0 = _as_params(x0)
    scale = jnp.asarray(noise_scale if noisy else 0.0, jnp.float32)
    return _scan_jit(tx, fn, int(steps), noisy, x0, scale, key if noisy else None)


def compile_run(
    tx: GradientTransformation,
    fn: Callable[[Params], jax.Array],
    x0: Params,
    steps: int,
    *,
    noise_scale: float = 0.0,
    key: jax.Array | None = None,
) -> Callable[[], Trajectory]:
    """Compile `run` ahead of time; return a thunk that executes it (for timing).

    Same arguments and checks as `run`. The compilation happens in this call, the
    execution in the returned function, so the two can be timed apart.

    Args:
      tx: any gradient transformation (``init``/``update`` pair).
      fn: ``fn(params) -> scalar`` loss, differentiable with ``jax.grad``.
      x0: the starting parameters (an array or any pytree), as in `run`.
      steps: the number of optimizer steps, an integer >= 0.
      noise_scale: standard deviation of the Gaussian gradient noise, >= 0. Default 0.
      key: PRNG key for the noise; required when ``noise_scale > 0``.

    Returns:
      A function of no arguments that runs the compiled program and returns the same
      `Trajectory` as ``run(tx, fn, x0, steps, ...)``; each call re-executes it.

    Raises:
      ValueError: for the values `run` rejects (``steps``, ``noise_scale``, ``key``).
      TypeError: for the kinds `run` rejects (``tx``, ``fn``, ``steps``).

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> from gradtx import experiments
      >>> fn = lambda x: 0.5 * jnp.sum(x**2)
      >>> execute = experiments.compile_run(gradtx.scale(-0.5), fn, jnp.array([2.0]), steps=3)
      >>> traj = execute()  # x_{t+1} = 0.5 * x_t
      >>> traj.params[:, 0].tolist(), traj.losses.round(4).tolist()
      ([2.0, 1.0, 0.5, 0.25], [2.0, 0.5, 0.125, 0.0312])
    """
    noisy = _check(tx, fn, steps, noise_scale, key)
    x0 = _as_params(x0)
    scale = jnp.asarray(noise_scale if noisy else 0.0, jnp.float32)
    key = key if noisy else None
    compiled = _scan_jit.lower(tx, fn, int(steps), noisy, x0, scale, key).compile()
    return functools.partial(compiled, x0, scale, key)
