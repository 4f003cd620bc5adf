"""Line searches: the Armijo / strong Wolfe conditions on test functions, Optax parity,
fallbacks on failure, data passed to ``value_fn``, validation."""

from __future__ import annotations

import contextlib
import io

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from tests.helpers import assert_trees_close

# Slow (CI runs it): iterative solvers and estimators, compiled per case.
pytestmark = pytest.mark.slow


def rosenbrock(w):
    return (1.0 - w[0]) ** 2 + 100.0 * (w[1] - w[0] ** 2) ** 2


def more_thuente_1(w):
    """Moré and Thuente (1994), function 1 with beta = 2: minimum at sqrt(2)."""
    return jnp.sum(-w / (w**2 + 2.0))


def more_thuente_2(w):
    """Moré and Thuente (1994), function 2 with beta = 0.004: minimum near 1.6."""
    return jnp.sum((w + 0.004) ** 5 - 2.0 * (w + 0.004) ** 4)


def tree_quadratic(p):
    return 0.5 * jnp.sum(jnp.asarray([1.0, 10.0]) * p["a"] ** 2) + 2.0 * jnp.sum(p["b"] ** 2)


# (name, f, w0, direction d such that <grad f(w0), d> < 0)
PROBLEMS = [
    ("more_thuente_1", more_thuente_1, jnp.array([0.0]), jnp.array([1.0])),
    ("more_thuente_2", more_thuente_2, jnp.array([0.0]), jnp.array([1.0])),
    ("rosenbrock", rosenbrock, jnp.array([-1.2, 1.0]), None),  # d = -grad
    (
        "tree_quadratic",
        tree_quadratic,
        {"a": jnp.array([1.0, -1.0]), "b": jnp.array([[0.5, 2.0]])},
        None,
    ),
]
# Scales of the direction: tiny (phase 1 must grow the step), 1, and huge (phase 2
# must zoom far inside [0, 1]).
SCALES = (1e-3, 1.0, 30.0)


def _search(tx, f):
    @jax.jit
    def go(w, d):
        value, grad = jax.value_and_grad(f)(w)
        return tx.update(d, tx.init(w), w, value=value, grad=grad, value_fn=f)

    return go


def _slope(f, w, d):
    return float(gradtx.tree.vdot(jax.grad(f)(w), d))


@pytest.mark.parametrize("f, w0, d0", [p[1:] for p in PROBLEMS], ids=[p[0] for p in PROBLEMS])
def test_zoom_returns_a_strong_wolfe_step(f, w0, d0, x64):
    """In float64, so that the conditions can be re-checked outside the search."""
    c1, c2 = 1e-4, 0.9
    # MT 2 at scale 1e-3 needs 12 doublings, then a bracket narrower than 1e-5: allow 40
    # steps and no early exit on a narrow bracket.
    tx = gradtx.scale_by_zoom_linesearch(
        40, approx_dec_rtol=None, curv_rtol=c2, stepsize_precision=0.0
    )
    search = _search(tx, f)
    w0 = jax.tree.map(lambda x: jnp.asarray(x, jnp.float64), w0)
    base = d0 if d0 is not None else jax.tree.map(jnp.negative, jax.grad(f)(w0))
    base = jax.tree.map(lambda x: jnp.asarray(x, jnp.float64), base)
    for scale in SCALES:
        d = jax.tree.map(lambda x, scale=scale: scale * x, base)
        updates, state = search(w0, d)
        eta = float(state.learning_rate)
        w1 = jax.tree.map(jnp.add, w0, updates)
        slope0 = _slope(f, w0, d)
        assert slope0 < 0 and eta > 0
        assert_trees_close(updates, jax.tree.map(lambda x, eta=eta: eta * x, d), rtol=1e-6)
        # Sufficient decrease (Armijo) and strong curvature.
        assert float(f(w1)) <= float(f(w0)) + c1 * eta * slope0 + 1e-14
        assert abs(_slope(f, w1, d)) <= c2 * abs(slope0) * (1 + 1e-9)
        # The state holds the value and gradient at the new point; the info says success.
        np.testing.assert_allclose(float(state.value), float(f(w1)), rtol=1e-12, atol=1e-14)
        assert_trees_close(state.grad, jax.grad(f)(w1), rtol=1e-9, atol=1e-12)
        assert state.value.dtype == jnp.float64
        assert float(state.info.decrease_error) == 0.0
        assert float(state.info.curvature_error) == 0.0
        assert 1 <= int(state.info.num_linesearch_steps) <= 40


