"""Stage what the GPU check needs onto a lent device machine, which reaches no network and takes 64 MiB a call.

The device image has torch, Lightning and torchmetrics but not jsonargparse, wandb or submitit, and no CIFAR-10;
the dataset (178 MB) does not fit one call even compressed (xz: ~23 MB per 31 MB batch). So ``pack`` writes, here,
the missing wheels and the six batches xz-compressed into ``.gpu/part1`` .. ``.gpu/part4`` (each under 64 MiB),
and ``unpack`` on the device machine installs/decompresses whichever parts a call carried into ``/tmp/lr``, which
stays while the machine is warm. Four calls in a row, each within the machine's warm window:

    python benchmarks/gpu_stage.py pack                          # here, once
    run(carry=[".gpu/part1"], command="python3 benchmarks/gpu_stage.py unpack")
    run(carry=[".gpu/part2"], command="python3 benchmarks/gpu_stage.py unpack")
    run(carry=[".gpu/part3"], command="python3 benchmarks/gpu_stage.py unpack")
    run(carry=[".gpu/part4"], command="python3 benchmarks/gpu_stage.py unpack && bash benchmarks/gpu_check.sh")
"""

from __future__ import annotations

import argparse
import lzma
import os
import shutil
import subprocess
import sys
from pathlib import Path

STAGE = Path(".gpu")
DEVICE_ROOT = Path("/tmp/lr")
SITE = DEVICE_ROOT / "site"
CIFAR = DEVICE_ROOT / "cifar10" / "cifar-10-batches-py"
PYTHON = "3.12"  # the device image's python3
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64", "any"]
REQUIREMENTS = ["jsonargparse[signatures,shtab]==4.53.0", "wandb==0.31.0", "submitit==1.5.4"]
# Already in the device image (tool README, KINDS.md): carrying a second version of these stops the install.
IN_IMAGE = {
    "anyio", "certifi", "charset_normalizer", "click", "cloudpickle", "h11", "httpcore", "httpx", "idna",
    "packaging", "pyyaml", "requests", "typing_extensions", "urllib3", "xxhash",
}  # fmt: skip
# Which batches travel with which call (pack prints the sizes): part1 also carries the 24 wheels (24.5 MiB).
PARTS = {
    "part1": ["data_batch_1"],
    "part2": ["data_batch_2", "data_batch_3"],
    "part3": ["data_batch_4", "data_batch_5"],
    "part4": ["test_batch", "batches.meta"],
}
CALL_LIMIT = 64 * 2**20


def distribution(wheel: Path) -> str:
    return wheel.name.split("-")[0].lower()


def pack(data_dir: Path) -> None:
    """Writes .gpu/part1..4 here and checks each fits one call beside the repository's tracked files."""
    batches = data_dir / "cifar-10-batches-py"
    if not (batches / "test_batch").is_file():
        sys.exit(f"no CIFAR-10 in {batches}: pass --data-dir (the folder holding cifar-10-batches-py)")
    shutil.rmtree(STAGE, ignore_errors=True)
    wheels = STAGE / "part1" / "wheels"
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--python-version", PYTHON,
         "--implementation", "cp", *platforms, "-d", str(wheels), *REQUIREMENTS],
        check=True,
    )  # fmt: skip
    for wheel in wheels.glob("*.whl"):
        if distribution(wheel) in IN_IMAGE:
            wheel.unlink()
    for part, names in PARTS.items():
        (STAGE / part).mkdir(parents=True, exist_ok=True)
        for name in names:
            data = (batches / name).read_bytes()
            (STAGE / part / f"{name}.xz").write_bytes(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
    tracked = sum(os.path.getsize(f) for f in subprocess.check_output(["git", "ls-files"], text=True).split())
    for part in PARTS:
        size = sum(f.stat().st_size for f in (STAGE / part).rglob("*") if f.is_file())
        verdict = "fits" if size + tracked < CALL_LIMIT else "TOO LARGE for one call"
        print(f"{STAGE / part}: {size / 2**20:.1f} MiB (+{tracked / 2**20:.1f} MiB of repository): {verdict}")


def unpack() -> None:
    """Installs and decompresses the parts this call carried into /tmp/lr; says what is still missing."""
    for part in sorted(p for p in STAGE.glob("part*") if p.is_dir()):
        wheels = sorted(str(w) for w in (part / "wheels").glob("*.whl"))
        if wheels:
            subprocess.run(
                [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                 "--no-cache-dir", "--upgrade", "--target", str(SITE), *wheels],
                check=True,
            )  # fmt: skip
        CIFAR.mkdir(parents=True, exist_ok=True)
        for packed in part.glob("*.xz"):
            (CIFAR / packed.stem).write_bytes(lzma.decompress(packed.read_bytes()))
    missing = [part for part, names in PARTS.items() if not all((CIFAR / name).is_file() for name in names)]
    print(f"staged in {DEVICE_ROOT}: wheels {'yes' if SITE.is_dir() else 'no'}; parts missing: {missing or 'none'}")


def env_lines() -> list[str]:
    """Shell lines that put what ``unpack`` staged on the path (gpu_check.sh evals them); none where nothing is."""
    lines = [f'export PYTHONPATH="${{PYTHONPATH:+$PYTHONPATH:}}{SITE}"'] if SITE.is_dir() else []
    if all((CIFAR / name).is_file() for names in PARTS.values() for name in names):
        lines.append(f"export LIGHTNING_RESNET_DATA=${{LIGHTNING_RESNET_DATA:-{CIFAR.parent}}}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["pack", "unpack", "env"])
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("LIGHTNING_RESNET_DATA", "data")))
    args = parser.parse_args()
    if args.action == "pack":
        pack(args.data_dir)
    elif args.action == "unpack":
        unpack()
    else:
        print("\n".join(env_lines()))


if __name__ == "__main__":
    main()
