"""``scale_by_lbfgs`` and ``lbfgs``: Optax parity, a dense float64 BFGS reference,
Rosenbrock against SciPy's L-BFGS-B, jit against eager, validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.optimize

import gradtx
from tests.helpers import assert_trees_close

# Slow (CI runs it): iterative solvers and estimators, compiled per case.
pytestmark = pytest.mark.slow


def rosenbrock(w):
    return (1.0 - w[0]) ** 2 + 100.0 * (w[1] - w[0] ** 2) ** 2


_SCALES = jnp.asarray([1.0, 3.0, 10.0, 30.0, 100.0])


def quadratic(p):
    """An ill-conditioned (condition number 100) quadratic with a linear term, on a tree."""
    x = jnp.concatenate([p["u"], p["v"]])
    return 0.5 * jnp.sum(_SCALES * x * x) - jnp.sum(x * jnp.arange(1.0, 6.0))


QUAD_X0 = {"u": jnp.array([1.0, -2.0]), "v": jnp.array([0.5, 3.0, -1.0])}


def run(opt, f, x0, steps):
    """``steps`` iterations of the standard L-BFGS loop, compiled as one scan."""
    value_and_grad = gradtx.value_and_grad_from_state(f)

    def body(carry, _):
        w, state = carry
        value, grad = value_and_grad(w, state=state)
        updates, state = opt.update(grad, state, w, value=value, grad=grad, value_fn=f)
        w = jax.tree.map(lambda p, u: p + u, w, updates)
        return (w, state), (w, f(w))

    @jax.jit
    def go(x0):
        return jax.lax.scan(body, (x0, opt.init(x0)), length=steps)

    (w, state), (trajectory, values) = go(x0)
    return w, state, trajectory, values


# --- parity with Optax -------------------------------------------------------------

PARITY = [
    ("rosenbrock", rosenbrock, jnp.array([-1.2, 1.0]), {}),
    ("rosenbrock_memory_3", rosenbrock, jnp.array([-1.2, 1.0]), {"memory_size": 3}),
    ("rosenbrock_lr", rosenbrock, jnp.array([-1.2, 1.0]), {"learning_rate": 0.5}),
    ("quadratic", quadratic, QUAD_X0, {}),
    ("quadratic_memory_2_lr", quadratic, QUAD_X0, {"memory_size": 2, "learning_rate": 0.3}),
]


@pytest.mark.parametrize("f, x0, kwargs", [p[1:] for p in PARITY], ids=[p[0] for p in PARITY])
def test_lbfgs_matches_optax(f, x0, kwargs):
    steps = 30
    _, ours, traj, values = run(gradtx.lbfgs(**kwargs), f, x0, steps)
    # Optax's own value_and_grad_from_state in its own loop.
    opt = optax.lbfgs(**kwargs)
    vg = optax.value_and_grad_from_state(f)

    def body(carry, _):
        w, state = carry
        value, grad = vg(w, state=state)
        updates, state = opt.update(grad, state, w, value=value, grad=grad, value_fn=f)
        w = optax.apply_updates(w, updates)
        return (w, state), (w, f(w))

    (_, theirs), (ref_traj, ref_values) = jax.jit(
        lambda x0: jax.lax.scan(body, (x0, opt.init(x0)), length=steps)
    )(x0)
    # Iterates, losses, line-search step sizes and L-BFGS memories agree.
    assert_trees_close(traj, ref_traj, rtol=1e-6, atol=1e-7)
    assert_trees_close(values, ref_values, rtol=1e-5, atol=1e-10)
    assert_trees_close(tuple(ours[0]), tuple(theirs[0]), rtol=1e-5, atol=1e-6)
    assert_trees_close(ours[-1].learning_rate, theirs[-1].learning_rate, rtol=1e-5)
    assert float(values[-1]) < 0.1 * float(f(x0))


def test_scale_by_lbfgs_matches_optax_with_a_fixed_step():
    """The bare transform followed by a constant step, on a quadratic's gradients."""
    # Without the initial scaling, H_0 = I and the step must be below 2 / L = 0.02.
    for kwargs, step in (({}, 0.3), ({"memory_size": 3, "scale_init_precond": False}, 0.01)):
        ours = gradtx.chain(gradtx.scale_by_lbfgs(**kwargs), gradtx.scale(-step))
        theirs = optax.chain(optax.scale_by_lbfgs(**kwargs), optax.scale(-step))

        def trajectory(opt):
            def body(carry, _):
                w, state = carry
                updates, state = opt.update(jax.grad(quadratic)(w), state, w)
                return (jax.tree.map(jnp.add, w, updates), state), updates

            return jax.jit(lambda w: jax.lax.scan(body, (w, opt.init(w)), length=25))(QUAD_X0)

        (w_ours, s_ours), u_ours = trajectory(ours)
        (w_theirs, s_theirs), u_theirs = trajectory(theirs)
        assert_trees_close(u_ours, u_theirs, rtol=1e-6, atol=1e-7)
        assert_trees_close(tuple(s_ours[0]), tuple(s_theirs[0]), rtol=1e-6, atol=1e-7)
        assert float(quadratic(w_ours)) < float(quadratic(QUAD_X0))


