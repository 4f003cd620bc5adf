"""examples/multiprocess_train.py: 2 processes, data-parallel, same params as one process."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from gradtx import checkpoint
from tests.sharding._subprocess import ROOT, run_python

# Slow (CI runs it): two local processes.
pytestmark = pytest.mark.slow

SCRIPT = str(ROOT / "examples" / "multiprocess_train.py")


def _load(path):
    # The template only fixes structure, shapes and dtypes; restore checks all three.
    like = {
        "b1": np.zeros((8,), np.float32),
        "w1": np.zeros((4, 8), np.float32),
        "w2": np.zeros((8, 1), np.float32),
    }
    return jax.tree.map(np.asarray, checkpoint.restore(path, like=like))


def test_two_processes_end_with_the_single_process_params(tmp_path):
    out = run_python([SCRIPT, f"--out={tmp_path}"], timeout=120)
    assert "process 0/2" in out and "process 1/2" in out
    run_python([SCRIPT, "--single", f"--out={tmp_path}"], timeout=120)
    run_python([SCRIPT, "--single", "--devices=1", f"--out={tmp_path / 'one'}"], timeout=120)
    p0, p1 = _load(tmp_path / "params_0.npz"), _load(tmp_path / "params_1.npz")
    single = _load(tmp_path / "params_single.npz")
    one_device = _load(tmp_path / "one" / "params_single.npz")
    init_w1 = np.random.default_rng(1).normal(size=(4, 8)).astype(np.float32) / 2
    assert not np.allclose(p0["w1"], init_w1, atol=1e-3)  # it trained
    for name in p0:
        # Both processes hold bit-identical replicas ...
        np.testing.assert_array_equal(p0[name], p1[name])
        # ... equal bit for bit to the same program in one process on two local devices
        # (the cross-process all-reduce adds the same two partial sums) ...
        np.testing.assert_array_equal(p0[name], single[name])
        # ... and to one device up to the order of the batch reduction.
        np.testing.assert_allclose(p0[name], one_device[name], rtol=1e-5, atol=1e-6)
