"""Optimizers: documented ``chain`` compositions of transforms.

Each private module lists its public names in ``__all__``; this package re-exports
them (``gradtx.optimizers.X``) and ``gradtx`` re-exports them flat (``gradtx.X``).
"""

from gradtx.optimizers import (  # issue 15
    _adam,
    _adaptive,
    _extra,
    _layerwise,
    _optimistic,
    _quasi_newton,
    _sgd,
)
from gradtx.optimizers._adam import *  # noqa: F403
from gradtx.optimizers._adaptive import *  # noqa: F403
from gradtx.optimizers._extra import *  # noqa: F403
from gradtx.optimizers._layerwise import *  # noqa: F403
from gradtx.optimizers._optimistic import *  # noqa: F403
from gradtx.optimizers._quasi_newton import *  # noqa: F403
from gradtx.optimizers._sgd import *  # noqa: F403

__all__ = sorted(
    {*_sgd.__all__, *_adam.__all__, *_adaptive.__all__, *_layerwise.__all__, *_quasi_newton.__all__}
    | {*_extra.__all__, *_optimistic.__all__}
)
