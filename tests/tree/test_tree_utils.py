"""``gradtx.tree_utils``: Optax's ``tree_*`` names, the very functions of ``gradtx.tree``."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradtx
from gradtx import tree, tree_utils


def _optax_names():
    return sorted(n for n in dir(optax.tree_utils) if n.startswith("tree_") or n == "NamedTupleKey")


@pytest.mark.parametrize("name", _optax_names())
def test_every_optax_tree_utils_name_is_the_gradtx_tree_function(name):
    ours = getattr(tree_utils, name)
    assert ours is getattr(tree, name.removeprefix("tree_"))
    assert name in tree_utils.__all__


def test_namespace_is_public_and_lazy():
    assert "tree_utils" in gradtx.__all__
    assert gradtx.tree_utils is tree_utils


@pytest.mark.parametrize(
    ("name", "ord_"),
    [("tree_l1_norm", 1), ("tree_l2_norm", 2), ("tree_linf_norm", "inf")],
)
def test_deprecated_norms_warn_and_compute_as_optax(name, ord_):
    x = {"a": jnp.array([3.0, -4.0]), "b": jnp.array([1.0])}
    with pytest.warns(DeprecationWarning, match=name):
        fn = getattr(tree_utils, name)
    with pytest.warns(DeprecationWarning):
        theirs = getattr(optax.tree_utils, name)
    np.testing.assert_allclose(fn(x), theirs(x), rtol=1e-6)
    np.testing.assert_allclose(fn(x), tree.norm(x, ord_), rtol=1e-6)


def test_deprecated_scalar_mul_names_resolve():
    with pytest.warns(DeprecationWarning, match="tree_scale"):
        assert tree_utils.tree_scalar_mul is tree.scale
    with pytest.warns(DeprecationWarning, match="tree_add_scale"):
        assert tree_utils.tree_add_scalar_mul is tree.add_scale
    with pytest.raises(AttributeError):
        tree_utils.tree_nothing  # noqa: B018


def test_top_level_tree_map_params_is_optax_s_alias():
    assert gradtx.tree_map_params is tree.map_params
    assert optax.tree_map_params is optax.tree.map_params
