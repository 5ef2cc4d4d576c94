"""The sub-agent supervisor's housekeeping, without kernels."""

from __future__ import annotations

import os
import subprocess
import tempfile

from aiikernel.subagents.supervisor import Supervisor


def test_socket_directories_of_dead_kernels_are_removed_and_live_ones_kept():
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tempfile.mkdtemp(prefix=f"aiik-agents-{dead.pid}-")
    live = tempfile.mkdtemp(prefix=f"aiik-agents-{os.getppid()}-")
    supervisor = Supervisor()
    try:
        assert not os.path.exists(stale)
        assert os.path.isdir(live)
        assert os.path.basename(supervisor.directory).startswith(f"aiik-agents-{os.getpid()}-")
        assert os.stat(supervisor.directory).st_mode & 0o777 == 0o700
    finally:
        supervisor.shutdown()
        os.rmdir(live)
    assert not os.path.exists(supervisor.directory)
