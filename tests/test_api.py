"""The public surface: every API.md name exists, ``__all__`` is clean, the registry is complete."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import gradtx
from tests.registry import ENTRIES, EXEMPT

API_MD = Path(__file__).resolve().parents[2] / "shared" / "API.md"

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
    """The name lists above are the ones API.md gives (when the contract is beside us)."""
    if not API_MD.exists():
        pytest.skip("shared/API.md is not beside the checkout")
    text = API_MD.read_text()
    for name in SECTION_1 + SECTION_2 + SECTION_3:
        assert re.search(rf"`{re.escape(name)}[(`]", text), name


def _public_factories():
    out = {}
    for name in gradtx.__all__:
        obj = getattr(gradtx, name)
        if inspect.isfunction(obj) and name not in {"apply_updates", "incremental_update"}:
            if "GradientTransformation" in str(inspect.signature(obj).return_annotation):
                out[name] = obj
    return out


def test_every_public_factory_is_in_the_registry():
    covered = {id(e.factory) for e in ENTRIES} | {e.name for e in ENTRIES}
    missing = [
        name
        for name, fn in _public_factories().items()
        if id(fn) not in covered and name not in covered and name not in EXEMPT
    ]
    assert not missing, f"public factories missing from tests/registry*.py: {missing}"


@pytest.mark.parametrize("name", sorted(_public_factories()))
def test_public_factories_document_args_and_returns(name):
    doc = inspect.getdoc(getattr(gradtx, name)) or ""
    assert "Returns:" in doc, f"{name} docstring lacks a Returns: section"
    if inspect.signature(getattr(gradtx, name)).parameters:
        assert "Args:" in doc, f"{name} docstring lacks an Args: section"
