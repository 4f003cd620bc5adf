"""`quantized_state`: the dynamic code books, round-trip error bounds, which leaves are
stored in 8 bits, the memory saved, and training quality against float32 Adam."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from gradtx._demo_data import spirals
from gradtx.wrappers._quantized import _SIGNED, _UNSIGNED
from tests.helpers import assert_same_shapes_and_dtypes, gradient_sequence

# Slow (CI runs it): wrapper trajectories, compiled per case.
pytestmark = pytest.mark.slow

QuantizedArray = gradtx.QuantizedArray
# Jitted once per shape: eager mode would compile every primitive separately.
_quantize = jax.jit(QuantizedArray.quantize, static_argnames="block_size")
_dequantize = jax.jit(QuantizedArray.dequantize)

# Half the largest gap between neighbouring entries (the top decade), in units of the
# block's absolute maximum: the worst absolute rounding error.
SIGNED_HALF_STEP = 0.9 / 64 / 2
UNSIGNED_HALF_STEP = 0.9 / 128 / 2


def _decode_with(table: np.ndarray, codes, scale) -> np.ndarray:
    return table[np.asarray(codes)] * np.asarray(scale)[:, None]


# --- the code books ------------------------------------------------------------------


def test_code_books_follow_the_dynamic_tree_layout():
    for table in (_SIGNED, _UNSIGNED):
        assert table.shape == (256,) and table.dtype == np.float32
        assert np.all(np.diff(table) >= 0)
        assert table[-1] == 1.0 and 0.0 in table
    assert _SIGNED[0] == -1.0
    np.testing.assert_array_equal(_SIGNED, -_SIGNED[::-1])
    assert len(np.unique(_SIGNED)) == 255  # 127 magnitudes per sign and zero (twice)
    assert len(np.unique(_UNSIGNED)) == 256 and _UNSIGNED[0] == 0.0
    # The smallest nonzero magnitudes: one value in the last decade.
    np.testing.assert_allclose(_SIGNED[129], 1e-6, rtol=1e-6)
    np.testing.assert_allclose(_UNSIGNED[1], 1e-7, rtol=1e-6)
    # Decade 0 has 64 (signed) / 128 (unsigned) evenly spaced values above 0.1.
    top_signed = _SIGNED[_SIGNED > 0.1]
    top_unsigned = _UNSIGNED[_UNSIGNED > 0.1]
    assert top_signed.size == 64 and top_unsigned.size == 128
    np.testing.assert_allclose(np.diff(top_signed), 0.9 / 64, rtol=1e-5)
    np.testing.assert_allclose(np.diff(top_unsigned), 0.9 / 128, rtol=1e-5)


def _probe_values(rng, signed: bool) -> np.ndarray:
    """Uniform values, log-uniform ones over nine decades, and the edge cases."""
    edges = [1.0, 0.1, 0.01, 1e-6, 5e-7, 4.9e-7, 5.1e-7, 1e-7, 5e-8, 0.0]
    values = np.concatenate([rng.uniform(0, 1, 4000), 10 ** rng.uniform(-9, 0, 4000), edges, [1.0]])
    if signed:
        values = values * np.where(rng.random(values.size) < 0.5, -1.0, 1.0)
        values[-1] = -1.0
    return values.astype(np.float32)


@pytest.mark.parametrize("signed", [True, False])
def test_codes_are_the_nearest_code_book_entries(signed):
    """One block with absmax 1: each code decodes to the entry closest to the value."""
    values = _probe_values(np.random.default_rng(0), signed)
    q = _quantize(jnp.asarray(values), block_size=values.size)
    assert q.codes.dtype == jnp.uint8 and q.codes.shape == (1, values.size)
    assert bool(q.signed[0]) is signed and float(q.scale[0]) == 1.0
    table = _SIGNED if signed else _UNSIGNED
    decoded = _decode_with(table, q.codes, q.scale)[0]
    best = np.min(np.abs(table[None, :] - values[:, None]), axis=1)
    distance = np.abs(decoded - values)
    if signed:
        np.testing.assert_array_equal(distance, best)
    else:
        # Positive values below half the smallest entry round up to it, never to zero.
        tiny = (values > 0) & (values < 0.5e-7)
        np.testing.assert_array_equal(distance[~tiny], best[~tiny])
        np.testing.assert_array_equal(decoded[tiny], _UNSIGNED[1])
        assert np.all(decoded[values > 0] > 0)


def test_signed_round_trip_error_bounds():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(10_000) * 10 ** rng.uniform(-3, 1, 10_000)).astype(np.float32)
    q = _quantize(jnp.asarray(x), block_size=256)
    back = np.asarray(_dequantize(q))
    assert back.shape == x.shape and back.dtype == np.float32
    padded = np.pad(x, (0, q.codes.size - x.size)).reshape(q.codes.shape)
    absmax = np.abs(padded).max(axis=1)
    np.testing.assert_allclose(np.asarray(q.scale), absmax, rtol=0)
    err = np.pad(np.abs(back - x), (0, q.codes.size - x.size)).reshape(q.codes.shape)
    assert np.all(err <= SIGNED_HALF_STEP * absmax[:, None] * (1 + 1e-5))
    # Relative error where |x| is within one decade of its block's maximum: <= 7.1%,
    # and typically about 1%.
    big = np.abs(padded) >= 0.1 * absmax[:, None]
    rel = (err / np.where(padded == 0, 1, np.abs(padded)))[big]
    assert rel.max() <= SIGNED_HALF_STEP / 0.1 * (1 + 1e-5)
    assert np.median(rel) < 0.015
    # Every block holds a negative value here, so all use the signed map.
    assert bool(jnp.all(q.signed))


def test_unsigned_round_trip_keeps_small_second_moments_positive():
    rng = np.random.default_rng(2)
    v = (rng.standard_normal(5000) ** 2 * 10 ** rng.uniform(-8, 0, 5000)).astype(np.float32)
    q = _quantize(jnp.asarray(v), block_size=128)
    assert not bool(jnp.any(q.signed))
    back = np.asarray(_dequantize(q))
    padded = np.pad(v, (0, q.codes.size - v.size)).reshape(q.codes.shape)
    absmax = np.abs(padded).max(axis=1)
    err = np.pad(np.abs(back - v), (0, q.codes.size - v.size)).reshape(q.codes.shape)
    assert np.all(err <= UNSIGNED_HALF_STEP * absmax[:, None] * (1 + 1e-5))
    big = padded >= 0.1 * absmax[:, None]
    rel = (err / np.where(padded == 0, 1, padded))[big]
    assert rel.max() <= UNSIGNED_HALF_STEP / 0.1 * (1 + 1e-5)
    # No positive entry decodes to zero (so it can never become a zero divisor).
    assert np.all(back[v > 0] > 0)


@pytest.mark.parametrize(
    "shape, block_size", [((), 1), ((7,), 3), ((3, 5, 2), 8), ((0,), 4), ((4, 4), 16)]
)
def test_quantize_shapes_padding_and_zeros(shape, block_size):
    x = jnp.linspace(-2.0, 3.0, int(np.prod(shape))).reshape(shape)
    q = _quantize(x, block_size=block_size)
    blocks = max(-(-x.size // block_size), 1)
    assert q.codes.shape == (blocks, block_size)
    assert q.scale.shape == (blocks,) and q.scale.dtype == jnp.float32
    assert q.shape == shape and q.dtype == jnp.float32
    back = _dequantize(q)
    assert back.shape == shape
    np.testing.assert_allclose(back, x, atol=SIGNED_HALF_STEP * 3.0 * (1 + 1e-5))
    zero = _quantize(jnp.zeros(shape), block_size=block_size)
    np.testing.assert_array_equal(_dequantize(zero), np.zeros(shape))
    np.testing.assert_array_equal(zero.scale, 0.0)


def test_quantize_keeps_bfloat16_and_float64(x64):
    for dtype, atol in ((jnp.bfloat16, 0.02), (jnp.float64, 0.0071)):
        x = jnp.linspace(-1.0, 1.0, 300, dtype=dtype)
        q = _quantize(x, block_size=64)
        assert q.scale.dtype == jnp.float32
        back = _dequantize(q)
        assert back.dtype == dtype
        np.testing.assert_allclose(
            np.asarray(back, np.float64), np.asarray(x, np.float64), atol=atol
        )


def test_quantize_under_jit_matches_eager_exactly():
    x = jnp.asarray(np.random.default_rng(3).standard_normal((37, 11)), jnp.float32)
    eager = QuantizedArray.quantize(x, 32)
    jitted = jax.jit(lambda a: QuantizedArray.quantize(a, 32))(x)
    for a, b in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(jax.jit(lambda q: q.dequantize())(eager), eager.dequantize())


# --- the wrapper ---------------------------------------------------------------------


def _tree():
    return {
        "big": jnp.linspace(-1.0, 1.0, 300).reshape(30, 10),
        "nested": {"vec": jnp.ones((256,)), "small": jnp.ones((10,))},
        "scalar": jnp.asarray(0.5, jnp.float32),
        "none": None,
    }


def test_only_large_floating_leaves_are_quantized():
    tx = gradtx.quantized_state(gradtx.adam(1e-2))
    state = jax.jit(tx.init)(_tree())
    adam_state = state.inner_state[0]
    assert adam_state.count.dtype == jnp.int32 and adam_state.count.shape == ()
    for moment in (adam_state.mu, adam_state.nu):
        assert isinstance(moment["big"], QuantizedArray)
        assert moment["big"].codes.shape == (2, 256)  # 300 elements, padded
        assert isinstance(moment["nested"]["vec"], QuantizedArray)
        assert moment["nested"]["vec"].codes.shape == (1, 256)
        assert moment["nested"]["small"].dtype == jnp.float32
        assert moment["scalar"].dtype == jnp.float32
        assert moment["none"] is None
    # The learning-rate state is untouched: a constant rate keeps Optax's EmptyState.
    assert float(gradtx.current_learning_rate(1e-2, state)) == pytest.approx(1e-2)


def test_updates_track_float32_adam():
    params = _tree()
    grads = gradient_sequence(params, 10, seed=4)
    plain = gradtx.adam(1e-2)
    quant = gradtx.quantized_state(gradtx.adam(1e-2))
    p_state, q_state = plain.init(params), quant.init(params)
    p_step, q_step = jax.jit(plain.update), jax.jit(quant.update)
    for t, g in enumerate(grads):
        u_plain, p_state = p_step(g, p_state, params)
        u_quant, q_state = q_step(g, q_state, params)
        assert_same_shapes_and_dtypes(u_quant, u_plain)
        a = np.concatenate([np.ravel(x) for x in jax.tree.leaves(u_plain)])
        b = np.concatenate([np.ravel(x) for x in jax.tree.leaves(u_quant)])
        if t == 0:  # the state starts at zero, which is stored exactly
            np.testing.assert_allclose(b, a, rtol=1e-6)
        else:
            # Adam's steps are O(learning rate); near-zero ones have no relative precision.
            diff = np.abs(b - a)
            rel = diff / np.abs(a)
            assert np.median(rel) < 0.03 and diff.max() < 0.1 * 1e-2, (t, np.median(rel), diff)
    # The stored moments decode close to float32 Adam's (rounding errors of up to 0.7% of
    # the block maximum per step, decaying with b1, accumulate over the 10 steps).
    mu = q_state.inner_state[0].mu["big"].dequantize()
    reference = p_state[0].mu["big"]
    err = np.abs(np.asarray(mu) - np.asarray(reference)).max()
    assert err < 0.04 * float(jnp.abs(reference).max()), err


def test_jit_and_eager_agree_exactly_and_state_avals_are_stable():
    params = _tree()
    tx = gradtx.quantized_state(gradtx.adamw(1e-2, weight_decay=0.1), block_size=64)
    state0 = tx.init(params)
    traces = []

    def counted(g, state, params):
        traces.append(None)
        return tx.update(g, state, params)

    step = jax.jit(counted)
    s_jit = s_eager = state0
    for g in gradient_sequence(params, 3, seed=5):
        u_jit, s_jit = step(g, s_jit, params)
        u_eager, s_eager = tx.update(g, s_eager, params)
        for a, b in zip(jax.tree.leaves(u_jit), jax.tree.leaves(u_eager), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
        assert_same_shapes_and_dtypes(s_jit, state0)
    assert len(traces) == 1


def test_bfloat16_params_keep_their_dtypes():
    params = jax.tree.map(lambda x: x.astype(jnp.bfloat16), _tree())
    tx = gradtx.quantized_state(gradtx.adam(1e-2))
    state = tx.init(params)
    mu = state.inner_state[0].mu["big"]
    assert mu.dtype == jnp.bfloat16 and mu.scale.dtype == jnp.float32
    g = gradient_sequence(params, 1, seed=6)[0]
    updates, new_state = jax.jit(tx.update)(g, state, params)
    assert_same_shapes_and_dtypes(updates, g)
    assert_same_shapes_and_dtypes(new_state, state)


def test_empty_tree_and_unquantized_inner():
    tx = gradtx.quantized_state(gradtx.adam(1e-2))
    updates, state = tx.update({}, tx.init({}))
    assert updates == {}
    # A stateless inner transform passes through untouched.
    sgd = gradtx.quantized_state(gradtx.sgd(0.1))
    u, _ = sgd.update(jnp.ones(300), sgd.init(jnp.zeros(300)))
    np.testing.assert_allclose(u, -0.1 * np.ones(300), rtol=1e-7)


def test_checkpoint_round_trip(tmp_path):
    params = _tree()
    tx = gradtx.quantized_state(gradtx.adam(1e-2))
    state = tx.init(params)
    _, state = tx.update(gradient_sequence(params, 1)[0], state, params)
    path = gradtx.checkpoint.save(tmp_path / "state.npz", state)
    restored = gradtx.checkpoint.restore(path, like=tx.init(params))
    assert jax.tree.structure(restored) == jax.tree.structure(state)
    for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(state), strict=True):
        np.testing.assert_array_equal(a, b)


def test_validation():
    adam = gradtx.adam(1e-3)
    with pytest.raises(ValueError, match=r"quantized_state\(bits=4\).*8"):
        gradtx.quantized_state(adam, bits=4)
    with pytest.raises(ValueError, match=r"quantized_state\(block_size=0\)"):
        gradtx.quantized_state(adam, block_size=0)
    with pytest.raises(TypeError, match="block_size"):
        gradtx.quantized_state(adam, block_size=2.5)
    with pytest.raises(TypeError, match="inner"):
        gradtx.quantized_state(lambda g: g)


# --- memory and training quality (the issue's Done-when) ------------------------------


def _transformer_shapes(vocab=4096, width=256, layers=4, mlp=1024):
    """ShapeDtypeStructs of a small decoder-only transformer (about 5M parameters)."""

    def s(*shape):
        return jax.ShapeDtypeStruct(shape, jnp.float32)

    block = {
        "ln1": {"scale": s(width), "bias": s(width)},
        "qkv": {"w": s(width, 3 * width), "b": s(3 * width)},
        "out": {"w": s(width, width), "b": s(width)},
        "ln2": {"scale": s(width), "bias": s(width)},
        "up": {"w": s(width, mlp), "b": s(mlp)},
        "down": {"w": s(mlp, width), "b": s(width)},
    }
    return {
        "embed": s(vocab, width),
        "pos": s(512, width),
        "blocks": [block] * layers,
        "ln_f": {"scale": s(width), "bias": s(width)},
    }


def _state_bytes(tx, shapes) -> int:
    state = jax.eval_shape(tx.init, shapes)
    return sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(state))


def test_state_bytes_are_under_three_tenths_of_float32_adam():
    shapes = _transformer_shapes()
    n_params = sum(x.size for x in jax.tree.leaves(shapes))
    assert 4_000_000 < n_params < 6_000_000
    float32_adam = _state_bytes(gradtx.adam(1e-3), shapes)
    assert float32_adam >= 8 * n_params
    quant = _state_bytes(gradtx.quantized_state(gradtx.adam(1e-3)), shapes)
    assert quant <= 0.3 * float32_adam, quant / float32_adam
    assert quant >= 2 * n_params  # one byte per moment element, at least


def _noisy_spirals_task():
    """Spirals with 20% of labels redrawn at random: a loss floor well above zero."""
    x, y = spirals(n_per_class=200, classes=3, noise=0.2, seed=0)
    rng = np.random.default_rng(1)
    redraw = rng.random(y.size) < 0.2
    y = np.where(redraw, rng.integers(0, 3, y.size), y).astype(np.int32)
    x, y = jnp.asarray(x), jnp.asarray(y)

    def loss_fn(params):
        h = x
        for i, layer in enumerate(params):
            h = h @ layer["w"] + layer["b"][None, :]
            if i < len(params) - 1:
                h = jnp.tanh(h)
        logp = jax.nn.log_softmax(h)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    sizes = (2, 128, 128, 3)
    keys = jax.random.split(jax.random.key(0), len(sizes) - 1)
    params = [
        {"w": jax.random.normal(k, (m, n)) / np.sqrt(m), "b": jnp.zeros((n,))}
        for k, m, n in zip(keys, sizes[:-1], sizes[1:], strict=True)
    ]
    return loss_fn, params


def _train(tx, loss_fn, params, steps):
    def body(carry, _):
        p, s = carry
        loss, g = jax.value_and_grad(loss_fn)(p)
        u, s = tx.update(g, s, p)
        return (gradtx.apply_updates(p, u), s), loss

    run = jax.jit(lambda p: jax.lax.scan(body, (p, tx.init(p)), length=steps))
    (final, state), losses = run(params)
    return float(loss_fn(final)), np.asarray(losses), state


def test_quantized_adam_trains_as_well_as_float32_adam():
    loss_fn, params = _noisy_spirals_task()
    initial = float(loss_fn(params))
    plain, plain_losses, _ = _train(gradtx.adam(1e-2), loss_fn, params, 300)
    quant, quant_losses, state = _train(
        gradtx.quantized_state(gradtx.adam(1e-2)), loss_fn, params, 300
    )
    # The hidden-to-hidden and input matrices are stored in 8 bits.
    assert isinstance(state.inner_state[0].nu[1]["w"], QuantizedArray)
    assert plain < 0.4 * initial, (initial, plain_losses[::50])
    assert abs(quant - plain) <= 0.02 * plain, (plain, quant, quant_losses[::50])