def test_zoom_respects_max_learning_rate_and_keeps_the_guess():
    f = more_thuente_1
    w, d = jnp.array([0.0]), jnp.array([1e-3])  # the minimum is at eta = 1414
    tx = gradtx.scale_by_zoom_linesearch(20, max_learning_rate=50.0)
    state = tx.init(w)
    v, g = jax.value_and_grad(f)(w)
    _, state = tx.update(d, state, w, value=v, grad=g, value_fn=f)
    # Phase 1 doubles from 1 up to the cap; the cap satisfies only the decrease test.
    assert float(state.learning_rate) == 50.0
    assert float(state.info.decrease_error) == 0.0
    assert float(state.info.curvature_error) > 0.0
    # "keep" starts the next search from 50: the first trial is accepted at once... at 50.
    _, state = tx.update(d, state, w, value=v, grad=g, value_fn=f)
    assert float(state.learning_rate) == 50.0 and int(state.info.num_linesearch_steps) == 1


def test_zoom_falls_back_to_step_zero_outside_the_domain():
    def f(w):  # defined (finite) only for |w| < 2
        return jnp.sum(jnp.where(jnp.abs(w) < 2.0, w**2, jnp.nan))

    w = jnp.array([1.0])
    v, g = jax.value_and_grad(f)(w)
    tx = gradtx.scale_by_zoom_linesearch(1)
    updates, state = tx.update(-10.0 * g, tx.init(w), w, value=v, grad=g, value_fn=f)
    assert float(updates[0]) == 0.0 and float(state.learning_rate) == 0.0
    assert float(state.value) == float(v) and float(state.grad[0]) == float(g[0])
    # With "keep", the next search restarts from 1 instead of retrying step 0.
    updates, state = tx.update(-0.1 * g, state, w, value=v, grad=g, value_fn=f)
    assert float(state.learning_rate) == 1.0
    assert float(f(w + updates)) < float(v)


def test_zoom_returns_the_best_sufficient_step_when_steps_run_out():
    f = more_thuente_2
    w, d = jnp.array([0.0]), jnp.array([1.0])
    v, g = jax.value_and_grad(f)(w)
    tx = gradtx.scale_by_zoom_linesearch(3, approx_dec_rtol=None)
    updates, state = tx.update(d, tx.init(w), w, value=v, grad=g, value_fn=f)
    eta = float(state.learning_rate)
    assert int(state.info.num_linesearch_steps) == 3
    assert eta > 0 and float(f(w + updates)) <= float(v) + 1e-4 * eta * float(g[0] * d[0])
    ref = optax.scale_by_zoom_linesearch(3, approx_dec_rtol=None)
    ref_updates, _ = ref.update(d, ref.init(w), w, value=v, grad=g, value_fn=f)
    assert_trees_close(updates, ref_updates, rtol=1e-6)


ZOOM_PARITY = [
    ("default", {}),
    ("capped_one", {"max_learning_rate": 0.004, "initial_guess_strategy": "one"}),
    ("no_approx_more_growth", {"approx_dec_rtol": None, "increase_factor": 3.0, "tol": 1e-6}),
]


@pytest.mark.parametrize("kwargs", [p[1] for p in ZOOM_PARITY], ids=[p[0] for p in ZOOM_PARITY])
def test_zoom_descent_matches_optax(kwargs):
    ours = gradtx.chain(gradtx.scale(-1.0), gradtx.scale_by_zoom_linesearch(15, **kwargs))
    theirs = optax.chain(optax.scale(-1.0), optax.scale_by_zoom_linesearch(15, **kwargs))
    w_ours, s_ours, v_ours = _descent(ours, gradtx.value_and_grad_from_state(rosenbrock))
    w_theirs, s_theirs, v_theirs = _descent(theirs, optax.value_and_grad_from_state(rosenbrock))
    assert_trees_close(w_ours, w_theirs, rtol=1e-6, atol=1e-7)
    assert_trees_close(v_ours, v_theirs, rtol=1e-5, atol=1e-9)
    assert_trees_close(s_ours[1].learning_rate, s_theirs[1].learning_rate, rtol=1e-5)
    assert float(v_ours[-1]) < float(rosenbrock(jnp.array([-1.2, 1.0])))


