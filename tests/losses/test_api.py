"""The public surface of gradtx.losses: names, Optax signatures, docstrings."""

import inspect

import optax
import pytest

import gradtx
from gradtx import losses

API_MD = """squared_error l2_loss absolute_error huber_loss log_cosh sigmoid_binary_cross_entropy
softmax_cross_entropy softmax_cross_entropy_with_integer_labels hinge_loss sigmoid_focal_loss
kl_divergence cosine_similarity triplet_margin_loss contrastive_loss dice_loss ctc_loss
perplexity""".split()
SHARED = sorted(name for name in losses.__all__ if hasattr(optax.losses, name))


def test_all_is_sorted_unique_resolvable_and_covers_api_md():
    assert losses.__all__ == sorted(set(losses.__all__))
    assert set(API_MD) <= set(losses.__all__)
    for name in losses.__all__:
        assert callable(getattr(losses, name))
    assert gradtx.losses is losses  # the lazy namespace


def test_names_beyond_optax_are_the_documented_ones():
    assert set(losses.__all__) - set(SHARED) == {
        "absolute_error",
        "contrastive_loss",
        "perplexity",
    }


@pytest.mark.parametrize("name", SHARED)
def test_signature_matches_optax(name):
    ours = inspect.signature(getattr(losses, name)).parameters
    theirs = inspect.signature(getattr(optax.losses, name)).parameters
    assert list(ours) == list(theirs)
    for param in ours:
        assert ours[param].kind == theirs[param].kind, param
        assert ours[param].default == theirs[param].default, param


@pytest.mark.parametrize("name", losses.__all__)
def test_docstring_sections(name):
    doc = inspect.getdoc(getattr(losses, name))
    for section in ("Args:", "Returns:", "Examples:", "References:", ".. math::"):
        assert section in doc, f"{name} lacks {section}"


def test_top_level_loss_aliases_are_optax_s_and_one_object():
    top = sorted(
        name
        for name in dir(optax)
        if not name.startswith("_")
        and hasattr(optax.losses, name)
        and getattr(optax, name) is getattr(optax.losses, name)
    )
    assert len(top) >= 19
    for name in top:
        assert getattr(gradtx, name) is getattr(losses, name), name
        assert name in gradtx.__all__


def test_every_optax_loss_name_exists():
    names = [n for n in dir(optax.losses) if not n.startswith("_")]
    missing = [n for n in names if not hasattr(losses, n)]
    assert not missing, missing
