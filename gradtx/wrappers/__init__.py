"""Transforms of transforms: accumulation, masking, finiteness, averaging ...

Each private module lists its public names in ``__all__``; this package re-exports
them (``gradtx.wrappers.X``) and ``gradtx`` re-exports them flat (``gradtx.X``).
"""

from gradtx.wrappers._accumulation import ApplyEvery as ApplyEvery
from gradtx.wrappers._accumulation import MultiSteps as MultiSteps
from gradtx.wrappers._accumulation import MultiStepsState as MultiStepsState
from gradtx.wrappers._accumulation import apply_every as apply_every
from gradtx.wrappers._averaging import AverageParamsState as AverageParamsState
from gradtx.wrappers._averaging import average_params as average_params
from gradtx.wrappers._averaging import averaged_params as averaged_params
from gradtx.wrappers._conditionality import ConditionallyMaskState as ConditionallyMaskState
from gradtx.wrappers._conditionality import (
    ConditionallyTransformState as ConditionallyTransformState,
)
from gradtx.wrappers._conditionality import ConditionFn as ConditionFn
from gradtx.wrappers._conditionality import conditionally_mask as conditionally_mask
from gradtx.wrappers._conditionality import conditionally_transform as conditionally_transform
from gradtx.wrappers._conditionality import selective_transform as selective_transform
from gradtx.wrappers._finite import ApplyIfFiniteState as ApplyIfFiniteState
from gradtx.wrappers._finite import apply_if_finite as apply_if_finite
from gradtx.wrappers._finite import skip_large_updates as skip_large_updates
from gradtx.wrappers._finite import skip_not_finite as skip_not_finite
from gradtx.wrappers._flatten import flatten as flatten
from gradtx.wrappers._lookahead import LookaheadParams as LookaheadParams
from gradtx.wrappers._lookahead import LookaheadSlowParamsState as LookaheadSlowParamsState
from gradtx.wrappers._lookahead import LookaheadState as LookaheadState
from gradtx.wrappers._lookahead import lookahead as lookahead
from gradtx.wrappers._loss_scale import DynamicLossScaleState as DynamicLossScaleState
from gradtx.wrappers._loss_scale import dynamic_loss_scale as dynamic_loss_scale
from gradtx.wrappers._loss_scale import loss_scale as loss_scale
from gradtx.wrappers._masking import MaskedNode as MaskedNode
from gradtx.wrappers._masking import MaskedState as MaskedState
from gradtx.wrappers._masking import MultiTransformState as MultiTransformState
from gradtx.wrappers._masking import PartitionState as PartitionState
from gradtx.wrappers._masking import freeze as freeze
from gradtx.wrappers._masking import masked as masked
from gradtx.wrappers._masking import multi_transform as multi_transform
from gradtx.wrappers._masking import partition as partition
from gradtx.wrappers._monitor import MonitorStatsState as MonitorStatsState
from gradtx.wrappers._monitor import training_monitor as training_monitor
from gradtx.wrappers._monitoring import MonitorState as MonitorState
from gradtx.wrappers._monitoring import SnapshotState as SnapshotState
from gradtx.wrappers._monitoring import measure_with_ema as measure_with_ema
from gradtx.wrappers._monitoring import monitor as monitor
from gradtx.wrappers._monitoring import snapshot as snapshot
from gradtx.wrappers._protocols import ShouldSkipUpdateFunction as ShouldSkipUpdateFunction
from gradtx.wrappers._quantized import QuantizedArray as QuantizedArray
from gradtx.wrappers._quantized import QuantizedState as QuantizedState
from gradtx.wrappers._quantized import quantized_state as quantized_state

__all__ = [
    "ApplyEvery",
    "ApplyIfFiniteState",
    "AverageParamsState",
    "ConditionFn",
    "ConditionallyMaskState",
    "ConditionallyTransformState",
    "DynamicLossScaleState",
    "LookaheadParams",
    "LookaheadSlowParamsState",
    "LookaheadState",
    "MaskedNode",
    "MaskedState",
    "MonitorState",
    "MonitorStatsState",
    "MultiSteps",
    "MultiStepsState",
    "MultiTransformState",
    "PartitionState",
    "QuantizedArray",
    "QuantizedState",
    "ShouldSkipUpdateFunction",
    "SnapshotState",
    "apply_every",
    "apply_if_finite",
    "average_params",
    "averaged_params",
    "conditionally_mask",
    "conditionally_transform",
    "dynamic_loss_scale",
    "flatten",
    "freeze",
    "lookahead",
    "loss_scale",
    "masked",
    "measure_with_ema",
    "monitor",
    "multi_transform",
    "partition",
    "quantized_state",
    "selective_transform",
    "skip_large_updates",
    "skip_not_finite",
    "snapshot",
    "training_monitor",
]
