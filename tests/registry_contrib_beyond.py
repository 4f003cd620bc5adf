"""Registry entries for the beyond-Optax optimizers of ``gradtx.contrib`` (see
tests/registry.py): cautious, MARS, SOAP, Adam-mini ..."""

import gradtx
from tests.registry import Entry

contrib = gradtx.contrib


def _opt(name, factory, kwargs, **more):
    return Entry(f"contrib.{name}", factory, kwargs, is_optimizer=True, **more)


def _tx(name, factory, kwargs, **more):
    return Entry(f"contrib.{name}", factory, kwargs, **more)


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
]
ENTRIES += [
    # asam (the adversarial step; descent convention, like sam's chain(normalize(), sgd(rho)))
    _opt("scale_by_asam", contrib.scale_by_asam, {"rho": 0.05, "eta": 0.1}, needs_params=True),
]
