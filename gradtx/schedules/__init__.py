"""Schedules (step -> value), hyperparameter injection and learning-rate control.

Each private module lists its public names in ``__all__``; this package re-exports
them (``gradtx.schedules.X``) and ``gradtx`` re-exports them flat (``gradtx.X``).
"""

from gradtx.schedules import (
    _basic,
    _cosine,
    _cyclic,
    _inject,
    _join,
    _lr_finder,
    _plateau,
    _scaling_rule,
    _stateful,  # issue 15
)
from gradtx.schedules._basic import *  # noqa: F403
from gradtx.schedules._cosine import *  # noqa: F403
from gradtx.schedules._cyclic import *  # noqa: F403
from gradtx.schedules._inject import *  # noqa: F403
from gradtx.schedules._join import *  # noqa: F403
from gradtx.schedules._lr_finder import *  # noqa: F403
from gradtx.schedules._plateau import *  # noqa: F403
from gradtx.schedules._scaling_rule import *  # noqa: F403
from gradtx.schedules._stateful import *  # noqa: F403

__all__ = sorted(
    {
        *_basic.__all__,
        *_cosine.__all__,
        *_join.__all__,
        *_cyclic.__all__,
        *_scaling_rule.__all__,
        *_plateau.__all__,
        *_lr_finder.__all__,
        *_inject.__all__,
        *_stateful.__all__,
    }
)
