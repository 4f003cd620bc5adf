"""Registry entries for gradtx.transforms (see tests/registry.py)."""

import jax
import jax.numpy as jnp

import gradtx
from tests.registry import Entry


def _not_vector(tree):
    """Mask function: true for every leaf that is not 1-D."""
    return jax.tree.map(lambda x: jnp.ndim(x) != 1, tree)


def _decay_schedule(count):
    return 0.1 / (1.0 + count.astype(jnp.float32))


ENTRIES: list[Entry] = [
    Entry("scale", gradtx.scale, {"step_size": -0.1}, is_optimizer=True, optax="scale"),
    Entry(
        "scale_by_learning_rate",
        gradtx.scale_by_learning_rate,
        {"learning_rate": 0.1},
        is_optimizer=True,
        optax="scale_by_learning_rate",
    ),
    Entry(
        "scale_by_schedule",
        gradtx.scale_by_schedule,
        {"step_size_fn": lambda c: -0.1 / (1.0 + c.astype(float))},
        is_optimizer=True,
        optax="scale_by_schedule",
    ),
    Entry("scale_by_sign", gradtx.scale_by_sign, {}, optax="scale_by_sign"),
    # _momentum.py
    Entry("trace", gradtx.trace, {"decay": 0.9}, optax="trace"),
    Entry(
        "trace_nesterov_f32",
        gradtx.trace,
        {"decay": 0.5, "nesterov": True, "accumulator_dtype": jnp.float32},
        optax="trace",
    ),
    Entry("ema", gradtx.ema, {"decay": 0.9}, optax="ema"),
    Entry(
        "ema_raw_f32",
        gradtx.ema,
        {"decay": 0.5, "debias": False, "accumulator_dtype": "f4"},
        optax="ema",
    ),
    # _rms_family.py
    Entry("scale_by_rms", gradtx.scale_by_rms, {}, optax="scale_by_rms"),
    Entry(
        "scale_by_rms_debiased",
        gradtx.scale_by_rms,
        {
            "decay": 0.99,
            "eps": 1e-6,
            "initial_scale": 0.1,
            "eps_in_sqrt": False,
            "bias_correction": True,
        },
        optax="scale_by_rms",
    ),
    Entry("scale_by_stddev", gradtx.scale_by_stddev, {"eps": 1e-2}, optax="scale_by_stddev"),
    Entry(
        "scale_by_stddev_debiased",
        gradtx.scale_by_stddev,
        {
            "decay": 0.9,
            "eps": 1e-2,
            "initial_scale": 1.0,
            "eps_in_sqrt": False,
            "bias_correction": True,
        },
        optax="scale_by_stddev",
    ),
    Entry("scale_by_rss", gradtx.scale_by_rss, {}, optax="scale_by_rss"),
    Entry(
        "scale_by_adadelta",
        gradtx.scale_by_adadelta,
        {"rho": 0.9, "eps": 1e-2},
        optax="scale_by_adadelta",
    ),
    # _factored.py
    Entry("scale_by_factored_rms", gradtx.scale_by_factored_rms, {}, optax="scale_by_factored_rms"),
    Entry(
        "scale_by_factored_rms_factored",
        gradtx.scale_by_factored_rms,
        {"min_dim_size_to_factor": 2, "decay_rate": 0.5},
        optax="scale_by_factored_rms",
    ),
    # _trust_ratio.py
    Entry(
        "scale_by_trust_ratio",
        gradtx.scale_by_trust_ratio,
        {},
        needs_params=True,
        optax="scale_by_trust_ratio",
    ),
    # _clipping.py
    Entry("clip", gradtx.clip, {"max_delta": 1.0}, optax="clip"),
    Entry(
        "clip_by_global_norm",
        gradtx.clip_by_global_norm,
        {"max_norm": 1.0},
        optax="clip_by_global_norm",
    ),
    Entry(
        "clip_by_block_rms", gradtx.clip_by_block_rms, {"threshold": 1.0}, optax="clip_by_block_rms"
    ),
    Entry(
        "adaptive_grad_clip",
        gradtx.adaptive_grad_clip,
        {"clipping": 0.1},
        needs_params=True,
        optax="adaptive_grad_clip",
    ),
    # _adding.py
    Entry(
        "add_decayed_weights",
        gradtx.add_decayed_weights,
        {"weight_decay": 0.1},
        needs_params=True,
        optax="add_decayed_weights",
    ),
    Entry(
        "add_decayed_weights_masked_schedule",
        gradtx.add_decayed_weights,
        {"weight_decay": _decay_schedule, "mask": _not_vector},
        needs_params=True,
        optax="add_decayed_weights",
    ),
    Entry(
        "add_noise",
        gradtx.add_noise,
        {"eta": 0.01, "gamma": 0.55, "key": 0},
        descends=False,
        optax="add_noise",
    ),
    # _constraints.py
    Entry("centralize", gradtx.centralize, {}, descends=False, optax="centralize"),
    Entry("zero_nans", gradtx.zero_nans, {}, optax="zero_nans"),
    Entry(
        "keep_params_nonnegative",
        gradtx.keep_params_nonnegative,
        {},
        needs_params=True,
        descends=False,  # it constrains the final step; in front of a learning rate it is moot
        optax="keep_params_nonnegative",
    ),
]
