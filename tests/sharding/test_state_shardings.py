"""gradtx.sharding.state_shardings: the matching rules, ZeRO-1 memory and identical updates."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

import gradtx
from tests.sharding._subprocess import run_python

# Slow (CI runs it): compiled per case.
pytestmark = pytest.mark.slow


def _mesh():
    return Mesh(np.array(jax.devices()[:1]).reshape(1, 1), ("data", "model"))


def _params(mesh):
    specs = {"w": P("data", "model"), "b": P("model"), "s": P(), "v": P(None, "model")}
    values = {
        "w": jnp.ones((4, 6)),
        "b": jnp.ones((6,)),
        "s": jnp.ones(()),
        "v": jnp.ones((3, 6)),
    }
    return {k: jax.device_put(values[k], NamedSharding(mesh, specs[k])) for k in values}


def _spec(sharding):
    return tuple(sharding.spec)


def test_like_params_follows_each_parameter_and_replicates_counters():
    mesh = _mesh()
    shardings = gradtx.sharding.state_shardings(gradtx.adam(0.1), _params(mesh), mesh)
    adam = shardings[0]
    assert _spec(adam.mu["w"]) == ("data", "model")
    assert _spec(adam.nu["b"]) == ("model",)
    assert _spec(adam.mu["v"]) == (None, "model")
    assert _spec(adam.mu["s"]) == ()
    assert _spec(adam.count) == ()
    assert all(s.mesh == mesh for s in jax.tree.leaves(shardings))


def test_stacked_and_reduced_leaves():
    mesh = _mesh()
    params = _params(mesh)
    lbfgs = gradtx.sharding.state_shardings(gradtx.scale_by_lbfgs(memory_size=3), params, mesh)
    assert _spec(lbfgs.diff_params_memory["w"]) == (None, "data", "model")
    assert _spec(lbfgs.diff_updates_memory["b"]) == (None, "model")
    assert _spec(lbfgs.weights_memory) == ()  # shape (3,): no parameter's path, replicated
    factored = gradtx.sharding.state_shardings(
        gradtx.scale_by_factored_rms(min_dim_size_to_factor=2), params, mesh
    )
    # v_row drops the last axis of w (4, 6), v_col drops the first.
    assert _spec(factored.v_row["w"]) == ("data",)
    assert _spec(factored.v_col["w"]) == ("model",)


def test_masked_state_matches_by_path_not_by_shape():
    mesh = _mesh()
    params = _params(mesh)
    tx = gradtx.masked(gradtx.scale_by_adam(), {"w": True, "b": False, "s": False, "v": True})
    shardings = gradtx.sharding.state_shardings(tx, params, mesh)
    assert _spec(shardings.inner_state.mu["w"]) == ("data", "model")
    assert _spec(shardings.inner_state.nu["v"]) == (None, "model")


def test_zero_shards_the_first_divisible_free_dimension():
    mesh = _mesh()
    replicated = NamedSharding(mesh, P())
    params = {"w": jax.device_put(jnp.ones((4, 6)), replicated), "s": jnp.ones(())}
    zero = gradtx.sharding.state_shardings(gradtx.adam(0.1), params, mesh, "zero")
    assert _spec(zero[0].mu["w"]) == ("data",)
    assert _spec(zero[0].mu["s"]) == ()
    assert _spec(zero[0].count) == ()
    # A parameter already sharded over "model" gets "data" on its first free dimension.
    sharded = {"w": jax.device_put(jnp.ones((4, 6)), NamedSharding(mesh, P(None, "model")))}
    zero = gradtx.sharding.state_shardings(gradtx.adam(0.1), sharded, mesh, mode="zero")
    assert _spec(zero[0].nu["w"]) == ("data", "model")
    by_model = gradtx.sharding.state_shardings(
        gradtx.adam(0.1), params, mesh, mode="zero", data_axis="model"
    )
    assert _spec(by_model[0].mu["w"]) == ("model",)


def test_bad_arguments_raise():
    mesh = _mesh()
    with pytest.raises(ValueError, match=r"state_shardings\(mode='zero1'\).*like_params"):
        gradtx.sharding.state_shardings(gradtx.adam(0.1), {"w": jnp.ones(2)}, mesh, "zero1")
    with pytest.raises(ValueError, match=r"data_axis='batch'.*axes of the mesh"):
        gradtx.sharding.state_shardings(
            gradtx.adam(0.1), {"w": jnp.ones(2)}, mesh, "zero", data_axis="batch"
        )


def test_zero_on_8_devices_uses_an_eighth_of_the_memory_and_trains_identically():
    out = json.loads(run_python(["-m", "tests.sharding._zero_worker"], devices=8))
    like, zero = out["like_params"], out["zero"]
    assert set(like["specs"]) == {"P()"}
    assert "P('data',)" in zero["specs"]
    # Scalar counters stay replicated; every other leaf holds 1/8 per device.
    assert zero["memory"]["arrays"] * 8 == like["memory"]["arrays"] > 0
    assert zero["memory"]["scalars"] == like["memory"]["scalars"]
    # Same program, state only placed differently: bit-identical to like_params ...
    assert zero["diff_vs_like_params"] == 0.0
    # ... and equal to one device up to the order of the batch-mean reduction.
    assert zero["diff_vs_one_device"] < 1e-6
