"""src/bench/bench-memory.py, the one command for issue 15's memory figures, runs and prints every
row (tiny sizes: a smoke run of the tool, not a benchmark)."""

import os
import subprocess
import sys
import unittest

from support.constants import program_path, require_program

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "src", "bench", "bench-memory.py")


class BenchMemoryTest(unittest.TestCase):
    def test_prints_every_memory_figure(self):
        bench = require_program("EDGEMQ_BENCH")
        fill = os.path.join(os.path.dirname(bench), "edgemq-store-fill")
        if not os.access(fill, os.X_OK):
            self.skipTest("edgemq-store-fill not built next to edgemq-bench")
        env = dict(os.environ, EDGEMQ_BIN=program_path("EDGEMQ_BIN"), EDGEMQ_BENCH=bench, EDGEMQ_STORE_FILL=fill)
        r = subprocess.run([sys.executable, SCRIPT, "--reps", "1", "--conns", "20", "--retained", "2000",
                            "--sessions", "200", "--no-mosquitto"], capture_output=True, text=True, env=env,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for row in ("RSS per idle connection (20 connections)", "2000 retained 64-byte messages",
                    "200 persistent sessions, one subscription each", "1 session with 200 subscriptions",
                    "persistent session beyond its subscription"):
            self.assertIn(row, r.stdout)


if __name__ == "__main__":
    unittest.main()