def test_state_has_optax_field_names():
    assert gradtx.ScaleByLBFGSState._fields == optax.ScaleByLBFGSState._fields
    state = gradtx.scale_by_lbfgs(memory_size=4).init(QUAD_X0)
    assert state.diff_params_memory["v"].shape == (4, 3)
    assert state.weights_memory.shape == (4,) and state.count.dtype == jnp.int32


# --- the two-loop recursion against the dense BFGS formula ------------------------


def _flat(tree) -> np.ndarray:
    return np.concatenate([np.asarray(x, np.float64).reshape(-1) for x in jax.tree.leaves(tree)])


def _dense_lbfgs_direction(pairs, g, gamma) -> np.ndarray:
    """``H g`` with ``H`` built densely: ``gamma I``, then BFGS updates oldest to newest."""
    n = g.size
    h = gamma * np.eye(n)
    for s, y in pairs:
        rho = 1.0 / (y @ s)
        v = np.eye(n) - rho * np.outer(y, s)
        h = v.T @ h @ v + rho * np.outer(s, s)
    return h @ g


@pytest.mark.parametrize("memory_size, scale_init", [(3, True), (10, True), (2, False)])
def test_two_loop_recursion_matches_dense_bfgs(x64, memory_size, scale_init):
    """Every step's output equals the dense BFGS inverse Hessian (last m pairs) times g."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(7, 7))
    a = a @ a.T + 7 * np.eye(7)  # SPD, so every pair has y^T s > 0

    def grad_fn(p):  # gradient of a strictly convex quartic-plus-quadratic
        x = _flat(p)
        g = a @ x + x**3
        return {"m": jnp.asarray(g[:4].reshape(2, 2)), "v": jnp.asarray(g[4:])}

    tx = gradtx.scale_by_lbfgs(memory_size=memory_size, scale_init_precond=scale_init)
    update = jax.jit(tx.update)
    params = {"m": jnp.asarray(rng.normal(size=(2, 2))), "v": jnp.asarray(rng.normal(size=3))}
    state = tx.init(params)
    pairs = []
    prev = None
    for k in range(8):
        g = grad_fn(params)
        direction, state = update(g, state, params)
        x, gx = _flat(params), _flat(g)
        if prev is not None:
            pairs.append((x - prev[0], gx - prev[1]))
        if k == 0:
            gamma = min(1.0, 1.0 / np.linalg.norm(gx)) if scale_init else 1.0
        else:
            s, y = pairs[-1]
            gamma = (s @ y) / (y @ y) if scale_init else 1.0
        expected = _dense_lbfgs_direction(pairs[-memory_size:], gx, gamma)
        np.testing.assert_allclose(_flat(direction), expected, rtol=1e-10, atol=1e-12)
        assert direction["m"].dtype == jnp.float64
        prev = (x, gx)
        params = jax.tree.map(lambda p, d: p - 0.05 * d, params, direction)
    assert int(state.count) == 8


def test_first_direction_is_the_normalised_gradient():
    tx = gradtx.scale_by_lbfgs()
    update = jax.jit(tx.update)
    g = {"a": jnp.array([3.0]), "b": jnp.array([[4.0]])}
    direction, _ = update(g, tx.init(g), g)
    assert_trees_close(direction, {"a": jnp.array([0.6]), "b": jnp.array([[0.8]])}, rtol=1e-6)
    small = {"a": jnp.array([0.03]), "b": jnp.array([[0.04]])}  # |g| < 1: gamma_0 = 1
    direction, _ = update(small, tx.init(small), small)
    assert_trees_close(direction, small, rtol=1e-6)


# --- convergence -------------------------------------------------------------------


def test_lbfgs_solves_rosenbrock_like_scipy():
    x0 = jnp.array([-1.2, 1.0])
    w, state, _, values = run(gradtx.lbfgs(), rosenbrock, x0, 60)
    assert float(values[-1]) < 1e-5
    reference = scipy.optimize.minimize(
        lambda x: float(rosenbrock(jnp.asarray(x, jnp.float32))),
        np.array([-1.2, 1.0]),
        jac=lambda x: np.asarray(jax.grad(rosenbrock)(jnp.asarray(x, jnp.float32)), np.float64),
        method="L-BFGS-B",
    )
    assert reference.success
    np.testing.assert_allclose(np.asarray(w), reference.x, atol=2e-3)
    np.testing.assert_allclose(np.asarray(w), [1.0, 1.0], atol=2e-3)
    # The loss never increases: every accepted step has sufficient decrease.
    assert np.all(np.diff(np.asarray(values)) <= 1e-7)
    assert int(state[0].count) == 60


def test_lbfgs_jit_and_eager_agree():
    opt = gradtx.lbfgs(memory_size=4)
    value_and_grad = gradtx.value_and_grad_from_state(rosenbrock)

    def step(w, state):
        value, grad = value_and_grad(w, state=state)
        updates, state = opt.update(grad, state, w, value=value, grad=grad, value_fn=rosenbrock)
        return gradtx.apply_updates(w, updates), state

    jitted = jax.jit(step)
    w_jit = w_eager = jnp.array([-1.2, 1.0])
    s_jit = s_eager = opt.init(w_jit)
    with jax.disable_jit():
        eager = []
        for _ in range(2):
            w_eager, s_eager = step(w_eager, s_eager)
            eager.append(w_eager)
    for t in range(2):
        w_jit, s_jit = jitted(w_jit, s_jit)
        assert_trees_close(w_jit, eager[t], rtol=1e-6, atol=1e-7, msg=f"step {t}")
    # Gradients stored in the state suffer cancellation near the valley: absolute tolerance.
    assert_trees_close(s_jit, s_eager, rtol=1e-5, atol=1e-4)


# --- protocol details ----------------------------------------------------------------


def test_lbfgs_state_layout_and_default_linesearch():
    state = gradtx.lbfgs().init(QUAD_X0)
    assert isinstance(state[0], gradtx.ScaleByLBFGSState)
    assert isinstance(state[2], gradtx.ScaleByZoomLinesearchState)
    assert float(gradtx.tree.get(state, "learning_rate")) == 1.0
    # Optax's default line search allows 20 evaluations. Against a wall just past the
    # start it needs 19, so a default of 15 would stop earlier and step elsewhere.
    f = lambda w: jnp.sum(-w + 1e8 * jnp.maximum(w - 1e-4, 0.0) ** 2)  # noqa: E731
    w = jnp.array([0.0])
    v, g = jax.value_and_grad(f)(w)
    ref_opt, opt = optax.lbfgs(), gradtx.lbfgs()
    theirs, ref_state = ref_opt.update(g, ref_opt.init(w), w, value=v, grad=g, value_fn=f)
    ours, our_state = opt.update(g, opt.init(w), w, value=v, grad=g, value_fn=f)
    assert_trees_close(ours, theirs, rtol=1e-6)
    assert int(our_state[2].info.num_linesearch_steps) == 19
    assert int(ref_state[2].info.num_linesearch_steps) == 19
    # The returned step has sufficient decrease; the info describes the returned point.
    assert float(f(w + ours)) < float(v)
    assert float(our_state[2].info.decrease_error) == 0.0


def test_lbfgs_without_linesearch_is_a_fixed_step():
    opt = gradtx.lbfgs(learning_rate=0.1, linesearch=None)
    ref = optax.lbfgs(learning_rate=0.1, linesearch=None)
    g = jax.grad(quadratic)(QUAD_X0)
    ours, _ = opt.update(g, opt.init(QUAD_X0), QUAD_X0)
    theirs, _ = ref.update(g, ref.init(QUAD_X0), QUAD_X0)
    assert_trees_close(ours, theirs, rtol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match=r"scale_by_lbfgs\(memory_size=0\): memory_size"):
        gradtx.scale_by_lbfgs(memory_size=0)
    with pytest.raises(TypeError, match=r"scale_by_lbfgs\(memory_size=2.5\)"):
        gradtx.scale_by_lbfgs(memory_size=2.5)
    with pytest.raises(ValueError, match=r"lbfgs|scale_by_lbfgs"):
        gradtx.lbfgs(memory_size=0)
    tx = gradtx.scale_by_lbfgs()
    w = jnp.ones(2)
    injected = gradtx.inject_hyperparams(gradtx.scale_by_lbfgs)(memory_size=3)
    with pytest.raises(TypeError, match=r"static_args=\('memory_size',\)"):
        jax.jit(injected.update)(w, injected.init(w), w)
    with pytest.raises(ValueError, match=r"scale_by_lbfgs: update\(\) needs params"):
        tx.update(w, tx.init(w))
    opt = gradtx.lbfgs()
    with pytest.raises(ValueError, match=r"needs value_fn="):
        opt.update(w, opt.init(w), w, value=jnp.ones(()), grad=w)


def test_value_and_grad_from_state_reuses_the_stored_pair():
    opt = gradtx.lbfgs()
    value_and_grad = gradtx.value_and_grad_from_state(rosenbrock)
    w = jnp.array([-1.2, 1.0])
    state = opt.init(w)
    value, grad = value_and_grad(w, state=state)  # stored value is inf: computed
    ref_value, ref_grad = jax.value_and_grad(rosenbrock)(w)
    assert_trees_close((value, grad), (ref_value, ref_grad), rtol=1e-6)
    # A finite stored value is returned as it is, without calling the function.
    marked = gradtx.tree.set(state, value=jnp.asarray(7.0), grad=jnp.array([1.0, 2.0]))
    value, grad = value_and_grad(w, state=marked)
    assert float(value) == 7.0 and grad.tolist() == [1.0, 2.0]
    # A state without a stored gradient is an error.
    bt = gradtx.scale_by_backtracking_linesearch(5)
    with pytest.raises(ValueError, match="no 'value' or no 'grad'"):
        value_and_grad(w, state=bt.init(w))
