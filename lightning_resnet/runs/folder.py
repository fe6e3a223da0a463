"""A run's folder: its record (the only code that reads or writes ``run.json``), lock, checkpoints, atomic writes.

The folder holds ``config.yaml``, ``run.json``, ``metrics.csv``, ``layer_responses.csv``, ``wandb/`` and
``checkpoints/`` (names in :mod:`lightning_resnet.runs.address`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from ..errors import ConfigError, RecordError, UserError
from .address import CHECKPOINT_DIR, INTERRUPT_CHECKPOINT, LAST_CHECKPOINT, RECORD_FILE, RECORD_FILES
from .record import Record


class RunWriteError(UserError, OSError):
    """A file of a run could not be written (disk full, read-only folder); the previous version is intact."""


class RunBusyError(UserError, RuntimeError):
    """Another process holds the run folder."""


def write_atomically(
    path: str | Path, write: Callable[[IO[bytes]], None], advice: str = "then run again", kind: str = "file"
) -> None:
    """Write ``path`` through a temporary file in the same folder, flushed to disk and renamed over the old file, so
    a kill or a full disk never leaves it half-written. A failure is one :class:`RunWriteError` line naming the path,
    the cause and ``advice``; ``kind`` says what the file is."""
    target = Path(path)
    partial = target.with_name(f".{target.name}.partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, target)
    except (OSError, RuntimeError) as err:  # torch.save reports a failed write as a RuntimeError
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        cause = err if isinstance(err, OSError) else err.__context__ or err
        reason = getattr(cause, "strerror", None) or str(cause)
        raise RunWriteError(
            f"cannot write {kind} {target} ({reason}); free space or make the folder writable, {advice}"
        ) from err


# what a command writes into a run folder before anything of the run itself (record, metrics, checkpoints)
PREPARATION_FILES = frozenset({".lock", "wandb_id.txt", "config.yaml", "hparams.yaml", "wandb", "train.log"})


class RunFolder:
    """One run's folder. Everything that reads or writes its record goes through here."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @property
    def record_path(self) -> Path:
        return self.path / RECORD_FILE

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINT_DIR

    # the record

    def read(self) -> dict[str, Any]:
        """``run.json`` as written (empty when there is none); one that does not parse is a :class:`RecordError`
        naming it."""
        path = self.record_path
        if not path.is_file():
            return {}
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise RecordError(
                f"{path} is not a readable run record ({err}): restore it from a copy (reports/records/ holds the "
                "committed ones), or move it aside to continue the run without its recorded time"
            ) from None
        if not isinstance(data, dict):
            raise RecordError(f"{path} is not a run record (a JSON object): restore it from a copy, or move it aside")
        return data

    def record(self) -> Record:
        data = self.read()  # a record that does not parse is named by read
        try:
            return Record.from_json(data)
        except (TypeError, ValueError) as err:  # a key of the wrong kind (an unknown status, ...)
            raise RecordError(f"{self.record_path} is not a run record ({err}): restore it from a copy") from None

    def write(self, data: dict[str, Any]) -> None:
        """Replace ``run.json`` (atomically)."""
        text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
        write_atomically(self.record_path, lambda f: f.write(text.encode()), kind="run record")

    def update(self, **fields: Any) -> None:
        """Set ``fields`` in the record; ``final`` adds to the results already there."""
        data = self.read()
        for key, value in fields.items():
            data[key] = {**data.get(key, {}), **value} if key == "final" and isinstance(value, dict) else value
        self.write(data)

    def append(self, key: str, item: Any) -> None:
        """Add ``item`` to the record's list ``key`` (``changes``)."""
        data = self.read()
        self.update(**{key: [*data.get(key, []), item]})

    def forget(self) -> None:
        """Remove the record: a new run in this folder starts one of its own."""
        self.record_path.unlink(missing_ok=True)

    # the folder as a whole

    def lock(self) -> RunLock:
        """Take the folder for this process (made if it does not exist); refused while another holds it."""
        return RunLock(self.path).acquire()

    @property
    def in_use(self) -> bool:
        """Whether a process holds the folder now. A record that says ``running`` while none does belongs to a run
        whose process was killed (SIGKILL, a machine that went away) before it could say so."""
        if not RunLock(self.path).path.is_file():  # never locked: nothing to ask (and no folder made)
            return False
        try:
            self.lock().release()
        except RunBusyError:
            return True
        return False

    def latest_checkpoint(self, log=print, hpc_only: bool = False) -> Path | None:
        return latest_checkpoint(self.checkpoint_dir, log, hpc_only)

    @property
    def has_checkpoints(self) -> bool:
        return any(self.checkpoint_dir.glob("*.ckpt"))

    def refuse_to_replace(self, overwrite: bool) -> None:
        """A new run never erases one that is already here, unless asked to; a folder with nothing to resume (a run
        that failed before its first checkpoint) holds nothing to protect."""
        record = self.record()
        if (record.done_training or self.has_checkpoints) and not overwrite:
            resume = "" if record.done_training else "resume it with --ckpt_path last, "
            state = record.status.value if record.status else "checkpointed"
            raise ConfigError(
                f"{self.path} already holds a {state} run: {resume}start another with --run_name NAME, or replace it "
                "with --overwrite true"
            )

    def remove_if_empty(self) -> bool:
        """Remove the folder if it holds only what a command writes before its run begins (its lock, W&B id, config):
        a command that failed on its settings leaves no folder behind. True if removed."""
        if not self.path.is_dir():
            return False
        entries = {p.name for p in self.path.iterdir()}
        wandb = self.path / "wandb"
        if entries - PREPARATION_FILES or (wandb.is_dir() and any(wandb.glob("*run-*"))):
            return False
        shutil.rmtree(self.path, ignore_errors=True)
        return True

    def export_record(self, records_dir: str | Path) -> Path:
        """Copy the run's record files to ``records_dir/<group>/<name>/``; returns that folder."""
        target = Path(records_dir) / self.path.parent.name / self.path.name
        target.mkdir(parents=True, exist_ok=True)
        for name in RECORD_FILES:
            if (self.path / name).is_file() and (self.path / name).resolve() != (target / name).resolve():
                shutil.copyfile(self.path / name, target / name)
        return target


