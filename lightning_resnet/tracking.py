"""Where a run's record goes: a local CSV record always, and a W&B run (offline unless the user is logged in).

W&B never blocks a run: without a login (``WANDB_API_KEY`` or a ``netrc`` entry written by ``wandb login``),
or when the W&B server does not answer within 3 seconds, it writes an offline run under the run directory,
which ``python -m lightning_resnet sync RUN_DIR`` uploads later as one W&B run (:mod:`lightning_resnet.wandb_sync`).
``WANDB_MODE`` set by the user wins.
"""

from __future__ import annotations

import hashlib
import json
import netrc
import os
import platform
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from pytorch_lightning.loggers import CSVLogger, Logger, WandbLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.loggers.logger import rank_zero_experiment
from pytorch_lightning.utilities import rank_zero_info, rank_zero_warn

from .compat import appending_csv_writer, forget_experiment, started_experiment, wandb_init_arguments
from .hardware import machine, machine_label
from .runs import RunAddress

DEFAULT_PROJECT = "lightning-resnet"
ID_FILE = "wandb_id.txt"
USER_DATA_DIR = os.environ.get("WANDB_DATA_DIR")  # where the user wants W&B's artifact staging, if anywhere


def artifacts_dir(run_dir: str | Path) -> Path:
    """Where a run's W&B artifact files are staged: inside the run folder, so a copied run folder syncs whole."""
    return Path(run_dir).resolve() / "wandb" / "artifacts"


class RunCSVLogger(CSVLogger):
    """The local record of a run: ``metrics.csv`` and ``hparams.yaml`` directly in the run directory.

    Resuming continues the file (Lightning's CSVLogger would delete it); a fresh run replaces it.
    """

    def __init__(self, run_dir: Path, resuming: bool) -> None:
        super().__init__(save_dir=str(run_dir), name="", version="")
        metrics = Path(run_dir) / ExperimentWriter.NAME_METRICS_FILE
        if not resuming and metrics.is_file():
            metrics.unlink()

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        return appending_csv_writer(self)


class RunWandbLogger(WandbLogger):
    """Lightning's WandbLogger that also closes the W&B run when training fails or is interrupted,
    so the run is marked failed and a later run in the same process does not log into it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Lightning always passes `anonymous` (None by default), which W&B answers with "has no effect" on every run
        if wandb_init_arguments(self).get("anonymous") is None:
            wandb_init_arguments(self).pop("anonymous", None)

    def finalize(self, status: str) -> None:
        super().finalize(status)
        run = started_experiment(self)
        if status != "success" and run is not None:
            run.finish(exit_code=1)
            forget_experiment(self)


def wandb_logged_in() -> bool:
    """True when W&B credentials are present locally; no network request is made."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    try:
        return netrc.netrc().authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def wandb_mode() -> str:
    """``online``, ``offline`` or ``disabled``: the user's ``WANDB_MODE``, else online only when logged in."""
    mode = os.environ.get("WANDB_MODE", "").lower()
    if mode in ("online", "offline", "disabled"):
        return mode
    if mode == "dryrun":
        return "offline"
    return "online" if wandb_logged_in() else "offline"


def wandb_run_id(run_dir: Path, resuming: bool, offline: bool) -> str:
    """The run's W&B id, kept in ``run_dir/wandb_id.txt`` so a resumed run continues the same W&B run.

    W&B cannot resume an offline run: a resumed offline segment gets its own id (``<id>-r<k>``), and
    ``python -m lightning_resnet sync`` replays the segments into one W&B run with the first id; the CSV record
    holds the whole history in one file.
    """
    path = run_dir / ID_FILE
    ids = path.read_text().split() if path.is_file() else []
    if not ids:
        ids = [uuid.uuid4().hex[:8]]
    elif resuming and offline:
        ids.append(f"{ids[0]}-r{len(ids)}")
        rank_zero_warn(
            f"W&B cannot resume offline runs: this segment is logged as W&B run {ids[-1]}; "
            f"`python -m lightning_resnet sync {run_dir}` uploads all segments as the one W&B run {ids[0]}."
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(ids) + "\n")
    return ids[-1]


def wandb_reachable(timeout: float = 3.0) -> bool:
    """Whether the W&B server answers an HTTP request within ``timeout`` seconds in all (any HTTP status counts).

    A server, or a proxy, that accepts connections but never answers counts as unreachable: the run then logs
    offline instead of waiting for W&B's own init timeout.
    """
    base = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai").rstrip("/")
    answered: list[bool] = []

    def probe() -> None:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=timeout).close()
            answered.append(True)
        except urllib.error.HTTPError:
            answered.append(True)  # an error status is an answer
        except (OSError, ValueError):
            answered.append(False)

    thread = threading.Thread(target=probe, daemon=True)  # an overall deadline, DNS included
    thread.start()
    thread.join(timeout)
    return bool(answered and answered[0])


