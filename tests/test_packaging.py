"""The installed package works without the source tree: configs, benchmark figures and the CLI come from the wheel."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_wheel_installs_and_runs_from_another_directory(tmp_path: Path) -> None:
    built = run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        str(tmp_path),
        str(REPO),
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
