"""Schedules of API.md §5: parity with Optax, closed forms, validation, jit behaviour."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx

STEPS = jnp.arange(140, dtype=jnp.int32)  # every case ends well before step 140

SGDR_CYCLES = [
    dict(init_value=0.0, peak_value=1.0, warmup_steps=5, decay_steps=30),
    dict(init_value=0.1, peak_value=0.5, warmup_steps=0, decay_steps=40, end_value=0.01),
    dict(init_value=0.0, peak_value=0.2, warmup_steps=3, decay_steps=9, exponent=2.0),
]

# (name, kwargs): each is built by gradtx and by optax with the same arguments.
PARITY = [
    ("constant_schedule", dict(value=0.3)),
    ("constant_schedule", dict(value=5)),
    ("polynomial_schedule", dict(init_value=1.0, end_value=0.01, power=2, transition_steps=100)),
    (
        "polynomial_schedule",
        dict(init_value=0.5, end_value=2.0, power=0.5, transition_steps=10, transition_begin=3),
    ),
    ("polynomial_schedule", dict(init_value=1.0, end_value=0.0, power=3, transition_steps=1)),
    ("linear_schedule", dict(init_value=1.0, end_value=0.01, transition_steps=100)),
    (
        "linear_schedule",
        dict(init_value=0.0, end_value=1.0, transition_steps=7, transition_begin=3),
    ),
    # transition_steps=0: the constant init_value in both libraries (documented).
    ("linear_schedule", dict(init_value=0.3, end_value=1.0, transition_steps=0)),
    ("polynomial_schedule", dict(init_value=0.3, end_value=1.0, power=2, transition_steps=0)),
    ("exponential_decay", dict(init_value=1.0, transition_steps=10, decay_rate=0.5)),
    (
        "exponential_decay",
        dict(init_value=1.0, transition_steps=10, decay_rate=0.5, staircase=True),
    ),
    (
        "exponential_decay",
        dict(
            init_value=1.0,
            transition_steps=7,
            decay_rate=0.5,
            staircase=True,
            transition_begin=5,
            end_value=0.2,
        ),
    ),
    ("exponential_decay", dict(init_value=0.1, transition_steps=20, decay_rate=2.0, end_value=0.5)),
    (
        "exponential_decay",
        dict(init_value=2.0, transition_steps=3, decay_rate=0.9, transition_begin=50),
    ),
    ("piecewise_constant_schedule", dict(init_value=1.0, boundaries_and_scales={10: 0.1, 20: 0.5})),
    ("piecewise_constant_schedule", dict(init_value=1.0, boundaries_and_scales={0: 0.5, 60: 0.0})),
    ("piecewise_constant_schedule", dict(init_value=0.7, boundaries_and_scales=None)),
    (
        "piecewise_interpolate_schedule",
        dict(
            interpolate_type="linear",
            init_value=1.0,
            boundaries_and_scales={4: 0.1, 40: 0.01, 100: 5.0},
        ),
    ),
    (
        "piecewise_interpolate_schedule",
        dict(
            interpolate_type="cosine",
            init_value=2.0,
            boundaries_and_scales={0: 0.5, 30: 0.1, 31: 2.0},
        ),
    ),
    ("cosine_decay_schedule", dict(init_value=1.0, decay_steps=50)),
    ("cosine_decay_schedule", dict(init_value=0.5, decay_steps=60, alpha=0.1, exponent=2.0)),
    ("cosine_decay_schedule", dict(init_value=0.5, decay_steps=1, alpha=1.0)),
    ("warmup_constant_schedule", dict(init_value=0.1, peak_value=1.0, warmup_steps=10)),
    ("warmup_constant_schedule", dict(init_value=0.0, peak_value=1.0, warmup_steps=1)),
    (
        "warmup_cosine_decay_schedule",
        dict(init_value=0.0, peak_value=1.0, warmup_steps=10, decay_steps=100),
    ),
    (
        "warmup_cosine_decay_schedule",
        dict(
            init_value=0.1,
            peak_value=0.7,
            warmup_steps=0,
            decay_steps=50,
            end_value=0.05,
            exponent=1.5,
        ),
    ),
    (
        "warmup_cosine_decay_schedule",
        dict(init_value=1e-4, peak_value=3e-3, warmup_steps=13, decay_steps=101, end_value=3e-5),
    ),
    (
        "warmup_exponential_decay_schedule",
        dict(init_value=0.0, peak_value=1.0, warmup_steps=10, transition_steps=5, decay_rate=0.5),
    ),
    (
        "warmup_exponential_decay_schedule",
        dict(
            init_value=0.2,
            peak_value=1.0,
            warmup_steps=10,
            transition_steps=5,
            decay_rate=0.5,
            transition_begin=7,
            staircase=True,
            end_value=0.1,
        ),
    ),
    ("linear_onecycle_schedule", dict(transition_steps=100, peak_value=1.0)),
    (
        "linear_onecycle_schedule",
        dict(
            transition_steps=57,
            peak_value=0.3,
            pct_start=0.2,
            pct_final=0.6,
            div_factor=10.0,
            final_div_factor=100.0,
        ),
    ),
    ("cosine_onecycle_schedule", dict(transition_steps=100, peak_value=1.0)),
    (
        "cosine_onecycle_schedule",
        dict(
            transition_steps=77,
            peak_value=0.3,
            pct_start=0.5,
            div_factor=5.0,
            final_div_factor=50.0,
        ),
    ),
    ("sgdr_schedule", dict(cosine_kwargs=SGDR_CYCLES)),
]
PARITY_IDS = [f"{name}-{i}" for i, (name, _) in enumerate(PARITY)]


def _optax_values(schedule, steps):
    with jax.numpy_dtype_promotion("standard"):
        return np.asarray(
            jax.vmap(lambda s: jnp.asarray(schedule(s), jnp.float32))(steps), np.float64
        )


def _ours_values(schedule, steps):
    return np.broadcast_to(np.asarray(schedule(steps), np.float64), steps.shape)


@pytest.mark.parametrize(("name", "kwargs"), PARITY, ids=PARITY_IDS)
def test_matches_optax_over_steps(name, kwargs):
    ours = getattr(gradtx, name)(**kwargs)
    theirs = getattr(optax, name)(**kwargs)
    expected = _optax_values(theirs, STEPS)
    np.testing.assert_allclose(_ours_values(ours, STEPS), expected, rtol=1e-6, atol=1e-9)
    # Scalar Python-int steps (step 0, a middle step, far beyond the end) agree too.
    for step in (0, 37, 10_000):
        with jax.numpy_dtype_promotion("standard"):
            want = float(theirs(step))
        np.testing.assert_allclose(float(ours(step)), want, rtol=1e-6, atol=1e-9)


def test_join_schedules_matches_optax():
    parts = [
        gradtx.constant_schedule(0.5),
        gradtx.linear_schedule(0.5, 0.0, 10),
        gradtx.cosine_decay_schedule(0.2, 20),
    ]
    ours = gradtx.join_schedules(parts, [5, 15])
    theirs = optax.join_schedules(
        [
            optax.constant_schedule(0.5),
            optax.linear_schedule(0.5, 0.0, 10),
            optax.cosine_decay_schedule(0.2, 20),
        ],
        [5, 15],
    )
    np.testing.assert_allclose(_ours_values(ours, STEPS), _optax_values(theirs, STEPS), rtol=1e-6)
    # At a boundary the next schedule starts from its own step 0.
    assert float(ours(5)) == pytest.approx(0.5)
    assert float(ours(15)) == pytest.approx(0.2)
    assert float(ours(4)) == pytest.approx(0.5)


def test_float64_under_x64(x64):
    sched = gradtx.warmup_cosine_decay_schedule(0.0, 1.0, 10, 100, end_value=1e-3)
    values = sched(jnp.arange(120))
    assert values.dtype == jnp.float64
    theirs = optax.warmup_cosine_decay_schedule(0.0, 1.0, 10, 100, end_value=1e-3)
    with jax.numpy_dtype_promotion("standard"):
        expected = np.asarray(jax.vmap(theirs)(jnp.arange(120)))
    np.testing.assert_allclose(np.asarray(values), expected, rtol=1e-12, atol=1e-15)


# --- closed forms (written from the formulas, not from either library) -----------------


def test_closed_forms_float64_reference():
    t = np.arange(0, 130, dtype=np.float64)
    # polynomial
    ref = (1.0 - 0.1) * (1 - np.clip(t - 4, 0, 50) / 50) ** 3 + 0.1
    got = gradtx.polynomial_schedule(1.0, 0.1, 3, 50, transition_begin=4)(jnp.asarray(t))
    np.testing.assert_allclose(np.asarray(got), ref, rtol=2e-6)
    # cosine decay with alpha and exponent
    c = 0.5 * (1 + np.cos(np.pi * np.minimum(t, 80) / 80))
    ref = 2.0 * ((1 - 0.2) * c**2 + 0.2)
    got = gradtx.cosine_decay_schedule(2.0, 80, alpha=0.2, exponent=2.0)(jnp.asarray(t))
    np.testing.assert_allclose(np.asarray(got), ref, rtol=2e-6, atol=1e-7)
    # exponential decay, staircase, with a start
    ref = np.where(t <= 10, 3.0, 3.0 * 0.7 ** np.floor((t - 10) / 6))
    got = gradtx.exponential_decay(3.0, 6, 0.7, transition_begin=10, staircase=True)(t)
    np.testing.assert_allclose(np.asarray(got), ref, rtol=2e-6)
    # warmup + cosine: peak exactly at the end of the warmup, end_value from decay_steps on
    sched = gradtx.warmup_cosine_decay_schedule(0.1, 1.0, 20, 100, end_value=0.01)
    assert float(sched(0)) == pytest.approx(0.1)
    assert float(sched(10)) == pytest.approx(0.55)
    assert float(sched(20)) == pytest.approx(1.0)
    assert float(sched(60)) == pytest.approx(0.505)
    assert float(sched(100)) == pytest.approx(0.01)
    assert float(sched(10**6)) == pytest.approx(0.01)


def test_warmup_zero_means_no_warmup_everywhere():
    """Our decision (documented): warmup_steps=0 starts at peak_value for all warmups."""
    assert float(gradtx.warmup_constant_schedule(0.0, 0.3, 0)(0)) == pytest.approx(0.3)
    assert float(gradtx.warmup_cosine_decay_schedule(0.0, 0.3, 0, 10)(0)) == pytest.approx(0.3)
    assert float(gradtx.warmup_exponential_decay_schedule(0.0, 0.3, 0, 5, 0.5)(0)) == (
        pytest.approx(0.3)
    )
    # Optax's warmup_constant_schedule holds init_value instead (the documented difference).
    assert float(optax.warmup_constant_schedule(0.0, 0.3, 0)(0)) == 0.0


def test_vector_of_steps_matches_scalar_calls():
    sched = gradtx.sgdr_schedule(SGDR_CYCLES)
    vector = np.asarray(sched(STEPS[:90]))
    scalars = np.asarray([float(sched(int(s))) for s in STEPS[:90:7]])
    np.testing.assert_allclose(vector[::7], scalars, rtol=1e-6)


# --- jit: traced int32 steps, one compilation for all steps ----------------------------

JIT_CASES = PARITY[1:] + [
    ("inverse_sqrt_schedule", dict(peak_value=1.0, warmup_steps=10)),
    (
        "cyclic_schedule",
        dict(base_value=0.1, max_value=1.0, step_size=5, mode="exp_range", gamma=0.99),
    ),
]


@pytest.mark.parametrize(("name", "kwargs"), JIT_CASES, ids=[n for n, _ in JIT_CASES])
def test_jit_traces_once_and_matches_eager(name, kwargs):
    sched = getattr(gradtx, name)(**kwargs)
    traces = []

    def counted(step):
        traces.append(None)
        return sched(step)

    jitted = jax.jit(counted)
    for step in (0, 1, 9, 10, 57, 139, 5000):
        got = jitted(jnp.asarray(step, jnp.int32))
        np.testing.assert_allclose(float(got), float(sched(step)), rtol=1e-5, atol=1e-7)
    assert len(traces) == 1, f"{name} retraced when the step changed"


def test_schedule_inside_a_jitted_training_step_does_not_recompile():
    tx = gradtx.scale_by_learning_rate(gradtx.warmup_cosine_decay_schedule(0.0, 1.0, 3, 10))
    params = jnp.ones(3)
    step = jax.jit(tx.update)
    state = tx.init(params)
    for _ in range(12):
        _, state = step(jnp.ones(3), state, params)
    assert step._cache_size() == 1


# --- validation -------------------------------------------------------------------------

INVALID = [
    (gradtx.constant_schedule, dict(value=float("nan")), r"constant_schedule\(value=nan\)"),
    (
        gradtx.polynomial_schedule,
        dict(init_value=1.0, end_value=0.0, power=0.0, transition_steps=5),
        r"polynomial_schedule\(power=0\.0\): power must be > 0",
    ),
    (
        gradtx.linear_schedule,
        dict(init_value=1.0, end_value=0.0, transition_steps=5, transition_begin=-1),
        r"linear_schedule\(transition_begin=-1\): transition_begin must be an integer >= 0",
    ),
    (
        gradtx.linear_schedule,
        dict(init_value=float("inf"), end_value=0.0, transition_steps=5),
        r"linear_schedule\(init_value=inf\): init_value must be finite",
    ),
    (
        gradtx.exponential_decay,
        dict(init_value=1.0, transition_steps=0, decay_rate=0.5),
        r"exponential_decay\(transition_steps=0\): transition_steps must be an integer >= 1",
    ),
    (
        gradtx.exponential_decay,
        dict(init_value=1.0, transition_steps=10, decay_rate=0.0),
        r"exponential_decay\(decay_rate=0\.0\): decay_rate must be > 0",
    ),
    (
        gradtx.exponential_decay,
        dict(init_value=1.0, transition_steps=10, decay_rate=-0.5),
        r"exponential_decay\(decay_rate=-0\.5\): decay_rate must be > 0",
    ),
    (
        gradtx.piecewise_constant_schedule,
        dict(init_value=1.0, boundaries_and_scales={10: -0.1}),
        r"piecewise_constant_schedule\(boundaries_and_scales=\{10: -0\.1\}\): every scale "
        r"must be finite and >= 0",
    ),
    (
        gradtx.piecewise_constant_schedule,
        dict(init_value=1.0, boundaries_and_scales={-3: 0.1}),
        r"piecewise_constant_schedule\(boundaries_and_scales=\{-3: 0\.1\}\): every boundary "
        r"must be an integer >= 0",
    ),
    (
        gradtx.piecewise_interpolate_schedule,
        dict(interpolate_type="quadratic", init_value=1.0),
        r"piecewise_interpolate_schedule\(interpolate_type='quadratic'\): interpolate_type "
        r"must be one of",
    ),
    (
        gradtx.piecewise_interpolate_schedule,
        dict(interpolate_type="linear", init_value=1.0, boundaries_and_scales={5: float("nan")}),
        r"piecewise_interpolate_schedule\(boundaries_and_scales=.*every scale",
    ),
    (
        gradtx.cosine_decay_schedule,
        dict(init_value=1.0, decay_steps=0),
        r"cosine_decay_schedule\(decay_steps=0\): decay_steps must be an integer >= 1",
    ),
    (
        gradtx.cosine_decay_schedule,
        dict(init_value=1.0, decay_steps=10, alpha=1.5),
        r"cosine_decay_schedule\(alpha=1\.5\): alpha must be in \[0, 1\]",
    ),
    (
        gradtx.cosine_decay_schedule,
        dict(init_value=1.0, decay_steps=10, alpha=-0.1),
        r"cosine_decay_schedule\(alpha=-0\.1\): alpha must be in \[0, 1\]",
    ),
    (
        gradtx.cosine_decay_schedule,
        dict(init_value=1.0, decay_steps=10, exponent=-1.0),
        r"cosine_decay_schedule\(exponent=-1\.0\): exponent must be > 0",
    ),
    (
        gradtx.warmup_constant_schedule,
        dict(init_value=0.0, peak_value=1.0, warmup_steps=-1),
        r"warmup_constant_schedule\(warmup_steps=-1\): warmup_steps must be an integer >= 0",
    ),
    (
        gradtx.warmup_cosine_decay_schedule,
        dict(init_value=0.0, peak_value=1.0, warmup_steps=-2, decay_steps=10),
        r"warmup_cosine_decay_schedule\(warmup_steps=-2\): warmup_steps must be an integer >= 0",
    ),
    (
        gradtx.warmup_cosine_decay_schedule,
        dict(init_value=0.0, peak_value=1.0, warmup_steps=10, decay_steps=10),
        r"warmup_cosine_decay_schedule\(decay_steps=10\): decay_steps must be > warmup_steps",
    ),
    (
        gradtx.warmup_exponential_decay_schedule,
        dict(init_value=0.0, peak_value=1.0, warmup_steps=5, transition_steps=-1, decay_rate=0.5),
        r"warmup_exponential_decay_schedule\(transition_steps=-1\)",
    ),
    (
        gradtx.linear_onecycle_schedule,
        dict(transition_steps=0, peak_value=1.0),
        r"linear_onecycle_schedule\(transition_steps=0\)",
    ),
    (
        gradtx.linear_onecycle_schedule,
        dict(transition_steps=100, peak_value=1.0, pct_start=0.5, pct_final=0.4),
        r"linear_onecycle_schedule\(pct_final=0\.4\): pct_final must be in \[0\.5, 1\]",
    ),
    (
        gradtx.cosine_onecycle_schedule,
        dict(transition_steps=100, peak_value=1.0, pct_start=1.5),
        r"cosine_onecycle_schedule\(pct_start=1\.5\): pct_start must be in \[0, 1\]",
    ),
    (
        gradtx.cosine_onecycle_schedule,
        dict(transition_steps=100, peak_value=1.0, div_factor=0.0),
        r"cosine_onecycle_schedule\(div_factor=0\.0\): div_factor must be > 0",
    ),
    (gradtx.sgdr_schedule, dict(cosine_kwargs=[]), r"sgdr_schedule\(cosine_kwargs=\[\]\)"),
    (
        gradtx.sgdr_schedule,
        dict(
            cosine_kwargs=[
                SGDR_CYCLES[0],
                dict(init_value=0.0, peak_value=1.0, warmup_steps=5, decay_steps=5),
            ]
        ),
        r"sgdr_schedule\(cosine_kwargs\[1\]\): warmup_cosine_decay_schedule\(decay_steps=5\)",
    ),
    (
        gradtx.join_schedules,
        dict(schedules=[gradtx.constant_schedule(1.0)] * 3, boundaries=[10, 5]),
        r"join_schedules\(boundaries=\[10, 5\]\): boundaries must be strictly increasing",
    ),
    (
        gradtx.join_schedules,
        dict(schedules=[gradtx.constant_schedule(1.0)] * 3, boundaries=[5, 5]),
        r"join_schedules\(boundaries=\[5, 5\]\): boundaries must be strictly increasing",
    ),
    (
        gradtx.join_schedules,
        dict(schedules=[gradtx.constant_schedule(1.0)] * 2, boundaries=[1, 2]),
        r"join_schedules\(boundaries=\[1, 2\]\): boundaries must hold len\(schedules\) - 1",
    ),
    (
        gradtx.join_schedules,
        dict(schedules=[gradtx.constant_schedule(1.0)] * 2, boundaries=[-1]),
        r"join_schedules\(boundaries\[0\]=-1\)",
    ),
    (gradtx.join_schedules, dict(schedules=[], boundaries=[]), r"join_schedules\(schedules=\[\]\)"),
    (
        gradtx.inverse_sqrt_schedule,
        dict(peak_value=1.0, warmup_steps=0),
        r"inverse_sqrt_schedule\(warmup_steps=0\): warmup_steps must be an integer >= 1",
    ),
    (
        gradtx.cyclic_schedule,
        dict(base_value=0.1, max_value=1.0, step_size=0),
        r"cyclic_schedule\(step_size=0\): step_size must be an integer >= 1",
    ),
    (
        gradtx.cyclic_schedule,
        dict(base_value=0.1, max_value=1.0, step_size=4, mode="sawtooth"),
        r"cyclic_schedule\(mode='sawtooth'\): mode must be one of",
    ),
    (
        gradtx.cyclic_schedule,
        dict(base_value=0.1, max_value=1.0, step_size=4, mode="exp_range", gamma=1.5),
        r"cyclic_schedule\(gamma=1\.5\): gamma must be in \(0, 1\]",
    ),
    (
        gradtx.linear_scaling_rule,
        dict(base_lr=0.1, base_batch=0, batch=256),
        r"linear_scaling_rule\(base_batch=0\): base_batch must be an integer >= 1",
    ),
]


@pytest.mark.parametrize(
    ("factory", "kwargs", "match"), INVALID, ids=[f.__name__ for f, _, _ in INVALID]
)
def test_invalid_arguments_raise_value_error_naming_schedule_and_rule(factory, kwargs, match):
    with pytest.raises(ValueError, match=match):
        factory(**kwargs)


@pytest.mark.parametrize(
    ("factory", "kwargs"),
    [
        (gradtx.linear_schedule, dict(init_value=1.0, end_value=0.0, transition_steps=2.5)),
        (gradtx.cosine_decay_schedule, dict(init_value=1.0, decay_steps="10")),
        (gradtx.piecewise_constant_schedule, dict(init_value=1.0, boundaries_and_scales=[1, 2])),
        (gradtx.join_schedules, dict(schedules=[1.0, 2.0], boundaries=[3])),
        (gradtx.sgdr_schedule, dict(cosine_kwargs=[5])),
    ],
)
def test_wrong_kinds_raise_type_error(factory, kwargs):
    with pytest.raises(TypeError):
        factory(**kwargs)


def test_integer_valued_arrays_and_floats_are_accepted_as_step_counts():
    a = gradtx.cosine_decay_schedule(1.0, decay_steps=np.int64(10))
    b = gradtx.cosine_decay_schedule(1.0, decay_steps=10.0)
    c = gradtx.cosine_decay_schedule(1.0, decay_steps=jnp.asarray(10))
    for s in (a, b, c):
        assert float(s(5)) == pytest.approx(0.5)


# --- Optax's documented edge cases (issue 14, items 3, 9, 10) ------------------------------


@pytest.mark.parametrize("name", ["polynomial_schedule", "linear_schedule"])
@pytest.mark.parametrize("steps", [0, -1, -100])
def test_non_positive_transition_steps_is_the_constant_init_value_as_optax(name, steps):
    kwargs = dict(init_value=0.7, end_value=0.1, transition_steps=steps)
    if name == "polynomial_schedule":
        kwargs["power"] = 2
    ours, theirs = getattr(gradtx, name)(**kwargs), getattr(optax, name)(**kwargs)
    for t in (0, 1, 50):
        assert float(ours(t)) == float(theirs(t)) == pytest.approx(0.7)


def test_warmup_cosine_with_a_zero_peak_stays_zero_as_optax():
    kwargs = dict(
        init_value=0.2, peak_value=0, end_value=-3.0, warmup_steps=50, decay_steps=100, exponent=2
    )
    ours, theirs = (
        gradtx.warmup_cosine_decay_schedule(**kwargs),
        optax.warmup_cosine_decay_schedule(**kwargs),
    )
    assert float(ours(75)) == float(theirs(75)) == 0.0
    for t in (0, 10, 49, 50, 51, 99, 100, 150):
        np.testing.assert_allclose(float(ours(t)), float(theirs(t)), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("peak", [1.0, -0.5, 2.0])
def test_warmup_cosine_is_optax_s_formula_bit_for_bit(peak):
    kwargs = dict(init_value=0.0, peak_value=peak, end_value=0.1, warmup_steps=5, decay_steps=40)
    ours, theirs = (
        gradtx.warmup_cosine_decay_schedule(**kwargs),
        optax.warmup_cosine_decay_schedule(**kwargs),
    )
    steps = jnp.arange(60)
    with jax.numpy_dtype_promotion("standard"):  # Optax's own mode
        expected = jax.vmap(theirs)(steps)
    np.testing.assert_array_equal(jax.vmap(ours)(steps), expected)


def test_cosine_decay_with_more_steps_than_int32_does_not_overflow():
    sched = gradtx.cosine_decay_schedule(1000.0, decay_steps=int(1e10))
    np.testing.assert_allclose(float(sched(int(1e9))), 975.52826, rtol=1e-6)
    theirs = optax.cosine_decay_schedule(1000.0, decay_steps=int(1e10))
    np.testing.assert_allclose(float(sched(int(1e9))), float(theirs(int(1e9))), rtol=1e-6)
    np.testing.assert_allclose(float(sched(int(3e9))), float(theirs(int(3e9))), rtol=1e-6)