def _descent(opt, value_and_grad, steps=25, f=rosenbrock, w0=(-1.2, 1.0)):
    def body(carry, _):
        w, state = carry
        value, grad = value_and_grad(w, state=state)
        updates, state = opt.update(grad, state, w, value=value, grad=grad, value_fn=f)
        w = w + updates
        return (w, state), (w, f(w))

    w0 = jnp.asarray(w0)
    (_, state), (traj, values) = jax.jit(
        lambda w: jax.lax.scan(body, (w, opt.init(w)), length=steps)
    )(w0)
    return traj, state, values


# --- backtracking ------------------------------------------------------------------


@pytest.mark.parametrize("store_grad", [False, True])
def test_backtracking_descent_matches_optax_and_satisfies_armijo(store_grad):
    kwargs = {"store_grad": store_grad, "decrease_factor": 0.6, "slope_rtol": 0.1}
    ours = gradtx.chain(gradtx.scale(-1.0), gradtx.scale_by_backtracking_linesearch(20, **kwargs))
    theirs = optax.chain(optax.scale(-1.0), optax.scale_by_backtracking_linesearch(20, **kwargs))

    def plain(w, state):
        del state
        return jax.value_and_grad(rosenbrock)(w)

    if store_grad:
        vg_ours = gradtx.value_and_grad_from_state(rosenbrock)
        vg_theirs = optax.value_and_grad_from_state(rosenbrock)
    else:
        vg_ours = vg_theirs = plain
    traj, state, values = _descent(ours, vg_ours)
    ref_traj, ref_state, ref_values = _descent(theirs, vg_theirs)
    assert_trees_close(traj, ref_traj, rtol=1e-6, atol=1e-7)
    assert_trees_close(values, ref_values, rtol=1e-5, atol=1e-9)
    assert_trees_close(state[1].learning_rate, ref_state[1].learning_rate, rtol=1e-6)
    assert (state[1].grad is None) == (not store_grad)
    # Armijo on every step, and each step is the largest tried: eta / 0.6 would fail
    # (or eta is the first trial, min(1.5 * previous, 1)).
    points = np.concatenate([[[-1.2, 1.0]], np.asarray(traj)])
    f = jax.jit(rosenbrock)
    g = jax.jit(jax.grad(rosenbrock))
    previous = 1.0
    for w, w1 in zip(points[:-1], points[1:], strict=True):
        grad = np.asarray(g(jnp.asarray(w)), np.float64)
        eta = float(np.linalg.norm(w - w1) / np.linalg.norm(grad))
        assert (
            float(f(jnp.asarray(w1))) <= float(f(jnp.asarray(w))) - 0.1 * eta * grad @ grad + 1e-6
        )
        first = min(1.5 * previous, 1.0)
        if not np.isclose(eta, first, rtol=1e-4):
            bigger = jnp.asarray(w - eta / 0.6 * grad, jnp.float32)
            assert float(f(bigger)) > float(f(jnp.asarray(w))) - 0.1 * eta / 0.6 * grad @ grad
        previous = eta


def test_backtracking_restarts_after_non_finite_trials():
    w = jnp.array([1.0, -1.0])

    def broken(p):  # finite only at the current point
        return jnp.sum(p**2) + jnp.where(jnp.all(p == w), 0.0, jnp.nan)

    def good(p):
        return jnp.sum(p**2)

    tx = gradtx.chain(gradtx.scale(-1.0), gradtx.scale_by_backtracking_linesearch(3))
    state = tx.init(w)
    v, g = jax.value_and_grad(good)(w)
    updates, state = tx.update(g, state, w, value=v, grad=g, value_fn=broken)
    assert float(jnp.abs(updates).max()) == 0.0
    assert float(state[1].learning_rate) == 0.0
    assert np.isinf(float(state[1].info.decrease_error))
    assert int(state[1].info.num_linesearch_steps) == 4
    # The next search starts again from max_learning_rate (Optax would stay at 0).
    updates, state = tx.update(g, state, w, value=v, grad=g, value_fn=good)
    assert float(state[1].learning_rate) > 0.0
    assert float(good(w + updates)) < float(v)