def checkpoint_loads(path: Path) -> bool:
    """Whether ``path`` is a complete checkpoint (a truncated or empty file from a full disk or a kill is not)."""
    import torch

    try:
        torch.load(path, map_location="cpu", weights_only=False, mmap=True)
        return True
    except Exception:  # noqa: BLE001 - any unreadable file is skipped, and said so
        return False


def latest_checkpoint(folder: str | Path, log=print, hpc_only: bool = False) -> Path | None:
    """The newest checkpoint of a run that loads, if any: ``last.ckpt`` and ``interrupted.ckpt`` in its checkpoint
    folder, or the ``hpc_ckpt_<n>.ckpt`` Lightning saves in the run folder when SLURM preempts and requeues a job
    (``hpc_only``: those alone, Lightning's ``--ckpt_path hpc``); the ones skipped are named through ``log``."""
    folder = Path(folder)
    candidates = (
        [] if hpc_only else [p for p in (folder / LAST_CHECKPOINT, folder / INTERRUPT_CHECKPOINT) if p.is_file()]
    )
    candidates += [] if hpc_only else sorted(folder.glob("last-v*.ckpt"))  # older runs' version counter
    candidates += sorted(folder.parent.glob("hpc_ckpt_*.ckpt"))  # Lightning's SLURM requeue (SIGUSR1) saves these
    for path in sorted(candidates, key=lambda p: p.stat().st_mtime, reverse=True):
        if checkpoint_loads(path):
            return path
        log(f"skipping {path}: it does not load (truncated or empty: a full disk or a kill while it was written)")
    return None


class RunLock:
    """An exclusive lock on a run folder for the life of a process (``fcntl.flock`` on ``<run_dir>/.lock``).

    The operating system releases it when the holder dies, so a stale lock never blocks; a second process on
    the same run is refused with one line naming the holder.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / ".lock"
        self.file = None

    def acquire(self) -> RunLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.file = open(self.path, "a+")
        except OSError as err:
            raise RunWriteError(
                f"cannot create the run folder {self.path.parent} ({err.strerror}): choose a writable --runs_dir"
            ) from None
        try:
            _lock_exclusively(self.file)
        except (BlockingIOError, PermissionError):
            self.file.seek(0)
            holder = self.file.read().strip() or "another process"
            self.file.close()
            raise RunBusyError(
                f"{self.path.parent} is in use by {holder}: wait for it to end, or stop it, before "
                "running this command on the same run (or give this one another --run_name)"
            ) from None
        self.file.seek(0)
        self.file.truncate()
        self.file.write(f"pid {os.getpid()} on {socket.gethostname()}")
        self.file.flush()
        return self

    def release(self) -> None:
        if self.file is not None and not self.file.closed:
            self.file.close()  # closing the file drops the flock


def _lock_exclusively(file: IO[str]) -> None:
    """An exclusive, non-blocking lock that the OS drops with its process: ``flock`` (POSIX), ``msvcrt`` (Windows)."""
    if os.name == "nt":
        import msvcrt

        file.seek(0)
        msvcrt.locking(file.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
