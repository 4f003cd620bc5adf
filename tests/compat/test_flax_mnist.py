"""Flax's MNIST tutorials run unchanged with ``import gradtx as optax`` (issue 15).

``_flax_mnist_tutorial.py`` holds the tutorials' training code as written against Optax.
It is executed twice, as it is and with its ``import optax`` line replaced by ``import
gradtx as optax``, on a small embedded random data set (no download); both runs give the
same parameters, optimizer-state structure and metrics.
"""

from __future__ import annotations

import types
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("optax", reason="optax is in the [test] extra")
pytest.importorskip("flax", reason="flax is in the [test] extra")

from flax import nnx  # noqa: E402

from tests.compat.test_optax_states import structure  # noqa: E402

pytestmark = pytest.mark.slow

TUTORIAL = Path(__file__).with_name("_flax_mnist_tutorial.py")
BATCH, STEPS = 4, 3


def _tutorial(use_gradtx: bool) -> types.ModuleType:
    source = TUTORIAL.read_text()
    assert source.count("\nimport optax\n") == 1
    if use_gradtx:
        source = source.replace("\nimport optax\n", "\nimport gradtx as optax\n")
    name = "flax_mnist_tutorial_" + ("gradtx" if use_gradtx else "optax")
    module = types.ModuleType(name)
    module.__file__ = str(TUTORIAL)
    # The tutorial is user code: JAX's default promotion, not this suite's strict one.
    with jax.numpy_dtype_promotion("standard"):
        exec(compile(source, str(TUTORIAL), "exec"), module.__dict__)  # noqa: S102
    return module


def _train_ds():
    rng = np.random.default_rng(0)
    return {
        "image": jnp.asarray(rng.uniform(size=(BATCH * STEPS, 28, 28, 1)), jnp.float32),
        "label": jnp.asarray(rng.integers(0, 10, size=(BATCH * STEPS,)), jnp.int32),
    }


def _close(a, b, rtol=1e-5, atol=1e-6):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


def test_the_tutorial_really_uses_each_library():
    import gradtx

    assert _tutorial(use_gradtx=True).optax is gradtx
    assert _tutorial(use_gradtx=False).optax is not gradtx


def test_linen_train_state_with_sgd_momentum_matches_optax():
    ours_mod, theirs_mod = _tutorial(True), _tutorial(False)
    with jax.numpy_dtype_promotion("standard"):
        ours, ours_losses = ours_mod.train_linen(_train_ds(), BATCH)
        theirs, theirs_losses = theirs_mod.train_linen(_train_ds(), BATCH)
    assert int(ours.step) == int(theirs.step) == STEPS
    _close(ours.params, theirs.params)
    _close(ours_losses, theirs_losses)
    assert structure(ours.opt_state) == structure(theirs.opt_state)
    _close(ours.opt_state, theirs.opt_state)
    assert float(jnp.abs(ours.opt_state[0].trace["Dense_1"]["kernel"]).max()) > 0  # it moved


def test_nnx_optimizer_with_adamw_matches_optax():
    ours_mod, theirs_mod = _tutorial(True), _tutorial(False)
    with jax.numpy_dtype_promotion("standard"):
        ours, ours_opt, ours_metrics = ours_mod.train_nnx(_train_ds(), BATCH)
        theirs, theirs_opt, theirs_metrics = theirs_mod.train_nnx(_train_ds(), BATCH)
    _close(nnx.state(ours, nnx.Param), nnx.state(theirs, nnx.Param))
    _close(ours_metrics, theirs_metrics)
    assert int(ours_opt.step[...]) == int(theirs_opt.step[...]) == STEPS
    ours_state = jax.tree.leaves(nnx.state(ours_opt.opt_state))
    theirs_state = jax.tree.leaves(nnx.state(theirs_opt.opt_state))
    assert [(x.shape, x.dtype) for x in ours_state] == [(x.shape, x.dtype) for x in theirs_state]
    _close(ours_state, theirs_state)
