"""What ``run.json`` holds, typed: the run's state, progress, time, results and what defines it.

The file stays plain JSON (readable without this package); :class:`Record` is how the suite reads it. Keys it has no
field for (the resolved config, versions, machine, git state) are kept whole in ``extra``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any


class Status(str, Enum):
    """The state ``run.json`` records (a ``str``, so records stay plain JSON and compare with strings)."""

    RUNNING = "running"  # a command is training it now (or was killed without a trace: its lock is free)
    INTERRUPTED = "interrupted"  # stopped by a signal (Ctrl-C, SIGTERM): resumable from interrupted.ckpt
    FAILED = "failed"  # an error stopped it; ``reason`` says which
    STOPPED = "stopped"  # training ended before max_steps without an error (a time limit, an early stop)
    TRAINED = "trained"  # trained to max_steps, not tested yet
    FINISHED = "finished"  # trained and tested

    @property
    def done_training(self) -> bool:
        return self in (Status.TRAINED, Status.FINISHED)


@dataclass(frozen=True)
class Record:
    """A run's ``run.json``. An empty record (``not record``) is a run that has not started."""

    status: Status | None = None
    reason: str | None = None  # why it failed or stopped
    experiment: str | None = None  # the config's experiment (table6, fig1, cifar10, ...)
    run_name: str | None = None
    group: str | None = None  # the tracking keys (runs.address.tracking_keys), also at the top of the W&B config
    network: str | None = None
    shortcut: str | None = None
    preset: str | None = None
    seed: int | None = None
    config: dict[str, Any] = field(default_factory=dict)  # the resolved config (config.yaml)
    precision: str | None = None
    max_steps: int = 0
    global_step: int = 0  # iterations done
    train_seconds: float = 0.0  # training time over all segments
    timed_steps: int | None = None  # the iterations train_seconds covers (None: not recorded, older records)
    final: dict[str, float] = field(default_factory=dict)  # val/* at the end of training, test/* after the test
    dataset: dict[str, Any] | None = None  # the DataModule's fingerprint
    wandb: dict[str, Any] | None = None  # id, segment, project, offline, url
    hardware: str | None = None  # the machine in one line
    segments: list[dict[str, Any]] = field(default_factory=list)  # per resumed segment: from_step, hardware
    changes: list[dict[str, Any]] = field(default_factory=list)  # deliberate changes on resume (LR, precision)
    members: list[str] = field(default_factory=list)  # an ensemble's runs
    extra: dict[str, Any] = field(default_factory=dict)  # every other key, kept as written

    def __bool__(self) -> bool:
        return any(v for v in self.to_json().values())

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        known = {f.name for f in fields(cls)} - {"extra"}
        typed = {k: v for k, v in data.items() if k in known and v is not None}
        if "status" in typed:
            typed["status"] = Status(typed["status"])
        return cls(**typed, extra={k: v for k, v in data.items() if k not in known})

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "extra"}
        data["status"] = self.status.value if self.status else None
        return {**self.extra, **data}

    @property
    def done_training(self) -> bool:
        return bool(self.status and self.status.done_training)

    def done_with(self, metric: str) -> bool:
        """Trained, tested, and holding ``metric`` (the result an id reads)."""
        return self.status == Status.FINISHED and metric in self.final

    @property
    def state(self) -> str:
        """``todo`` for a run not started, else its status, with the reason where there is one."""
        status = self.status.value if self.status else "todo"
        return f"{status} ({self.reason})" if self.reason else status


DEFINITION_KEY = "run_definition"  # the checkpoint entry a resume is compared against

# DataModule settings that do not change what is trained (where the data sit, how fast they load, what
# the final test reports): they may differ between a run and its resumption.
NOT_DEFINING = frozenset(
    {"data_dir", "download", "num_workers", "eval_batch_size", "decode_on_device", "test_protocol", "test_curve"}
)


def definition_differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``key: saved -> current`` for each entry of a run definition that differs.

    Only entries both sides have are compared: a setting added to the suite after a checkpoint was written
    (at its default, which keeps the old behaviour) does not block resuming that checkpoint.
    """
    return [f"{k}: {saved[k]!r} -> {current[k]!r}" for k in sorted(set(saved) & set(current)) if saved[k] != current[k]]
