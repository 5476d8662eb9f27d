"""Render workers end with the main process, however it ends (kill -9 included).

The pool's workers are children of multiprocessing's forkserver, not of the main process, and wait
on a call queue whose write end they hold themselves: when the main process is killed nothing
wakes them, and each (≈300 MB with WeasyPrint loaded) lives on for good. The forkserver and the
resource tracker follow: every worker holds the forkserver's "alive" pipe open, and the tracker
lives while anyone holds its pipe. So each worker watches the main process itself, and when its
workers go the forkserver and the tracker see their pipes close and exit as well.
"""

from __future__ import annotations

import os
import select
import threading
import time

MAIN_GONE_EXIT = 1          # nobody reads it: the process that would is gone
POLL_SECONDS = 1.0          # only where pidfd_open is missing (not Linux ≥ 5.3)


def watch_main(main_pid: int) -> None:
    """Pool initializer: end this worker as soon as process `main_pid` has ended.

    A pidfd names one process, not a reusable number: it becomes readable when that process exits.
    """
    try:
        pidfd = os.pidfd_open(main_pid)
    except ProcessLookupError:
        os._exit(MAIN_GONE_EXIT)            # gone before the watch began
    except (AttributeError, OSError):       # no pidfd here: fall back to asking by pid
        threading.Thread(target=_poll, args=(main_pid,), name="main-watch", daemon=True).start()
        return
    threading.Thread(target=_wait, args=(pidfd,), name="main-watch", daemon=True).start()


def _wait(pidfd: int) -> None:
    select.select([pidfd], [], [])
    # os._exit, not sys.exit: no clean-up in a worker whose results nobody will ever collect.
    os._exit(MAIN_GONE_EXIT)


def _poll(main_pid: int) -> None:
    while True:
        try:
            os.kill(main_pid, 0)
        except (ProcessLookupError, PermissionError):   # gone, or the pid now holds another user's process
            os._exit(MAIN_GONE_EXIT)
        time.sleep(POLL_SECONDS)
