"""L-BFGS: precondition the updates by a limited-memory inverse-Hessian estimate."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import GradientTransformation, Params, Updates, numerics, validate

__all__ = ["ScaleByLBFGSState", "scale_by_lbfgs"]


class ScaleByLBFGSState(NamedTuple):
    """State of `scale_by_lbfgs`.

    Attributes:
      count: updates so far (int32, saturating).
      params: the parameters seen by the last update.
      updates: the incoming updates (gradients) of the last update.
      diff_params_memory: the last ``memory_size`` parameter differences
        :math:`s_j`, stacked along a new leading axis of every leaf (a ring buffer:
        pair :math:`j` sits at row :math:`j \\bmod m`).
      diff_updates_memory: the matching gradient differences :math:`y_j`, stacked
        the same way.
      weights_memory: the matching :math:`\\rho_j = 1 / \\langle y_j, s_j\\rangle`
        (0 for an empty slot), shape ``(memory_size,)``.
    """

    count: jax.Array
    params: Params
    updates: Updates
    diff_params_memory: Updates
    diff_updates_memory: Updates
    weights_memory: jax.Array


def _row(tree: Updates, index: jax.Array) -> Updates:
    return jax.tree.map(lambda x: x[index], tree)


def _set_row(tree: Updates, index: jax.Array, value: Updates) -> Updates:
    return jax.tree.map(lambda x, v: x.at[index].set(v.astype(x.dtype)), tree, value)


def _two_loop(
    grad: Updates,
    s_memory: Updates,
    y_memory: Updates,
    rho: jax.Array,
    gamma: jax.Array,
    newest: jax.Array,
) -> Updates:
    """:math:`H g` by the two-loop recursion over the ring buffer (newest pair at ``newest``)."""
    memory_size = rho.shape[0]
    dtype = rho.dtype
    # Slots from oldest to newest.
    order = (newest + 1 + jnp.arange(memory_size, dtype=newest.dtype)) % memory_size

    def backward(q, j):
        alpha = rho[j] * jnp.real(tree_lib.vdot(_row(s_memory, j), q)).astype(dtype)
        return numerics.axpy(-alpha, _row(y_memory, j), q), alpha

    q, alphas = jax.lax.scan(backward, grad, order, reverse=True)
    r = tree_lib.cast_like(tree_lib.scale(gamma, q), q)  # an integer leaf stays integer

    def forward(r, j_alpha):
        j, alpha = j_alpha
        beta = rho[j] * jnp.real(tree_lib.vdot(_row(y_memory, j), r)).astype(dtype)
        return numerics.axpy(alpha - beta, _row(s_memory, j), r), None

    r, _ = jax.lax.scan(forward, r, (order, alphas))
    return r


def scale_by_lbfgs(
    memory_size: int = 10, scale_init_precond: bool = True
) -> GradientTransformation:
    """Multiply the updates by the L-BFGS estimate of the inverse Hessian.

    With :math:`s_j = w_{j+1} - w_j` and :math:`y_j = g_{j+1} - g_j` the differences of
    consecutive parameters and updates (gradients), the estimate :math:`H_k` is built
    from the last :math:`m` pairs by the BFGS update, starting from a scaled identity:

    .. math::
        H_k^{(k-m)} = \\gamma_k I, \\qquad
        H_k^{(j+1)} = V_j^\\top H_k^{(j)} V_j + \\rho_j s_j s_j^\\top, \\qquad
        V_j = I - \\rho_j y_j s_j^\\top, \\qquad \\rho_j = 1 / \\langle y_j, s_j\\rangle, \\\\
        \\gamma_k = \\frac{\\langle s_{k-1}, y_{k-1}\\rangle}{\\langle y_{k-1}, y_{k-1}\\rangle}
        \\ (k > 0), \\qquad \\gamma_0 = \\min(1, 1/\\|g_0\\|), \\qquad
        u_k = H_k g_k,

    and :math:`H_k g_k` is computed without forming :math:`H_k` by the two-loop
    recursion (Nocedal and Wright, Alg. 7.4). A pair with
    :math:`\\langle y_j, s_j\\rangle = 0` gets :math:`\\rho_j = 0` and drops out; as in
    Optax, pairs with negative curvature are kept, so use a line search satisfying the
    Wolfe conditions (`scale_by_zoom_linesearch`), as `lbfgs` does. The memory is a
    ring buffer of stacked leaves, so pytrees are never raveled. Written and tested for
    real parameters.

    The output is :math:`+H_k g_k` (an ascent direction, like the gradient): follow it
    with a negative step size, e.g. ``scale(-1.0)`` and a line search.

    Args:
      memory_size: :math:`m`, the number of pairs kept, an integer >= 1. Default 10.
      scale_init_precond: use :math:`\\gamma_k` as above; ``False`` uses
        :math:`\\gamma_k = 1`. Default True.

    Returns:
      A `GradientTransformation` with `ScaleByLBFGSState`; its ``update`` needs
      ``params``.

    Raises:
      ValueError: if ``memory_size < 1``.
      TypeError: if ``memory_size`` is not a Python integer (under
        ``inject_hyperparams``, list it in ``static_args``).

    Examples:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_lbfgs()
      >>> w = jnp.array([3.0, 4.0])
      >>> u, state = tx.update(w, tx.init(w), w)  # gradient of |w|^2/2 is w
      >>> u.round(4).tolist()  # first step: gamma_0 = 1/|g| normalises it
      [0.6, 0.8]

    References:
      Nocedal and Wright, "Numerical Optimization" (2nd ed., Algorithms 7.4 and 7.5),
      Springer 2006, https://doi.org/10.1007/978-0-387-40065-5;
      Liu and Nocedal, "On the limited memory BFGS method for large scale
      optimization", Mathematical Programming 1989, https://doi.org/10.1007/BF01589116
    """
    fn = "scale_by_lbfgs"
    if isinstance(memory_size, jax.core.Tracer):
        raise TypeError(
            f"{fn}: memory_size sets the shape of the state and must be a Python int; with "
            "inject_hyperparams, pass static_args=('memory_size',)"
        )
    validate.integer(fn, "memory_size", memory_size, 1)
    memory_size = int(memory_size)

    def init_fn(params):
        def stacked(p):
            return jnp.zeros((memory_size, *jnp.shape(p)), jnp.result_type(p))

        return ScaleByLBFGSState(
            count=numerics.zero_count(),
            params=tree_lib.zeros_like(params),
            updates=tree_lib.zeros_like(params),
            diff_params_memory=jax.tree.map(stacked, params),
            diff_updates_memory=jax.tree.map(stacked, params),
            weights_memory=jnp.zeros(
                (memory_size,), numerics.widest_float_dtype(params, real=True)
            ),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        validate.require_params(fn, params)
        validate.tree_match(fn, updates, state.params, what="params")
        dtype = state.weights_memory.dtype
        started = state.count > 0
        newest = (state.count - 1) % memory_size

        # 1. The newest pair (s, y), zero at the first update where it is undefined.
        def diff(new, old):
            d = new.astype(old.dtype) - old
            return jnp.where(started, d, jnp.zeros_like(d))

        s = jax.tree.map(diff, params, state.params)
        y = jax.tree.map(diff, updates, state.updates)
        sy = jnp.real(tree_lib.vdot(y, s)).astype(dtype)
        rho = jnp.where(sy == 0.0, jnp.zeros_like(sy), 1.0 / sy)
        s_memory = _set_row(state.diff_params_memory, newest, s)
        y_memory = _set_row(state.diff_updates_memory, newest, y)
        weights = state.weights_memory.at[newest].set(rho)

        # 2. The initial scaling gamma.
        if scale_init_precond:
            yy = tree_lib.l2_norm(y, squared=True).astype(dtype)
            gamma = jnp.where(yy > 0.0, sy / yy, jnp.ones_like(sy))
            grad_norm = tree_lib.l2_norm(jax.lax.stop_gradient(updates)).astype(dtype)
            gamma = jnp.where(started, gamma, jnp.minimum(1.0, 1.0 / grad_norm))
        else:
            gamma = jnp.ones([], dtype)

        # 3. The two-loop recursion.
        direction = _two_loop(updates, s_memory, y_memory, weights, gamma, newest)
        new_state = ScaleByLBFGSState(
            count=numerics.safe_increment(state.count),
            params=tree_lib.cast_like(params, state.params),
            updates=tree_lib.cast_like(updates, state.updates),
            diff_params_memory=s_memory,
            diff_updates_memory=y_memory,
            weights_memory=weights,
        )
        return direction, new_state

    return GradientTransformation(init_fn, update_fn)
