"""src/bench/statestore_vs_redis.py runs end to end in its --quick mode (Redis, edgemq with
statestore.sync none and sync, both load generators) and prints its table of medians. A smoke test
of the tool only: the figures are never compared with anything (benchmarks are not tests)."""

import os
import re
import subprocess
import unittest

from support.constants import REPO_ROOT, require_program

SCRIPT = os.path.join(REPO_ROOT, "src", "bench", "statestore_vs_redis.py")
NO_REDIS = 3  # the script's exit status when redis-server cannot be installed
NUMBER = r"[0-9]+(?:\.[0-9]+)?"


class StatestoreVsRedisSmokeTest(unittest.TestCase):
    def test_quick_run_prints_a_table_of_numbers(self):
        env = dict(os.environ, EDGEMQ_BIN=require_program("EDGEMQ_BIN"),
                   EDGEMQ_STATESTORE_BENCH=require_program("EDGEMQ_STATESTORE_BENCH"),
                   EDGEMQ_STATESTORE_LOAD=require_program("EDGEMQ_STATESTORE_LOAD"))
        r = subprocess.run(["/usr/bin/python3", SCRIPT, "--quick", "--no-build"], capture_output=True, text=True,
                           env=env, timeout=240)
        if r.returncode == NO_REDIS:
            self.skipTest("redis-server cannot be installed: " + r.stderr.strip())
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # | op | clients | edgemq ops/s | Redis ops/s | ratio | 2 daemon CPUs | 2 p50s | 2 load generator CPUs |
        row = re.compile(r"^\| (GET|SET|SET sync) \| 1 \|" + (r" (%s) \|" % NUMBER) * 9 + "$")
        rows = {}
        for line in r.stdout.splitlines():
            m = row.match(line)
            if m:
                rows[m.group(1)] = [float(x) for x in m.groups()[1:]]
        self.assertEqual(sorted(rows), ["GET", "SET", "SET sync"], r.stdout)
        for op, values in rows.items():
            self.assertGreater(values[0], 0, op)  # edgemq completed requests
            self.assertGreater(values[1], 0, op)  # Redis completed requests


if __name__ == "__main__":
    unittest.main()
