"""Euclidean projections of pytrees onto sets (Optax's ``optax.projections``).

A projection returns the point of a set nearest to its input, the whole pytree taken as
one vector; use them for projected gradient descent (``params = projection(params)``
after each update) or inside losses (``multiclass_sparsemax_loss``).
"""

from gradtx.projections._projections import projection_box as projection_box
from gradtx.projections._projections import projection_halfspace as projection_halfspace
from gradtx.projections._projections import projection_hypercube as projection_hypercube
from gradtx.projections._projections import projection_hyperplane as projection_hyperplane
from gradtx.projections._projections import projection_l1_ball as projection_l1_ball
from gradtx.projections._projections import projection_l1_sphere as projection_l1_sphere
from gradtx.projections._projections import projection_l2_ball as projection_l2_ball
from gradtx.projections._projections import projection_l2_sphere as projection_l2_sphere
from gradtx.projections._projections import projection_linf_ball as projection_linf_ball
from gradtx.projections._projections import projection_non_negative as projection_non_negative
from gradtx.projections._projections import projection_simplex as projection_simplex
from gradtx.projections._projections import projection_vector as projection_vector

__all__ = [
    "projection_box",
    "projection_halfspace",
    "projection_hypercube",
    "projection_hyperplane",
    "projection_l1_ball",
    "projection_l1_sphere",
    "projection_l2_ball",
    "projection_l2_sphere",
    "projection_linf_ball",
    "projection_non_negative",
    "projection_simplex",
    "projection_vector",
]
