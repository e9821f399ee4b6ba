"""This machine and its processes, as the outbox's claims name them (host name, process id).

A claim names the process that holds it, so a service that starts again can tell its own dead
run's claims (this host, a process that no longer exists) from a living service's, and release
them at once instead of waiting out their lease. Only processes of this host can be judged:
claims of other hosts wait for their lease as before.
"""

from __future__ import annotations

import os
import socket


def this_host() -> str:
    return socket.gethostname()[:255]


def process_gone(pid: int) -> bool:
    """Whether no process `pid` runs here. Our own pid counts as gone: at start-up this process
    holds no claim yet, so a claim naming its pid is an earlier run's (a container restarts its
    service with the same pid)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, as another user's process
        return False
    return False
