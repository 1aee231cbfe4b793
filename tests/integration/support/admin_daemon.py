"""A daemon with the admin server on a free loopback port and a bearer token, for the admin,
REST and dashboard tests: started once per test class, its admin port read from the ready line."""

import os
import re
import shutil
import tempfile

from support.edgemq_harness import EdgemqDaemon

ADMIN_RE = re.compile(r"admin on http://127\.0\.0\.1:(\d+)")


class AdminDaemon:
    """`daemon` (an EdgemqDaemon), `admin_port`, `tmp` (holds the token file)."""

    def __init__(self, token, prefix, config=None):
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        token_file = os.path.join(self.tmp, "token")
        with open(token_file, "w") as f:
            f.write(token + "\n")  # the trailing newline is not part of the token
        self.daemon = EdgemqDaemon(config=config,
                                   extra_args=["--admin", "http://127.0.0.1:0", "--admin-token-file", token_file])
        self.daemon.start()
        m = ADMIN_RE.search(self.daemon.ready_line)
        assert m, "no admin endpoint in the ready line: %s" % self.daemon.ready_line
        self.admin_port = int(m.group(1))

    def stop(self):
        """SIGTERM, asserting a clean exit; the temporary directory goes either way."""
        try:
            self.daemon.stop(expect_rc=0)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
