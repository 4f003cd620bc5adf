"""The linear assignment problem (Optax's ``optax.assignment``)."""

from gradtx.assignment._hungarian import base_hungarian_algorithm as base_hungarian_algorithm
from gradtx.assignment._hungarian import hungarian_algorithm as hungarian_algorithm

__all__ = ["base_hungarian_algorithm", "hungarian_algorithm"]
