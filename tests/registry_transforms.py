"""Registry entries for gradtx.transforms (see tests/registry.py)."""

import jax
import jax.numpy as jnp

import gradtx
from tests.helpers import example_params, not_vector, tensor_params
from tests.registry import Entry, Parity, first_eager, with_parity


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
        {"weight_decay": _decay_schedule, "mask": not_vector},
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


def _decay_params():
    return {
        "dense": {"w": jnp.linspace(-1.0, 1.0, 12).reshape(3, 4), "b": jnp.full((4,), 0.5)},
        "scalar": jnp.asarray(2.0),
    }


def _axis_1_params():
    return {"w": example_params()["dense"]["w"], "m": jnp.full((4, 5), 0.3)}


def _nonnegative_params():
    return jax.tree.map(jnp.abs, example_params())


def _after_a_learning_rate(lib, tx):
    """keep_params_nonnegative sees the final step: put a learning rate first."""
    return lib.chain(lib.scale(-0.3), tx)


ENTRIES = with_parity(
    ENTRIES,
    {
        "trace": first_eager(
            [
                Parity({"decay": 0.9}),
                Parity({"decay": 0.7, "nesterov": True}),
                Parity({"decay": 0.9, "accumulator_dtype": jnp.bfloat16}),
            ]
        ),
        "ema": first_eager(
            [
                Parity({"decay": 0.9}),
                Parity({"decay": 0.8, "debias": False}),
                Parity({"decay": 0.95, "accumulator_dtype": jnp.bfloat16}),
            ]
        ),
        "scale_by_rms": first_eager(
            [
                Parity({}),
                Parity({"decay": 0.8, "eps": 1e-4, "initial_scale": 0.3, "eps_in_sqrt": False}),
                Parity({"decay": 0.95, "bias_correction": True}),
            ]
        ),
        "scale_by_stddev": first_eager(
            [
                Parity({"eps": 1e-3}),
                Parity({"decay": 0.8, "eps": 1e-2, "initial_scale": 1.0, "eps_in_sqrt": False}),
                # Debiased with a zero start, the first variance is 0 up to rounding (v - m^2
                # cancels): 1-ulp differences in XLA's codegen then show at 1e-4, so this
                # case starts from 1.
                Parity({"decay": 0.95, "eps": 1e-3, "initial_scale": 1.0, "bias_correction": True}),
            ]
        ),
        "scale_by_rss": first_eager(
            [Parity({}), Parity({"initial_accumulator_value": 0.5, "eps": 1e-3})]
        ),
        "scale_by_adadelta": first_eager([Parity({}), Parity({"rho": 0.7, "eps": 1e-4})]),
        "clip": first_eager([Parity({"max_delta": 0.7})]),
        "clip_by_global_norm": first_eager([Parity({"max_norm": 2.0})]),
        "clip_by_block_rms": first_eager([Parity({"threshold": 0.8})]),
        "adaptive_grad_clip": first_eager(
            [
                Parity({"clipping": 0.2}),
                Parity({"clipping": 0.05, "eps": 0.1, "axis": 1}, params=_axis_1_params),
            ]
        ),
        "add_decayed_weights": tuple(
            Parity(kwargs, id=name, params=_decay_params, eager=True)
            for name, kwargs in [
                ("constant", {"weight_decay": 0.05}),
                ("schedule", {"weight_decay": lambda c: 0.1 / (1.0 + c.astype(jnp.float32))}),
                ("fn-mask", {"weight_decay": 0.2, "mask": not_vector}),
                ("prefix", {"weight_decay": 0.2, "mask": {"dense": False, "scalar": True}}),
            ]
        ),
        "add_noise": (
            Parity(args=lambda lib: (0.01, 0.55, jax.random.key(7)), eager=True),
            Parity(args=lambda lib: (0.3, 1.0, jax.random.key(7))),
        ),
        "centralize": (Parity({}, atol=1e-7, eager=True),),
        "zero_nans": (Parity({}, eager=True),),
        "keep_params_nonnegative": (
            Parity({}, params=_nonnegative_params, eager=True, wrap=_after_a_learning_rate),
        ),
        "scale_by_factored_rms": tuple(
            Parity(kwargs, params=tensor_params, rtol=2e-6, eager=i == 1)
            for i, kwargs in enumerate(
                [
                    {},
                    {"min_dim_size_to_factor": 3},
                    {"min_dim_size_to_factor": 4, "decay_rate": 0.5, "epsilon": 1e-20},
                    {"min_dim_size_to_factor": 3, "step_offset": 2},
                    {"min_dim_size_to_factor": 3, "factored": False},
                    {
                        "min_dim_size_to_factor": 3,
                        "decay_rate_fn": lambda step, rate: jnp.minimum(
                            1.0 - (step + 1).astype(jnp.float32) ** -rate, 0.9
                        ),
                    },
                ]
            )
        ),
        "scale_by_trust_ratio": first_eager(
            [
                Parity({}),
                Parity({"trust_coefficient": 0.02, "eps": 1e-4}),
                Parity({"min_norm": 0.5, "trust_coefficient": 2.0}),
            ]
        ),
    },
)
