"""gradtx.microbatching against full-batch JAX and Optax's microbatching."""

import enum
import functools
import inspect

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from gradtx import microbatching as M

# Slow (CI runs it): compiled per case.
pytestmark = pytest.mark.slow

OM = optax.microbatching
KINDS = ["SUM", "MEAN", "RUNNING_MEAN", "CONCAT"]


def _rand(*shape, seed=0, dtype=jnp.float32):
    return jnp.asarray(np.random.RandomState(seed).randn(*shape), dtype)


def _close(a, b, **kw):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        assert x.shape == y.shape and x.dtype == y.dtype, (x, y)
        np.testing.assert_allclose(np.asarray(x, np.float64), np.asarray(y, np.float64), **kw)


def test_namespace_signatures_and_enum_interoperate_with_optax():
    names = sorted(n for n in dir(OM) if not n.startswith("_"))
    assert M.__all__ == names and gradtx.microbatching is M
    assert gradtx.microbatch is M.microbatch  # optax.microbatch is at the top level too
    for name in ("micro_grad", "micro_vmap", "microbatch", "reshape_batch_axis"):
        ours = inspect.signature(getattr(M, name)).parameters
        theirs = inspect.signature(getattr(OM, name)).parameters
        assert list(ours) == list(theirs), name
        for p in ours:
            assert ours[p].kind == theirs[p].kind, (name, p)
            o, t = ours[p].default, theirs[p].default
            if isinstance(t, enum.Enum):  # AccumulationType.MEAN: the same member
                assert (type(o).__name__, o.name) == (type(t).__name__, t.name), (name, p)
            elif not callable(t) or t is jax.vmap:
                assert o == t, (name, p)
    assert [m.name for m in M.AccumulationType] == [m.name for m in OM.AccumulationType]
    assert [m.value for m in M.AccumulationType] == [m.value for m in OM.AccumulationType]
    fields = [f.name for f in __import__("dataclasses").fields(M.Accumulator)]
    assert fields == [f.name for f in __import__("dataclasses").fields(OM.Accumulator)]


def test_reshape_batch_axis_is_optax_s_column_major_split():
    x = jnp.arange(2 * 12 * 3).reshape(2, 12, 3)
    for axis in (0, 1, -2):
        if x.shape[axis] % 4:
            continue
        ours = M.reshape_batch_axis(x, 4, axis)
        np.testing.assert_array_equal(ours, OM.reshape_batch_axis(x, 4, axis))
    with pytest.raises(ValueError, match="divisible"):
        M.reshape_batch_axis(jnp.arange(6), 4)


def _fun(nonbatch, a, b):
    return {
        "sum": jnp.sum(a * b, axis=0) + nonbatch,
        "rows": jnp.tanh(a) @ nonbatch,
    }


@pytest.mark.parametrize("kind", KINDS)
def test_microbatch_equals_optax_and_full_batch(kind):
    nonbatch, a, b = _rand(3, seed=0), _rand(12, 3, seed=1), _rand(12, 3, seed=2)
    acc = {"sum": getattr(M.AccumulationType, kind), "rows": M.AccumulationType.CONCAT}
    ours = jax.jit(M.microbatch(_fun, argnums=(1, 2), microbatch_size=3, accumulator=acc))
    their_acc = {"sum": getattr(OM.AccumulationType, kind), "rows": OM.AccumulationType.CONCAT}
    theirs = OM.microbatch(_fun, argnums=(1, 2), microbatch_size=3, accumulator=their_acc)
    out = ours(nonbatch, a, b)
    _close(out, theirs(nonbatch, a, b), rtol=1e-6, atol=1e-6)
    full = _fun(nonbatch, a, b)
    np.testing.assert_allclose(out["rows"], full["rows"], rtol=1e-6)  # CONCAT = full batch
    if kind == "SUM":  # a sum over rows is additive
        np.testing.assert_allclose(out["sum"], full["sum"] + 3 * nonbatch, rtol=1e-5)


def test_argnames_in_axes_early_stop_and_traced_steps():
    x = _rand(4, 10, 5, seed=3)
    fun = functools.partial(jnp.einsum, "ibj,kbj->ik")
    ours = M.microbatch(lambda u, *, v: fun(u, v), 0, 2, argnames="v", in_axes=1)(x, v=x)
    theirs = OM.microbatch(lambda u, *, v: fun(u, v), 0, 2, argnames="v", in_axes=1)(x, v=x)
    _close(ours, theirs, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours, fun(x, x), rtol=1e-5, atol=1e-5)
    concat = M.microbatch(lambda v: v, 0, 3, M.AccumulationType.CONCAT, num_real_microbatches=2)
    out = concat(jnp.arange(12.0) + 1)
    assert int(jnp.sum(out != 0)) == 6

    @jax.jit
    def partial_sum(v, steps):
        return M.microbatch(jnp.sum, argnums=0, microbatch_size=4, num_real_microbatches=steps)(v)

    assert float(partial_sum(jnp.ones(128), 4)) == 16.0
    running = M.microbatch(jnp.mean, 0, 4, M.AccumulationType.RUNNING_MEAN, num_real_microbatches=2)
    with jax.numpy_dtype_promotion("standard"):
        ref = OM.microbatch(
            jnp.mean, 0, 4, OM.AccumulationType.RUNNING_MEAN, num_real_microbatches=2
        )(jnp.arange(16.0))
    _close(running(jnp.arange(16.0)), ref, rtol=1e-6)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16, jnp.float32])
