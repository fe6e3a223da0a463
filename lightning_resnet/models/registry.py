"""Networks by name, in the manner of timm's ``register_model`` and pycls's builders.

Each family registers its names with a constructor taking ``num_classes``, ``shortcut`` and ``stride_on_3x3``;
``create_model(name)`` builds one and ``list_models()`` lists them all (the tests cover every name).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from torch import nn

from ..errors import ConfigError

ModelFactory = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelEntry:
    """What is known of a registered network without building it: nothing parses a name to find these."""

    factory: ModelFactory
    family: str  # "cifar" (32x32 inputs) or "imagenet" (224x224)
    input_size: int
    depth: int = 0  # weighted layers, as the paper counts them
    residual: bool = True  # False for the plain twins (no shortcuts)


_MODELS: dict[str, ModelEntry] = {}


def register_model(
    name: str, factory: ModelFactory, family: str, input_size: int, depth: int = 0, residual: bool = True
) -> None:
    """Make ``factory`` available as ``create_model(name)``; a name is registered once."""
    if name in _MODELS:
        raise ValueError(f"model {name!r} is already registered")
    _MODELS[name] = ModelEntry(factory, family, input_size, depth, residual)


def register_plain_and_residual(
    depths: tuple[int, ...], factory: Callable[..., nn.Module], family: str, input_size: int
) -> None:
    """``plain<d>`` and ``resnet<d>`` for each depth: ``factory(depth, residual, **kwargs)`` builds both twins."""
    for depth in depths:
        for residual in (False, True):
            name = f"{'resnet' if residual else 'plain'}{depth}"
            register_model(name, partial(factory, depth, residual), family, input_size, depth, residual)


def list_models(family: str | None = None) -> list[str]:
    """Every registered name (of one ``family``), in registration order."""
    return [name for name, entry in _MODELS.items() if family in (None, entry.family)]


def model_entry(name: str) -> ModelEntry:
    if name not in _MODELS:
        close = difflib.get_close_matches(name, list(_MODELS), n=3)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise ConfigError(f"Unknown model {name!r}.{hint} Registered: {', '.join(_MODELS)}.")
    return _MODELS[name]


def create_model(
    name: str, num_classes: int | None = None, shortcut: str | None = None, stride_on_3x3: bool = False
) -> nn.Module:
    """Build a registered network.

    ``shortcut`` overrides the residual nets' option (default: A for CIFAR, as in the paper; B for ImageNet,
    the paper's choice for 50/101/152); plain nets take none. ``num_classes`` defaults to the family's dataset.
    """
    return model_entry(name).factory(num_classes=num_classes, shortcut=shortcut, stride_on_3x3=stride_on_3x3)


def is_cifar_model(name: str) -> bool:
    """True for the 6n+2 CIFAR family (32x32 inputs), False for the ImageNet family."""
    return model_entry(name).family == "cifar"
