"""Experimental transforms (Optax's ``optax.experimental``): `aggregating`, transforms of
per-example gradients.

Not to be confused with ``gradtx.experiments`` (the compiled trajectory runner).
"""

from gradtx.experimental import aggregating as aggregating

__all__ = ["aggregating"]
