"""gradtx.checkpoint: exact round trips, clear mismatches, atomic writes."""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from gradtx import checkpoint

# Slow (CI runs it): compiled per case.
pytestmark = pytest.mark.slow


def _state():
    return {
        "f32": jnp.arange(6.0).reshape(2, 3),
        "bf16": jnp.asarray([1.5, -2.25], jnp.bfloat16),
        "count": jnp.asarray(2**31 - 2, jnp.int32),
        "key": jax.random.key(7),
        "nested": (jnp.zeros(()), {"x": jnp.ones(1)}),
    }


def _equal(a, b):
    if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
        a, b = jax.random.key_data(a), jax.random.key_data(b)
    return a.dtype == b.dtype and np.array_equal(np.asarray(a), np.asarray(b))


def test_round_trip_is_bit_identical(tmp_path):
    state = _state()
    restored = checkpoint.restore(checkpoint.save(tmp_path / "s.npz", state), like=state)
    assert jax.tree.all(jax.tree.map(_equal, restored, state))


def test_round_trip_of_an_optimizer_state_continues_identically(tmp_path):
    opt = gradtx.adam(0.1)
    params = {"w": jnp.ones(3)}
    state = opt.init(params)
    for _ in range(3):
        _, state = opt.update({"w": jnp.full(3, 0.5)}, state, params)
    restored = checkpoint.restore(checkpoint.save(tmp_path / "s.npz", state), like=state)
    u1, _ = opt.update({"w": jnp.full(3, 0.25)}, state, params)
    u2, _ = opt.update({"w": jnp.full(3, 0.25)}, restored, params)
    assert np.array_equal(u1["w"], u2["w"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: {**s, "f32": jnp.zeros((3, 2))}, r"leaf \['f32'\] was saved as float32\[2, 3\]"),
        (lambda s: {**s, "bf16": s["bf16"].astype(jnp.float32)}, r"saved as bfloat16"),
        (lambda s: {**s, "extra": jnp.ones(1)}, r"structure differs"),
    ],
)
def test_mismatches_raise_with_the_path(tmp_path, change, message):
    state = _state()
    f = checkpoint.save(tmp_path / "s.npz", state)
    with pytest.raises(checkpoint.CheckpointMismatchError, match=message):
        checkpoint.restore(f, like=change(state))


def test_a_failed_save_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    state = _state()
    f = checkpoint.save(tmp_path / "s.npz", state)
    before = f.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(f, {"other": jnp.ones(2)})
    assert f.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.npz"]
    assert not any(name.endswith(".tmp") for name in os.listdir(tmp_path))