# --- arguments -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "factory",
    [
        lambda: gradtx.scale_by_zoom_linesearch(10),
        lambda: gradtx.scale_by_backtracking_linesearch(10, store_grad=True),
    ],
    ids=["zoom", "backtracking"],
)
def test_data_arguments_reach_value_fn(factory):
    x = jnp.array([[1.0, 2.0], [0.5, -1.0], [2.0, 0.0]])
    y = jnp.array([1.0, 0.0, -1.0])

    def loss(w, x, y):
        return jnp.mean((x @ w - y) ** 2)

    tx = gradtx.chain(gradtx.scale(-1.0), factory())
    w = jnp.zeros(2)
    v, g = jax.value_and_grad(loss)(w, x, y)
    # x and y go to value_fn; an argument it does not name is a TypeError, as in Optax.
    with_data, s1 = tx.update(g, tx.init(w), w, value=v, grad=g, value_fn=loss, x=x, y=y)
    with pytest.raises(
        TypeError, match=r"Unexpected keyword arguments .* does not consume: \['tag'\]"
    ):
        tx.update(g, tx.init(w), w, value=v, grad=g, value_fn=loss, x=x, y=y, tag=3)
    closed = lambda w: loss(w, x, y)  # noqa: E731
    reference, s2 = tx.update(g, tx.init(w), w, value=v, grad=g, value_fn=closed)
    assert_trees_close(with_data, reference, rtol=1e-6)
    assert float(jnp.abs(with_data).max()) > 0
    assert_trees_close(s1[1].grad, s2[1].grad, rtol=1e-6)


def test_state_and_info_fields_match_optax():
    assert gradtx.ScaleByZoomLinesearchState._fields == optax.ScaleByZoomLinesearchState._fields
    assert gradtx.ZoomLinesearchInfo._fields == optax.ZoomLinesearchInfo._fields
    assert (
        gradtx.ScaleByBacktrackingLinesearchState._fields
        == optax.ScaleByBacktrackingLinesearchState._fields
    )
    state = gradtx.scale_by_zoom_linesearch(5).init({})  # an empty tree works
    assert state.learning_rate.dtype == jnp.float32


def test_float64_scalars_under_x64(x64):
    w = jnp.array([-1.2, 1.0], jnp.float64)
    tx = gradtx.scale_by_zoom_linesearch(15)
    state = tx.init(w)
    assert state.learning_rate.dtype == jnp.float64
    v, g = jax.value_and_grad(rosenbrock)(w)
    updates, state = tx.update(-g, state, w, value=v, grad=g, value_fn=rosenbrock)
    assert updates.dtype == jnp.float64 and state.value.dtype == jnp.float64
    assert float(rosenbrock(w + updates)) < float(v)


def test_errors():
    zoom = gradtx.scale_by_zoom_linesearch
    with pytest.raises(ValueError, match=r"scale_by_zoom_linesearch\(max_linesearch_steps=0\)"):
        zoom(0)
    with pytest.raises(TypeError, match=r"max_linesearch_steps"):
        zoom(2.5)
    with pytest.raises(ValueError, match=r"slope_rtol must be < curv_rtol"):
        zoom(10, slope_rtol=0.5, curv_rtol=0.4)
    with pytest.raises(ValueError, match=r"initial_guess_strategy='twice'"):
        zoom(10, initial_guess_strategy="twice")
    with pytest.raises(ValueError, match=r"increase_factor=1.0\): increase_factor must be > 1"):
        zoom(10, increase_factor=1.0)
    with pytest.raises(ValueError, match=r"max_learning_rate=0.0"):
        zoom(10, max_learning_rate=0.0)
    back = gradtx.scale_by_backtracking_linesearch
    with pytest.raises(ValueError, match=r"decrease_factor=1.0\): decrease_factor must be in"):
        back(10, decrease_factor=1.0)
    with pytest.raises(ValueError, match=r"max_backtracking_steps=-1"):
        back(-1)
    with pytest.raises(ValueError, match=r"atol=-0.1"):
        back(10, atol=-0.1)
    w = jnp.ones(2)
    tx = zoom(5)
    with pytest.raises(ValueError, match=r"scale_by_zoom_linesearch: update\(\) needs value_fn"):
        tx.update(w, tx.init(w), w, value=jnp.ones(()), grad=w)
    with pytest.raises(ValueError, match=r"needs grad="):
        tx.update(w, tx.init(w), w, value=jnp.ones(()), value_fn=jnp.sum)
    with pytest.raises(ValueError, match=r"needs params"):
        tx.update(w, tx.init(w), value=jnp.ones(()), grad=w, value_fn=jnp.sum)


