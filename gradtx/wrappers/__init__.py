"""Transforms of transforms: accumulation, masking, finiteness, averaging ...

Each private module lists its public names in ``__all__``; this package re-exports
them (``gradtx.wrappers.X``) and ``gradtx`` re-exports them flat (``gradtx.X``).
"""

from gradtx.wrappers import (  # issue 15
    _accumulation,
    _averaging,
    _conditionality,
    _finite,
    _flatten,
    _lookahead,
    _loss_scale,
    _masking,
    _monitor,
    _monitoring,
    _protocols,
    _quantized,
)
from gradtx.wrappers._accumulation import *  # noqa: F403
from gradtx.wrappers._averaging import *  # noqa: F403
from gradtx.wrappers._conditionality import *  # noqa: F403
from gradtx.wrappers._finite import *  # noqa: F403
from gradtx.wrappers._flatten import *  # noqa: F403
from gradtx.wrappers._lookahead import *  # noqa: F403
from gradtx.wrappers._loss_scale import *  # noqa: F403
from gradtx.wrappers._masking import *  # noqa: F403
from gradtx.wrappers._monitor import *  # noqa: F403
from gradtx.wrappers._monitoring import *  # noqa: F403
from gradtx.wrappers._protocols import *  # noqa: F403
from gradtx.wrappers._quantized import *  # noqa: F403

__all__ = sorted(
    {
        *_accumulation.__all__,
        *_masking.__all__,
        *_finite.__all__,
        *_lookahead.__all__,
        *_flatten.__all__,
        *_averaging.__all__,
        *_loss_scale.__all__,
        *_monitor.__all__,
        *_quantized.__all__,
        *_conditionality.__all__,
        *_monitoring.__all__,
        *_protocols.__all__,
    }
)
