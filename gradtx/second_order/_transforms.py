"""Second-order gradient transforms: Newton-CG, trust region, saddle-free Newton.

Each transform reads the loss through the ``value_fn=`` extra argument
(``value_fn(params) -> scalar``, the function whose gradient the incoming updates are),
forms Hessian-vector products of it at ``params``, and returns a *direction* ``d`` in the
convention of every other ``scale_by_*`` transform: ``d`` points uphill, like a gradient,
and a following ``scale_by_learning_rate(lr)`` turns it into the step ``-lr * d``::

    tx = gradtx.chain(scale_by_newton_cg(), gradtx.scale_by_learning_rate(1.0))
    updates, state = tx.update(grads, state, params, value_fn=loss)
    params = gradtx.apply_updates(params, updates)   # params - H^{-1} grads

Put them first in a chain: they interpret their input as the gradient of ``value_fn``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import GradientTransformation, numerics, validate
from gradtx.second_order._linear_solvers import cg_solve, steihaug_cg
from gradtx.second_order._minimizers import saddle_free_direction, trust_ratio, update_radius
from gradtx.second_order._products import hvp_operator

__all__ = [
    "ScaleByNewtonCGState",
    "ScaleBySaddleFreeNewtonState",
    "ScaleByTrustRegionState",
    "scale_by_newton_cg",
    "scale_by_saddle_free_newton",
    "scale_by_trust_region",
]


class ScaleByNewtonCGState(NamedTuple):
    """State of `scale_by_newton_cg` (diagnostics of the last solve).

    Attributes:
      count: updates so far (int32, saturating).
      num_cg_steps: CG iterations of the last update (int32).
      residual_norm: CG residual norm of the last update (float32).
      negative_curvature: whether the last solve met negative curvature (bool).
    """

    count: jax.Array
    num_cg_steps: jax.Array
    residual_norm: jax.Array
    negative_curvature: jax.Array


class ScaleByTrustRegionState(NamedTuple):
    """State of `scale_by_trust_region`.

    Attributes:
      count: updates so far (int32, saturating).
      radius: the current trust-region radius :math:`\\Delta` (float32).
      ratio: the last ratio :math:`\\rho` of actual to predicted decrease (float32).
      accepted: whether the last step was taken (bool).
    """

    count: jax.Array
    radius: jax.Array
    ratio: jax.Array
    accepted: jax.Array


class ScaleBySaddleFreeNewtonState(NamedTuple):
    """State of `scale_by_saddle_free_newton` (diagnostics of the last update).

    Attributes:
      count: updates so far (int32, saturating).
      min_eigenvalue: the smallest Ritz value of the last Krylov subspace (float32).
      max_eigenvalue: the largest Ritz value of the last Krylov subspace (float32).
    """

    count: jax.Array
    min_eigenvalue: jax.Array
    max_eigenvalue: jax.Array


def scale_by_newton_cg(
    damping: float = 1e-4, tol: float = 1e-4, maxiter: int = 10
) -> GradientTransformation:
    """Precondition the gradient by the inverse damped Hessian of ``value_fn``, by CG.

    With :math:`g` the incoming updates and :math:`H = \\nabla^2 f(\\theta)` the Hessian
    of ``value_fn`` at ``params`` (used only through Hessian-vector products), the output
    solves, by at most ``maxiter`` CG iterations (`cg_solve`),

    .. math::
        (H + \\lambda I)\\, d = g ,

    so that ``scale_by_learning_rate(1.0)`` after it gives the (damped) Newton step
    :math:`-d`. If CG meets a direction of non-positive curvature it stops there
    (truncated Newton): the output is the last CG iterate, or :math:`g` itself when the
    very first direction has negative curvature, so :math:`g^\\top d > 0` always holds and
    :math:`-d` is a descent direction. On a strictly convex quadratic one update with
    learning rate 1 lands on the minimum (given enough CG iterations).

    Args:
      damping: Levenberg-Marquardt damping :math:`\\lambda \\ge 0`. Default 1e-4.
      tol: CG relative residual tolerance, >= 0. Default 1e-4.
      maxiter: CG iterations per update (static bound), an integer >= 1. Default 10.

    Returns:
      A `GradientTransformation` with `ScaleByNewtonCGState`; ``update`` needs
      ``params`` and ``value_fn=``.

    Raises:
      ValueError: for hyperparameters out of range; at trace time, when ``params`` or
        ``value_fn`` is missing.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> from gradtx import second_order
      >>> loss = lambda p: 0.5 * jnp.sum(jnp.array([1.0, 100.0]) * p**2)
      >>> tx = gradtx.chain(second_order.scale_by_newton_cg(damping=0.0),
      ...                   gradtx.scale_by_learning_rate(1.0))
      >>> p = jnp.array([1.0, 1.0])
      >>> u, _ = tx.update(jax.grad(loss)(p), tx.init(p), p, value_fn=loss)
      >>> gradtx.apply_updates(p, u).round(4).tolist()
      [0.0, 0.0]

    References:
      Martens, "Deep learning via Hessian-free optimization", ICML 2010,
      https://www.cs.toronto.edu/~jmartens/docs/Deep_HessianFree.pdf;
      Nocedal and Wright, "Numerical Optimization", 2nd ed., Springer 2006, Alg. 7.1.
    """
    fn = "scale_by_newton_cg"
    validate.non_negative(fn, damping=damping, tol=tol)
    validate.integer(fn, "maxiter", maxiter, 1)

    def init_fn(params):
        del params
        return ScaleByNewtonCGState(
            count=numerics.zero_count(),
            num_cg_steps=jnp.zeros([], jnp.int32),
            residual_norm=jnp.zeros([], jnp.float32),
            negative_curvature=jnp.zeros([], bool),
        )

    def update_fn(updates, state, params=None, **extra_args):
        value_fn = _value_fn(fn, params, extra_args)
        count = numerics.safe_increment(state.count)
        if not jax.tree.leaves(updates):
            return updates, state._replace(count=count)
        res = cg_solve(
            hvp_operator(value_fn, params),
            updates,
            damping=damping,
            tol=tol,
            maxiter=maxiter,
            negative_curvature="stop",
        )
        first = res.negative_curvature & (res.num_steps == 0)
        direction = jax.tree.map(lambda g, x: jnp.where(first, g, x), updates, res.x)
        new_state = ScaleByNewtonCGState(
            count=count,
            num_cg_steps=res.num_steps.astype(jnp.int32),
            residual_norm=res.residual_norm.astype(jnp.float32),
            negative_curvature=res.negative_curvature,
        )
        return tree_lib.cast_like(direction, updates), new_state

    return GradientTransformation(init_fn, update_fn)


def scale_by_trust_region(
    initial_radius: float = 1.0,
    max_radius: float = 1e3,
    eta: float = 0.15,
    tol: float | None = None,
    maxiter: int = 10,
) -> GradientTransformation:
    """One Newton-CG trust-region step per update, with the radius kept in the state.

    The step :math:`p` approximately minimizes the quadratic model of ``value_fn``,
    :math:`m(p) = g^\\top p + \\tfrac12 p^\\top H p` with :math:`g` the incoming updates,
    inside :math:`\\|p\\| \\le \\Delta` (`steihaug_cg`). ``value_fn`` is evaluated at
    ``params + p`` to form the ratio of actual to predicted decrease, and the radius
    follows Nocedal and Wright's Alg. 4.1:

    .. math::
        \\rho = \\frac{f(\\theta) - f(\\theta + p)}{m(0) - m(p)}, \\quad
        \\Delta \\leftarrow \\begin{cases} \\Delta/4 & \\rho < 1/4 \\\\
        \\min(2\\Delta, \\Delta_{max}) & \\rho > 3/4,\\ \\|p\\| = \\Delta \\\\
        \\Delta & \\text{otherwise,} \\end{cases} \\qquad
        d = \\begin{cases} -p & \\rho > \\eta \\\\ 0 & \\text{otherwise.} \\end{cases}

    The output :math:`d = -p` follows the gradient-like sign convention, so chain it with
    ``scale_by_learning_rate(1.0)`` (the radius, not a learning rate, sets the step
    length; another learning rate changes the step that is actually taken, while the ratio
    is still computed for the full step :math:`p`). A rejected step outputs zeros and
    shrinks the radius for the next update.

    Args:
      initial_radius: :math:`\\Delta_0 > 0`. Default 1.
      max_radius: :math:`\\Delta_{max} \\ge \\Delta_0`. Default 1000.
      eta: acceptance threshold, in [0, 0.25). Default 0.15.
      tol: Steihaug-CG relative tolerance, >= 0; default ``None`` uses the forcing term
        :math:`\\min(0.5, \\sqrt{\\|g\\|})`.
      maxiter: Steihaug-CG iterations per update (static bound), an integer >= 1.
        Default 10.

    Returns:
      A `GradientTransformation` with `ScaleByTrustRegionState`; ``update`` needs
      ``params`` and ``value_fn=``.

    Raises:
      ValueError: for hyperparameters out of range; at trace time, when ``params`` or
        ``value_fn`` is missing.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> from gradtx import second_order
      >>> loss = lambda p: jnp.sum(p**2)
      >>> tx = gradtx.chain(second_order.scale_by_trust_region(initial_radius=0.5),
      ...                   gradtx.scale_by_learning_rate(1.0))
      >>> p = jnp.array([3.0, 4.0])
      >>> u, state = tx.update(jax.grad(loss)(p), tx.init(p), p, value_fn=loss)
      >>> gradtx.apply_updates(p, u).round(4).tolist()  # a step of length 0.5
      [2.7, 3.6]
      >>> float(gradtx.tree.get(state, "radius"))  # rho = 1 on the boundary: doubled
      1.0

    References:
      Nocedal and Wright, "Numerical Optimization", 2nd ed., Springer 2006, Alg. 4.1 and
      7.2; Steihaug, "The Conjugate Gradient Method and Trust Regions in Large Scale
      Optimization", SIAM J. Numer. Anal. 1983, https://doi.org/10.1137/0720042
    """
    fn = "scale_by_trust_region"
    validate.positive(fn, initial_radius=initial_radius)
    validate.interval(fn, "max_radius", max_radius, initial_radius)
    validate.interval(fn, "eta", eta, 0.0, 0.25, high_open=True)
    validate.non_negative(fn, tol=tol)
    validate.integer(fn, "maxiter", maxiter, 1)

    def init_fn(params):
        del params
        return ScaleByTrustRegionState(
            count=numerics.zero_count(),
            radius=jnp.asarray(initial_radius, jnp.float32),
            ratio=jnp.zeros([], jnp.float32),
            accepted=jnp.zeros([], bool),
        )

    def update_fn(updates, state, params=None, **extra_args):
        value_fn = _value_fn(fn, params, extra_args)
        count = numerics.safe_increment(state.count)
        if not jax.tree.leaves(updates):
            return updates, state._replace(count=count)
        dtype = numerics.widest_float_dtype(updates)
        sub = steihaug_cg(
            hvp_operator(value_fn, params), updates, state.radius, tol=tol, maxiter=maxiter
        )
        trial = jax.tree.map(
            lambda x, p: (x.astype(dtype) + p.astype(dtype)).astype(x.dtype), params, sub.step
        )
        actual = jnp.asarray(value_fn(params)).astype(dtype) - jnp.asarray(value_fn(trial)).astype(
            dtype
        )
        rho = trust_ratio(actual, sub.model_decrease.astype(dtype))
        radius, accept = update_radius(
            state.radius.astype(dtype), rho, sub.hit_boundary, eta, max_radius
        )
        direction = jax.tree.map(lambda p: jnp.where(accept, -p, jnp.zeros_like(p)), sub.step)
        new_state = ScaleByTrustRegionState(
            count=count,
            radius=radius.astype(jnp.float32),
            ratio=rho.astype(jnp.float32),
            accepted=accept,
        )
        return tree_lib.cast_like(direction, updates), new_state

    return GradientTransformation(init_fn, update_fn)


def scale_by_saddle_free_newton(
    num_lanczos_steps: int = 10, damping: float = 1e-3
) -> GradientTransformation:
    """Precondition the gradient by :math:`|H|^{-1}` in a Krylov subspace (saddle-free Newton).

    `lanczos`, started from the incoming updates :math:`g`, builds an orthonormal basis
    :math:`Q` of :math:`\\mathcal{K}_m(H, g)` and :math:`T = Q^\\top H Q = S \\Theta S^\\top`,
    with :math:`H` the Hessian of ``value_fn`` at ``params``. The output replaces every
    eigenvalue by its absolute value:

    .. math::
        d = Q S\\, (|\\Theta| + \\lambda I)^{-1} S^\\top Q^\\top g .

    Since :math:`g \\in \\operatorname{span}(Q)`, :math:`g^\\top d > 0`: after
    ``scale_by_learning_rate(lr)`` the step :math:`-\\mathrm{lr}\\, d` descends, and along
    directions of negative curvature it moves *away* from a saddle, where the Newton step
    would move towards it. On a positive-definite quadratic with :math:`m` at least the
    number of distinct eigenvalues it equals the damped Newton direction.

    Args:
      num_lanczos_steps: Krylov dimension :math:`m`, an integer >= 1 (static; clamped to
        the number of parameters). Default 10.
      damping: :math:`\\lambda \\ge 0` added to :math:`|\\Theta|`. Default 1e-3.

    Returns:
      A `GradientTransformation` with `ScaleBySaddleFreeNewtonState`; ``update`` needs
      ``params`` and ``value_fn=``.

    Raises:
      ValueError: for hyperparameters out of range; at trace time, when ``params`` or
        ``value_fn`` is missing.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> from gradtx import second_order
      >>> loss = lambda p: p[0] ** 2 - p[1] ** 2  # saddle at the origin
      >>> tx = gradtx.chain(second_order.scale_by_saddle_free_newton(damping=0.0),
      ...                   gradtx.scale_by_learning_rate(1.0))
      >>> p = jnp.array([0.5, 0.5])
      >>> u, _ = tx.update(jax.grad(loss)(p), tx.init(p), p, value_fn=loss)
      >>> gradtx.apply_updates(p, u).round(4).tolist()  # x to its minimum, y away
      [0.0, 1.0]

    References:
      Dauphin, Pascanu, Gulcehre, Cho, Ganguli and Bengio, "Identifying and attacking the
      saddle point problem in high-dimensional non-convex optimization", NeurIPS 2014,
      https://arxiv.org/abs/1406.2572
    """
    fn = "scale_by_saddle_free_newton"
    validate.integer(fn, "num_lanczos_steps", num_lanczos_steps, 1)
    validate.non_negative(fn, damping=damping)

    def init_fn(params):
        del params
        # One buffer per field: a donated state must not hold one buffer twice.
        return ScaleBySaddleFreeNewtonState(
            numerics.zero_count(), jnp.zeros([], jnp.float32), jnp.zeros([], jnp.float32)
        )

    def update_fn(updates, state, params=None, **extra_args):
        value_fn = _value_fn(fn, params, extra_args)
        count = numerics.safe_increment(state.count)
        if not jax.tree.leaves(updates):
            return updates, state._replace(count=count)
        direction, theta = saddle_free_direction(
            hvp_operator(value_fn, params), updates, num_lanczos_steps, damping
        )
        new_state = ScaleBySaddleFreeNewtonState(
            count=count,
            min_eigenvalue=theta[0].astype(jnp.float32),
            max_eigenvalue=theta[-1].astype(jnp.float32),
        )
        return tree_lib.cast_like(direction, updates), new_state

    return GradientTransformation(init_fn, update_fn)


def _value_fn(fn: str, params: Any, extra_args: dict[str, Any]) -> Any:
    validate.require_params(fn, params)
    return validate.require_extra_arg(fn, extra_args, "value_fn")