def test_backtracking_accepts_an_increase_factor_below_one():
    # Issue 14 item 14: Optax accepts any factor there (a factor < 1 shrinks the guess).
    tx = gradtx.scale_by_backtracking_linesearch(max_backtracking_steps=5, increase_factor=1e-5)
    assert tx.init(jnp.zeros(2)) is not None
    with pytest.raises(ValueError, match=r"increase_factor=0.0\): increase_factor must be"):
        gradtx.scale_by_backtracking_linesearch(max_backtracking_steps=5, increase_factor=0.0)


@pytest.mark.parametrize(
    "factory",
    [gradtx.scale_by_zoom_linesearch, gradtx.scale_by_backtracking_linesearch],
)
def test_update_after_setting_a_python_float_learning_rate(factory):
    # Issue 14 item 12: tree.set(state, learning_rate=1.0) puts a Python float in state.
    tx = factory(10)
    f = lambda w: jnp.sum((w - 1.0) ** 2)  # noqa: E731
    w = jnp.zeros(2)
    state = tx.init(w)._replace(learning_rate=1.0)
    v, g = jax.value_and_grad(f)(w)
    u, state = tx.update(-g, state, w, value=v, grad=g, value_fn=f)
    assert float(f(w + u)) < float(v)
    assert jnp.result_type(state.learning_rate) == jnp.float32


def _printed(lib, opt, fn, w, u):
    """What one search prints (Optax's _run_linesearch: guess 1, one update)."""
    state = lib.tree.set(opt.init(w), learning_rate=1.0)
    value, grad = jax.value_and_grad(fn)(w)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        opt.update(u, state, w, value=value, grad=grad, value_fn=fn)
        jax.effects_barrier()
    return out.getvalue()


_U = jnp.array([1.0, 0.0])


@pytest.mark.parametrize(
    "make, w",
    [
        # not a descent direction: no step with sufficient decrease
        (lambda lib: lib.scale_by_zoom_linesearch(18, curv_rtol=0.5, verbose=True), 60 * _U),
        # max_learning_rate reached before an interval is found
        (
            lambda lib: lib.scale_by_zoom_linesearch(
                10, curv_rtol=0.5, verbose=True, max_learning_rate=10.0
            ),
            -60 * _U,
        ),
        # steps run out: the best sufficient step is returned
        (lambda lib: lib.scale_by_zoom_linesearch(5, curv_rtol=0.5, verbose=True), -60 * _U),
        (lambda lib: lib.scale_by_backtracking_linesearch(3, verbose=True), 60 * _U),
    ],
    ids=["zoom-not-descent", "zoom-max-stepsize", "zoom-steps", "backtracking"],
)
def test_verbose_prints_optax_s_diagnostics(make, w):
    f = lambda w: jnp.dot(w, w)  # noqa: E731
    ours, theirs = (_printed(lib, make(lib), f, w, _U) for lib in (gradtx, optax))
    assert theirs and ours == theirs


def test_verbose_interval_too_small_and_silent_by_default():
    def flat(x):
        return jnp.exp(-1 / x**2)

    w = jnp.asarray(-0.2)
    u = -jax.grad(flat)(w)
    ours = _printed(gradtx, gradtx.scale_by_zoom_linesearch(30, verbose=True), flat, w, u)
    theirs = _printed(optax, optax.scale_by_zoom_linesearch(30, verbose=True), flat, w, u)
    assert "Length of searched interval has been reduced below threshold." in ours
    assert ours == theirs
    assert _printed(gradtx, gradtx.scale_by_zoom_linesearch(30), flat, w, u) == ""
