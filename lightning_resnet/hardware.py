"""The machine a run or a benchmark ran on, and what its devices compute natively.

Records carry :func:`machine` and pages print :func:`machine_label`, so a time can always be traced to the CPU
model (not just "x86_64") or the GPU that produced it. :func:`native_bf16` is the one place that decides whether
a device computes bf16 natively; the speed presets (:mod:`lightning_resnet.speed`) and the tests ask it.
"""

from __future__ import annotations

import os
import platform
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import torch


def _cpuinfo(path: Path = Path("/proc/cpuinfo")) -> list[dict[str, str]]:
    """``/proc/cpuinfo`` as one dict per logical CPU (Linux); empty elsewhere."""
    if not path.is_file():
        return []
    blocks = path.read_text(errors="replace").strip().split("\n\n")
    return [
        {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in block.splitlines())} for block in blocks
    ]


@cache
def cpu_model() -> str:
    """The CPU's marketing name: ``/proc/cpuinfo`` on Linux, ``sysctl`` on macOS, the platform string elsewhere."""
    for cpu in _cpuinfo():
        if cpu.get("model name"):
            return cpu["model name"]
    if platform.system() == "Darwin":
        try:
            return subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=5
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine()


def cpu_id(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """Vendor, family, model and stepping (x86 Linux): what tells CPUs apart where a VM reports only a generic
    name such as "AMD EPYC" (family 25 model 17 is Zen 4; 25 model 1, Zen 3); None where the platform does not say."""
    for cpu in _cpuinfo(cpuinfo):
        if "cpu family" in cpu and "model" in cpu:
            vendor, stepping = cpu.get("vendor_id", "?"), cpu.get("stepping", "?")
            return f"{vendor} family {cpu['cpu family']} model {cpu['model']} stepping {stepping}"
    return None


def physical_cores() -> int | None:
    """Distinct (package, core) pairs of ``/proc/cpuinfo``; None where the platform does not say."""
    cores = {(cpu.get("physical id"), cpu.get("core id")) for cpu in _cpuinfo() if "core id" in cpu}
    return len(cores) or None


def native_bf16(device: str = "cpu") -> bool:
    """Whether ``device`` ("cpu", "cuda", "mps") computes bf16 in hardware rather than emulating it.

    CPU: oneDNN's own answer (AVX512-BF16 or AMX; it honours ``ONEDNN_MAX_CPU_ISA``, so
    ``ONEDNN_MAX_CPU_ISA=AVX2`` makes a bf16 CPU behave as one without). CUDA: compute capability 8.0 or newer.
    """
    if device == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if device == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False  # MPS: bf16 support depends on the macOS version; fp32 is the safe default


def cpu_features() -> dict[str, Any]:
    """torch's CPU capability (the widest vector ISA its kernels use) and the bf16/AMX instructions it sees."""
    return {
        "capability": torch.backends.cpu.get_cpu_capability(),
        "avx512_bf16": torch.cpu._is_avx512_bf16_supported(),
        "amx": torch.cpu._is_amx_tile_supported(),
        "native_bf16": native_bf16("cpu"),
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"),  # set: oneDNN was limited to this ISA
    }


def gpus() -> list[dict[str, Any]]:
    """Each visible CUDA GPU: name, memory, compute capability; the driver, CUDA and cuDNN versions."""
    if not torch.cuda.is_available():
        return []
    driver = None
    try:
        driver = (
            subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=10,
            )
            .stdout.split("\n")[0]
            .strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        pass
    found = []
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        found.append(
            {
                "name": props.name,
                "memory_gib": round(props.total_memory / 2**30, 1),
                "capability": f"{props.major}.{props.minor}",
                "native_bf16": props.major >= 8,
                "driver": driver,
                "cuda": torch.version.cuda,
                "cudnn": torch.backends.cudnn.version(),
            }
        )
    return found


def machine() -> dict[str, Any]:
    """Everything a record needs to say which machine it came from."""
    import pytorch_lightning

    return {
        "cpu": {
            "model": cpu_model(),
            "id": cpu_id(),
            "physical_cores": physical_cores(),
            "logical_cores": os.cpu_count(),
            "threads": torch.get_num_threads(),
            **cpu_features(),
        },
        "gpus": gpus(),
        "os": f"{platform.system()} {platform.release()}",
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "pytorch_lightning": pytorch_lightning.__version__,
        },
    }


def machine_label(info: dict[str, Any] | None = None, device: str | None = None) -> str:
    """One line naming the machine of ``info`` (default: this one), as pages and benchmark tables print it:
    the GPU when the work ran on one, else the CPU model, its cores and its vector ISA with or without native bf16.
    """
    info = info or machine()
    gpu = info.get("gpus") or []
    if gpu and device != "cpu":
        count = f"{len(gpu)}x " if len(gpu) > 1 else ""
        return f"{count}{gpu[0]['name']} ({gpu[0]['memory_gib']:g} GiB)"
    cpu = info["cpu"]
    cores = cpu.get("physical_cores") or cpu.get("logical_cores")
    isa = f"{cpu.get('capability')}{' + AMX' if cpu.get('amx') else ''}"
    bf16 = "native bf16" if cpu.get("native_bf16") else "no native bf16"
    if cpu.get("onednn_max_cpu_isa"):
        bf16 += f" (ONEDNN_MAX_CPU_ISA={cpu['onednn_max_cpu_isa']})"
    return f"{cpu['model']}, {cores} cores, {isa}, {bf16}"
