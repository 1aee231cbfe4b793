// Must not compile: the broker core owns the cluster_link and session_directory interfaces and
// never knows NATS or etcd (src/cluster implements them; docs/cluster.md).
#include "cluster/nats_bus.hpp"
