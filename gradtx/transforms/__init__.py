"""Composable gradient transforms.

Each private module lists its public names in ``__all__``; this package re-exports
them (``gradtx.transforms.X``) and ``gradtx`` re-exports them flat (``gradtx.X``).
"""

from gradtx.core._combine import chain as chain
from gradtx.core._combine import named_chain as named_chain
from gradtx.transforms import (  # issue 15
    _adam_family,
    _adam_variants,
    _adding,
    _clipping,
    _constraints,
    _distance,
    _empty_states,
    _factored,
    _lbfgs,
    _linesearch,
    _momentum,
    _optimistic,
    _param_block,
    _per_example,
    _polyak,
    _rms_family,
    _rprop,
    _scaling,
    _sm3,
    _trust_ratio,
    _unitwise,
)
from gradtx.transforms._adam_family import *  # noqa: F403
from gradtx.transforms._adam_variants import *  # noqa: F403
from gradtx.transforms._adding import *  # noqa: F403
from gradtx.transforms._clipping import *  # noqa: F403
from gradtx.transforms._constraints import *  # noqa: F403
from gradtx.transforms._distance import *  # noqa: F403
from gradtx.transforms._empty_states import *  # noqa: F403
from gradtx.transforms._factored import *  # noqa: F403
from gradtx.transforms._lbfgs import *  # noqa: F403
from gradtx.transforms._linesearch import *  # noqa: F403
from gradtx.transforms._momentum import *  # noqa: F403
from gradtx.transforms._optimistic import *  # noqa: F403
from gradtx.transforms._param_block import *  # noqa: F403
from gradtx.transforms._per_example import *  # noqa: F403
from gradtx.transforms._polyak import *  # noqa: F403
from gradtx.transforms._rms_family import *  # noqa: F403
from gradtx.transforms._rprop import *  # noqa: F403
from gradtx.transforms._scaling import *  # noqa: F403
from gradtx.transforms._sm3 import *  # noqa: F403
from gradtx.transforms._trust_ratio import *  # noqa: F403
from gradtx.transforms._unitwise import *  # noqa: F403

# Optax's ``optax.transforms`` also holds the combinators and wrappers; gradtx keeps one
# implementation of each in gradtx.core / gradtx.wrappers and re-exports it here. These
# imports must stay after every transforms submodule's: the wrappers import those.
from gradtx.wrappers._accumulation import MultiSteps as MultiSteps
from gradtx.wrappers._accumulation import MultiStepsState as MultiStepsState
from gradtx.wrappers._conditionality import (
    ConditionallyMaskState as ConditionallyMaskState,
)
from gradtx.wrappers._conditionality import (
    ConditionallyTransformState as ConditionallyTransformState,
)
from gradtx.wrappers._conditionality import ConditionFn as ConditionFn
from gradtx.wrappers._conditionality import conditionally_mask as conditionally_mask
from gradtx.wrappers._conditionality import (
    conditionally_transform as conditionally_transform,
)
from gradtx.wrappers._conditionality import selective_transform as selective_transform
from gradtx.wrappers._finite import ApplyIfFiniteState as ApplyIfFiniteState
from gradtx.wrappers._finite import apply_if_finite as apply_if_finite
from gradtx.wrappers._finite import skip_large_updates as skip_large_updates
from gradtx.wrappers._finite import skip_not_finite as skip_not_finite
from gradtx.wrappers._flatten import flatten as flatten
from gradtx.wrappers._masking import MaskedNode as MaskedNode
from gradtx.wrappers._masking import MaskedState as MaskedState
from gradtx.wrappers._masking import PartitionState as PartitionState
from gradtx.wrappers._masking import freeze as freeze
from gradtx.wrappers._masking import masked as masked
from gradtx.wrappers._masking import partition as partition
from gradtx.wrappers._monitoring import MonitorState as MonitorState
from gradtx.wrappers._monitoring import SnapshotState as SnapshotState
from gradtx.wrappers._monitoring import measure_with_ema as measure_with_ema
from gradtx.wrappers._monitoring import monitor as monitor
from gradtx.wrappers._monitoring import snapshot as snapshot
from gradtx.wrappers._protocols import (
    ShouldSkipUpdateFunction as ShouldSkipUpdateFunction,
)

_OPTAX_TRANSFORMS_REEXPORTS = (
    "ApplyIfFiniteState",
    "ConditionFn",
    "ConditionallyMaskState",
    "ConditionallyTransformState",
    "MaskedNode",
    "MaskedState",
    "MonitorState",
    "MultiSteps",
    "MultiStepsState",
    "PartitionState",
    "ShouldSkipUpdateFunction",
    "SnapshotState",
    "apply_if_finite",
    "chain",
    "conditionally_mask",
    "conditionally_transform",
    "flatten",
    "freeze",
    "masked",
    "measure_with_ema",
    "monitor",
    "named_chain",
    "partition",
    "selective_transform",
    "skip_large_updates",
    "skip_not_finite",
    "snapshot",
)

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
        *_distance.__all__,
        *_empty_states.__all__,
        *_optimistic.__all__,
        *_param_block.__all__,
        *_per_example.__all__,
        *_polyak.__all__,
        *_rprop.__all__,
        *_sm3.__all__,
        *_unitwise.__all__,
        *_OPTAX_TRANSFORMS_REEXPORTS,
    }
)
