"""What every DataModule of the suite shares: where its data live, the error for broken data, and the contract
the suite's callbacks rely on (Protocols checked with ``isinstance``, not ``hasattr`` guesses)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..errors import UserError

DATA_DIR_ENV = "LIGHTNING_RESNET_DATA"


class DatasetError(UserError, RuntimeError):
    """The dataset files are there but unreadable or inconsistent."""


def data_root(data_dir: str | os.PathLike | None, name: str | None = None) -> Path:
    """``data_dir`` if given, else ``$LIGHTNING_RESNET_DATA`` (its ``name`` subfolder), else ``./data`` (likewise)."""
    if data_dir:
        return Path(data_dir).expanduser()
    base = Path(os.environ.get(DATA_DIR_ENV) or "data")
    return (base / name if name else base).expanduser()


@runtime_checkable
class FingerprintedData(Protocol):
    """A DataModule whose data have a fingerprint (SHA-256 per split, image counts): run definitions compare it on
    resume, records and W&B carry it."""

    def fingerprint(self) -> dict[str, Any]: ...


@runtime_checkable
class NamedPredictions(Protocol):
    """A DataModule that names the images it predicts and knows their labels where it can."""

    def predict_names(self) -> list[str]: ...

    def predict_labels(self) -> list[int]: ...
