"""split_real_and_imaginary: Optax parity on complex trees, the known answer (the inner
optimizer on the two real halves), real leaves pass through, state structure."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from tests.contrib._common import state_structure
from tests.helpers import assert_trees_close

# Slow (CI runs it): trajectories against Optax and the papers.
pytestmark = pytest.mark.slow

contrib = gradtx.contrib


def _complex_params(dtype=jnp.complex64):
    z = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    return {
        "z": jnp.asarray(z + 1j * z[::-1], dtype),
        "r": jnp.full((4,), 0.1, jnp.finfo(dtype).dtype),
        "s": jnp.asarray(0.5 - 0.25j, dtype),
    }


def _complex_grads(params, steps, seed=0):
    rng = np.random.default_rng(seed)

    def one(p):
        g = rng.normal(size=np.shape(p))
        if jnp.iscomplexobj(p):
            g = g + 1j * rng.normal(size=np.shape(p))
        return jnp.asarray(g, jnp.result_type(p))

    return [jax.tree.map(one, params) for _ in range(steps)]


def _halves(tree):
    """Each leaf as its (real, imaginary) pair: assert_trees_close compares real arrays."""
    return jax.tree.map(lambda x: (jnp.real(x), jnp.imag(x)), tree)


def _trajectory(tx, params, grads, jit=True):
    update = jax.jit(tx.update) if jit else tx.update
    state = tx.init(params)
    out = []
    for g in grads:
        u, state = update(g, state, params)
        params = jax.tree.map(lambda p, d: p + d, params, u)
        out.append(u)
    return out, state


INNERS = [
    ("adam", lambda m: m.adam(0.05)),
    ("adamw", lambda m: m.adamw(0.01, b1=0.8, b2=0.95, weight_decay=0.1)),
    ("sgd-momentum", lambda m: m.sgd(0.1, momentum=0.9, nesterov=True)),
]


@pytest.mark.parametrize("name, inner", INNERS, ids=[n for n, _ in INNERS])
def test_matches_optax(name, inner):
    params = _complex_params()
    grads = _complex_grads(params, 25)
    ours, _ = _trajectory(contrib.split_real_and_imaginary(inner(gradtx)), params, grads)
    with jax.numpy_dtype_promotion("standard"):
        theirs, _ = _trajectory(optax.contrib.split_real_and_imaginary(inner(optax)), params, grads)
    for t, (a, e) in enumerate(zip(ours, theirs, strict=True)):
        assert_trees_close(_halves(a), _halves(e), rtol=1e-5, atol=1e-7, msg=f"step {t}:")


@pytest.mark.slow
def test_equals_the_inner_optimizer_on_the_two_real_halves(x64):
    """Known answer: Adam on z = x + iy is Adam on the real pair (x, y), in float64."""
    params = _complex_params(jnp.complex128)
    grads = _complex_grads(params, 25, seed=3)
    ours, _ = _trajectory(contrib.split_real_and_imaginary(gradtx.adam(0.05)), params, grads)
    real_tx = gradtx.adam(0.05)
    state, p = real_tx.init(_halves(params)), _halves(params)
    for g, u in zip(grads, ours, strict=True):
        v, state = real_tx.update(_halves(g), state, p)
        p = jax.tree.map(lambda a, b: a + b, p, v)
        merged = jax.tree.map(
            lambda pair: jax.lax.complex(*pair), v, is_leaf=lambda x: isinstance(x, tuple)
        )
        assert_trees_close(_halves(u), _halves(merged), rtol=1e-12)
    assert ours[0]["z"].dtype == jnp.complex128


def test_real_leaves_pass_through_and_dtypes_are_kept():
    params = _complex_params()
    grads = _complex_grads(params, 3)
    ours, _ = _trajectory(contrib.split_real_and_imaginary(gradtx.adam(0.05)), params, grads)
    plain, _ = _trajectory(gradtx.adam(0.05), {"r": params["r"]}, [{"r": g["r"]} for g in grads])
    for u, v in zip(ours, plain, strict=True):
        np.testing.assert_allclose(u["r"], v["r"], rtol=1e-6)
        assert u["z"].dtype == jnp.complex64 and u["r"].dtype == jnp.float32


def test_eager_matches_jit_and_none_leaves():
    params = {"z": _complex_params()["z"], "none": None}
    grads = _complex_grads(params, 3)
    tx = contrib.split_real_and_imaginary(gradtx.adam(0.05))
    a, _ = _trajectory(tx, params, grads, jit=True)
    b, _ = _trajectory(tx, params, grads, jit=False)
    assert_trees_close(_halves(a), _halves(b), rtol=1e-6, atol=1e-7)
    assert a[0]["none"] is None


def test_state_structure_matches_optax():
    params = _complex_params()
    ours = contrib.split_real_and_imaginary(gradtx.scale_by_adam()).init(params)
    theirs = optax.contrib.split_real_and_imaginary(optax.scale_by_adam()).init(params)
    assert state_structure(ours) == state_structure(theirs)


def test_validation():
    with pytest.raises(TypeError, match=r"split_real_and_imaginary\(inner="):
        contrib.split_real_and_imaginary(0.1)
