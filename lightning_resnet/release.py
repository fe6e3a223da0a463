"""Released weights: the CIFAR-10 networks this suite trained at the paper preset, loadable by name.

Each network is one file ``weights/<network>-<first 8 hex digits of its SHA-256>.pt`` (as torchvision and the
best-known CIFAR reproduction name theirs), a ``torch.save``d dict that loads with ``weights_only=True``:

- ``state_dict``: loads with ``strict=True`` into ``create_model(network)`` (plain BN keys, no compile prefix);
- ``mean_image``: float32, 3x32x32, in 0-255 pixel units; the network's input is ``(uint8 image - mean_image) / 255``.

``weights/manifest.json`` lists each file with its SHA-256, the test and validation error its record states, the
record it came from, preset, seed, iterations and machine. ``python -m lightning_resnet export RUN_DIR`` writes a
file and its entry from a finished run; ``load_network("resnet20", weights="paper")`` loads one, checking its hash.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path

import torch

from .errors import ConfigError, MissingFileError
from .models import create_model, model_entry
from .runs import CHECKPOINT_DIR, LAST_CHECKPOINT, Run, RunFolder, Status, write_atomically

PAPER = "paper"  # the only released weights: the paper preset, as the README's results table reports them
MANIFEST = "manifest.json"
TEST_METRIC, VAL_METRIC = "test/top1_error", "val/top1_error"
SOURCE_TREE = Path(__file__).resolve().parents[1] / "weights"  # the top-level weights/ of a source checkout


def weights_dir() -> Path:
    """Where the released files are: installed as ``lightning_resnet.weights``, or the source tree's ``weights/``."""
    try:
        return Path(str(files("lightning_resnet.weights")))
    except ModuleNotFoundError:
        return SOURCE_TREE


@dataclass(frozen=True)
class Release:
    """One manifest entry."""

    network: str
    file: str
    sha256: str
    test_error: float  # percent, from the record
    val_error: float | None
    record: str  # the committed record it came from (reports/records/<group>/<run>)
    preset: str
    seed: int
    iterations: int
    machine: str


def read_manifest(folder: Path | None = None) -> dict[str, Release]:
    path = (folder or weights_dir()) / MANIFEST
    if not path.is_file():
        return {}
    try:
        return {name: Release(**entry) for name, entry in json.loads(path.read_text()).items()}
    except (json.JSONDecodeError, TypeError) as err:
        raise ConfigError(f"{path} is not a weights manifest ({err}): restore it from the repository") from None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_release(network: str, folder: Path | None = None) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The released ``state_dict`` and ``mean_image`` of ``network``, after checking the file's SHA-256."""
    folder = folder or weights_dir()
    releases = read_manifest(folder)
    if network not in releases:
        have = ", ".join(sorted(releases)) or "none yet"
        raise ConfigError(f"no released weights for {network!r}; networks with weights: {have}")
    release = releases[network]
    path = folder / release.file
    if not path.is_file():
        raise MissingFileError(f"{path} is missing: reinstall the package, or restore weights/ from the repository")
    if sha256_of(path) != release.sha256:
        raise ConfigError(f"{path} does not match its SHA-256 in {MANIFEST}: it is damaged; restore it")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    return saved["state_dict"], saved["mean_image"]


def network_state(checkpoint: dict, network: str) -> dict[str, torch.Tensor]:
    """The network's own ``state_dict`` from a Lightning checkpoint: the ``net.`` entries, without a compile prefix,
    checked by loading it with ``strict=True`` into ``create_model(network)``."""
    state = {
        k.removeprefix("net.").replace("_orig_mod.", ""): v.detach().clone().contiguous()
        for k, v in checkpoint["state_dict"].items()
        if k.startswith("net.")
    }
    create_model(network).load_state_dict(state, strict=True)
    return state


def export_run(run_dir: Path, folder: Path, records_dir: Path = Path("reports/records")) -> Release:
    """Write the release file of a finished run and its manifest entry; returns the entry."""
    from .data.cifar10 import CIFAR10DataModule
    from .export import read_checkpoint

    run = RunFolder(run_dir)
    record = run.record()
    if record.status != Status.FINISHED or record.global_step < record.max_steps or TEST_METRIC not in record.final:
        raise ConfigError(
            f"{run_dir} is not finished ({record.state}, {record.global_step:,} of {record.max_steps:,} iterations): "
            "only a run trained to its end and tested is released; resume it with --ckpt_path last"
        )
    network = record.network or record.config.get("model", {}).get("arch", "")
    if model_entry(network).family != "cifar":
        raise ConfigError(f"{network} is not a CIFAR-10 network: only those are released as weights files")
    checkpoint = read_checkpoint(run.checkpoint_dir / LAST_CHECKPOINT)
    state = network_state(checkpoint, network)
    if not all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()):
        raise ConfigError(f"{run_dir}/{CHECKPOINT_DIR}/{LAST_CHECKPOINT} holds non-finite weights: nothing released")
    mean = checkpoint.get(CIFAR10DataModule.__qualname__, {}).get("mean_image")
    if mean is None:
        raise ConfigError(f"{run_dir}'s checkpoint holds no training mean image: it cannot be released")
    buffer = io.BytesIO()
    torch.save({"state_dict": state, "mean_image": mean.float().reshape(3, 32, 32)}, buffer)
    data = buffer.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    name = f"{network}-{sha[:8]}.pt"
    write_atomically(folder / name, lambda f: f.write(data), kind="weights file")
    val = record.final.get(VAL_METRIC)
    release = Release(
        network=network,
        file=name,
        sha256=sha,
        test_error=round(record.final[TEST_METRIC], 4),
        val_error=None if val is None or math.isnan(val) else round(val, 4),
        record=(records_dir / run.path.parent.name / run.path.name).as_posix(),
        preset=record.preset or "",
        seed=record.seed or 0,
        iterations=record.global_step,
        machine=Run(run.path, record).hardware or "",
    )
    releases = {**read_manifest(folder), network: release}
    for old in {r.file for r in read_manifest(folder).values() if r.network == network} - {name}:
        (folder / old).unlink(missing_ok=True)  # the network's earlier release
    text = json.dumps({k: asdict(v) for k, v in sorted(releases.items())}, indent=2) + "\n"
    write_atomically(folder / MANIFEST, lambda f: f.write(text.encode()), kind="weights manifest")
    return release


def export_command(argv: list[str]) -> None:
    """``python -m lightning_resnet export RUN_DIR [--weights_dir weights]``: a finished run as a release file."""
    parser = argparse.ArgumentParser(prog="python -m lightning_resnet export", description=export_command.__doc__)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--weights_dir", type=Path, default=SOURCE_TREE)
    parser.add_argument("--records_dir", type=Path, default=Path("reports/records"))
    options = parser.parse_args(argv)
    release = export_run(options.run_dir, options.weights_dir, options.records_dir)
    print(f"wrote {options.weights_dir / release.file}: {release.network}, test error {release.test_error:.2f}%")
