"""Registry entries for gradtx.schedules (see tests/registry.py)."""

import gradtx
from tests.registry import Entry

_WARMUP_COSINE = gradtx.warmup_cosine_decay_schedule(0.0, 0.05, warmup_steps=2, decay_steps=400)

ENTRIES: list[Entry] = [
    Entry(
        "reduce_on_plateau",
        gradtx.reduce_on_plateau,
        {"factor": 0.5, "patience": 2},
        extra="value",
        optax="contrib.reduce_on_plateau",
    ),
    Entry(
        "reduce_on_plateau_accumulating",
        gradtx.reduce_on_plateau,
        {"factor": 0.5, "patience": 1, "cooldown": 1, "accumulation_size": 2, "min_scale": 0.1},
        extra="value",
        optax="contrib.reduce_on_plateau",
    ),
    Entry(
        "inject_hyperparams",
        lambda **kw: gradtx.inject_hyperparams(gradtx.scale_by_adam)(**kw),
        {"b1": 0.9, "b2": 0.999},
        optax="inject_hyperparams",
    ),
    Entry(
        "inject_hyperparams_scheduled_lr",
        lambda **kw: gradtx.inject_hyperparams(gradtx.adam)(**kw),
        {"learning_rate": _WARMUP_COSINE, "b1": 0.8},
        is_optimizer=True,
        optax="inject_hyperparams",
    ),
    Entry(
        "inject_hyperparams_reduce_on_plateau",
        lambda **kw: gradtx.inject_hyperparams(gradtx.reduce_on_plateau)(**kw),
        {"factor": 0.5, "patience": 2},
        extra="value",
        optax="inject_hyperparams",
    ),
    Entry(
        "inject_stateful_hyperparams",
        lambda **kw: gradtx.inject_stateful_hyperparams(gradtx.scale)(**kw),
        {"step_size": -0.05},
        is_optimizer=True,
        optax="inject_stateful_hyperparams",
    ),
]
