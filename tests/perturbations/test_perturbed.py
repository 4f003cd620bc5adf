"""gradtx.perturbations: Optax's samples and numbers with the same key, and closed forms."""

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from gradtx import perturbations as P

# Slow (CI runs it): compiled per case.
pytestmark = pytest.mark.slow

OP = optax.perturbations


def test_namespace_signatures_and_noise_defaults_match_optax():
    names = sorted(n for n in dir(OP) if not n.startswith("_"))
    assert P.__all__ == names and gradtx.perturbations is P
    ours = inspect.signature(P.make_perturbed_fun).parameters
    theirs = inspect.signature(OP.make_perturbed_fun).parameters

    def described(p):  # a noise default (``Gumbel()``) by its class name
        noise = callable(getattr(p.default, "sample", None))
        return p.name, type(p.default).__name__ if noise else p.default

    assert [described(p) for p in ours.values()] == [described(p) for p in theirs.values()]
    assert P.Gumbel() == P.Gumbel() and P.Gumbel() != P.Normal()
    key = jax.random.key(3)
    for ours_noise, their_noise in [(P.Gumbel(), OP.Gumbel()), (P.Normal(), OP.Normal())]:
        a, b = ours_noise.sample(key, (4,)), their_noise.sample(key, (4,))
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(ours_noise.log_prob(a), their_noise.log_prob(a), rtol=1e-6)


def _argmax_one_hot(x):
    return jax.nn.one_hot(jnp.argmax(x, axis=-1), x.shape[-1])


@pytest.mark.parametrize("noise", ["Gumbel", "Normal"])
@pytest.mark.parametrize("use_baseline", [True, False])
def test_values_gradients_and_jacobians_equal_optax_with_the_same_key(noise, use_baseline):
    key = jax.random.key(0)
    x = {"a": jnp.array([0.5, -0.2, 0.1]), "b": jnp.array([[0.3]])}

    def fun(t):
        return {"hot": _argmax_one_hot(t["a"]), "relu": jnp.sum(jnp.maximum(t["b"], 0.0))}

    ours = P.make_perturbed_fun(fun, 200, 0.5, getattr(P, noise)(), use_baseline)
    theirs = OP.make_perturbed_fun(fun, 200, 0.5, getattr(OP, noise)(), use_baseline)
    for transform in (lambda f: f, lambda f: jax.jacobian(f, argnums=1)):
        a = jax.jit(transform(ours))(key, x)
        b = jax.jit(transform(theirs))(key, x)
        for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
            np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # 40k-sample Monte Carlo
def test_gumbel_perturbed_argmax_is_the_softmax():
    # Gumbel-max: E[one_hot(argmax(x + z))] = softmax(x) for standard Gumbel z.
    x = jnp.array([1.0, 0.0, -0.5, 0.3])
    fn = jax.jit(P.make_perturbed_fun(_argmax_one_hot, 40_000, 1.0))
    value = fn(jax.random.key(1), x)
    np.testing.assert_allclose(value, jax.nn.softmax(x), atol=0.01)
    # The score-function Jacobian estimates that of the softmax.
    jac = jax.jit(jax.jacobian(P.make_perturbed_fun(_argmax_one_hot, 40_000, 1.0), argnums=1))(
        jax.random.key(2), x
    )
    p = jax.nn.softmax(x)
    np.testing.assert_allclose(jac, jnp.diag(p) - jnp.outer(p, p), atol=0.05)


@pytest.mark.slow  # 40 x 500-sample Monte Carlo
def test_smooth_function_gradient_is_unbiased_and_baseline_reduces_variance():
    f = lambda x: jnp.sum(x**2)  # noqa: E731  f_sigma(x) = |x|^2 + n sigma^2: gradient 2x
    x = jnp.array([0.5, -1.0])
    grads = {}
    for use_baseline in (True, False):
        fn = P.make_perturbed_fun(f, 500, 0.2, P.Normal(), use_baseline)
        g = jax.jit(jax.vmap(jax.grad(fn, argnums=1), in_axes=(0, None)))(
            jax.random.split(jax.random.key(4), 40), x
        )
        np.testing.assert_allclose(g.mean(0), 2 * x, atol=0.15)
        grads[use_baseline] = g
    assert float(grads[True].std(0).mean()) < float(grads[False].std(0).mean())


def test_validation_and_dtypes():
    with pytest.raises(ValueError, match="num_samples"):
        P.make_perturbed_fun(jnp.sum, 0)
    with pytest.raises(ValueError, match="sigma"):
        P.make_perturbed_fun(jnp.sum, 10, sigma=0.0)
    fn = P.make_perturbed_fun(lambda x: x * 2, 8, 0.1)
    out = fn(jax.random.key(0), jnp.ones(3, jnp.bfloat16))
    assert out.dtype == jnp.bfloat16 and out.shape == (3,)
