"""Registry entries for the second half of ``gradtx.contrib`` (see tests/registry.py):
the families built from the bottom of issue 16's list (complex, privacy, GaLore, ACProp,
MoMo, Mechanic, MADGRAD).

``dpsgd`` and ``differentially_private_aggregate`` are not entries: they take
per-example gradients (a batch axis 0 on every leaf) and return updates without it, so
the contract's trees (with a scalar leaf, updates shaped like the gradients) do not apply;
tests/contrib/test_privacy.py checks jit = eager, dtypes, ``None`` leaves and empty trees.
"""

import gradtx
from tests.registry import Entry

contrib = gradtx.contrib


def _opt(name, factory, kwargs, **more):
    return Entry(f"contrib.{name}", factory, kwargs, is_optimizer=True, **more)


def _tx(name, factory, kwargs, **more):
    return Entry(f"contrib.{name}", factory, kwargs, **more)


ENTRIES: list[Entry] = [
    # complex-valued
    _opt(
        "split_real_and_imaginary",
        contrib.split_real_and_imaginary,
        {"inner": gradtx.adam(0.05)},
        optax="contrib.split_real_and_imaginary",
    ),
    # GaLore
    _tx(
        "scale_by_galore",
        contrib.scale_by_galore,
        {"rank": 2, "update_proj_gap": 2},
        optax="contrib.scale_by_galore",
    ),
    _tx(
        "scale_by_galore_std",
        contrib.scale_by_galore,
        {"rank": 1, "update_proj_gap": 3, "proj_type": "std"},
        optax="contrib.scale_by_galore",
    ),
    _opt(
        "galore",
        contrib.galore,
        {"learning_rate": 0.05, "rank": 2, "weight_decay": 1e-3},
        needs_params=True,
        optax="contrib.galore",
    ),
    # MoMo
    _opt("momo", contrib.momo, {}, extra="value", needs_params=True, optax="contrib.momo"),
    _opt(
        "momo_adapt_divide",
        contrib.momo,
        {"learning_rate": 0.5, "weight_decay": 0.01, "adapt_lower_bound": True, "divide": True},
        extra="value",
        needs_params=True,
        optax="contrib.momo",
    ),
    _opt(
        "momo_adam",
        contrib.momo_adam,
        {"learning_rate": 0.1},
        extra="value",
        needs_params=True,
        optax="contrib.momo_adam",
    ),
]
