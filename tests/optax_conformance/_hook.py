"""pytest plugin: Optax's test modules see gradtx's object for every public Optax name
that gradtx also has.

Loaded by ``run_optax_tests.py`` with ``-p tests.optax_conformance._hook`` when
``GRADTX_CONFORMANCE=1``. It wraps ``builtins.__import__`` so that an ``import optax...``
or ``from optax... import name`` executed *by a test file* (a module whose file ends in
``_test.py``) gets proxies of Optax's modules: an attribute whose value is a public
Optax object gradtx has under the same namespace and name resolves to gradtx's, every
other attribute to Optax's own. Optax's library code keeps its own imports, so an Optax
function the tests call that gradtx lacks still runs Optax's code throughout.
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import os
import types
from typing import Any

# optax namespace -> gradtx namespace holding the same names
NAMESPACES = {
    "optax": "gradtx",
    "optax.tree": "gradtx.tree",
    "optax.tree_utils": "gradtx.tree_utils",
    "optax.schedules": "gradtx.schedules",
    "optax.transforms": "gradtx.transforms",
    "optax.losses": "gradtx.losses",
    "optax.contrib": "gradtx.contrib",
    "optax.projections": "gradtx.projections",
    "optax.assignment": "gradtx.assignment",
    "optax.perturbations": "gradtx.perturbations",
    "optax.microbatching": "gradtx.microbatching",
    "optax.second_order": "gradtx.second_order",
}


# Private Optax objects that a public Optax function returns, paired with gradtx's public
# counterpart: a test asserting the return type (``assertIsInstance(optax.multi_normal(...),
# utils.MultiNormalDiagFromLogScale)``) then checks gradtx's class, not Optax's.
PRIVATE = {
    ("optax._src.utils", "MultiNormalDiagFromLogScale"): ("gradtx", "MultiNormalDiagFromLogScale"),
}


def _module(name: str) -> types.ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def build_map() -> tuple[dict[int, Any], list[str]]:
    """``{id(optax object): gradtx object}`` and the replaced names (``namespace.name``)."""
    mapping: dict[int, Any] = {}
    replaced: list[str] = []
    for theirs_name, ours_name in NAMESPACES.items():
        theirs, ours = _module(theirs_name), _module(ours_name)
        if theirs is None or ours is None:
            continue
        for name in dir(theirs):
            if name.startswith("_"):
                continue
            try:
                value = getattr(theirs, name)
            except AttributeError:
                continue
            if isinstance(value, types.ModuleType) or not callable(value):
                continue
            if not str(getattr(value, "__module__", "")).startswith("optax"):
                continue  # a re-exported jax / typing object: never swapped by identity
            replacement = getattr(ours, name, None)
            if replacement is None or id(value) in mapping:
                continue
            mapping[id(value)] = replacement
            replaced.append(f"{theirs_name}.{name}")
    for (theirs_name, name), (ours_name, our_name) in PRIVATE.items():
        theirs, ours = _module(theirs_name), _module(ours_name)
        value = getattr(theirs, name, None)
        replacement = getattr(ours, our_name, None)
        if value is not None and replacement is not None and id(value) not in mapping:
            mapping[id(value)] = replacement
            replaced.append(f"{theirs_name}.{name}")
    return mapping, replaced


class _Proxy(types.ModuleType):
    """A view of an Optax module with the mapped names swapped for gradtx's."""

    def __init__(self, real: types.ModuleType, mapping: dict[int, Any]):
        super().__init__(real.__name__)
        object.__setattr__(self, "_real", real)
        object.__setattr__(self, "_mapping", mapping)

    def __getattr__(self, name: str) -> Any:
        value = getattr(object.__getattribute__(self, "_real"), name)
        return _wrap(value, object.__getattribute__(self, "_mapping"))

    def __dir__(self):
        return dir(object.__getattribute__(self, "_real"))


def _wrap(value: Any, mapping: dict[int, Any]) -> Any:
    if isinstance(value, types.ModuleType) and value.__name__.split(".")[0] == "optax":
        return _Proxy(value, mapping)
    return mapping.get(id(value), value)


def _resolve_annotations(theirs: Any, ours: Any) -> None:
    """Give ``ours`` Optax's annotation objects where its own are strings.

    gradtx's modules use ``from __future__ import annotations``, so ``inspect.signature``
    shows ``'ScalarOrSchedule'`` where Optax's shows the object; Optax's tests that
    compare annotations (``ScheduleAsLearningRateTest`` skips an optimizer whose
    ``learning_rate`` is not annotated ``base.ScalarOrSchedule``) then run for real.
    Only the annotations of parameters both signatures have change.
    """
    if not isinstance(ours, types.FunctionType) or not callable(theirs):
        return
    try:
        our_sig, their_sig = inspect.signature(ours), inspect.signature(theirs)
    except (TypeError, ValueError):
        return
    params = [
        p.replace(annotation=their_sig.parameters[p.name].annotation)
        if isinstance(p.annotation, str) and p.name in their_sig.parameters
        else p
        for p in our_sig.parameters.values()
    ]
    ours.__signature__ = our_sig.replace(parameters=params)


def install() -> list[str]:
    """Wrap ``builtins.__import__``; return the replaced names."""
    mapping, replaced = build_map()
    for theirs_name in NAMESPACES:
        theirs = _module(theirs_name)
        for name in dir(theirs) if theirs is not None else ():
            value = getattr(theirs, name, None)
            if value is not None and id(value) in mapping:
                _resolve_annotations(value, mapping[id(value)])
    real_import = builtins.__import__

    def hooked(name, globals=None, locals=None, fromlist=(), level=0):  # noqa: A002
        module = real_import(name, globals, locals, fromlist, level)
        caller = (globals or {}).get("__file__") or ""
        if level == 0 and name.split(".")[0] == "optax" and caller.endswith("_test.py"):
            return _wrap(module, mapping)
        return module

    builtins.__import__ = hooked
    return replaced


def pytest_configure(config):
    if os.environ.get("GRADTX_CONFORMANCE") == "1":
        replaced = install()
        out = os.environ.get("GRADTX_CONFORMANCE_NAMES")
        if out:
            with open(out, "w") as f:
                f.write("\n".join(replaced))
