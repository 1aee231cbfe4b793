"""Kept so that `from support.restartable_daemon import RestartableDaemon` still works: the
class lives in edgemq_harness, beside the EdgemqDaemon whose start logic it reuses."""

from support.edgemq_harness import RESTART_READY_TIMEOUT, RestartableDaemon  # noqa: F401
