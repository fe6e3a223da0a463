"""Children of ``reproduce`` stop with it on every platform: Linux's parent-death signal, elsewhere a watcher."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lightning_resnet import lifeline


def test_linux_uses_the_parent_death_signal_and_other_platforms_the_watcher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    assert set(lifeline.child_options()) == {"preexec_fn"}
    monkeypatch.setattr(sys, "platform", "darwin")
    assert lifeline.child_options() == {"env": {lifeline.PARENT_ENV: str(os.getpid())}}  # no libc.so.6 loaded


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="SIGKILL of the parent is POSIX")
def test_on_darwin_a_child_gets_sigterm_when_its_parent_is_killed(tmp_path: Path) -> None:
    """A parent that believes it runs on macOS starts a child the way ``reproduce`` does; SIGKILL the parent, and
    the child (which ran ``watch_parent`` and handles SIGTERM, as Lightning does) receives SIGTERM within seconds."""
    mark = tmp_path / "sigterm"
    child = textwrap.dedent(
        f"""
        import pathlib, signal, sys, time
        from lightning_resnet.lifeline import watch_parent
        signal.signal(signal.SIGTERM, lambda *_: (pathlib.Path({str(mark)!r}).write_text("SIGTERM"), sys.exit(143)))
        watch_parent()
        time.sleep(60)
        """
    )
    parent = textwrap.dedent(
        f"""
        import os, subprocess, sys, time
        from lightning_resnet.lifeline import child_options
        sys.platform = "darwin"  # after the imports, which read the real platform
        options = child_options()
        assert "preexec_fn" not in options
        child = subprocess.Popen([sys.executable, "-c", {child!r}], env={{**os.environ, **options["env"]}})
        print(child.pid, flush=True)
        time.sleep(60)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True)
    int(process.stdout.readline())  # the child has started
    time.sleep(2)
    assert not mark.exists()  # watching, not stopped, while its parent lives
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while not mark.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert mark.read_text() == "SIGTERM"
