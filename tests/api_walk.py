"""The one walk over gradtx's public API, shared by every "for every public name" test.

``public_api()`` maps each public path (``"adam"``, ``"contrib.muon"``,
``"second_order.scale_by_newton_cg"``) to its object, over every gradtx namespace; a name
is public when it is in the namespace's ``__all__`` (or, without one, does not start with
``_``). ``kind(obj)`` sorts an object into the kinds the completeness check
(tests/test_api.py) treats differently: a ``"transform"`` (a factory
returning a ``GradientTransformation``, a ``functools.partial`` of one such as ``nadam``,
or a class that builds one such as ``MultiSteps``) must be in the registry; the other
kinds are exempt by the reasons given there.
"""

from __future__ import annotations

import enum
import functools
import importlib
import inspect
import types
import typing
from typing import Any

# Every gradtx namespace, as a path relative to ``gradtx`` ("" is the top level).
NAMESPACES: tuple[str, ...] = (
    "",
    "core",
    "tree",
    "tree_utils",
    "transforms",
    "schedules",
    "wrappers",
    "contrib",
    "optimizers",
    "second_order",
    "losses",
    "projections",
    "assignment",
    "perturbations",
    "microbatching",
    "landscapes",
    "experiments",
    "sharding",
    "checkpoint",
)


def module(namespace: str) -> types.ModuleType:
    """The gradtx module of a namespace ("" is gradtx itself)."""
    return importlib.import_module("gradtx" + (f".{namespace}" if namespace else ""))


def resolve(root: types.ModuleType, path: str) -> Any:
    """``root.a.b`` for ``path="a.b"`` (works on gradtx and on optax alike)."""
    obj: Any = root
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _names(mod: types.ModuleType) -> list[str]:
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n in dir(mod) if not n.startswith("_")]
    return [n for n in names if not isinstance(getattr(mod, n), types.ModuleType)]


@functools.cache
def public_api() -> dict[str, Any]:
    """Every public path of every gradtx namespace, mapped to its object (modules left out)."""
    out: dict[str, Any] = {}
    for namespace in NAMESPACES:
        mod = module(namespace)
        for name in _names(mod):
            out[f"{namespace}.{name}" if namespace else name] = getattr(mod, name)
    return out


def _returns_a_transform(fn: Any) -> bool:
    try:
        annotation = inspect.signature(fn).return_annotation
    except (TypeError, ValueError):
        return False
    return "GradientTransformation" in str(annotation)


def kind(obj: Any) -> str:
    """``"transform"`` for anything that builds a transform, else the kind that exempts it."""
    if isinstance(obj, functools.partial):
        return kind(obj.func)
    if inspect.isclass(obj):
        if hasattr(obj, "gradient_transformation") or (
            _returns_a_transform(obj.__init__) and not hasattr(obj, "_fields")
        ):
            return "transform"
        if issubclass(obj, BaseException):
            return "exception"
        if issubclass(obj, enum.Enum):
            return "enum"
        if hasattr(obj, "_fields"):
            return "namedtuple"
        if getattr(obj, "_is_protocol", False):
            return "protocol"
        return "class"
    if typing.get_origin(obj) is not None or str(obj).startswith("typing."):
        return "type"  # a type alias (``Schedule``, ``ScalarOrSchedule``)
    if callable(obj):
        return "transform" if _returns_a_transform(obj) else "function"
    return "value"


def transforms() -> dict[str, Any]:
    """The public paths whose object builds a transform."""
    return {path: obj for path, obj in public_api().items() if kind(obj) == "transform"}
