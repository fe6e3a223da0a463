"""Children of ``reproduce`` stop with it, even when it is killed with SIGKILL, on every platform.

Linux: the kernel sends the child SIGTERM when its parent dies (``prctl(PR_SET_PDEATHSIG)``, set between fork and
exec). Elsewhere (macOS, Windows) the child is told its parent's PID in ``$LIGHTNING_RESNET_PARENT_PID`` and a
daemon thread of the CLI watches it, raising SIGTERM in the child once it is gone; either way the fit saves
``interrupted.ckpt`` as on any SIGTERM.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import Any

PARENT_ENV = "LIGHTNING_RESNET_PARENT_PID"
POLL_SECONDS = 1.0


def _pdeathsig() -> None:
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def child_options() -> dict[str, Any]:
    """``subprocess.Popen`` options that tie a child's life to this process: ``preexec_fn`` on Linux, else an
    environment entry the child's :func:`watch_parent` reads."""
    if sys.platform.startswith("linux"):
        return {"preexec_fn": _pdeathsig}
    return {"env": {PARENT_ENV: str(os.getpid())}}


def parent_alive(pid: int) -> bool:
    """Whether process ``pid``, this process's parent at start, still is (a POSIX orphan is re-parented)."""
    if os.name != "nt":
        return os.getppid() == pid
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    code = ctypes.c_ulong()
    kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
    kernel32.CloseHandle(handle)
    return code.value == 259  # STILL_ACTIVE


def watch_parent() -> threading.Thread | None:
    """In a child started with :func:`child_options` off Linux: SIGTERM this process once its parent is gone."""
    pid = os.environ.get(PARENT_ENV)
    if not pid:
        return None

    def watch() -> None:
        while parent_alive(int(pid)):
            time.sleep(POLL_SECONDS)
        if os.name == "nt":
            signal.raise_signal(signal.SIGTERM)
        else:
            os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, name="lifeline", daemon=True)
    thread.start()
    return thread
