"""Optimisation test functions with known minima, saddles and maxima.

Each factory returns a `Landscape`: the function, its known critical points as data,
a standard start ``x0`` and plot ``bounds``. Use them with `gradtx.experiments.run`.
"""

from gradtx.landscapes._functions import beale as beale
from gradtx.landscapes._functions import himmelblau as himmelblau
from gradtx.landscapes._functions import ill_conditioned_quadratic as ill_conditioned_quadratic
from gradtx.landscapes._functions import monkey_saddle as monkey_saddle
from gradtx.landscapes._functions import rastrigin as rastrigin
from gradtx.landscapes._functions import rosenbrock as rosenbrock
from gradtx.landscapes._functions import saddle as saddle
from gradtx.landscapes._landscape import Landscape as Landscape

__all__ = [
    "Landscape",
    "beale",
    "himmelblau",
    "ill_conditioned_quadratic",
    "monkey_saddle",
    "rastrigin",
    "rosenbrock",
    "saddle",
]
