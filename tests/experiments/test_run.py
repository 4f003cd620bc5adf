"""experiments.run: one compiled scan, closed forms, noise, extra arguments."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from gradtx import experiments, landscapes
from tests.helpers import assert_trees_close

# Slow (CI runs it): compiled per case.
pytestmark = pytest.mark.slow

QUAD = landscapes.ill_conditioned_quadratic(condition_number=10.0, dim=3)
LAMBDAS = np.geomspace(1.0, 10.0, 3)
GD = gradtx.scale(-0.15)


def _gd_closed_form(x0, lr, steps):
    """x_t = (1 - lr * lambda)^t x0 on f = 0.5 sum(lambda x^2), in float64."""
    t = np.arange(steps + 1)[:, None]
    path = (1.0 - lr * LAMBDAS)[None, :] ** t * np.asarray(x0, np.float64)[None, :]
    losses = 0.5 * np.sum(LAMBDAS * path**2, axis=1)
    grad_norms = np.linalg.norm(LAMBDAS * path, axis=1)
    return path, losses, grad_norms


def test_plain_gd_on_a_quadratic_matches_the_closed_form():
    traj = experiments.run(GD, QUAD.fn, QUAD.x0, 40)
    path, losses, grad_norms = _gd_closed_form(QUAD.x0, 0.15, 40)
    assert traj.params.shape == (41, 3) and traj.params.dtype == jnp.float32
    assert traj.losses.shape == (41,) and traj.grad_norms.shape == (41,)
    np.testing.assert_allclose(np.asarray(traj.params), path, rtol=2e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(traj.losses), losses, rtol=5e-5, atol=1e-9)
    np.testing.assert_allclose(np.asarray(traj.grad_norms), grad_norms, rtol=5e-5, atol=1e-9)
    assert traj.state == gradtx.EmptyState()


def test_plain_gd_closed_form_float64(x64):
    x0 = jnp.asarray([1.0, -2.0, 0.5], jnp.float64)
    traj = experiments.run(gradtx.scale(-0.15), QUAD.fn, x0, 25)
    path, losses, _ = _gd_closed_form(x0, 0.15, 25)
    assert traj.params.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(traj.params), path, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(np.asarray(traj.losses), losses, rtol=1e-13, atol=1e-15)


def test_zero_steps_returns_the_start():
    traj = experiments.run(GD, QUAD.fn, QUAD.x0, 0)
    np.testing.assert_array_equal(np.asarray(traj.params), QUAD.x0[None].astype(np.float32))
    np.testing.assert_allclose(np.asarray(traj.losses), [0.5 * LAMBDAS.sum()], rtol=1e-6)


def test_compiled_once_for_the_same_tx_fn_and_shapes():
    traces = []

    def fn(x):
        traces.append(None)  # runs only while tracing
        return jnp.sum(x**2)

    tx = gradtx.chain(gradtx.scale_by_adam(), gradtx.scale_by_learning_rate(0.1))
    first = experiments.run(tx, fn, jnp.ones(2), 10)
    n = len(traces)
    assert n > 0
    second = experiments.run(tx, fn, jnp.array([3.0, -1.0]), 10)  # new values, same shapes
    assert len(traces) == n, "run retraced for the same tx, fn and shapes"
    assert not np.allclose(np.asarray(first.params), np.asarray(second.params))
    key = jax.random.key(0)
    experiments.run(tx, fn, jnp.ones(2), 10, noise_scale=0.1, key=key)
    n_noisy = len(traces)
    experiments.run(tx, fn, jnp.ones(2), 10, noise_scale=0.5, key=jax.random.key(1))
    assert len(traces) == n_noisy, "changing noise_scale or key must not recompile"
    experiments.run(tx, fn, jnp.ones(2), 11)  # steps is static: this one does trace
    assert len(traces) > n_noisy


def test_matches_a_python_loop_and_optax():
    """The scan equals stepping by hand, and Optax's adam driven the same way."""
    L = landscapes.rosenbrock()
    x0 = jnp.asarray(L.x0, jnp.float32)
    traj = experiments.run(gradtx.adam(0.05), L.fn, x0, 30)
    for opt, promotion in ((gradtx.adam(0.05), "strict"), (optax.adam(0.05), "standard")):
        params, state, path = x0, opt.init(x0), [x0]

        @jax.jit
        def step(p, s, opt=opt):
            updates, s = opt.update(jax.grad(L.fn)(p), s, p)
            return gradtx.apply_updates(p, updates), s

        with jax.numpy_dtype_promotion(promotion):  # optax itself is not strict-clean
            for _ in range(30):
                params, state = step(params, state)
                path.append(params)
        np.testing.assert_allclose(np.asarray(traj.params), np.stack(path), rtol=2e-5, atol=1e-6)


