"""Microbatched evaluation, vmap and per-example gradients (Optax's ``optax.microbatching``)."""

from gradtx.microbatching._microbatching import AccumulationType as AccumulationType
from gradtx.microbatching._microbatching import Accumulator as Accumulator
from gradtx.microbatching._microbatching import micro_grad as micro_grad
from gradtx.microbatching._microbatching import micro_vmap as micro_vmap
from gradtx.microbatching._microbatching import microbatch as microbatch
from gradtx.microbatching._microbatching import reshape_batch_axis as reshape_batch_axis

__all__ = [
    "AccumulationType",
    "Accumulator",
    "micro_grad",
    "micro_vmap",
    "microbatch",
    "reshape_batch_axis",
]
