"""Registry entries for the second half of ``gradtx.contrib`` (see tests/registry.py):
the families built from the bottom of issue 16's list (complex, privacy, GaLore, ACProp,
MoMo, Mechanic, MADGRAD)."""

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
    ),
]