def test_pytree_params_and_dtypes():
    x0 = {"w": jnp.ones((2, 3), jnp.bfloat16), "b": jnp.zeros(3, jnp.float32)}

    def fn(p):
        w = p["w"].astype(jnp.float32)
        return jnp.sum((w - 2.0) ** 2) + jnp.sum((p["b"] + 1.0) ** 2)

    traj = experiments.run(gradtx.sgd(0.1), fn, x0, 5)
    assert traj.params["w"].shape == (6, 2, 3) and traj.params["w"].dtype == jnp.bfloat16
    assert traj.params["b"].shape == (6, 3) and traj.params["b"].dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(traj.params["b"][0]), 0.0)
    # b_t = -1 + (1 - 0.2)^t (GD closed form on (b + 1)^2).
    np.testing.assert_allclose(np.asarray(traj.params["b"][-1]), -1.0 + 0.8**5, rtol=1e-5)
    assert np.all(np.diff(np.asarray(traj.losses)) < 0)


def test_integer_start_becomes_float():
    traj = experiments.run(GD, QUAD.fn, [1, 1, 1], 3)
    assert jnp.issubdtype(traj.params.dtype, jnp.floating)


class _Seen(NamedTuple):
    value: jax.Array
    value_fn_at_params: jax.Array
    grad_sum: jax.Array


def _recorder():
    """A transform that keeps, in its state, the extra arguments it was given."""

    def init(params):
        z = jnp.zeros((), jnp.float32)
        return _Seen(z, z, z)

    def update(updates, state, params=None, *, value, grad, value_fn, **extra):
        del state, extra
        seen = _Seen(value, value_fn(params), jnp.sum(grad))
        return jax.tree.map(lambda g: -0.1 * g, updates), seen

    return gradtx.GradientTransformation(init, update)


def test_value_grad_and_value_fn_reach_every_update():
    L = landscapes.himmelblau()
    traj = experiments.run(gradtx.chain(_recorder(), gradtx.identity()), L.fn, L.x0, 4)
    seen = traj.state[0]
    last_params = traj.params[-2]  # the point of the last update
    np.testing.assert_allclose(float(seen.value), float(traj.losses[-2]), rtol=1e-6)
    np.testing.assert_allclose(float(seen.value_fn_at_params), float(L.fn(last_params)), rtol=1e-6)
    np.testing.assert_allclose(
        float(seen.grad_sum), float(jnp.sum(jax.grad(L.fn)(last_params))), rtol=1e-5
    )


def test_transform_without_extra_args_is_accepted():
    def update(updates, state, params=None):
        return jax.tree.map(lambda g: -0.15 * g, updates), state

    third_party = gradtx.GradientTransformation(lambda p: (), update)
    traj = experiments.run(third_party, QUAD.fn, QUAD.x0, 5)
    path, _, _ = _gd_closed_form(QUAD.x0, 0.15, 5)
    np.testing.assert_allclose(np.asarray(traj.params), path, rtol=2e-5)


def test_reduce_on_plateau_reads_value():
    tx = gradtx.chain(gradtx.sgd(0.1), gradtx.reduce_on_plateau(patience=1, factor=0.5))
    traj = experiments.run(tx, QUAD.fn, QUAD.x0, 20)
    assert np.isfinite(np.asarray(traj.losses)).all()


ZERO_GRAD = lambda x: 0.0 * jnp.sum(x)  # noqa: E731


