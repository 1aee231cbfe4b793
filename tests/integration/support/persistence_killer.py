"""Kill a process with SIGKILL after a delay: the crash test's kill point.

    python3 persistence_killer.py PID DELAY_SECONDS

Prints "armed" (flushed) once it is about to start its delay, so the caller can begin the
workload right then; sleeps DELAY_SECONDS (the sleep *chooses* the kill point, it does not
synchronise anything); sends SIGKILL to PID and prints "killed <seconds since armed>", or
"gone" if the process had already exited. Exit code 0 in both cases, 2 on bad arguments.
"""

import os
import signal
import sys
import time


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: persistence_killer.py PID DELAY_SECONDS\n")
        return 2
    try:
        pid = int(argv[0])
        delay = float(argv[1])
    except ValueError:
        sys.stderr.write("persistence_killer: bad PID or delay: %r\n" % (argv,))
        return 2
    if pid <= 1 or delay < 0:
        sys.stderr.write("persistence_killer: refusing pid %d / delay %r\n" % (pid, delay))
        return 2
    t0 = time.monotonic()
    sys.stdout.write("armed\n")
    sys.stdout.flush()
    time.sleep(delay)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        sys.stdout.write("gone\n")
        return 0
    sys.stdout.write("killed %.3f\n" % (time.monotonic() - t0))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
