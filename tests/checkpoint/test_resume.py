"""Stop training mid-way, checkpoint, resume in a fresh process: bit-identical result."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from gradtx import checkpoint
from tests.checkpoint import _resume_worker as worker
from tests.sharding._subprocess import run_python

# Slow (CI runs it): fresh Python processes.
pytestmark = pytest.mark.slow


def _bits(leaf):
    if jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        leaf = jax.random.key_data(leaf)
    array = np.asarray(leaf)
    return array.dtype, array.shape, array.tobytes()


def test_resumed_run_is_bit_identical_to_the_uninterrupted_one(tmp_path):
    run_python(["-m", "tests.checkpoint._resume_worker", "uninterrupted", str(tmp_path)])
    run_python(["-m", "tests.checkpoint._resume_worker", "resume", str(tmp_path)])
    opt = worker.make_optimizer()
    like = worker.template(opt)
    mid = checkpoint.restore(tmp_path / "mid.npz", like=like)
    full = checkpoint.restore(tmp_path / "uninterrupted.npz", like=like)
    resumed = checkpoint.restore(tmp_path / "resumed.npz", like=like)

    # Every leaf of params and state (moments, counters, schedule step, injected
    # hyperparameters, plateau scale, running average, accumulated micro-gradients).
    full_leaves = jax.tree_util.tree_flatten_with_path(full)[0]
    for (path, a), b in zip(full_leaves, jax.tree.leaves(resumed), strict=True):
        assert _bits(a) == _bits(b), jax.tree_util.keystr(path)

    # The stop was a demanding one: mid-accumulation, after warmup, with a reduced scale.
    assert int(mid["state"].mini_step) == 1
    assert int(full["step"]) == worker.STEPS and int(mid["step"]) == worker.STOP
    lr = gradtx.current_learning_rate(None, mid["state"])  # the injected one
    assert 0.01 < float(lr) < 0.1
    assert float(gradtx.tree.get(full["state"], "scale")) < 1.0
    assert not np.array_equal(np.asarray(mid["params"]["w"]), np.asarray(full["params"]["w"]))
