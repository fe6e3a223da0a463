"""The installed package works without the source tree: configs, benchmark figures, released weights and the CLI
come from the wheel."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
PACKAGED = (
    "pyproject.toml",
    "README.md",
    "LICENSE",
    "lightning_resnet",
    "reproductions",
    "benchmarks/results",
    "weights",
)


def source_with_a_release(tmp_path: Path, cifar_dir: Path) -> tuple[Path, torch.Tensor]:
    """A copy of what the wheel is built from, whose ``weights/`` also holds the release of a 20-iteration ResNet-8
    (trained and exported here, so the test does not depend on which networks are released yet); and that network's
    logits on 4 images."""
    from lightning_resnet import load_network
    from lightning_resnet.cli import run_command
    from lightning_resnet.release import export_run

    source = tmp_path / "source"
    for name in PACKAGED:
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        copy(
            REPO / name,
            source / name,
            **({"ignore": shutil.ignore_patterns("__pycache__")} if copy is shutil.copytree else {}),
        )
    runs = tmp_path / "runs"
    run_command(
        [
            "fit",
            "--config",
            str(REPO / "reproductions" / "table6.yaml"),
            "--model.arch=resnet8",
            "--preset=paper",
            f"--data.init_args.data_dir={cifar_dir}",
            "--trainer.max_steps=20",
            "--trainer.val_check_interval=20",
            "--trainer.limit_val_batches=1",
            "--trainer.limit_test_batches=1",
            "--trainer.enable_progress_bar=false",
            f"--runs_dir={runs}",
        ]
    )
    export_run(runs / "cifar10-paper" / "resnet8-s0", source / "weights", tmp_path / "records")
    with torch.no_grad():
        return source, load_network("resnet8", weights="paper", weights_dir=source / "weights")(four_images())


def four_images() -> torch.Tensor:
    return torch.arange(4 * 3 * 32 * 32).reshape(4, 3, 32, 32).remainder(256).to(torch.uint8)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_wheel_installs_and_runs_from_another_directory(tmp_path: Path, cifar_dir: Path) -> None:
    from lightning_resnet import load_network
    from lightning_resnet.release import read_manifest

    source, logits = source_with_a_release(tmp_path, cifar_dir)
    built = run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        str(tmp_path),
        str(source),
        cwd=tmp_path,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next(tmp_path.glob("lightning_resnet-*.whl"))
    venv = tmp_path / "venv"
    assert run(sys.executable, "-m", "venv", str(venv), cwd=tmp_path).returncode == 0
    python = venv / "bin" / "python"
    # the dependencies (torch, Lightning, ...) come from this environment; the package itself only from the wheel
    site = Path(
        run(str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path).stdout.strip()
    )
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    installed = run(str(python), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel), cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run(str(python), "-c", "import lightning_resnet; print(lightning_resnet.__file__)", cwd=elsewhere)
    assert where.stdout.startswith(str(venv)), where.stdout + where.stderr

    images = four_images()
    torch.save(images, tmp_path / "images.pt")
    loaded = run(
        str(python),
        "-c",
        "import json, sys, torch; from lightning_resnet import load_network; "
        "from lightning_resnet.release import read_manifest, weights_dir; images = torch.load(sys.argv[1]); "
        "print(weights_dir()); "
        "print(json.dumps({n: load_network(n, weights='paper')(images).tolist() for n in read_manifest()}))",
        str(tmp_path / "images.pt"),
        cwd=elsewhere,
    )
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    folder, values = loaded.stdout.strip().splitlines()
    assert folder == str(site / "lightning_resnet" / "weights")  # the installed copy, SHA-256 checked on load
    released = {network: torch.tensor(v) for network, v in json.loads(values).items()}
    assert released.pop("resnet8").allclose(logits, atol=1e-5)
    # and every committed release ships, loads by name and gives the source tree's logits
    assert released.keys() == read_manifest(REPO / "weights").keys()
    for network, values in released.items():
        with torch.no_grad():
            assert values.equal(load_network(network, weights="paper", weights_dir=REPO / "weights")(images)), network

    dry = run(
        str(python), "-m", "lightning_resnet", "reproduce", "table6", "--preset", "paper", "--dry_run", cwd=elsewhere
    )
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert "table6 (paper): 10 runs" in dry.stdout and "runs/cifar10-paper/resnet110-s4: todo" in dry.stdout
    assert f"--config {site}/lightning_resnet/reproductions/table6.yaml" in dry.stdout  # the installed configs

    printed = run(str(python), "-m", "lightning_resnet", "fit", "--print_config", cwd=elsewhere)
    assert printed.returncode == 0, printed.stderr[-2000:]
    assert "arch: resnet20" in printed.stdout and "momentum_form: caffe" in printed.stdout

    report = run(
        str(python),
        "-m",
        "lightning_resnet",
        "report",
        "table3",
        "--preset",
        "paper",
        "--reports_dir",
        "out",
        cwd=elsewhere,
    )
    assert report.returncode == 0, report.stderr[-2000:]
    assert "hours on" in (elsewhere / "out" / "table3-paper.md").read_text()  # the shipped benchmark figures were read
