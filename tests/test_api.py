"""The public surface: every API.md name exists, ``__all__`` is clean, the registry is complete."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest

import gradtx
from tests.api_walk import NAMESPACES, kind, public_api
from tests.registry import ENTRIES

# A copy of the shared API contract, kept in the repository (docs/API.md).
API_MD = Path(__file__).resolve().parents[1] / "docs" / "API.md"

# API.md §1–3 (issue 2): the protocol, the transforms and the optimizers.
SECTION_1 = """GradientTransformation GradientTransformationExtraArgs EmptyState OptState Params
Updates Schedule ScalarOrSchedule identity stateless set_to_zero chain named_chain
apply_updates""".split()
SECTION_2 = """scale scale_by_learning_rate scale_by_schedule trace ema scale_by_adam
scale_by_amsgrad scale_by_adamax scale_by_belief scale_by_lion scale_by_rms scale_by_stddev
scale_by_rss scale_by_radam scale_by_yogi scale_by_adadelta scale_by_novograd scale_by_adan
scale_by_trust_ratio scale_by_sign scale_by_factored_rms scale_by_lbfgs add_decayed_weights
add_noise clip clip_by_global_norm clip_by_block_rms adaptive_grad_clip centralize zero_nans
keep_params_nonnegative""".split()
SECTION_3 = """sgd adagrad rmsprop adam adamw nadam nadamw adamax adamaxw amsgrad adabelief lion
radam yogi adadelta novograd adan lamb lars adafactor sign_sgd noisy_sgd lbfgs""".split()
TREE = """global_norm add sub scale vdot l2_norm zeros_like ones_like full_like random_like
cast where get""".split()


@pytest.mark.parametrize("name", SECTION_1 + SECTION_2 + SECTION_3)
def test_api_md_names_exist(name):
    assert hasattr(gradtx, name), f"gradtx.{name} is missing"
    assert name in gradtx.__all__


@pytest.mark.parametrize("name", TREE)
def test_tree_names_exist(name):
    assert callable(getattr(gradtx.tree, name))


def test_all_is_sorted_unique_and_resolvable():
    assert gradtx.__all__ == sorted(set(gradtx.__all__))
    for name in gradtx.__all__:
        assert getattr(gradtx, name) is not None, name


def test_api_md_section_names_match_this_test():
    """The name lists above are the ones API.md gives."""
    text = API_MD.read_text()
    for name in SECTION_1 + SECTION_2 + SECTION_3:
        assert re.search(rf"`{re.escape(name)}[(`]", text), name


def _public_factories():
    """The top-level public functions that return a transform (their docstrings are checked)."""
    return {
        name: obj
        for name, obj in public_api().items()
        if "." not in name and inspect.isfunction(obj) and kind(obj) == "transform"
    }


# --- the registry is complete -------------------------------------------------------------

# Namespaces that hold no transform; any transform found in one must still be registered.
EXEMPT_NAMESPACES: dict[str, str] = {
    "losses": "loss functions (tests/losses/ checks each against Optax)",
    "tree": "pytree maths (tests/tree/)",
    "tree_utils": "Optax's tree_* names for gradtx.tree (tests/tree/test_tree_utils.py)",
    "projections": "projections onto convex sets (tests/projections/)",
    "assignment": "the Hungarian algorithm (tests/assignment/)",
    "perturbations": "perturbed optimizers of a function (tests/perturbations/)",
    "microbatching": "gradient microbatching helpers (tests/microbatching/)",
    "landscapes": "test functions (tests/landscapes/)",
    "experiments": "the trajectory runner (tests/experiments/)",
    "sharding": "state shardings of a transform, not one (tests/sharding/)",
    "checkpoint": "saving and restoring states (tests/checkpoint/)",
}

# Kinds (tests/api_walk.kind) that are not transforms.
EXEMPT_KINDS: dict[str, str] = {
    "namedtuple": "states, results and the protocol's NamedTuples (their fields: "
    "tests/compat/test_api_walk.py and tests/compat/test_optax_states.py)",
    "protocol": "typing protocols of callables",
    "type": "type aliases",
    "exception": "exceptions",
    "enum": "enumerations",
}

_SCHEDULES = "a step -> value schedule, not a transform (tests/schedules/test_schedules.py)"
_NUMERICS = "a numerical utility on arrays or trees, not a transform (tests/core/)"
_CURVATURE = "a functional second-order routine on a loss, not a transform (tests/second_order/)"

# Public callables of the transform namespaces that are not transforms, or that the
# contract's trees cannot exercise, by their shortest public path, with why.
EXEMPT: dict[str, str] = {
    **dict.fromkeys(
        """constant_schedule cosine_decay_schedule cosine_onecycle_schedule cyclic_schedule
        exponential_decay inverse_sqrt_schedule join_schedules linear_onecycle_schedule
        linear_schedule piecewise_constant_schedule piecewise_interpolate_schedule
        polynomial_schedule sgdr_schedule warmup_constant_schedule
        warmup_cosine_decay_schedule warmup_exponential_decay_schedule WrappedSchedule
        linear_scaling_rule""".split(),
        _SCHEDULES,
    ),
    "current_learning_rate": "reads the learning rate of a state "
    "(tests/schedules/test_learning_rate.py)",
    "lr_range_test": "a learning-rate sweep driver (tests/schedules/test_lr_finder.py)",
    "plot_lr_range_test": "plots a sweep's result (tests/schedules/test_lr_finder.py)",
    **dict.fromkeys(
        """apply_updates incremental_update periodic_update global_norm init_empty_state
        safe_increment safe_norm safe_root_mean_squares scale_gradient multi_normal
        MultiNormalDiagFromLogScale matrix_inverse_pth_root nnls power_iteration
        unitwise_norm unitwise_clip ArrayTree""".split(),
        _NUMERICS,
    ),
    "pack": "the packed fast path's layout of a tree (tests/core/test_packing.py)",
    "unpack": "the packed fast path's layout of a tree (tests/core/test_packing.py)",
    "PackSpec": "the packed fast path's layout of a tree (tests/core/test_packing.py)",
    "per_example_global_norm_clip": "clips per-example gradients (a batch axis), returns "
    "their sum (tests/transforms/test_clipping.py)",
    "per_example_layer_norm_clip": "clips per-example gradients (a batch axis), returns "
    "their sum (tests/transforms/test_optax_extra_transforms.py)",
    "skip_not_finite": "a should_skip_update_fn for MultiSteps "
    "(tests/wrappers/test_accumulation.py)",
    "skip_large_updates": "a should_skip_update_fn for MultiSteps "
    "(tests/wrappers/test_accumulation.py)",
    "value_and_grad_from_state": "reuses a line search's stored value and gradient "
    "(tests/second_order/test_linesearch.py)",
    "averaged_params": "reads the average out of average_params's state "
    "(tests/wrappers/test_averaging.py)",
    "loss_scale": "reads the scale out of dynamic_loss_scale's state "
    "(tests/wrappers/test_loss_scale.py)",
    "QuantizedArray": "the 8-bit storage of quantized_state (tests/wrappers/test_quantized.py)",
    "measure_with_ema": "its output is the measurement's average, not updates; it is a "
    "measure for monitor, tested there (tests/wrappers/test_optax_monitoring.py)",
    "contrib.scale_by_muon": "defined on matrices only (as in Optax), and the contract's trees "
    "hold vectors and scalars; contrib.muon (which routes those to AdamW) is registered and "
    "tests/contrib/test_muon.py covers scale_by_muon",
    "contrib.dpsgd": "takes per-example gradients (a batch axis the contract's updates lack) "
    "(tests/contrib/test_privacy.py)",
    "contrib.differentially_private_aggregate": "takes per-example gradients (a batch axis "
    "the contract's updates lack) (tests/contrib/test_privacy.py)",
    "contrib.hutchinson_estimator_diag_hessian": "a Hessian-diagonal estimator for sophia "
    "(tests/contrib/test_sophia.py)",
    "contrib.schedule_free_eval_params": "reads the evaluation params out of a schedule-free "
    "state (tests/contrib/test_schedule_free.py)",
    **dict.fromkeys(
        f"second_order.{name}"
        for name in """cg_solve eigenvalue_density gauss_newton_bartlett_diag gnvp gnvp_operator
        hessian hessian_diag
        hutchinson_trace hutchpp_trace hvp hvp_operator lanczos negative_curvature_direction
        newton_cg newton_direction power_iteration saddle_free_newton steihaug_cg
        top_eigenvalues trust_region""".split()
    ),
}
EXEMPT.update({k: _CURVATURE for k, v in EXEMPT.items() if v is None})


def _namespace(path: str) -> str:
    return path.rsplit(".", 1)[0] if "." in path else ""


def _public_objects() -> list[tuple[str, Any, list[str]]]:
    """(shortest path, object, all its paths) for every distinct public object."""
    groups: dict[int, tuple[Any, list[str]]] = {}
    for path, obj in public_api().items():
        groups.setdefault(id(obj), (obj, []))[1].append(path)
    return [
        (min(paths, key=lambda p: (p.count("."), p)), obj, paths) for obj, paths in groups.values()
    ]


def _registered(obj: Any, paths: list[str]) -> bool:
    ids = {id(e.factory) for e in ENTRIES}
    names = {e.name for e in ENTRIES} | {e.optax for e in ENTRIES if e.optax}
    return id(obj) in ids or any(p in names or p.rsplit(".", 1)[-1] in names for p in paths)


def _exempt(obj: Any, paths: list[str]) -> bool:
    if any(p in EXEMPT for p in paths):
        return True
    if kind(obj) == "transform":
        return False  # a transform is registered or named in EXEMPT, wherever it lives
    return kind(obj) in EXEMPT_KINDS or any(_namespace(p) in EXEMPT_NAMESPACES for p in paths)


def test_every_public_transform_is_in_the_registry():
    """Every public callable of every namespace (functions, partials such as ``nadam``,
    classes such as ``MultiSteps``) is a registry entry or exempt with a reason."""
    missing = [
        path
        for path, obj, paths in _public_objects()
        if not _registered(obj, paths) and not _exempt(obj, paths)
    ]
    assert not missing, (
        f"public names missing from tests/registry*.py (add an Entry, or a reason to "
        f"EXEMPT in tests/test_api.py): {sorted(missing)}"
    )


def test_the_walk_sees_every_kind_of_transform():
    transforms = {path for path, obj in public_api().items() if kind(obj) == "transform"}
    for path in ("adam", "nadam", "MultiSteps", "contrib.muon", "second_order.scale_by_newton_cg"):
        assert path in transforms, path


def test_exemptions_are_public_and_not_registered():
    by_path = {p: (obj, paths) for _, obj, paths in _public_objects() for p in paths}
    stale = [p for p in EXEMPT if p not in by_path or _registered(*by_path[p])]
    assert not stale, f"EXEMPT names that are not public or are registered: {stale}"
    assert all(reason.strip() for reason in EXEMPT.values())
    assert set(EXEMPT_NAMESPACES) <= set(NAMESPACES)


@pytest.mark.parametrize("name", sorted(_public_factories()))
def test_public_factories_document_args_and_returns(name):
    doc = inspect.getdoc(getattr(gradtx, name)) or ""
    assert "Returns:" in doc, f"{name} docstring lacks a Returns: section"
    if inspect.signature(getattr(gradtx, name)).parameters:
        assert "Args:" in doc, f"{name} docstring lacks an Args: section"
