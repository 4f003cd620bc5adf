"""``gradtx.experimental.aggregating`` against Optax 0.2.8's ``optax.experimental.aggregating``
(same updates, statistics and state structures over 25+ steps) and against NumPy
(the accumulated mean and variance of all the examples of a cycle)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from gradtx.experimental import aggregating
from tests.helpers import assert_trees_close

optax = pytest.importorskip("optax", reason="optax is in the [test] extra")
from optax.experimental import aggregating as optax_aggregating  # noqa: E402

from tests.compat.test_optax_states import structure  # noqa: E402

STEPS = 26
BATCH, DIM, OUT = 6, 4, 2


def _lib(lib):
    """``(library, its aggregating module)``."""
    return (gradtx, aggregating) if lib is gradtx else (optax, optax_aggregating)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    xs = jnp.asarray(rng.normal(size=(STEPS, BATCH, DIM)), jnp.float32)
    ys = jnp.asarray(rng.normal(size=(STEPS, BATCH, OUT)), jnp.float32)
    params = {
        "w": jnp.asarray(rng.normal(size=(DIM, OUT)), jnp.float32),
        "b": jnp.zeros((OUT,), jnp.float32),
    }
    return params, xs, ys


def _loss(p, x, y):
    return jnp.sum((x @ p["w"] + p["b"] - y) ** 2)


_per_example_grads = jax.jit(jax.vmap(jax.grad(_loss), (None, 0, 0)))
_batch_grads = jax.jit(
    lambda p, x, y: jax.grad(lambda q: jnp.mean(jax.vmap(_loss, (None, 0, 0))(q, x, y)))(p)
)


def _train(tx, per_example=True, read=None):
    """Run ``tx`` for STEPS steps; return the params, and ``read(state)`` at every step."""
    params, xs, ys = _data()
    state = tx.init(params)
    update = jax.jit(tx.update)
    reads = []
    for x, y in zip(xs, ys, strict=True):
        grads = _per_example_grads(params, x, y) if per_example else _batch_grads(params, x, y)
        updates, state = update(grads, state, params)
        params = jax.tree.map(lambda p, u: p + u, params, updates)
        if read is not None:
            reads.append(read(state))
    return params, state, reads


def _both(make, **kwargs):
    ours = _train(make(gradtx), **kwargs)
    with jax.numpy_dtype_promotion("standard"):
        theirs = _train(make(optax), **kwargs)
    return ours, theirs


@pytest.mark.parametrize("k", [1, 3])
def test_accumulate_avg_updates_matches_optax(k):
    def make(lib):
        o, agg = _lib(lib)
        return o.chain(agg.accumulate_avg_updates(k), o.scale(-0.05))

    (p_ours, s_ours, _), (p_theirs, s_theirs, _) = _both(make, per_example=False)
    assert_trees_close(p_ours, p_theirs, rtol=1e-5, atol=1e-7)
    assert structure(s_ours) == structure(s_theirs)


def test_accumulating_avg_updates_is_the_mean_and_emits_every_kth_call():
    tx = aggregating.accumulate_avg_updates(3)
    state = tx.init(jnp.zeros(2))
    for t, g in enumerate([1.0, 2.0, 6.0, -1.0, -2.0, 3.0, 5.0]):
        u, state = tx.update(jnp.full(2, g), state)
        expected = {2: 3.0, 5: 0.0}.get(t, 0.0)
        np.testing.assert_allclose(u, expected, rtol=1e-6)
        assert bool(state.ready) == (t in (2, 5))
        assert int(state.micro_step) == (t + 1) % 3
    assert aggregating.accumulate_avg_updates(1) is not None
    assert (
        gradtx.tree.get(aggregating.accumulate_avg_updates(1).init(jnp.zeros(1)), "ready") is None
    )


@pytest.mark.parametrize("per_elt_axis", [None, 0])
@pytest.mark.parametrize("k", [1, 2])
def test_process_with_average_incrementally_updates_matches_optax(per_elt_axis, k):
    def make(lib):
        o, agg = _lib(lib)
        return agg.process(
            o.identity(),
            agg.average_incrementally_updates(per_elt_axis=per_elt_axis, accumulation_steps=k),
            o.adam(learning_rate=0.05),
        )

    per_example = per_elt_axis is not None
    (p_ours, s_ours, _), (p_theirs, s_theirs, _) = _both(make, per_example=per_example)
    assert_trees_close(p_ours, p_theirs, rtol=1e-5, atol=1e-6)
    assert structure(s_ours) == structure(s_theirs)
    ours, theirs = make(gradtx), make(optax)
    assert isinstance(ours, aggregating.Aggregator) == isinstance(
        theirs, optax_aggregating.Aggregator
    )
    assert isinstance(ours, gradtx.GradientTransformationExtraArgs)


def test_process_with_a_per_example_preprocessor_matches_optax():
    def make(lib):
        o, agg = _lib(lib)
        clip = jax.vmap(o.projections.projection_l2_ball, (0, None))
        return agg.process(
            o.stateless(lambda gs, _: clip(gs, 1.0)),
            agg.average_per_element_updates(),
            o.sgd(0.02, momentum=0.9),
        )

    (p_ours, _, _), (p_theirs, _, _) = _both(make)
    assert_trees_close(p_ours, p_theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("k", [1, 2])
@pytest.mark.parametrize("ema_decay", [0.0, 0.9])
def test_add_mean_variance_to_opt_matches_optax(k, ema_decay):
    def make(lib):
        o, agg = _lib(lib)
        return agg.add_mean_variance_to_opt(o.adam(0.05), ema_decay=ema_decay, accumulation_steps=k)

    def read(lib):
        return lambda s: _lib(lib)[1].get_unbiased_mean_and_variance_ema(s)

    p_ours, s_ours, r_ours = _train(make(gradtx), read=read(gradtx))
    with jax.numpy_dtype_promotion("standard"):
        p_theirs, s_theirs, r_theirs = _train(make(optax), read=read(optax))
    assert_trees_close(p_ours, p_theirs, rtol=1e-5, atol=1e-6)
    assert structure(s_ours) == structure(s_theirs)
    for t, (a, b) in enumerate(zip(r_ours, r_theirs, strict=True)):
        if k == 2 and t == 0:
            continue  # nothing tracked yet: 0/0 in both
        assert_trees_close(a, b, rtol=1e-4, atol=1e-5, msg=f"step {t}")


def test_mean_and_sum_sq_diff_of_accumulated_micro_batches_are_those_of_all_examples():
    rng = np.random.default_rng(3)
    k, axes = 3, (0, 1)
    micro = [rng.normal(size=(2, 3, 5)).astype(np.float32) for _ in range(k)]
    agg = aggregating.get_per_element_mean_and_sum_sq_diff_grads(axes, accumulation_steps=k)
    state = agg.init(jnp.zeros(5))
    for j, g in enumerate(micro):
        (mean, aux), state = agg.update(jnp.asarray(g), state)
        assert bool(state.ready) == (j == k - 1)
    every = np.concatenate([g.reshape(-1, 5) for g in micro]).astype(np.float64)
    np.testing.assert_allclose(mean, every.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        aux["sum_sq_diff_grads"], ((every - every.mean(0)) ** 2).sum(0), rtol=1e-5
    )
    assert int(aux["sample_size"]) == every.shape[0]


def test_tracked_variance_is_the_sample_variance():
    g = np.random.default_rng(4).normal(size=(8, 3)).astype(np.float32)
    opt = aggregating.add_mean_variance_to_opt(gradtx.sgd(0.1), ema_decay=0.5)
    _, state = opt.update(jnp.asarray(g), opt.init(jnp.zeros(3)))
    mean, var = aggregating.get_unbiased_mean_and_variance_ema(state)
    np.testing.assert_allclose(mean, g.mean(0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(var, g.var(0, ddof=1), rtol=1e-5)


def test_batch_size_and_errors():
    updates = {"a": jnp.zeros((4, 2)), "b": jnp.zeros((3,))}
    with pytest.raises(ValueError, match="same batch size"):
        aggregating.get_batch_size_from_per_elt_updates(updates, 0)
    with pytest.raises(ValueError, match="PerElementMeanAndVarianceEMAState"):
        aggregating.get_unbiased_mean_and_variance_ema(gradtx.adam(0.1).init(jnp.zeros(2)))
    tx = aggregating.track_per_element_mean_and_variance_with_ema()
    with pytest.raises(ValueError, match="sum_sq_diff_grads= and sample_size="):
        tx.update(jnp.zeros(2), tx.init(jnp.zeros(2)))
    for factory in (
        aggregating.accumulate_avg_updates,
        lambda k: aggregating.get_per_element_mean_and_sum_sq_diff_grads(0, k),
        lambda k: aggregating.average_incrementally_updates(0, k),
    ):
        with pytest.raises(ValueError, match="accumulation_steps must be an integer >= 1"):
            factory(0)
    with pytest.raises(gradtx.TreeMismatchError):
        tx = aggregating.accumulate_avg_updates(2)
        tx.update({"a": jnp.zeros(2)}, tx.init({"a": jnp.zeros(2), "b": jnp.zeros(1)}))


def test_namespace_is_lazy_and_distinct_from_experiments():
    assert gradtx.experimental.aggregating is aggregating
    assert "experimental" in gradtx.__all__ and "experiments" in gradtx.__all__
    assert gradtx.experiments is not gradtx.experimental


def test_process_passes_non_array_extra_arguments_to_the_postprocessor():
    seen = {}

    def post_update(updates, state, params=None, **extra_args):
        seen.update(extra_args)
        return updates, state

    post = gradtx.GradientTransformationExtraArgs(gradtx.init_empty_state, post_update)
    opt = aggregating.process(gradtx.identity(), aggregating.accumulate_avg_updates(2), post)
    state = opt.init(jnp.zeros(2))
    _, state = jax.jit(opt.update, static_argnames="tag")(jnp.ones(2), state, tag="x")
    assert seen == {"tag": "x"}