def test_dtypes_are_kept(dtype):
    a, b = _rand(8, 3, seed=4, dtype=dtype), _rand(8, 3, seed=5, dtype=dtype)
    fn = M.microbatch(_fun, argnums=(1, 2), microbatch_size=2)
    out = fn(_rand(3, dtype=dtype), a, b)
    assert all(leaf.dtype == dtype for leaf in jax.tree.leaves(out))
    mean = M.microbatch(jnp.sum, 0, 2, M.AccumulationType.RUNNING_MEAN)(a)
    assert mean.dtype == dtype


def test_errors():
    fn = M.microbatch(lambda a, b: a + b, argnums=(0, 1), microbatch_size=3)
    with pytest.raises(ValueError, match="equal-size"):
        fn(jnp.ones(6), jnp.ones(9))
    with pytest.raises(ValueError, match="divisible"):
        fn(jnp.ones(8), jnp.ones(8))
    with pytest.raises(ValueError, match="floating-point"):
        M.microbatch(jnp.sum, 0, 2, M.AccumulationType.MEAN)(jnp.arange(4))
    with pytest.raises(ValueError, match="Unknown accumulator"):
        M.microbatch(jnp.sum, 0, 2, "sum")(jnp.ones(4))
    with pytest.raises(NotImplementedError):
        M.micro_vmap(jnp.sum, out_axes=1)
    assert M.microbatch(jnp.sum, 0, None) is jnp.sum


def test_micro_vmap_equals_vmap_and_optax():
    x = jnp.arange(2 * 4 * 8.0).reshape(2, 4, 8)
    ours = M.micro_vmap(jnp.sum, in_axes=1, microbatch_size=2)(x)
    np.testing.assert_array_equal(ours, jax.vmap(jnp.sum, in_axes=1)(x))
    y = jnp.ones((4, 8), jnp.int32)

    def fun(u, *, y):
        return jnp.sum(u + y)

    x2 = jnp.arange(32).reshape(4, 8)
    np.testing.assert_array_equal(
        M.micro_vmap(fun, microbatch_size=2)(x2, y=y), jax.vmap(fun)(x2, y=y)
    )
    early = M.micro_vmap(
        jnp.sum, microbatch_size=4, num_real_microbatches=3, accumulator=M.AccumulationType.SUM
    )(jnp.ones(16))
    assert float(early) == 12.0
    for kind in KINDS:
        a = M.micro_vmap(jnp.tanh, microbatch_size=2, accumulator=getattr(M.AccumulationType, kind))
        b = OM.micro_vmap(
            jnp.tanh, microbatch_size=2, accumulator=getattr(OM.AccumulationType, kind)
        )
        v = _rand(8, 3, seed=6)
        _close(a(v), b(v), rtol=1e-6, atol=1e-7)


def _mse(params, features, targets):
    return 0.5 * jnp.mean((features @ params - targets) ** 2)


@pytest.mark.parametrize("keep_batch_dim", [True, False])
@pytest.mark.parametrize("microbatch_size", [None, 2])
def test_micro_grad_per_example_gradients_against_optax(keep_batch_dim, microbatch_size):
    params, features, targets = _rand(3, seed=7), _rand(8, 3, seed=8), _rand(8, seed=9)
    kwargs = dict(
        batch_argnums=(1, 2),
        keep_batch_dim=keep_batch_dim,
        microbatch_size=microbatch_size,
        transform_fn=lambda g: (g, g**2),
        metrics_fn=jnp.linalg.norm,
    )
    (g, g2), aux = M.micro_grad(_mse, accumulator=M.AccumulationType.MEAN, **kwargs)(
        params, features, targets
    )
    (tg, tg2), taux = OM.micro_grad(_mse, accumulator=OM.AccumulationType.MEAN, **kwargs)(
        params, features, targets
    )
    _close((g, g2, aux.values, aux.metrics), (tg, tg2, taux.values, taux.metrics), rtol=1e-6)
    per_example = jax.vmap(jax.grad(_mse), in_axes=(None, 0, 0))(
        params, features[:, None], targets[:, None]
    )
    np.testing.assert_allclose(g, per_example.mean(0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(g, jax.grad(_mse)(params, features, targets), rtol=1e-5)
    np.testing.assert_allclose(aux.metrics, jnp.linalg.norm(per_example, axis=1), rtol=1e-5)
    assert aux.aux is None


def test_micro_grad_with_aux_and_clipping():
    def loss(params, x):
        value = jnp.sum((x @ params) ** 2)
        return value, {"pred": x @ params}

    def clip(g):
        return g * jnp.minimum(1.0, 0.5 / jnp.linalg.norm(g))

    params, x = _rand(2, seed=10), _rand(6, 2, seed=11)
    ours = M.micro_grad(loss, has_aux=True, microbatch_size=3, transform_fn=clip)(params, x)
    theirs = OM.micro_grad(loss, has_aux=True, microbatch_size=3, transform_fn=clip)(params, x)
    _close(ours[0], theirs[0], rtol=1e-5)
    _close(ours[1].aux, theirs[1].aux, rtol=1e-6)
    assert ours[1].aux["pred"].shape == (6, 1)
    early = M.micro_grad(loss, has_aux=True, microbatch_size=2, num_real_microbatches=1)
    np.testing.assert_allclose(
        early(params, x)[0],
        OM.micro_grad(loss, has_aux=True, microbatch_size=2, num_real_microbatches=1)(params, x)[0],
        rtol=1e-6,
    )
