"""Composable gradient transforms.

Each private module lists its public names in ``__all__``; this package re-exports
them (``gradtx.transforms.X``) and ``gradtx`` re-exports them flat (``gradtx.X``).
"""

from gradtx.transforms import (
    _adam_family,
    _adam_variants,
    _adding,
    _clipping,
    _constraints,
    _factored,
    _lbfgs,
    _linesearch,
    _momentum,
    _rms_family,
    _scaling,
    _trust_ratio,
)
from gradtx.transforms._adam_family import *  # noqa: F403
from gradtx.transforms._adam_variants import *  # noqa: F403
from gradtx.transforms._adding import *  # noqa: F403
from gradtx.transforms._clipping import *  # noqa: F403
from gradtx.transforms._constraints import *  # noqa: F403
from gradtx.transforms._factored import *  # noqa: F403
from gradtx.transforms._lbfgs import *  # noqa: F403
from gradtx.transforms._linesearch import *  # noqa: F403
from gradtx.transforms._momentum import *  # noqa: F403
from gradtx.transforms._rms_family import *  # noqa: F403
from gradtx.transforms._scaling import *  # noqa: F403
from gradtx.transforms._trust_ratio import *  # noqa: F403

__all__ = sorted(
    {
        *_scaling.__all__,
        *_momentum.__all__,
        *_adam_family.__all__,
        *_adam_variants.__all__,
        *_rms_family.__all__,
        *_factored.__all__,
        *_trust_ratio.__all__,
        *_lbfgs.__all__,
        *_linesearch.__all__,
        *_clipping.__all__,
        *_adding.__all__,
        *_constraints.__all__,
    }
)
