"""`python die_with_parent.py PARENT_PID COMMAND...`: ask for SIGTERM when the parent dies, then exec COMMAND.

PARENT_PID is the starter's pid as the starter saw it: if the starter died before the request took effect
(this process was already handed to init), the command is not started at all.
"""
import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1

if __name__ == "__main__":
    expected_parent, command = int(sys.argv[1]), sys.argv[2:]
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))
    except (OSError, AttributeError):
        pass  # not Linux: the fixtures' own teardown still stops the server
    if os.getppid() != expected_parent:
        sys.exit(1)
    os.execv(command[0], command)
