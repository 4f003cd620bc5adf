"""Shardings for optimizer state on a ``jax.sharding.Mesh`` (replicated or ZeRO-style).

gradtx adds no communication layer: state leaves created under the caller's ``jit`` inherit
the parameters' sharding. `state_shardings` spells that sharding out (or the ZeRO-1 choice)
so that it can be passed to ``jit(in_shardings=..., out_shardings=...)``.
"""

from gradtx.sharding._state import state_shardings as state_shardings

__all__ = ["state_shardings"]
