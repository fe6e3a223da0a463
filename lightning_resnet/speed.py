"""The speed presets' precision and memory layout, resolved once per run to what the device computes natively.

``smoke``, ``short`` and ``fast`` ask for ``trainer.precision: fastest`` and ``model.channels_last: fastest``;
:func:`resolve` turns them into concrete settings before anything is built, by the table below, so the run's
config, ``run.json`` and every checkpoint's run definition hold the concrete values. A resumed run keeps the
values its checkpoint was trained with (on a machine that cannot run them it stops with one line). An explicit
value always wins; an explicit bf16 on a device that only emulates it gets one warning with the measured cost.
The ``paper`` preset names ``32-true`` and is never resolved.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

from . import compat, hardware
from .errors import ConfigError

FASTEST = "fastest"
RESULTS = "precision.json"  # benchmarks/results/, installed as lightning_resnet.benchmark_results

# device kind -> (precision, channels_last), each the fastest exact-enough setting measured there
# (benchmarks/precision.py, benchmarks/results/precision.json):
FASTEST_SETTINGS: dict[str, tuple[str, bool]] = {
    "cuda-bf16": ("bf16-mixed", True),  # sm80+: bf16 tensor cores; NHWC is cuDNN's native tensor-core layout
    "cuda": ("16-mixed", True),  # T4, V100: fp16 tensor cores, with Lightning's loss scaler
    "cpu-bf16": ("bf16-mixed", True),  # oneDNN's AVX512-BF16/AMX kernels, which prefer NHWC
    "cpu": ("32-true", False),  # oneDNN emulates bf16 (about 10x slower than fp32); NHWC is slower in fp32
    "mps": ("32-true", False),
}


class UnsupportedPrecisionError(ConfigError):
    """A resumed run's precision cannot run on this machine."""


@dataclass(frozen=True)
class SpeedSettings:
    """What a run computes in, and why: the device kind it was resolved for and what was asked."""

    precision: str
    channels_last: bool
    device: str
    asked: dict[str, Any]
    source: str  # "device" (resolved for this device) or "checkpoint" (kept from the run being resumed)

    def as_record(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        """The start-up line."""
        layout = "channels-last" if self.channels_last else "contiguous (NCHW)"
        origin = {"device": f"the fastest on {self.device}", "checkpoint": "as the resumed run was started"}
        return f"speed: {self.precision}, {layout} ({origin[self.source]})"


def device_type(accelerator: str | None) -> str:
    """The device ``Trainer(accelerator=...)`` trains on, as Lightning itself chooses it, so the speed settings are
    resolved for the device that will train."""
    return compat.chosen_accelerator(str(accelerator or "auto").lower())


def device_kind(device: str) -> str:
    """The row of :data:`FASTEST_SETTINGS` for ``device``."""
    if device in ("cuda", "cpu"):
        return f"{device}-bf16" if hardware.native_bf16(device) else device
    return device if device in FASTEST_SETTINGS else "cpu"


def measured_emulation_cost() -> str:
    """The cost of emulated bf16 as ``benchmarks/precision.py`` measured it on a CPU without native bf16."""
    try:
        entries = json.loads(resources.files("lightning_resnet.benchmark_results").joinpath(RESULTS).read_text())
    except (FileNotFoundError, ModuleNotFoundError, json.JSONDecodeError):
        entries = []
    for entry in entries:
        if entry["device"] == "cpu" and not entry["machine"]["cpu"]["native_bf16"]:
            rates, conv = entry["images_per_second"], entry["conv3x3_gflops"]
            return (
                f"ResNet-20 trained at {rates['bf16-mixed']:,.0f} images/s in bf16-mixed vs {rates['32-true']:,.0f} "
                f"in fp32, a 3x3 conv at {conv['bf16']:.1f} vs {conv['fp32']:.1f} GFLOP/s ({entry['hardware']}, "
                f"benchmarks/results/{RESULTS})"
            )
    return "oneDNN emulates bf16 on CPUs without AVX512-BF16 or AMX, many times slower than fp32"


def emulated_bf16_warning(device: str) -> str:
    """One line: why bf16 on this device is slow, with the figures measured on a CPU like it."""
    if device == "cuda":
        return "this GPU has no native bf16 (compute capability < 8.0): `--trainer.precision fastest` picks 16-mixed"
    return (
        f"bf16 is emulated on this CPU (no native bf16): {measured_emulation_cost()}; "
        "`--trainer.precision fastest` picks 32-true here"
    )


def resolve(
    precision: Any, channels_last: Any, accelerator: str | None, saved: dict[str, Any] | None = None
) -> SpeedSettings | None:
    """The concrete precision and layout for a run asked for ``precision`` / ``channels_last``.

    ``saved``: the run definition of the checkpoint being resumed, whose values win over the device's.
    None when nothing was asked to be resolved and nothing needs a warning.
    """
    device = device_type(accelerator)
    asked = {"precision": str(precision), "channels_last": channels_last}
    resolving = {key for key, value in asked.items() if value == FASTEST}
    if not resolving:
        if "bf16" in str(precision) and device in ("cpu", "cuda") and not hardware.native_bf16(device):
            warnings.warn(emulated_bf16_warning(device), stacklevel=2)
        return None
    kind = device_kind(device)
    fastest_precision, fastest_layout = FASTEST_SETTINGS[kind]
    source = "device"
    if saved and saved.get("trainer.precision") and saved.get("model.channels_last") is not None:
        fastest_precision, fastest_layout = saved["trainer.precision"], saved["model.channels_last"]
        source = "checkpoint"
        check_runs_here(fastest_precision, device)
    return SpeedSettings(
        precision=fastest_precision if "precision" in resolving else str(precision),
        channels_last=fastest_layout if "channels_last" in resolving else bool(channels_last),
        device=kind,
        asked=asked,
        source=source,
    )


def check_runs_here(precision: str, device: str) -> None:
    """A resumed run keeps its precision: say in one line when this device cannot run it, or only emulates it."""
    continue_in = "--override_precision true --trainer.precision 32-true"
    if precision.startswith("16") and device != "cuda":
        raise UnsupportedPrecisionError(
            f"this run trains in {precision}, which needs a CUDA GPU ({device} here): resume it on a CUDA GPU, or "
            f"continue it in fp32 with `--ckpt_path last {continue_in}` (recorded in run.json)"
        )
    if precision.startswith("bf16") and device in ("cpu", "cuda") and not hardware.native_bf16(device):
        warnings.warn(
            f"this run trains in {precision} as it was started, and {emulated_bf16_warning(device)}; to continue it "
            f"in fp32: `--ckpt_path last {continue_in}`",
            stacklevel=2,
        )
