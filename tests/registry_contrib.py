"""Registry entries for ``gradtx.contrib`` (see tests/registry.py).

``scale_by_muon`` is not an entry: it is defined on matrices only (as in Optax) and the
contract's trees hold vectors and scalars; ``muon`` (which routes those to AdamW) is, and
tests/contrib/test_muon.py covers ``scale_by_muon`` on its own. Likewise ``dpsgd`` and
``differentially_private_aggregate`` take per-example gradients (a leading batch axis the
contract's scalar leaves lack): tests/contrib/test_privacy.py covers
them. ``momo``, ``momo_adam`` and ``split_real_and_imaginary`` are in
tests/registry_contrib_tail.py.
"""

import jax

import gradtx
from tests.registry import Entry

contrib = gradtx.contrib

# A Gauss-Newton-like Hessian-diagonal estimate that needs no obj_fn (the contract passes
# value_fn, which Optax's Hutchinson estimator does not read).
_SQUARED_GRADIENT = gradtx.stateless(
    lambda updates, params=None: jax.tree.map(lambda g: g * g, updates)
)


def _opt(name, factory, kwargs, **more):
    return Entry(f"contrib.{name}", factory, kwargs, is_optimizer=True, **more)


def _tx(name, factory, kwargs, **more):
    return Entry(f"contrib.{name}", factory, kwargs, **more)


ENTRIES: list[Entry] = [
    # muon
    _opt("muon", contrib.muon, {"learning_rate": 0.05}, needs_params=True, optax="contrib.muon"),
    # schedule-free
    _opt(
        "schedule_free",
        contrib.schedule_free,
        {"base_optimizer": gradtx.sgd(0.1), "learning_rate": 0.1},
        needs_params=True,
        optax="contrib.schedule_free",
    ),
    _opt(
        "schedule_free_sgd",
        contrib.schedule_free_sgd,
        {"learning_rate": 0.1},
        needs_params=True,
        optax="contrib.schedule_free_sgd",
    ),
    _opt(
        "schedule_free_adamw",
        contrib.schedule_free_adamw,
        {"learning_rate": 0.05},
        needs_params=True,
        optax="contrib.schedule_free_adamw",
    ),
    # adopt
    _tx("scale_by_adopt", contrib.scale_by_adopt, {}, optax="contrib.scale_by_adopt"),
    _tx(
        "scale_by_adopt_nesterov",
        contrib.scale_by_adopt,
        {"nesterov": True, "use_clipping": False},
        optax="contrib.scale_by_adopt",
    ),
    _opt("adopt", contrib.adopt, {"learning_rate": 0.05}, optax="contrib.adopt"),
    # ademamix
    _tx(
        "scale_by_ademamix",
        contrib.scale_by_ademamix,
        {"b3": 0.99},
        optax="contrib.scale_by_ademamix",
    ),
    _opt(
        "ademamix",
        contrib.ademamix,
        {"learning_rate": 0.05, "weight_decay": 1e-3},
        needs_params=True,
        optax="contrib.ademamix",
    ),
    _tx(
        "scale_by_simplified_ademamix",
        contrib.scale_by_simplified_ademamix,
        {"b1": 0.9},
        optax="contrib.scale_by_simplified_ademamix",
    ),
    _opt(
        "simplified_ademamix",
        contrib.simplified_ademamix,
        {"learning_rate": 0.01, "b1": 0.9},
        needs_params=True,
        optax="contrib.simplified_ademamix",
    ),
    # learning-rate-free
    _opt(
        "prodigy",
        contrib.prodigy,
        {"learning_rate": 0.5},
        needs_params=True,
        optax="contrib.prodigy",
    ),
    _opt("dadapt_adamw", contrib.dadapt_adamw, {}, needs_params=True, optax="contrib.dadapt_adamw"),
    _opt("cocob", contrib.cocob, {}, needs_params=True, optax="contrib.cocob"),
    _opt(
        "scale_by_cocob",
        contrib.scale_by_cocob,
        {},
        needs_params=True,
        optax="contrib.scale_by_cocob",
    ),  # a full step
    _opt("dog", contrib.dog, {}, needs_params=True, optax="contrib.dog"),
    _opt("dowg", contrib.dowg, {}, needs_params=True, optax="contrib.dowg"),
    # others
    _opt(
        "madgrad",
        contrib.madgrad,
        {"learning_rate": 0.05},
        needs_params=True,
        optax="contrib.madgrad",
    ),
    _opt(
        "scale_by_madgrad",
        contrib.scale_by_madgrad,
        {"learning_rate": 0.05},
        needs_params=True,
        optax="contrib.scale_by_madgrad",
    ),
    _opt("acprop", contrib.acprop, {"learning_rate": 0.05}, optax="contrib.acprop"),
    _tx("scale_by_acprop", contrib.scale_by_acprop, {}, optax="contrib.scale_by_acprop"),
    _opt(
        "sophia",
        contrib.sophia,
        {"learning_rate": 0.05, "hessian_diagonal_fn": _SQUARED_GRADIENT, "update_interval": 2},
        needs_params=True,
        optax="contrib.sophia",
    ),
    _tx("normalize", contrib.normalize, {}, optax="contrib.normalize"),
    _opt(
        "sam",
        contrib.sam,
        {"optimizer": gradtx.sgd(0.05), "adv_optimizer": gradtx.sgd(0.01)},
        needs_params=True,
        optax="contrib.sam",
    ),
    _opt(
        "mechanize",
        contrib.mechanize,
        {"base_optimizer": gradtx.adam(0.05)},
        needs_params=True,
        optax="contrib.mechanize",
    ),
]
