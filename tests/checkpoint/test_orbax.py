"""Optimizer states through Orbax: every registry entry saved, restored and resumed exactly.

``orbax.checkpoint.StandardCheckpointer`` saves ``(params, states)`` of every entry of
``tests/registry*.py`` mid-run (typed PRNG keys, ``None`` fields and empty states
included); a fresh process restores it into the structure ``init`` gives and trains on;
the result must be bit-identical, leaf for leaf, to the run that was never interrupted.
The sharded variant does the same on a 2x4 mesh of 8 CPU devices, and the restored leaves
must carry the shardings of `gradtx.sharding.state_shardings`. The worker
(``tests/checkpoint/_orbax_worker.py``) runs all entries in one compiled scan.
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

ocp = pytest.importorskip("orbax.checkpoint")

from tests.checkpoint import _orbax_worker as worker  # noqa: E402 - needs orbax
from tests.registry import ENTRIES  # noqa: E402
from tests.sharding._subprocess import run_python  # noqa: E402

# Slow (CI runs it): every registry entry saved, restored and resumed through Orbax.
pytestmark = pytest.mark.slow

# Cheap compiles (as tests/sharding/test_registry_sharding.py); bits are compared between
# processes with the same flags.
_FLAGS = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"


def _worker(mode, folder, devices):
    args = ["-m", "tests.checkpoint._orbax_worker", mode, str(folder)]
    if devices > 1:
        args.append("--sharded")
    env = {"XLA_FLAGS": f"--xla_force_host_platform_device_count={devices} {_FLAGS}"}
    return json.loads(run_python(args, devices=devices, env=env, timeout=900))


def _failures(report):
    return {name: bad for name, bad in report.items() if bad}


@pytest.mark.slow
@pytest.mark.parametrize("devices", [1, 8], ids=["one_device", "sharded_8"])
def test_every_entry_round_trips_and_resumes_bit_identically(devices, tmp_path):
    run = _worker("run", tmp_path, devices)
    resume = _worker("resume", tmp_path, devices)
    names = sorted(e.name for e in ENTRIES)
    assert sorted(run["roundtrip"]) == names and sorted(resume["resumed"]) == names
    # What the checkpoint held: the hard cases are there.
    assert run["counts"]["keys"] > 0 and run["counts"]["none"] > 0
    assert run["counts"]["empty_states"] > 0 and run["counts"]["zero_size"] > 0
    assert not _failures(run["roundtrip"]), _failures(run["roundtrip"])
    assert not _failures(resume["restored_shardings"]), _failures(resume["restored_shardings"])
    assert not _failures(resume["resumed"]), _failures(resume["resumed"])


def test_the_readme_pattern_round_trips_keys_none_and_empty_states(tmp_path):
    """In-process, fast: the pattern the README shows, on a state with every hard case."""
    params = {"w": jnp.linspace(-1.0, 1.0, 6, dtype=jnp.float32).reshape(2, 3), "n": None}
    opt = gradtx.chain(
        gradtx.clip_by_global_norm(1.0),
        gradtx.add_noise(0.01, 0.55, seed=0),  # a typed PRNG key in the state
        gradtx.adamw(1e-2),
        gradtx.identity(),  # EmptyState()
    )
    state = opt.init(params)
    for g in (jnp.ones((2, 3)), -jnp.ones((2, 3))):
        updates, state = opt.update({"w": g, "n": None}, state, params)
        params = gradtx.apply_updates(params, updates)
    ckpt = {"params": params, "state": state, "step": jnp.asarray(2, jnp.int32)}

    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(tmp_path / "step_2", ckpt)
    checkpointer.wait_until_finished()
    template = {"params": params, "state": opt.init(params), "step": jnp.asarray(0, jnp.int32)}
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
    restored = checkpointer.restore(tmp_path / "step_2", abstract)
    checkpointer.close()

    assert not worker.differences(restored, ckpt, shardings=False)
    keys = [x for x in jax.tree.leaves(restored["state"]) if worker._is_key(x)]
    assert len(keys) == 1  # restored as a typed key, not as raw uint32 data
    assert restored["params"]["n"] is None

    # Resuming from the restored state continues exactly.
    def step(p, s):
        u, s = opt.update({"w": jnp.full((2, 3), 0.5), "n": None}, s, p)
        return gradtx.apply_updates(p, u), s

    a = step(restored["params"], restored["state"])
    b = step(ckpt["params"], ckpt["state"])
    assert not worker.differences(a, b, shardings=False)
    np.testing.assert_array_equal(a[0]["w"], b[0]["w"])


def test_why_gradtx_checkpoint_is_kept_orbax_casts_a_dtype_mismatch(tmp_path):
    """The difference ``gradtx.checkpoint``'s docstring claims: it raises where Orbax casts."""
    saved = {"nu": jnp.full((3,), 1e-3, jnp.float32)}
    like = {"nu": jnp.zeros((3,), jnp.bfloat16)}
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(tmp_path / "orbax", saved)
    checkpointer.wait_until_finished()
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
    assert checkpointer.restore(tmp_path / "orbax", abstract)["nu"].dtype == jnp.bfloat16
    checkpointer.close()
    path = gradtx.checkpoint.save(tmp_path / "state.npz", saved)
    with pytest.raises(gradtx.checkpoint.CheckpointMismatchError, match="saved as float32"):
        gradtx.checkpoint.restore(path, like=like)