def read_wandb_records(run_folder: Path) -> list[dict[str, Any]]:
    """Every record of a local W&B run folder (``offline-run-*`` or ``run-*``: run, history, summary, artifact, ...),
    read with W&B's own ``wandb leet inspect``, so offline runs can be checked and replayed without any server."""
    out = subprocess.run(
        [sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(run_folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def read_wandb_history(run_folder: Path) -> list[dict[str, Any]]:
    """The history rows of a local W&B run folder, in the order they were logged."""
    return [r["history"]["item"] for r in read_wandb_records(run_folder) if r.get("type") == "history"]


def training_run_id(run_dir: Path) -> str | None:
    """The W&B id of the training run (the first in ``wandb_id.txt``): its model artifact and its one W&B run after
    ``sync`` carry it, whatever id each offline segment got."""
    path = Path(run_dir) / ID_FILE
    ids = path.read_text().split() if path.is_file() else []
    return ids[0] if ids else None


def make_loggers(
    address: RunAddress, tags: list[str], project: str, resuming: bool, job_type: str = "train"
) -> list[Logger]:
    """A CSV record in the run's folder and, unless ``WANDB_MODE=disabled``, a W&B run in the address's group, named
    by the address (unique in the project)."""
    run_dir = address.path
    loggers: list[Logger] = [RunCSVLogger(run_dir, resuming)]
    mode = wandb_mode()
    if mode == "disabled":
        return loggers
    if mode == "online" and not wandb_reachable():
        rank_zero_warn(
            "W&B server unreachable: logging offline instead; upload later with "
            f"`python -m lightning_resnet sync {address.path}`."
        )
        mode = "offline"
    offline = mode == "offline"
    run_id = wandb_run_id(run_dir, resuming=resuming, offline=offline)
    if not USER_DATA_DIR:
        os.environ["WANDB_DATA_DIR"] = str(artifacts_dir(run_dir))
    if offline:
        rank_zero_info(f"W&B offline (no login found): upload later with `python -m lightning_resnet sync {run_dir}`.")
    loggers.append(
        RunWandbLogger(
            project=project,
            group=address.group,
            name=address.display_name,
            id=run_id,
            # absolute: W&B's service process keeps the working directory it started in, which may not be ours
            save_dir=str(Path(run_dir).resolve()),
            offline=offline,
            tags=tags,
            job_type=job_type,
            # the offline file is written every few seconds, so a killed run loses at most that much of W&B's copy
            settings={"silent": True, "init_timeout": 60, "x_transaction_log_flush_interval": WANDB_FLUSH_SECONDS},
        )
    )
    return loggers


WANDB_FLUSH_SECONDS = 5.0  # how often W&B writes buffered run data to the run's .wandb file


def git_state(repo: Path | None = None) -> dict[str, Any]:
    """The commit of the code that ran, and whether the tree had uncommitted changes."""
    cwd = repo or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
        )
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty}


def environment() -> dict[str, Any]:
    """Package versions and the machine (:mod:`lightning_resnet.hardware`), for the run's record and config."""
    import pytorch_lightning
    import torchvision
    import wandb

    info = machine()
    return {
        "versions": {
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "pytorch_lightning": pytorch_lightning.__version__,
            "wandb": wandb.__version__,
            "python": platform.python_version(),
        },
        "hardware": machine_label(info),
        "machine": info,
        "hostname": platform.node(),
    }


def offline_segments(run_dir: Path) -> list[Path]:
    """A run's offline W&B folders in the order they were written (their names start with the start time)."""
    return sorted((Path(run_dir) / "wandb").glob("offline-run-*"))


def dataset_artifact(fingerprint: dict[str, Any]):
    """The dataset a run read as a W&B ``dataset`` artifact by reference (name, path, hashes; the data stay where
    they are), named by its content hashes so runs on the same data share one artifact version."""
    import wandb

    hashes = fingerprint.get("sha256") or {}
    # all splits' hashes, in a fixed order: the same name online, offline and at sync
    digest = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()[:16] if hashes else "unknown"
    name = f"{fingerprint.get('name', 'dataset')}-{digest}".lower().replace(" ", "-")
    artifact = wandb.Artifact(name, type="dataset", metadata=fingerprint)
    path = Path(str(fingerprint.get("path", "")))
    if fingerprint.get("path") and path.exists():
        artifact.add_reference(path.resolve().as_uri(), checksum=False)
    return artifact


def declare_dataset(run_dir: Path, run_id: str, project: str, fingerprint: dict[str, Any]) -> None:
    """Mark the dataset as the input of an uploaded run (what an offline run could not do); W&B's local files of
    this step stay in the run folder."""
    import wandb

    target = Path(run_dir) / "wandb" / "sync"
    target.mkdir(parents=True, exist_ok=True)
    init = {"project": project, "id": run_id, "resume": "must", "dir": str(target), "settings": {"silent": True}}
    with wandb.init(**init) as run:
        run.use_artifact(dataset_artifact(fingerprint))
