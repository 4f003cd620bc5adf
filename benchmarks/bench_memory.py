"""Optimizer-state memory: bytes per parameter for each optimizer and state option.

The parameters are a decoder-only transformer's (token and position embeddings, blocks
of layer norms, fused QKV, attention output and MLP weights with their biases), given as
``jax.ShapeDtypeStruct`` s: every state is measured with ``jax.eval_shape(tx.init, ...)``,
so nothing is allocated and the byte counts are exact (sum of ``size * itemsize`` over
the state's leaves). Each row gives the state's bytes, bytes per parameter and the ratio
to float32 Adam's (8 bytes per parameter).

Usage::

    python benchmarks/bench_memory.py [--quick] [--width W] [--layers L] [--vocab V]

Sample printout (``--quick``, rows abridged; the numbers do not depend on the machine)::

    gradtx optimizer-state memory | x86_64 Linux | 2 CPUs | jax 0.10.2 | backend cpu | ...
    transformer: vocab 2048, width 128, 4 layers: 1,121,024 float32 parameters in 52 leaves
    optimizer                              state MiB  bytes/param  x adam f32
    sgd + momentum                              4.28         4.00       0.500
    adam                                        8.55         8.00       1.000
    adam(mu=bf16)                               6.41         6.00       0.750
    adam(mu=bf16, nu=bf16)                      4.28         4.00       0.500
    quantized_state(adam)                       2.20         2.06       0.257
    lion                                        4.28         4.00       0.500
    adafactor (factored)                        0.07         0.06       0.008

The default model (vocab 32000, width 512, 8 layers: 41.9M parameters) gives the same
ratios but 2.04 bytes/param (0.255x) for ``quantized_state(adam)``: one code byte per
moment element plus a float32 scale and a flag per block of 256.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

import gradtx


def transformer_shapes(
    vocab: int, width: int, layers: int, context: int = 512, mlp_ratio: int = 4
) -> dict[str, Any]:
    """ShapeDtypeStructs (float32) of a decoder-only transformer's parameters."""

    def s(*shape: int) -> jax.ShapeDtypeStruct:
        return jax.ShapeDtypeStruct(shape, jnp.float32)

    hidden = mlp_ratio * width

    def block() -> dict[str, Any]:
        return {
            "ln1": {"scale": s(width), "bias": s(width)},
            "attn": {
                "qkv": {"w": s(width, 3 * width), "b": s(3 * width)},
                "out": {"w": s(width, width), "b": s(width)},
            },
            "ln2": {"scale": s(width), "bias": s(width)},
            "mlp": {
                "up": {"w": s(width, hidden), "b": s(hidden)},
                "down": {"w": s(hidden, width), "b": s(width)},
            },
        }

    return {
        "embed": s(vocab, width),
        "pos": s(context, width),
        "blocks": [block() for _ in range(layers)],
        "ln_f": {"scale": s(width), "bias": s(width)},
    }


def optimizers() -> list[tuple[str, gradtx.GradientTransformation]]:
    """The rows of the table: (label, transform)."""
    bf16 = jnp.bfloat16
    lr = 1e-3
    return [
        ("sgd", gradtx.sgd(lr)),
        ("sgd + momentum", gradtx.sgd(lr, momentum=0.9)),
        ("sgd + momentum (bf16)", gradtx.sgd(lr, momentum=0.9, accumulator_dtype=bf16)),
        ("quantized_state(sgd + momentum)", gradtx.quantized_state(gradtx.sgd(lr, 0.9))),
        ("adam", gradtx.adam(lr)),
        ("adamw", gradtx.adamw(lr)),
        ("adam(mu=bf16)", gradtx.adam(lr, mu_dtype=bf16)),
        ("adam(mu=bf16, nu=bf16)", gradtx.adam(lr, mu_dtype=bf16, nu_dtype=bf16)),
        ("quantized_state(adam)", gradtx.quantized_state(gradtx.adam(lr))),
        ("quantized_state(adamw)", gradtx.quantized_state(gradtx.adamw(lr))),
        (
            "quantized_state(adam), block 2048",
            gradtx.quantized_state(gradtx.adam(lr), block_size=2048),
        ),
        ("amsgrad", gradtx.amsgrad(lr)),
        ("amsgrad(nu=bf16)", gradtx.amsgrad(lr, nu_dtype=bf16)),
        ("lion", gradtx.lion(lr)),
        ("lion(mu=bf16)", gradtx.lion(lr, mu_dtype=bf16)),
        ("quantized_state(lion)", gradtx.quantized_state(gradtx.lion(lr))),
        ("adafactor (factored)", gradtx.adafactor(lr)),
        ("adafactor (not factored)", gradtx.adafactor(lr, factored=False)),
        ("lamb", gradtx.lamb(lr)),
        ("adagrad", gradtx.adagrad(lr)),
        ("rmsprop", gradtx.rmsprop(lr)),
        ("adan", gradtx.adan(lr)),
        ("novograd", gradtx.novograd(lr)),
    ]


def state_bytes(tx: gradtx.GradientTransformation, shapes: Any) -> int:
    """Exact bytes of ``tx.init(params)`` for params given as ShapeDtypeStructs."""
    state = jax.eval_shape(tx.init, shapes)
    return sum(int(x.size) * jnp.dtype(x.dtype).itemsize for x in jax.tree.leaves(state))


def machine() -> str:
    """One line naming the host, the backend and the library versions."""
    device = jax.devices()[0]
    return (
        f"{platform.machine()} {platform.processor() or platform.system()} | "
        f"{os.cpu_count()} CPUs | jax {jax.__version__} | backend {jax.default_backend()} | "
        f"{device.device_kind} | python {platform.python_version()}"
    )


def table(shapes: Any) -> list[tuple[str, int, float, float]]:
    """Rows ``(label, state bytes, bytes per parameter, ratio to float32 adam)``."""
    n_params = sum(int(x.size) for x in jax.tree.leaves(shapes))
    reference = state_bytes(gradtx.adam(1e-3), shapes)
    rows = []
    for label, tx in optimizers():
        nbytes = state_bytes(tx, shapes)
        rows.append((label, nbytes, nbytes / n_params, nbytes / reference))
    return rows


def main(argv: Sequence[str] | None = None) -> list[tuple[str, int, float, float]]:
    """Print the table; return its rows.

    Args:
      argv: command-line arguments (default: ``sys.argv[1:]``).

    Returns:
      The rows printed: ``(label, state bytes, bytes per parameter, x adam f32)``.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a ~1M-parameter model")
    parser.add_argument("--vocab", type=int, default=None)
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--layers", type=int, default=None)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    vocab = args.vocab or (2048 if args.quick else 32_000)
    width = args.width or (128 if args.quick else 512)
    layers = args.layers or (4 if args.quick else 8)
    shapes = transformer_shapes(vocab, width, layers)
    n_params = sum(int(x.size) for x in jax.tree.leaves(shapes))
    n_leaves = len(jax.tree.leaves(shapes))

    print("gradtx optimizer-state memory | " + machine())
    print(
        f"transformer: vocab {vocab}, width {width}, {layers} layers: "
        f"{n_params:,} float32 parameters in {n_leaves} leaves"
    )
    rows = table(shapes)
    print(f"{'optimizer':<36}{'state MiB':>12}{'bytes/param':>13}{'x adam f32':>12}")
    for label, nbytes, per_param, ratio in rows:
        print(f"{label:<36}{nbytes / 2**20:>12.2f}{per_param:>13.2f}{ratio:>12.3f}")
    return rows


if __name__ == "__main__":
    main()
