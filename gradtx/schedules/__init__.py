"""Schedules (step -> value), hyperparameter injection and learning-rate control.

Each private module lists its public names in ``__all__``; this package re-exports
them (``gradtx.schedules.X``) and ``gradtx`` re-exports them flat (``gradtx.X``).
"""

from gradtx.schedules._basic import constant_schedule as constant_schedule
from gradtx.schedules._basic import exponential_decay as exponential_decay
from gradtx.schedules._basic import linear_schedule as linear_schedule
from gradtx.schedules._basic import piecewise_constant_schedule as piecewise_constant_schedule
from gradtx.schedules._basic import piecewise_interpolate_schedule as piecewise_interpolate_schedule
from gradtx.schedules._basic import polynomial_schedule as polynomial_schedule
from gradtx.schedules._cosine import cosine_decay_schedule as cosine_decay_schedule
from gradtx.schedules._cosine import cosine_onecycle_schedule as cosine_onecycle_schedule
from gradtx.schedules._cosine import linear_onecycle_schedule as linear_onecycle_schedule
from gradtx.schedules._cosine import sgdr_schedule as sgdr_schedule
from gradtx.schedules._cosine import warmup_constant_schedule as warmup_constant_schedule
from gradtx.schedules._cosine import warmup_cosine_decay_schedule as warmup_cosine_decay_schedule
from gradtx.schedules._cosine import (
    warmup_exponential_decay_schedule as warmup_exponential_decay_schedule,
)
from gradtx.schedules._cyclic import cyclic_schedule as cyclic_schedule
from gradtx.schedules._cyclic import inverse_sqrt_schedule as inverse_sqrt_schedule
from gradtx.schedules._inject import InjectHyperparamsState as InjectHyperparamsState
from gradtx.schedules._inject import (
    InjectStatefulHyperparamsState as InjectStatefulHyperparamsState,
)
from gradtx.schedules._inject import WrappedScheduleState as WrappedScheduleState
from gradtx.schedules._inject import current_learning_rate as current_learning_rate
from gradtx.schedules._inject import inject_hyperparams as inject_hyperparams
from gradtx.schedules._inject import inject_stateful_hyperparams as inject_stateful_hyperparams
from gradtx.schedules._join import join_schedules as join_schedules
from gradtx.schedules._lr_finder import LRRangeTestResult as LRRangeTestResult
from gradtx.schedules._lr_finder import lr_range_test as lr_range_test
from gradtx.schedules._lr_finder import plot_lr_range_test as plot_lr_range_test
from gradtx.schedules._plateau import ReduceLROnPlateauState as ReduceLROnPlateauState
from gradtx.schedules._plateau import reduce_on_plateau as reduce_on_plateau
from gradtx.schedules._scaling_rule import linear_scaling_rule as linear_scaling_rule
from gradtx.schedules._stateful import Schedule as Schedule
from gradtx.schedules._stateful import StatefulSchedule as StatefulSchedule
from gradtx.schedules._stateful import WrappedSchedule as WrappedSchedule

__all__ = [
    "InjectHyperparamsState",
    "InjectStatefulHyperparamsState",
    "LRRangeTestResult",
    "ReduceLROnPlateauState",
    "Schedule",
    "StatefulSchedule",
    "WrappedSchedule",
    "WrappedScheduleState",
    "constant_schedule",
    "cosine_decay_schedule",
    "cosine_onecycle_schedule",
    "current_learning_rate",
    "cyclic_schedule",
    "exponential_decay",
    "inject_hyperparams",
    "inject_stateful_hyperparams",
    "inverse_sqrt_schedule",
    "join_schedules",
    "linear_onecycle_schedule",
    "linear_scaling_rule",
    "linear_schedule",
    "lr_range_test",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "plot_lr_range_test",
    "polynomial_schedule",
    "reduce_on_plateau",
    "sgdr_schedule",
    "warmup_constant_schedule",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
]
