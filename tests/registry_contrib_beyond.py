"""Registry entries for the beyond-Optax optimizers of ``gradtx.contrib`` (see
tests/registry.py): cautious, MARS, SOAP, Adam-mini ..."""

import jax
import jax.numpy as jnp

import gradtx
from gradtx.core import validate
from tests.registry import Entry

contrib = gradtx.contrib


def _opt(name, factory, kwargs, **more):
    return Entry(f"contrib.{name}", factory, kwargs, is_optimizer=True, **more)


def _tx(name, factory, kwargs, **more):
    return Entry(f"contrib.{name}", factory, kwargs, **more)


def stacked_matrices(params):
    """Dimension numbers reading every leaf of rank >= 2 as a stack of matrices over its
    last two axes (a 2-D leaf is a stack of one); other leaves ``None``."""
    dims = contrib.MuonDimensionNumbers(-2, -1)
    return jax.tree.map(lambda x: dims if jnp.ndim(x) >= 2 else None, params)


ENTRIES: list[Entry] = [
    # cautious
    _opt("cautious", contrib.cautious, {"inner": gradtx.adamw(0.05)}, needs_params=True),
    _opt("cautious_sgd", contrib.cautious, {"inner": gradtx.sgd(0.1, momentum=0.9)}),
    _tx(
        "add_cautious_decayed_weights",
        contrib.add_cautious_decayed_weights,
        {"weight_decay": 0.1},
        needs_params=True,
    ),
]
ENTRIES += [
    # mars
    _tx("scale_by_mars", contrib.scale_by_mars, {}),
    _tx("scale_by_mars_unclipped", contrib.scale_by_mars, {"gamma": 0.5, "max_norm": None}),
    _opt("mars", contrib.mars, {"learning_rate": 0.05, "weight_decay": 1e-3}, needs_params=True),
]
ENTRIES += [
    # soap
    # max_precond_dim=4: the (8, 4) matrix of the sharding test rotates only its full-rank
    # axis (a rank-deficient statistic's null-space basis is implementation-defined)
    _tx(
        "scale_by_soap",
        contrib.scale_by_soap,
        {"precondition_frequency": 2, "max_precond_dim": 4},
    ),
    _tx(
        "scale_by_soap_1d",
        contrib.scale_by_soap,
        {"precondition_1d": True, "normalize_grads": True, "max_precond_dim": 3},
    ),
    _opt("soap", contrib.soap, {"learning_rate": 0.05, "max_precond_dim": 4}, needs_params=True),
    _opt(
        "soap_stacked",
        contrib.soap,
        {"learning_rate": 0.05, "max_precond_dim": 4, "dimension_numbers": stacked_matrices},
        needs_params=True,
    ),
]
ENTRIES += [
    # adam-mini
    _tx("scale_by_adam_mini", contrib.scale_by_adam_mini, {}),
    _tx("scale_by_adam_mini_rows", contrib.scale_by_adam_mini, {"block_axes": (0,)}),
    _opt(
        "adam_mini",
        contrib.adam_mini,
        {"learning_rate": 0.05, "weight_decay": 1e-3},
        needs_params=True,
    ),
]
ENTRIES += [
    # shampoo
    _tx("scale_by_shampoo", contrib.scale_by_shampoo, {"block_size": 2}),
    _tx(
        "scale_by_shampoo_adam_graft",
        contrib.scale_by_shampoo,
        {"graft_type": "adam", "preconditioning_compute_steps": 2, "start_preconditioning_step": 2},
    ),
    _opt("shampoo", contrib.shampoo, {"learning_rate": 0.05, "block_size": 3}),
    _opt(
        "shampoo_stacked",
        contrib.shampoo,
        {"learning_rate": 0.05, "block_size": 3, "dimension_numbers": stacked_matrices},
    ),
]
ENTRIES += [
    # asam (the adversarial step; descent convention, like sam's chain(normalize(), sgd(rho)))
    _opt("scale_by_asam", contrib.scale_by_asam, {"rho": 0.05, "eta": 0.1}, needs_params=True),
]
ENTRIES += [
    _opt("asam", contrib.asam, {"optimizer": gradtx.sgd(0.05), "rho": 0.01}, needs_params=True),
]


def sophia_gnb(learning_rate, **kwargs):
    """``sophia(estimator="gnb")`` reading the contract's ``value_fn``: the logits of a
    two-class model are ``(value_fn(params), 0)``, a batch of one."""
    tx = contrib.sophia(learning_rate, estimator="gnb", **kwargs)

    def update_fn(updates, state, params=None, value_fn=None, **extra_args):
        # This adapter needs value_fn (to build logits_fn); it says so as sophia would.
        loss = validate.require_extra_arg("sophia_gnb", {"value_fn": value_fn}, "value_fn")

        def logits_fn(p):
            v = loss(p)
            return jnp.stack([v, jnp.zeros_like(v)])[None]

        return tx.update(updates, state, params, logits_fn=logits_fn, **extra_args)

    return gradtx.GradientTransformationExtraArgs(tx.init, update_fn)


ENTRIES += [
    # adahessian and sophia with the paper's estimators (gradtx.second_order, value_fn=)
    _tx(
        "scale_by_adahessian", contrib.scale_by_adahessian, {}, extra="value_fn", needs_params=True
    ),
    _tx(
        "scale_by_adahessian_delayed",
        contrib.scale_by_adahessian,
        {"update_interval": 2, "num_samples": 2, "spatial_average": True, "hessian_power": 0.5},
        extra="value_fn",
        needs_params=True,
    ),
    _opt(
        "adahessian",
        contrib.adahessian,
        {"learning_rate": 0.1, "weight_decay": 1e-3},
        extra="value_fn",
        needs_params=True,
    ),
    _opt(
        "sophia_hutchinson",
        contrib.sophia,
        {"learning_rate": 0.05, "estimator": "hutchinson", "update_interval": 2},
        extra="value_fn",
        needs_params=True,
        optax="contrib.sophia",
    ),
    _opt(
        "sophia_gnb",
        sophia_gnb,
        {"learning_rate": 0.05, "update_interval": 2},
        extra="value_fn",
        needs_params=True,
    ),
]
ENTRIES += [
    # muon variants: NorMuon and the Polar Express coefficients
    _opt(
        "muon_normuon",
        contrib.muon,
        {"learning_rate": 0.05, "normuon": True},
        needs_params=True,
        optax="contrib.muon",
    ),
    _opt(
        "muon_polar_express",
        contrib.muon,
        {"learning_rate": 0.05, "ns_coeffs": "polar_express"},
        needs_params=True,
        optax="contrib.muon",
    ),
]
ENTRIES += [
    # PSGD Kron (the preconditioner refreshed every step: prob 1)
    _tx("scale_by_kron", contrib.scale_by_kron, {"preconditioner_update_probability": 1.0}),
    _tx(
        "scale_by_kron_one_diag",
        contrib.scale_by_kron,
        {"memory_save_mode": "one_diag", "max_size_triangular": 3, "b1": 0.0},
    ),
    _opt("kron", contrib.kron, {"learning_rate": 0.05, "weight_decay": 1e-3}),
]
