"""Pools of runs: the ids of one dataset share their trained networks, their base config, presets and schedule.

Figure 6, Table 6 and Figure 7 use the same CIFAR-10 networks, Table 2 and Figure 4 the same ImageNet ones,
and Table 4 tests Table 3's models with its own protocol, so each network is trained once per preset,
under ``runs/<pool>-<preset>/<network>-s<seed>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.resources import as_file, files
from pathlib import Path

from ..errors import MissingFileError
from ..models import list_models
from ..runs import CHECKPOINT_DIR, LAST_CHECKPOINT, RunAddress, runs_root
from .numbers import CIFAR10_REPRODUCTIONS, Reproduction

CONFIG_PACKAGE = "lightning_resnet.reproductions"  # the top-level reproductions/ folder, shipped with the package


SOURCE_TREE = Path(__file__).resolve().parents[2]  # where reproductions/ lies when the package is not installed


def config_path(name: str) -> Path:
    """The path of a reproduction config (``table6.yaml``, ``presets/smoke.yaml``), installed or in the source tree."""
    try:
        with as_file(files(CONFIG_PACKAGE).joinpath(name)) as path:
            found = path
    except ModuleNotFoundError:  # run from a source checkout on PYTHONPATH, without installing
        found = SOURCE_TREE / "reproductions" / name
    if not found.is_file():
        raise MissingFileError(f"no reproduction config {name!r} in {CONFIG_PACKAGE}")
    return found


def backbone_weights(network: str, backbone_pool: str, runs_dir: Path | None = None) -> str:
    """What a detection run's backbone starts from: this suite's trained ImageNet run of the network (Table 3's
    ResNet-101, at the paper preset), or torchvision's ImageNet weights for networks the suite does not define
    (VGG-16)."""
    if network not in list_models():
        return "torchvision"
    run = RunAddress.of(runs_dir or runs_root(), backbone_pool, "paper", network, 0)
    return str(run.path / CHECKPOINT_DIR / LAST_CHECKPOINT)


@dataclass(frozen=True)
class Pool:
    """One dataset's shared runs.

    Args:
        name: the experiment folder's stem (``cifar10`` -> ``runs/cifar10-<preset>/``).
        dataset: the dataset's name on the pages.
        base_config: the config every run starts from (the paper's recipe for the dataset).
        presets: per preset, the configs added to the base (the first is the default).
        warmup: networks trained with the ResNet-110 warm-up (LR 0.01 until the training error is below 80%).
        caps: per preset, per network, extra arguments that keep a CPU run affordable.
        iterations, batch, image_size: the paper-length schedule, for cost estimates.
        held_out: the bold curve of the paper's figures (the logged key) and what it is.
        result_note: what the errors on a page are ({images}: the test images, {protocol}: the test protocol,
            {window}: the iterations the training error is averaged over, each read from the runs).
        reproductions: published reproductions of the pool's paper-length numbers, shown beside them.
        throughput_estimates: a page with no runs yet costs each from the training rates measured per machine
            (``benchmarks/imagenet_training.py``), as for data this project's machine does not hold.
    """

    name: str
    dataset: str
    base_config: str
    presets: dict[str, tuple[str, ...]]
    iterations: int
    batch: int
    image_size: int
    held_out: tuple[str, str]
    result_note: str
    warmup: tuple[str, ...] = ()
    caps: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    command: tuple[str, ...] = ()  # the CLI command before fit/test: ("detect",) for the detection pools
    result: str = "top1_error"  # the logged test result a run of the pool is done with
    backbone_pool: str | None = None  # the pool whose trained runs initialise these networks (detection: imagenet)
    gpus: int = 1  # devices the paper trained one run on
    overlays: tuple[str, ...] = ()  # configs on top of the base one (table8.yaml on table7.yaml)
    reproductions: tuple[Reproduction, ...] = ()
    throughput_estimates: bool = False

    @property
    def default_preset(self) -> str:
        return next(iter(self.presets))

    def configs(self, preset: str) -> tuple[Path, ...]:
        return tuple(config_path(name) for name in (self.base_config, *self.overlays, *self.presets[preset]))


# detection: the paper's settings, and a CPU-sized smoke run (a few iterations, small images, untrained backbones)
DETECTION_PRESETS = {"paper": (), "smoke": ("presets/detection_smoke.yaml",)}

POOLS: dict[str, Pool] = {
    pool.name: pool
    for pool in (
        Pool(
            "cifar10",
            "CIFAR-10",
            "table6.yaml",
            presets={name: (f"presets/{name}.yaml",) for name in ("smoke", "short", "paper", "fast")},
            iterations=64_000,
            batch=128,
            image_size=32,
            held_out=("test_curve/top1_error", "test error on the 10k test images (the paper's bold curves)"),
            result_note="Errors in percent. Test error: the final weights on the {images} CIFAR-10 test images; "
            "val error: the held-out split; training error: mean over the last {window} iterations (with "
            "augmentation). Several seeds: mean ± std.",
            reproductions=CIFAR10_REPRODUCTIONS,
            # Section 4.2's warm-up for ResNet-110; silent for 1202, which gets it too (see interpretations)
            warmup=("resnet110", "resnet1202"),
            # ResNet-1202 costs 11x ResNet-110 per image: 64 iterations keep a smoke run within ~20 min on a 2-core CPU
            caps={
                "smoke": {
                    "resnet1202": (
                        "--trainer.max_steps=64",
                        "--model.milestones=[32, 48]",
                        "--trainer.val_check_interval=64",
                    )
                }
            },
        ),
        Pool(
            "imagenet",
            "ImageNet",
            "table3.yaml",
            presets={"paper": ()},  # no CPU-sized preset: the base config is Section 3.4 as it stands
            iterations=600_000,
            batch=256,
            image_size=224,
            held_out=("val/top1_error", "centre-crop validation error (Figure 4's bold curves)"),
            result_note="Errors in percent. Measured: the final weights on the {images} ImageNet validation images "
            "({protocol}), as the paper reports; val error: one centre crop of the same images; "
            "training error: mean over the last {window} iterations (with augmentation). Several seeds: mean ± std.",
            gpus=8,
            throughput_estimates=True,
        ),
        *(
            Pool(
                name,
                dataset,
                "table7.yaml",
                overlays=overlays,
                presets=DETECTION_PRESETS,
                iterations=iterations,
                batch=batch,
                image_size=600,
                held_out=("val/map_50", "mAP@.5 on 500 test images"),
                result_note="mAP in percent, the final weights on the {images} test images.",
                command=("detect",),
                result="map_50",
                backbone_pool="imagenet",
                gpus=gpus,
            )
            for name, dataset, overlays, iterations, batch, gpus in (
                ("voc", "PASCAL VOC", (), 80_000, 1, 1),
                ("coco", "COCO", ("table8.yaml",), 320_000, 8, 8),
            )
        ),
    )
}

DEFAULT_POOL = "cifar10"  # what a page of a user's own experiment assumes when its runs name no pool's dataset


def pool_of(pool: str | None, datasets: set[str | None] = frozenset()) -> Pool:
    """A page's pool: the id's own, else the one whose dataset its runs recorded, else :data:`DEFAULT_POOL`."""
    if pool:
        return POOLS[pool]
    return next((p for p in POOLS.values() if p.dataset in datasets), POOLS[DEFAULT_POOL])
