"""Values every test helper shares, defined once: where the built programs are, the host the
daemon listens on, how long to wait for it, and how to read its ready line.

Programs: the environment variable CTest sets (EDGEMQ_BIN, EDGEMQ_CLI, EDGEMQ_BENCH, EDGEMQ_LIMIT,
EDGEMQ_STATESTORE_BENCH) wins; without it the program is looked up in the build directory of the
repository this file is in (<repo>/build/src/app/edgemq ...), so a checkout anywhere runs its own
build. A program that is in neither place is a setup error, reported by require_program() with both
places named.
"""

import os
import re

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD_DIR = os.path.join(REPO_ROOT, "build")

# Environment variable -> (program name, path inside the build directory, CMake target).
PROGRAMS = {
    "EDGEMQ_BIN": ("edgemq", "src/app/edgemq", "edgemq"),
    "EDGEMQ_CLI": ("edgemq-cli", "src/cli/edgemq-cli", "edgemq-cli"),
    "EDGEMQ_BENCH": ("edgemq-bench", "src/bench/edgemq-bench", "edgemq-bench"),
    "EDGEMQ_LIMIT": ("edgemq-limit", "src/bench/edgemq-limit", "edgemq-limit"),
    "EDGEMQ_STATESTORE_BENCH": ("edgemq-statestore-bench", "src/bench/edgemq-statestore-bench",
                                "edgemq-statestore-bench"),
    "EDGEMQ_STATESTORE_LOAD": ("edgemq-statestore-load", "src/bench/edgemq-statestore-load",
                               "edgemq-statestore-load"),
}

# Tests talk to the daemon over loopback only; port 0 lets the kernel pick a free port, which the
# daemon reports in its ready line.
HOST = "127.0.0.1"
LISTEN_ANY_PORT = HOST + ":0"

# Seconds. Deadlines, not sleeps: they are only reached when something is wrong.
READY_TIMEOUT = 10.0  # a fresh daemon prints its ready line well within this
# A restart may have to read back a big store before it listens.
RESTART_READY_TIMEOUT = float(os.environ.get("EDGEMQ_RESTART_READY_TIMEOUT", "60"))
STOP_TIMEOUT = 15.0  # graceful shutdown, bounded by the daemon's own shutdown deadline
CLIENT_TIMEOUT = 5.0  # a test client waiting for one packet, ack or reply

# "edgemq 0.x ready: MQTT on 127.0.0.1:1883, [::1]:1884 (data dir ...)": the first endpoint.
# IPv6 hosts are bracketed; the brackets are not part of the host.
READY_RE = re.compile(r"ready: MQTT on (?:\[([^\]\s]+)\]|([^\s:,\[]+)):(\d+)")


def ready_endpoint(line):
    """(host, port) of the first endpoint in a ready line, or None if `line` is not one."""
    m = READY_RE.search(line)
    if m is None:
        return None
    return m.group(1) or m.group(2), int(m.group(3))


class ProgramNotFound(AssertionError):
    pass


def program_path(env_var):
    """Where the program is expected: $env_var if set, else its place in <repo>/build."""
    _, relative, _ = PROGRAMS[env_var]
    return os.environ.get(env_var) or os.path.join(BUILD_DIR, relative)


def require_program(env_var):
    """program_path(env_var), after checking that it is an executable file."""
    name, _, target = PROGRAMS[env_var]
    path = program_path(env_var)
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    if os.environ.get(env_var):
        raise ProgramNotFound("%s=%s is not an executable file" % (env_var, path))
    raise ProgramNotFound("%s not found: %s is not set and %s does not exist (build it with "
                          "`cmake --build %s --target %s`, or set %s)" % (name, env_var, path, BUILD_DIR, target,
                                                                          env_var))


# scripts/sanitize.sh sets EDGEMQ_SANITIZER for its runs ("address", "thread"). Under ThreadSanitizer a
# daemon cannot run a Kafka endpoint: librdkafka starts its threads with C11 thrd_create, which glibc
# implements without going through pthread_create, so TSan's interceptor never sets those threads up
# and TSan's allocator crashes on their first malloc (seen: SIGSEGV in getaddrinfo on a rdk:broker
# thread; docs/adr/0022). Tests that start a Kafka endpoint skip under TSan with this reason; the
# ASan+UBSan run and the plain run cover them.
UNDER_TSAN = os.environ.get("EDGEMQ_SANITIZER") == "thread"
KAFKA_UNDER_TSAN = ("librdkafka's C11 threads are invisible to ThreadSanitizer (it crashes in them); "
                    "the Kafka endpoint runs in the plain and ASan runs")

