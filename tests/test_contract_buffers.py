"""Contract properties of the state buffers ``init`` builds, over the whole registry.

* No state leaf shares a buffer with another state leaf or with a parameter, so a step
  jitted with ``donate_argnums=(0, 1)`` (params and state) works from the first call.
* Every state leaf shaped like its parameter has the parameter's sharding after an
  eager ``init`` (checked on 2 forced CPU devices in a subprocess).
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import pytest

from tests.helpers import example_params
from tests.registry import ENTRIES, Entry
from tests.sharding._subprocess import run_python

# Slow (CI runs it): the state buffers of every registry entry.
pytestmark = pytest.mark.slow

IDS = [e.name for e in ENTRIES]


def _pointers(tree):
    """``(path, buffer pointer)`` for every non-empty array leaf (keys by their data)."""
    out = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        if not isinstance(leaf, jax.Array) or leaf.size == 0:
            continue
        if jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            continue  # a key's buffer is its key_data's; its leaf is never an alias
        out.append((jax.tree_util.keystr(path), leaf.unsafe_buffer_pointer()))
    return out


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_state_leaves_own_their_buffers(entry: Entry):
    params = example_params(jnp.float32)
    state = entry.factory(**entry.kwargs).init(params)
    param_ptrs = {ptr: path for path, ptr in _pointers(params)}
    seen: dict[int, str] = {}
    for path, ptr in _pointers(state):
        assert ptr not in param_ptrs, f"state{path} is the buffer of params{param_ptrs[ptr]}"
        assert ptr not in seen, f"state{path} and state{seen[ptr]} share one buffer"
        seen[ptr] = path


def test_donated_first_step_works_for_adafactor_and_average_params():
    import gradtx

    for tx in (gradtx.adafactor(1e-2), gradtx.average_params(gradtx.scale_by_adam())):
        params = example_params(jnp.float32)
        state = tx.init(params)

        def step(params, state, grads, tx=tx):
            updates, state = tx.update(grads, state, params)
            return gradtx.apply_updates(params, updates), state

        step = jax.jit(step, donate_argnums=(0, 1))
        grads = jax.tree.map(jnp.ones_like, params)
        for _ in range(2):
            params, state = step(params, state, grads)
        assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(params))


@pytest.mark.slow
def test_state_leaves_shaped_like_a_parameter_have_its_sharding():
    out = run_python(["-m", "tests.sharding._buffers_worker"], devices=2, timeout=600)
    bad = json.loads(out.strip().splitlines()[-1])
    assert not bad, "state leaves without their parameter's sharding:\n" + "\n".join(
        f"{name}: {paths}" for name, paths in bad.items()
    )
