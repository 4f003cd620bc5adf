"""Line searches: scale an update direction by a step size chosen from the loss.

Both transforms read the loss through the extra update arguments ``value=`` (the loss
at ``params``), ``grad=`` (its gradient there) and ``value_fn=`` (the loss function,
``value_fn(params, **data)``). Extra arguments whose names are parameters of
``value_fn`` (a batch ``x=``, ``y=`` ...) are passed on to it; the others are ignored.

All the scalars of a search (step sizes, values, slopes) are held in the widest
floating dtype of the parameters, at least float32. The searches are
``lax.while_loop`` s bounded by their maximum number of steps, so they run under
``jit`` and ``vmap``; they are not differentiable in reverse mode. They are written and
tested for real parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx import tree as tree_lib
from gradtx.core import GradientTransformation, Params, Updates, numerics, validate
from gradtx.transforms import _linesearch_io

__all__ = [
    "BacktrackingLinesearchInfo",
    "ScaleByBacktrackingLinesearchState",
    "ScaleByZoomLinesearchState",
    "ZoomLinesearchInfo",
    "scale_by_backtracking_linesearch",
    "scale_by_zoom_linesearch",
    "value_and_grad_from_state",
]


# --- helpers shared by both searches ---------------------------------------------------


def as_scalar(x: Any, dtype: Any) -> jax.Array:
    """``x`` (a number or size-1 array) as a 0-d real array of ``dtype``."""
    return jnp.reshape(jnp.real(jnp.asarray(x)), ()).astype(dtype)


def slope_along(grad: Updates, direction: Updates, dtype: Any) -> jax.Array:
    """``Re sum(grad * direction)``: the derivative of ``t -> f(w + t d)`` at ``t = 0``.

    JAX's gradient of a real function of complex leaves is the conjugate of the ascent
    direction, so the directional derivative needs no conjugation.
    """
    grad = jax.tree.map(jnp.conj, grad)
    return jnp.real(tree_lib.vdot(grad, direction)).astype(dtype)


def _nan_to_inf(x: jax.Array) -> jax.Array:
    return jnp.where(jnp.isnan(x), jnp.inf, x)


def _initial_state(state_type: type, info_type: type, params: Params, grad: Any) -> Any:
    """A search's state before any search: step size 1, no steps, value and errors ``inf``.

    ``info_type``'s first field is the step count; all its others are errors.
    """
    dtype = numerics.widest_float_dtype(params, real=True)
    infs = [jnp.full([], jnp.inf, dtype) for _ in info_type._fields]  # distinct buffers
    info = info_type(numerics.zero_count(), *infs[1:])
    return state_type(learning_rate=jnp.ones([], dtype), value=infs[0], grad=grad, info=info)


# --- backtracking (Armijo) ------------------------------------------------------------


class BacktrackingLinesearchInfo(NamedTuple):
    """Diagnostics of the last `scale_by_backtracking_linesearch` search.

    Attributes:
      num_linesearch_steps: function evaluations made by the search (int32).
      decrease_error: how much the accepted step misses the sufficient-decrease
        criterion (0 when it holds, ``inf`` when every trial was NaN or infinite).
    """

    num_linesearch_steps: jax.Array
    decrease_error: jax.Array


class ScaleByBacktrackingLinesearchState(NamedTuple):
    """State of `scale_by_backtracking_linesearch`.

    Attributes:
      learning_rate: the step size accepted by the last search (1 before any).
      value: the loss at the last accepted trial point (``inf`` before any), read back
        by `value_and_grad_from_state`.
      grad: the gradient there when ``store_grad=True``, else ``None``.
      info: a `BacktrackingLinesearchInfo`.
    """

    learning_rate: jax.Array
    value: jax.Array
    grad: Updates | None
    info: BacktrackingLinesearchInfo


def scale_by_backtracking_linesearch(
    max_backtracking_steps: int,
    slope_rtol: float = 1e-4,
    decrease_factor: float = 0.8,
    increase_factor: float = 1.5,
    max_learning_rate: float = 1.0,
    atol: float = 0.0,
    rtol: float = 0.0,
    store_grad: bool = False,
    verbose: bool = False,
) -> GradientTransformation:
    """Scale the update direction by a step size with sufficient decrease (Armijo).

    Starting from :math:`\\eta = \\min(\\text{increase\\_factor}\\,\\eta_{prev},
    \\eta_{max})`, the step size is multiplied by ``decrease_factor`` until

    .. math::
        f(w + \\eta u) \\le (1 + \\delta) f(w) + c\\, \\eta \\langle u, \\nabla f(w)\\rangle
        + \\epsilon,

    with :math:`c` = ``slope_rtol``, :math:`\\delta` = ``rtol`` and
    :math:`\\epsilon` = ``atol``, or until ``max_backtracking_steps`` reductions were
    made. The output is :math:`\\eta u`. When every trial value is NaN or infinite, the
    step size is 0 and the next search restarts from ``max_learning_rate`` (Optax keeps
    0 and then never moves again; this is the one difference from its numbers).

    The direction :math:`u` must be a descent direction
    (:math:`\\langle u, \\nabla f(w)\\rangle < 0`), e.g. ``-g`` (``scale(-1.0)``).
    ``update`` needs ``value=`` (:math:`f(w)`), ``grad=`` (:math:`\\nabla f(w)`) and
    ``value_fn=`` (:math:`f`); extra arguments named after parameters of ``value_fn``
    are passed to it.

    Args:
      max_backtracking_steps: the most step-size reductions per search, an integer
        >= 0 (the search makes at most ``max_backtracking_steps + 1`` evaluations).
      slope_rtol: :math:`c`, in [0, 1). Default 1e-4.
      decrease_factor: the reduction factor, in (0, 1). Default 0.8.
      increase_factor: the first trial is the previous step size times this, > 0
        (1 keeps the guess, below 1 shrinks it, ``math.inf`` starts every search at
        ``max_learning_rate``). Default 1.5.
      max_learning_rate: the largest trial step size, > 0. Default 1.
      atol: :math:`\\epsilon`, >= 0. Default 0.
      rtol: :math:`\\delta`, >= 0. Default 0.
      store_grad: also compute the gradient at the accepted point and keep it in the
        state, so that `value_and_grad_from_state` can reuse it. Default False.
      verbose: print Optax's diagnostics when the search fails (``jax.debug.print``, a
        host callback); ``state.info`` holds the same numbers. Default False.

    Returns:
      A `GradientTransformation` with `ScaleByBacktrackingLinesearchState`.

    Raises:
      ValueError: for hyperparameters outside the ranges above.
      TypeError: for a non-integer ``max_backtracking_steps``.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda w: jnp.sum(w**2)
      >>> # gradient descent with a step size of at most 1, chosen by backtracking
      >>> solver = gradtx.chain(gradtx.scale(-1.0), gradtx.scale_by_backtracking_linesearch(15))
      >>> w = jnp.array([1.0, 2.0, 3.0])
      >>> @jax.jit
      ... def step(w, state):
      ...     value, grad = jax.value_and_grad(f)(w)
      ...     u, state = solver.update(grad, state, w, value=value, grad=grad, value_fn=f)
      ...     return gradtx.apply_updates(w, u), state
      >>> state = solver.init(w)
      >>> for _ in range(3):
      ...     w, state = step(w, state)
      >>> round(float(f(w)), 4)
      0.6533

    References:
      Armijo, "Minimization of functions having Lipschitz continuous first partial
      derivatives", Pacific J. Math. 1966, https://doi.org/10.2140/pjm.1966.16.1;
      Vaswani et al., "Painless Stochastic Gradient: Interpolation, Line-Search, and
      Convergence Rates", NeurIPS 2019, https://arxiv.org/abs/1905.09997
    """
    fn = "scale_by_backtracking_linesearch"
    validate.integer(fn, "max_backtracking_steps", max_backtracking_steps, 0)
    validate.interval(fn, "slope_rtol", slope_rtol, 0.0, 1.0, high_open=True)
    validate.interval(
        fn, "decrease_factor", decrease_factor, 0.0, 1.0, low_open=True, high_open=True
    )
    validate.interval(fn, "increase_factor", increase_factor, 0.0, low_open=True)
    validate.positive(fn, max_learning_rate=max_learning_rate)
    validate.non_negative(fn, atol=atol, rtol=rtol)

    def init_fn(params):
        grad = tree_lib.zeros_like(params) if store_grad else None
        return _initial_state(
            ScaleByBacktrackingLinesearchState, BacktrackingLinesearchInfo, params, grad
        )

    def update_fn(updates, state, params=None, **extra_args):
        value, grad, value_fn, data = _linesearch_io.loss_inputs(fn, updates, params, extra_args)
        # jnp.result_type: a Python float set into the state (tree.set) has no dtype.
        dtype = jnp.result_type(state.learning_rate)
        value = as_scalar(value, dtype)
        slope = slope_along(grad, updates, dtype)
        c, inc, dec = (
            numerics.as_dtype(h, dtype) for h in (slope_rtol, increase_factor, decrease_factor)
        )
        lr_max, a_tol, r_tol = (
            numerics.as_dtype(h, dtype) for h in (max_learning_rate, atol, rtol)
        )

        def trial(lr):
            return numerics.axpy(lr, updates, params)

        def decrease_error(lr, new_value):
            err = new_value - (1.0 + r_tol) * value - lr * c * slope
            return jnp.maximum(_nan_to_inf(err), 0.0)

        def cond(carry):
            step, _, _, err = carry
            return ~(err <= a_tol) & (step <= max_backtracking_steps)

        def body(carry):
            step, lr, _, _ = carry
            lr = jnp.where(step > 0, dec * lr, lr)
            new_value = as_scalar(value_fn(trial(lr), **data), dtype)
            return step + 1, lr, new_value, decrease_error(lr, new_value)

        previous = jnp.where(state.learning_rate > 0, state.learning_rate, lr_max)
        start = jnp.minimum(inc * previous, lr_max).astype(dtype)
        carry = (jnp.zeros([], jnp.int32), start, value, jnp.full([], jnp.inf, dtype))
        steps, lr, new_value, err = jax.lax.while_loop(cond, body, carry)
        new_grad = None
        if store_grad:
            new_grad = tree_lib.cast_like(
                jax.grad(lambda p: value_fn(p, **data))(trial(lr)), params
            )
        if verbose:
            _linesearch_io.backtracking_report(value, slope, lr, err, a_tol)
        lr = jnp.where(jnp.isinf(err), jnp.zeros_like(lr), lr)
        new_state = ScaleByBacktrackingLinesearchState(
            learning_rate=lr,
            value=new_value,
            grad=new_grad,
            info=BacktrackingLinesearchInfo(num_linesearch_steps=steps, decrease_error=err),
        )
        return tree_lib.scale(lr, updates), new_state

    return GradientTransformation(init_fn, update_fn)


# --- zoom (strong Wolfe) --------------------------------------------------------------


class ZoomLinesearchInfo(NamedTuple):
    """Diagnostics of the last `scale_by_zoom_linesearch` search.

    Attributes:
      num_linesearch_steps: function evaluations made by the search (int32).
      decrease_error: how much the returned step misses the sufficient-decrease
        criterion (0 when it holds).
      curvature_error: how much it misses the curvature criterion (0 when it holds; a
        positive value is harmless, e.g. when ``max_learning_rate`` is too small).
    """

    num_linesearch_steps: jax.Array
    decrease_error: jax.Array
    curvature_error: jax.Array


class ScaleByZoomLinesearchState(NamedTuple):
    """State of `scale_by_zoom_linesearch`.

    Attributes:
      learning_rate: the step size returned by the last search (1 before any).
      value: the loss at the returned point (``inf`` before any).
      grad: the gradient at the returned point (zeros before any). ``value`` and
        ``grad`` are read back by `value_and_grad_from_state`.
      info: a `ZoomLinesearchInfo`.
    """

    learning_rate: jax.Array
    value: jax.Array
    grad: Updates
    info: ZoomLinesearchInfo


class _Point(NamedTuple):
    """A step size with the loss and the slope along the direction there."""

    stepsize: jax.Array
    value: jax.Array
    slope: jax.Array


class _Zoom(NamedTuple):
    """The loop carry of one zoom search."""

    count: jax.Array
    last: _Point  # the last trial
    grad: Updates  # the gradient at the last trial
    decrease_error: jax.Array
    curvature_error: jax.Array
    bracketed: jax.Array  # phase 2 (zoom) once an interval is known
    done: jax.Array
    failed: jax.Array
    low: _Point  # the bracket end with the lower value
    high: _Point
    ref: _Point  # the previous bracket end, third point of the cubic (slope unused)
    safe: _Point  # the best trial with sufficient decrease (stepsize 0 before any)
    safe_grad: Updates
    safe_decrease_error: jax.Array
    safe_curvature_error: jax.Array


def _where(cond: jax.Array, a: Any, b: Any) -> Any:
    return jax.tree.map(lambda x, y: jnp.where(cond, x, y), a, b)


def _cubic_minimizer(p: _Point, q: _Point, r: _Point) -> jax.Array:
    """The critical point of the cubic through ``p`` (value and slope), ``q`` and ``r``.

    With :math:`c(t) = A d^3 + B d^2 + p'\\, d + p`, :math:`d = t - t_p`, the point is
    :math:`t_p + (-B + \\sqrt{B^2 - 3 A p'}) / (3A)`; NaN when the root is complex.
    """
    dq = q.stepsize - p.stepsize
    dr = r.stepsize - p.stepsize
    rq = q.value - p.value - p.slope * dq
    rr = r.value - p.value - p.slope * dr
    det = (dq * dr) ** 2 * (dq - dr)
    # Cramer's rule for [dq^3 dq^2; dr^3 dr^2] [a; b] = [rq; rr], as a matrix product.
    inverse_times_det = jnp.stack([jnp.stack([dr**2, -(dq**2)]), jnp.stack([-(dr**3), dq**3])])
    rhs = jnp.stack([rq, rr])
    a, b = jnp.dot(inverse_times_det, rhs, precision=jax.lax.Precision.HIGHEST) / det
    return p.stepsize + (-b + jnp.sqrt(b * b - 3.0 * a * p.slope)) / (3.0 * a)


def _quadratic_minimizer(p: _Point, q: _Point) -> jax.Array:
    """The critical point of the parabola through ``p`` (value and slope) and ``q``."""
    dq = q.stepsize - p.stepsize
    curvature = (q.value - p.value - p.slope * dq) / dq**2
    return p.stepsize - p.slope / (2.0 * curvature)


def scale_by_zoom_linesearch(
    max_linesearch_steps: int,
    max_learning_rate: float | None = None,
    tol: float = 0.0,
    increase_factor: float = 2.0,
    slope_rtol: float = 1e-4,
    curv_rtol: float = 0.9,
    approx_dec_rtol: float | None = 1e-6,
    stepsize_precision: float = 1e-5,
    initial_guess_strategy: str = "keep",
    verbose: bool = False,
) -> GradientTransformation:
    """Scale the update direction by a step size satisfying the strong Wolfe conditions.

    With :math:`\\phi(\\eta) = f(w + \\eta u)`, the search looks for :math:`\\eta` with

    .. math::
        \\phi(\\eta) \\le \\phi(0) + c_1 \\eta\\, \\phi'(0) + \\epsilon
        \\quad \\text{(sufficient decrease)}, \\qquad
        |\\phi'(\\eta)| \\le c_2 |\\phi'(0)| + \\epsilon
        \\quad \\text{(curvature)},

    where :math:`c_1` = ``slope_rtol``, :math:`c_2` = ``curv_rtol`` and
    :math:`\\epsilon` = ``tol``. Near a minimum, where values stop resolving the
    decrease, the first condition may instead be met by Hager and Zhang's approximate
    one, :math:`\\phi'(\\eta) \\le (2c_1 - 1)\\phi'(0)`, accepted only while
    :math:`\\phi(\\eta) \\le \\phi(0) + c_3 |\\phi(0)|` with :math:`c_3` =
    ``approx_dec_rtol`` (``None`` disables it).

    Phase 1 (Nocedal and Wright, Alg. 3.5) tries the initial guess, then multiplies the
    step by ``increase_factor`` until an interval known to contain an acceptable step
    is bracketed. Phase 2 (Alg. 3.6) shrinks the interval by the minimizer of a cubic
    through the two ends and the previous end, if it lies well inside (20% margins);
    otherwise of a quadratic (10% margins); otherwise by bisection. When the steps run
    out, or the interval is shorter than ``stepsize_precision``, the best step seen
    with sufficient decrease is returned (step 0 if none). The output is
    :math:`\\eta u`; the value and gradient at :math:`w + \\eta u` are kept in the state.

    ``update`` needs ``value=`` (:math:`f(w)`), ``grad=`` (:math:`\\nabla f(w)`) and
    ``value_fn=`` (:math:`f`); extra arguments named after parameters of ``value_fn``
    are passed to it.

    Args:
      max_linesearch_steps: the most evaluations of ``value_fn`` per search, an
        integer >= 1.
      max_learning_rate: the largest step size tried, > 0, or ``None`` (default) for
        no bound.
      tol: :math:`\\epsilon`, >= 0. Default 0.
      increase_factor: the growth factor of phase 1, > 1. Default 2.
      slope_rtol: :math:`c_1`, in [0, 1) and below ``curv_rtol``. Default 1e-4.
      curv_rtol: :math:`c_2`, > 0 (``math.inf`` drops the curvature condition).
        Default 0.9.
      approx_dec_rtol: :math:`c_3` >= 0, or ``None``. Default 1e-6.
      stepsize_precision: the shortest interval worth zooming into, >= 0. Default 1e-5.
      initial_guess_strategy: ``"keep"`` (default) starts from the previous step size
        (suits SGD-like directions), ``"one"`` from 1 (suits (quasi-)Newton ones).
        After a failed search (step 0), ``"keep"`` restarts from 1; Optax would keep
        trying 0 and never move again, the one difference from its numbers.
      verbose: print Optax's diagnostics when the search fails (``jax.debug.print``, a
        host callback); ``state.info`` holds the same numbers. Default False.

    Returns:
      A `GradientTransformation` with `ScaleByZoomLinesearchState`.

    Raises:
      ValueError: for hyperparameters outside the ranges above or an unknown
        ``initial_guess_strategy``.
      TypeError: for a non-integer ``max_linesearch_steps``.

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda w: jnp.sum((w - 1.0) ** 2)
      >>> solver = gradtx.chain(gradtx.scale(-1.0), gradtx.scale_by_zoom_linesearch(15))
      >>> w = jnp.array([3.0, -2.0])
      >>> state = solver.init(w)
      >>> value_and_grad = gradtx.value_and_grad_from_state(f)
      >>> value, grad = value_and_grad(w, state=state)
      >>> u, state = solver.update(grad, state, w, value=value, grad=grad, value_fn=f)
      >>> gradtx.apply_updates(w, u).round(4).tolist(), float(state[-1].learning_rate)
      ([1.0, 1.0], 0.5)

    References:
      Nocedal and Wright, "Numerical Optimization" (2nd ed., Algorithms 3.5 and 3.6),
      Springer 2006, https://doi.org/10.1007/978-0-387-40065-5;
      Hager and Zhang, "Algorithm 851: CG_DESCENT, a Conjugate Gradient Method with
      Guaranteed Descent", ACM TOMS 2006, https://doi.org/10.1145/1132973.1132979
    """
    fn = "scale_by_zoom_linesearch"
    validate.integer(fn, "max_linesearch_steps", max_linesearch_steps, 1)
    if max_learning_rate is not None:
        validate.positive(fn, max_learning_rate=max_learning_rate)
    validate.non_negative(fn, tol=tol, stepsize_precision=stepsize_precision)
    validate.interval(fn, "increase_factor", increase_factor, 1.0, low_open=True)
    validate.interval(fn, "slope_rtol", slope_rtol, 0.0, 1.0, high_open=True)
    validate.positive(fn, curv_rtol=curv_rtol)
    if approx_dec_rtol is not None:
        validate.non_negative(fn, approx_dec_rtol=approx_dec_rtol)
    c1, c2 = validate._as_float(slope_rtol), validate._as_float(curv_rtol)
    if c1 is not None and c2 is not None and not c1 < c2:
        raise ValueError(
            f"{fn}(slope_rtol={slope_rtol!r}, curv_rtol={curv_rtol!r}): "
            "slope_rtol must be < curv_rtol"
        )
    validate.one_of(fn, "initial_guess_strategy", initial_guess_strategy, ("keep", "one"))

    def init_fn(params):
        grad = tree_lib.zeros_like(params)
        return _initial_state(ScaleByZoomLinesearchState, ZoomLinesearchInfo, params, grad)

    def update_fn(updates, state, params=None, **extra_args):
        value, grad, value_fn, data = _linesearch_io.loss_inputs(fn, updates, params, extra_args)
        dtype = jnp.result_type(state.learning_rate)  # a Python float has no dtype
        grad = tree_lib.cast_like(grad, params)
        if initial_guess_strategy == "one":
            guess = jnp.ones([], dtype)
        else:  # a failed search (step 0) restarts from 1, where Optax would stay at 0
            guess = jnp.where(state.learning_rate > 0, state.learning_rate, 1.0).astype(dtype)
        result = _zoom(
            value_fn=lambda p: value_fn(p, **data),
            params=params,
            direction=updates,
            value=as_scalar(value, dtype),
            grad=grad,
            guess=guess,
            hyperparams=_ZoomHyperparams(
                max_steps=max_linesearch_steps,
                max_stepsize=None
                if max_learning_rate is None
                else numerics.as_dtype(max_learning_rate, dtype),
                tol=numerics.as_dtype(tol, dtype),
                increase_factor=numerics.as_dtype(increase_factor, dtype),
                slope_rtol=numerics.as_dtype(slope_rtol, dtype),
                curv_rtol=numerics.as_dtype(curv_rtol, dtype),
                approx_dec_rtol=None
                if approx_dec_rtol is None
                else numerics.as_dtype(approx_dec_rtol, dtype),
                precision=numerics.as_dtype(stepsize_precision, dtype),
            ),
            verbose=verbose,
        )
        stepsize = result.last.stepsize
        new_state = ScaleByZoomLinesearchState(
            learning_rate=stepsize,
            value=result.last.value,
            grad=result.grad,
            info=ZoomLinesearchInfo(
                num_linesearch_steps=result.count,
                decrease_error=result.decrease_error,
                curvature_error=result.curvature_error,
            ),
        )
        return tree_lib.scale(stepsize, updates), new_state

    return GradientTransformation(init_fn, update_fn)


class _ZoomHyperparams(NamedTuple):
    max_steps: Any
    max_stepsize: Any
    tol: Any
    increase_factor: Any
    slope_rtol: Any
    curv_rtol: Any
    approx_dec_rtol: Any
    precision: Any


def _zoom(
    value_fn: Callable[[Params], jax.Array],
    params: Params,
    direction: Updates,
    value: jax.Array,
    grad: Updates,
    guess: jax.Array,
    hyperparams: _ZoomHyperparams,
    verbose: bool = False,
) -> _Zoom:
    """Run one strong-Wolfe search along ``direction``; return the final carry.

    On return ``last``, ``grad`` and the two errors describe the chosen step.
    """
    h = hyperparams
    dtype = value.dtype
    value_and_grad = jax.value_and_grad(value_fn)
    slope0 = slope_along(grad, direction, dtype)

    def decrease_error(point: _Point) -> jax.Array:
        err = point.value - value - h.slope_rtol * point.stepsize * slope0
        if h.approx_dec_rtol is not None:
            approx = point.slope - (2.0 * h.slope_rtol - 1.0) * slope0
            not_lower = point.value - value - h.approx_dec_rtol * jnp.abs(value)
            err = jnp.minimum(jnp.maximum(approx, not_lower), err)
        return _nan_to_inf(jnp.maximum(err, 0.0))

    def curvature_error(point: _Point) -> jax.Array:
        err = jnp.abs(point.slope) - h.curv_rtol * jnp.abs(slope0)
        return _nan_to_inf(jnp.maximum(err, 0.0))

    def evaluate(stepsize):
        new_value, new_grad = value_and_grad(numerics.axpy(stepsize, direction, params))
        new_grad = tree_lib.cast_like(new_grad, grad)
        point = _Point(
            stepsize, as_scalar(new_value, dtype), slope_along(new_grad, direction, dtype)
        )
        return point, new_grad

    def bracket_trial(c: _Zoom):
        """Phase 1: the initial guess, then larger and larger steps."""
        stepsize = jnp.where(c.count == 0, guess, h.increase_factor * c.last.stepsize)
        if h.max_stepsize is None:
            return stepsize, jnp.asarray(False)
        return jnp.minimum(stepsize, h.max_stepsize), stepsize >= h.max_stepsize

    def zoom_trial(c: _Zoom):
        """Phase 2: interpolate inside the bracket, bisect when that is unsafe."""
        width = jnp.abs(c.high.stepsize - c.low.stepsize)
        left = jnp.minimum(c.low.stepsize, c.high.stepsize)
        right = jnp.maximum(c.low.stepsize, c.high.stepsize)
        cubic = _cubic_minimizer(c.low, c.high, c.ref)
        quadratic = _quadratic_minimizer(c.low, c.high)
        use_cubic = (cubic > left + 0.2 * width) & (cubic < right - 0.2 * width)
        use_quadratic = (quadratic > left + 0.1 * width) & (quadratic < right - 0.1 * width)
        middle = (c.low.stepsize + c.high.stepsize) / 2.0
        middle = jnp.where(use_quadratic, quadratic, middle)
        middle = jnp.where(use_cubic, cubic, middle)
        return middle, width <= h.precision

    def body(c: _Zoom) -> _Zoom:
        grow, reached_max = bracket_trial(c)
        middle, too_narrow = zoom_trial(c)
        new, new_grad = evaluate(jnp.where(c.bracketed, middle, grow).astype(dtype))
        dec, curv = decrease_error(new), curvature_error(new)
        accepted = jnp.maximum(dec, curv) <= h.tol
        sufficient = dec <= h.tol
        last_call = c.count + 1 >= h.max_steps

        # Phase 1 (Alg. 3.5): the new point ends the bracket on the high side when it
        # fails the decrease test or rises; on the low side when the slope turns >= 0.
        new_is_high = (dec > 0.0) | ((new.value >= c.last.value) & (c.count > 0))
        new_is_low = (new.slope >= 0.0) & ~new_is_high
        b_low = _where(new_is_low, new, c.last)
        b_high = _where(new_is_low, c.last, new)
        b_found = new_is_high | new_is_low | accepted
        b_done = accepted | (reached_max & ~b_found)
        old_safe = (c.safe, c.safe_grad, c.safe_decrease_error, c.safe_curvature_error)
        b_safe = _where(sufficient, (new, new_grad, dec, curv), old_safe)

        # Phase 2 (Alg. 3.6): the new point replaces an end of the bracket.
        high_to_new = (dec > 0.0) | (new.value >= c.low.value)
        high_to_low = (new.slope * (c.high.stepsize - c.low.stepsize) >= 0.0) & ~high_to_new
        z_high = _where(high_to_new, new, _where(high_to_low, c.low, c.high))
        z_low = _where(high_to_new, c.low, new)
        z_ref = _where(high_to_new | high_to_low, c.high, c.low)
        better = sufficient & (new.value < c.safe.value)
        z_safe = _where(better, (new, new_grad, dec, curv), old_safe)
        z_stop = last_call | (too_narrow & (z_safe[0].stepsize > 0.0))

        low, high, ref = _where(c.bracketed, (z_low, z_high, z_ref), (b_low, b_high, b_low))
        safe = _where(c.bracketed, z_safe, b_safe)
        done = jnp.where(c.bracketed, accepted, b_done)
        failed = jnp.where(c.bracketed, z_stop, last_call) & ~done
        found = c.bracketed | b_found

        # On failure, fall back to the best point with sufficient decrease (if any, or
        # if the last trial left the function's domain).
        use_safe = failed & ((safe[0].stepsize > 0.0) | jnp.isinf(dec))
        if verbose:  # Optax's messages, about the new trial (before the fallback)
            _linesearch_io.zoom_report(
                value,
                slope0,
                new.stepsize,
                dec,
                curv,
                ~c.bracketed & reached_max & ~b_found,
                failed,
                jnp.abs(low.stepsize - high.stepsize),
                h.precision,
                safe[0].stepsize,
            )
        last, last_grad, dec, curv = _where(use_safe, safe, (new, new_grad, dec, curv))
        return _Zoom(
            count=numerics.safe_increment(c.count),
            last=last,
            grad=last_grad,
            decrease_error=dec,
            curvature_error=curv,
            bracketed=found,
            done=done,
            failed=failed,
            low=low,
            high=high,
            ref=ref,
            safe=safe[0],
            safe_grad=safe[1],
            safe_decrease_error=safe[2],
            safe_curvature_error=safe[3],
        )

    start = _Point(jnp.zeros([], dtype), value, slope0)
    start_dec, start_curv = decrease_error(start), curvature_error(start)
    inf = jnp.full([], jnp.inf, dtype)
    no = jnp.asarray(False)
    carry = _Zoom(
        count=numerics.zero_count(),
        last=start,
        grad=grad,
        decrease_error=inf,
        curvature_error=inf,
        bracketed=no,
        done=no,
        failed=no,
        low=start,
        high=start,
        ref=start,
        safe=start,
        safe_grad=grad,
        safe_decrease_error=start_dec,
        safe_curvature_error=start_curv,
    )
    return jax.lax.while_loop(lambda c: ~(c.done | c.failed), body, carry)


# --- reuse of the line search's last evaluation --------------------------------------


def value_and_grad_from_state(
    value_fn: Callable[..., jax.Array],
) -> Callable[..., tuple[jax.Array, Updates]]:
    """Like ``jax.value_and_grad(value_fn)``, but reuse the value and gradient in a state.

    A line search evaluates the loss and its gradient at the point it returns; the next
    step starts from that point, so the pair can be read back instead of recomputed.
    The returned function ``(params, *args, state, **kwargs) -> (value, grad)`` finds
    the fields ``value`` and ``grad`` in ``state`` (with ``gradtx.tree.get``) and uses
    them when the value is finite; otherwise (the first step, or a failed search) it
    calls ``jax.value_and_grad(value_fn)(params, *args, **kwargs)``. Only valid for a
    deterministic loss: with a new batch each step, call ``jax.value_and_grad``.

    Args:
      value_fn: the loss, ``value_fn(params, *args, **kwargs) -> scalar``.

    Returns:
      The function ``(params, *args, state, **kwargs) -> (value, grad)``; it raises
      ``ValueError`` when the state has no ``value`` or no ``grad`` (e.g.
      `scale_by_backtracking_linesearch` without ``store_grad=True``).

    Examples:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda w: jnp.sum(w**2)
      >>> opt = gradtx.lbfgs()
      >>> value_and_grad = gradtx.value_and_grad_from_state(f)
      >>> @jax.jit
      ... def step(w, state):
      ...     value, grad = value_and_grad(w, state=state)  # reused after the first step
      ...     u, state = opt.update(grad, state, w, value=value, grad=grad, value_fn=f)
      ...     return gradtx.apply_updates(w, u), state
      >>> w = jnp.array([1.0, 2.0, 3.0])
      >>> state = opt.init(w)
      >>> for _ in range(2):
      ...     w, state = step(w, state)
      >>> round(float(f(w)), 6)
      0.0
    """

    def value_and_grad(params, *args, state, **kwargs):
        value = tree_lib.get(state, "value", None)
        grad = tree_lib.get(state, "grad", None)
        if value is None or grad is None:
            raise ValueError(
                "value_and_grad_from_state: the state holds no 'value' or no 'grad'; use an "
                "optimizer whose line search stores them (scale_by_zoom_linesearch, or "
                "scale_by_backtracking_linesearch(..., store_grad=True))."
            )

        def compute(params, args, kwargs):
            v, g = jax.value_and_grad(value_fn)(params, *args, **kwargs)
            return as_scalar(v, value.dtype), tree_lib.cast_like(g, grad)

        return jax.lax.cond(
            jnp.isfinite(value),
            lambda *_: (value, grad),
            compute,
            params,
            args,
            kwargs,
        )

    return value_and_grad
