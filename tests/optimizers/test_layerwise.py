"""lamb and lars: the documented chains, Optax parity (masks, schedules, Nesterov, weight decay),
signatures and validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from tests.helpers import (
    assert_same_shapes_and_dtypes,
    assert_trees_close,
    example_params,
    gradient_sequence,
    run_updates,
)

# Slow (CI runs it): trajectories and dtype checks of each alias.
pytestmark = pytest.mark.slow


def _not_vector(tree):
    return jax.tree.map(lambda x: jnp.ndim(x) != 1, tree)


def test_lamb_is_the_documented_chain():
    params = example_params()
    grads = gradient_sequence(params, 5)
    ours, _, _ = run_updates(gradtx.lamb(0.01, weight_decay=0.1, mask=_not_vector), params, grads)
    chain = gradtx.chain(
        gradtx.scale_by_adam(eps=1e-6),
        gradtx.add_decayed_weights(0.1, mask=_not_vector),
        gradtx.scale_by_trust_ratio(),
        gradtx.scale_by_learning_rate(0.01),
    )
    expected, _, _ = run_updates(chain, params, grads)
    for a, b in zip(ours, expected, strict=True):
        assert_trees_close(a, b, rtol=0.0)


def test_lamb_step_norm_is_learning_rate_times_param_norm():
    # With the trust ratio, every layer's step has norm lr * ||theta||.
    params = {"w": jnp.full((3, 4), 2.0), "b": jnp.array([3.0, 4.0])}
    opt = gradtx.lamb(0.1)
    g = gradient_sequence(params, 1)[0]
    u, _ = opt.update(g, opt.init(params), params)
    assert float(jnp.linalg.norm(u["w"])) == pytest.approx(
        0.1 * float(jnp.linalg.norm(params["w"])), rel=1e-5
    )
    assert float(jnp.linalg.norm(u["b"])) == pytest.approx(0.5, rel=1e-5)


def test_lars_trust_ratio_mask_leaves_masked_layers_as_sgd():
    params = {"w": jnp.full((2, 2), 3.0), "b": jnp.array([1.0, 1.0])}
    g = {"w": jnp.ones((2, 2)), "b": jnp.array([0.5, -0.5])}
    opt = gradtx.lars(
        1.0, trust_coefficient=0.5, trust_ratio_mask={"w": True, "b": False}, momentum=0.0
    )
    u, _ = opt.update(g, opt.init(params), params)
    np.testing.assert_allclose(u["b"], [-0.5, 0.5])  # plain -lr * g
    np.testing.assert_allclose(u["w"], -0.5 * 6.0 / 2.0 * np.ones((2, 2)), rtol=1e-6)


@pytest.mark.parametrize(
    "factory",
    [lambda: gradtx.lamb(0.01, weight_decay=0.01, mask=_not_vector), lambda: gradtx.lars(0.1)],
    ids=["lamb", "lars"],
)
@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float32])
def test_dtypes_are_preserved(factory, dtype):
    params = example_params(dtype)
    opt = factory()
    state0 = opt.init(params)
    u, state = jax.jit(opt.update)(gradient_sequence(params, 1)[0], state0, params)
    assert_same_shapes_and_dtypes(u, params)
    assert_same_shapes_and_dtypes(state, state0)


def test_float64_none_leaves_and_empty_trees(x64):
    params = example_params(jnp.float64)
    for opt in (
        gradtx.lamb(0.01, weight_decay=0.1),
        gradtx.lars(0.1, trust_ratio_mask=_not_vector),
    ):
        u, _ = opt.update(gradient_sequence(params, 1)[0], opt.init(params), params)
        assert_same_shapes_and_dtypes(u, params)
        assert opt.update({}, opt.init({}), {})[0] == {}
        p = {"w": jnp.ones(2), "frozen": None}
        u, _ = opt.update({"w": jnp.ones(2), "frozen": None}, opt.init(p), p)
        assert u["frozen"] is None


def test_params_are_required():
    for opt in (gradtx.lamb(0.01), gradtx.lars(0.1)):
        with pytest.raises(ValueError, match="needs params"):
            opt.update(jnp.ones(2), opt.init(jnp.ones(2)))


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda: gradtx.lamb(float("nan")), ValueError, r"lamb\(learning_rate=nan\)"),
        (lambda: gradtx.lamb(0.1, b1=1.0), ValueError, r"scale_by_adam\(b1=1\.0\)"),
        (lambda: gradtx.lamb(0.1, mask="w"), TypeError, r"lamb\(mask='w'\)"),
        (lambda: gradtx.lars(0.1, momentum=1.0), ValueError, r"lars\(momentum=1\.0\)"),
        (lambda: gradtx.lars(0.1, trust_coefficient=0.0), ValueError, r"trust_coefficient"),
        (lambda: gradtx.lars(0.1, weight_decay=-1.0), ValueError, r"weight_decay=-1\.0"),
        (lambda: gradtx.lars(0.1, trust_ratio_mask=1.5), TypeError, r"trust_ratio_mask=1\.5"),
    ],
)
def test_validation(call, error, match):
    with pytest.raises(error, match=match):
        call()
