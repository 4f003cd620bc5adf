"""Quasi-Newton optimizers."""

from __future__ import annotations

from gradtx.core import GradientTransformation, ScalarOrSchedule, chain, identity
from gradtx.transforms import (
    scale,
    scale_by_lbfgs,
    scale_by_learning_rate,
    scale_by_zoom_linesearch,
)

__all__ = ["lbfgs"]

# Optax's default line search for lbfgs (a GradientTransformation is immutable).
_DEFAULT_LINESEARCH = scale_by_zoom_linesearch(
    max_linesearch_steps=20, initial_guess_strategy="one"
)


def lbfgs(
    learning_rate: ScalarOrSchedule | None = None,
    memory_size: int = 10,
    scale_init_precond: bool = True,
    linesearch: GradientTransformation | None = _DEFAULT_LINESEARCH,
) -> GradientTransformation:
    """L-BFGS: limited-memory quasi-Newton steps with a strong-Wolfe line search.

    Equivalent to ``chain(scale_by_lbfgs(memory_size, scale_init_precond),
    scale(-1.0) if learning_rate is None else scale_by_learning_rate(learning_rate),
    linesearch or identity())``: the direction :math:`-H_k g_k` of `scale_by_lbfgs`
    (see it for the equations), scaled by the step size the line search finds, so that
    :math:`w_{k+1} = w_k - \\eta_k\\, \\alpha_k H_k g_k` with :math:`\\alpha_k` the
    learning rate (1 by default).

    ``update`` needs ``params`` and, for the line search, ``value=`` (the loss at
    ``params``), ``grad=`` (its gradient) and ``value_fn=`` (the loss). For a
    deterministic loss, `value_and_grad_from_state` reuses the line search's last
    evaluation, so each step costs only the line search's evaluations.

    Args:
      learning_rate: ``None`` (default: the line search sets the step), or a finite
        number or schedule multiplying the direction before the line search.
      memory_size: the number of past pairs kept, an integer >= 1. Default 10.
      scale_init_precond: scale the initial inverse Hessian, see `scale_by_lbfgs`.
        Default True.
      linesearch: a line search transform, or ``None`` for none (then pass a
        ``learning_rate``). Default ``scale_by_zoom_linesearch(max_linesearch_steps=20,
        initial_guess_strategy="one")``, as in Optax.

    Returns:
      A `GradientTransformation` whose state is the tuple
      ``(ScaleByLBFGSState, scaling state, line search state)``.

    Raises:
      ValueError: for ``memory_size < 1`` or a NaN/infinite ``learning_rate``.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> def rosenbrock(w):
      ...     return (1.0 - w[0]) ** 2 + 100.0 * (w[1] - w[0] ** 2) ** 2
      >>> opt = gradtx.lbfgs()
      >>> value_and_grad = gradtx.value_and_grad_from_state(rosenbrock)
      >>> @jax.jit
      ... def step(w, state):
      ...     value, grad = value_and_grad(w, state=state)
      ...     u, state = opt.update(grad, state, w, value=value, grad=grad, value_fn=rosenbrock)
      ...     return gradtx.apply_updates(w, u), state
      >>> w = jnp.array([-1.2, 1.0])
      >>> state = opt.init(w)
      >>> for _ in range(40):
      ...     w, state = step(w, state)
      >>> w.round(3).tolist()
      [1.0, 1.0]

    References:
      Liu and Nocedal, "On the limited memory BFGS method for large scale
      optimization", Mathematical Programming 1989, https://doi.org/10.1007/BF01589116;
      Nocedal and Wright, "Numerical Optimization" (2nd ed.), Springer 2006,
      https://doi.org/10.1007/978-0-387-40065-5
    """
    base_scaling = scale(-1.0) if learning_rate is None else scale_by_learning_rate(learning_rate)
    return chain(
        scale_by_lbfgs(memory_size=memory_size, scale_init_precond=scale_init_precond),
        base_scaling,
        identity() if linesearch is None else linesearch,
    )