def test_noise_is_deterministic_in_the_key_and_has_the_given_scale():
    tx = gradtx.scale(-1.0)
    x0 = jnp.zeros(2)
    a = experiments.run(tx, ZERO_GRAD, x0, 2000, noise_scale=0.3, key=jax.random.key(7))
    b = experiments.run(tx, ZERO_GRAD, x0, 2000, noise_scale=0.3, key=jax.random.key(7))
    c = experiments.run(tx, ZERO_GRAD, x0, 2000, noise_scale=0.3, key=jax.random.key(8))
    np.testing.assert_array_equal(np.asarray(a.params), np.asarray(b.params))
    assert not np.allclose(np.asarray(a.params), np.asarray(c.params))
    steps = -np.diff(np.asarray(a.params, np.float64), axis=0)  # = 0.3 * xi_t
    assert abs(steps.std() - 0.3) < 0.3 * 0.05
    assert abs(steps.mean()) < 0.3 * 0.05
    assert abs(np.corrcoef(steps[:-1, 0], steps[1:, 0])[0, 1]) < 0.1  # fresh noise each step
    # Gradient norms are those of the exact gradient: zero here despite the noise.
    np.testing.assert_array_equal(np.asarray(a.grad_norms), 0.0)


def test_noise_off_ignores_the_key_and_raw_keys_work():
    base = experiments.run(GD, QUAD.fn, QUAD.x0, 5)
    with_key = experiments.run(GD, QUAD.fn, QUAD.x0, 5, key=jax.random.key(0))
    np.testing.assert_array_equal(np.asarray(base.params), np.asarray(with_key.params))
    raw = experiments.run(GD, QUAD.fn, QUAD.x0, 5, noise_scale=0.1, key=jax.random.PRNGKey(0))
    assert not np.allclose(np.asarray(raw.params), np.asarray(base.params))


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"noise_scale": 0.1}, ValueError, r"run\(noise_scale=0.1\): gradient noise needs"),
        ({"noise_scale": -1.0}, ValueError, r"run\(noise_scale=-1.0\): noise_scale must be >= 0"),
        ({"steps": -1}, ValueError, r"run\(steps=-1\)"),
        ({"steps": 2.5}, TypeError, r"run\(steps=2.5\)"),
        ({"tx": "adam"}, TypeError, r"tx must be a GradientTransformation"),
        ({"fn": 3.0}, TypeError, r"fn must be a callable"),
    ],
)
def test_argument_errors(kwargs, exc, match):
    args = {"tx": GD, "fn": QUAD.fn, "x0": QUAD.x0, "steps": 3, **kwargs}
    with pytest.raises(exc, match=match):
        experiments.run(**args)


def test_compile_run_equals_run():
    execute = experiments.compile_run(GD, QUAD.fn, QUAD.x0, 40)
    assert_trees_close(execute().params, experiments.run(GD, QUAD.fn, QUAD.x0, 40).params)


def test_second_order_transforms_get_value_fn():
    """Newton-CG solves a quadratic in one step; saddle-free Newton escapes a saddle."""
    from gradtx import second_order

    newton = gradtx.chain(second_order.scale_by_newton_cg(damping=0.0, maxiter=5),
                          gradtx.scale_by_learning_rate(1.0))  # fmt: skip
    traj = experiments.run(newton, QUAD.fn, QUAD.x0, 2)
    assert float(traj.losses[1]) < 1e-6 * float(traj.losses[0])
    # On x^2 - y^2, |H| = 2I: the saddle-free step -|H|^-1 g = (-x, y) zeroes x at once and
    # doubles y at every step, where Newton would jump straight onto the saddle.
    L = landscapes.saddle()
    sfn = gradtx.chain(
        second_order.scale_by_saddle_free_newton(num_lanczos_steps=2, damping=1e-6),
        gradtx.scale_by_learning_rate(1.0),
    )
    escape = experiments.run(sfn, L.fn, L.x0, 8)
    expected = np.stack([np.zeros(8), 1e-3 * 2.0 ** np.arange(1, 9)], axis=1)
    np.testing.assert_allclose(np.asarray(escape.params[1:]), expected, rtol=1e-3, atol=1e-6)
