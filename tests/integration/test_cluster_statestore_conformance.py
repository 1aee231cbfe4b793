"""The state store test suites (protocol, fencing, KEYNOTIFY and expiry, leased locks) run
against node 2 of a three-node cluster whose state store is in etcd (docs/cluster.md):
one state store test suite for both backends. The classes are the single-node modules' own,
imported as modules (so they do not run twice here); only where the daemon comes from changes,
and the one test that checks the version's node id expects the cluster node's name.
Left out, with the reason: quotas (not enforced in a cluster: etcd's backend quota is the
limit) and restarts of the single node's RocksDB (test_statestore_persistence)."""

import unittest

import test_statestore_fencing as fencing
import test_statestore_keynotify as keynotify
import test_statestore_lock as lock
import test_statestore_protocol as protocol
from support.cluster_engines import ClusterEngines, EdgemqCluster, missing_engines

_engines = None
_cluster = None


def setUpModule():
    global _engines, _cluster
    why = missing_engines()
    if why:
        raise unittest.SkipTest(why)
    _engines = ClusterEngines().start()
    try:
        _engines.wait_healthy(30)
        _cluster = EdgemqCluster(_engines).start()
    except BaseException:
        _engines.stop()
        raise


def tearDownModule():
    try:
        if _cluster is not None:
            _cluster.stop()
    finally:
        if _engines is not None:
            _engines.stop()


class OnClusterNode:
    """Mixed in before a DaemonTestCase: its daemon is a node of the module's cluster."""

    node = 1

    @classmethod
    def setUpClass(cls):
        unittest.TestCase.setUpClass()
        cls.daemon = _cluster[cls.node]
        cls.host = "127.0.0.1"
        cls.port = cls.daemon.port

    @classmethod
    def tearDownClass(cls):
        unittest.TestCase.tearDownClass()  # the module's cluster outlives the class


class ClusterRepliesTest(OnClusterNode, protocol.StateStoreRepliesTest):
    def test_set_get_exact_bytes_and_versions(self):
        # The same, with the version's node id being the cluster node's name.
        c = self.ss_client()
        k = self.key()
        s = self.assertReply(c.set(k, b"testvalue"), protocol.OK, ts="newer")
        g = self.assertReply(c.get(k), b"$9\r\ntestvalue\r\n", ts=True)
        self.assertEqual(g.ts, s.ts)
        self.assertEqual(protocol.parse_hlc(s.ts)[2], "node2", "versions carry the cluster node's name")


class ClusterRequestValidationTest(OnClusterNode, protocol.StateStoreRequestValidationTest):
    pass


class ClusterFencingTest(OnClusterNode, fencing.StateStoreFencingTest):
    pass


class ClusterKeyNotifyTest(OnClusterNode, keynotify.KeyNotifyTest):
    pass


class ClusterExpiryTest(OnClusterNode, keynotify.ExpiryTest):
    pass


class ClusterLockTest(OnClusterNode, lock.LeasedLockTest):
    pass


if __name__ == "__main__":
    unittest.main()
