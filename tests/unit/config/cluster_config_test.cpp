// The "cluster" section and its checks (docs/cluster.md): a node needs etcd and NATS URLs of the
// right shapes, every problem named by its JSON pointer.
#include <gtest/gtest.h>

#include "config/config.hpp"

using namespace edgemq::config;

namespace {

std::string paths(const std::vector<config_error>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.path + ";";
  return out;
}

}  // namespace

TEST(ClusterConfig, SingleNodeByDefault) {
  daemon_config cfg;
  EXPECT_FALSE(cfg.cluster.enabled());
  EXPECT_TRUE(apply_json("{}", cfg).empty());
  EXPECT_FALSE(cfg.cluster.enabled());
}

TEST(ClusterConfig, ANodeWithEtcdAndNatsLoads) {
  daemon_config cfg;
  const auto errors = apply_json(R"({"cluster": {"node": "edge-1", "etcd": ["http://10.0.0.1:2379",
      "http://[::1]:2379"], "nats": ["nats://10.0.0.1:4222"]}})",
                                 cfg);
  ASSERT_TRUE(errors.empty()) << paths(errors);
  EXPECT_TRUE(cfg.cluster.enabled());
  EXPECT_EQ(cfg.cluster.node, "edge-1");
  EXPECT_EQ(cfg.cluster.etcd.size(), 2u);
  EXPECT_EQ(cfg.cluster.nats, std::vector<std::string>{"nats://10.0.0.1:4222"});
}

TEST(ClusterConfig, EachProblemIsNamedByItsPath) {
  daemon_config cfg;
  auto errors = apply_json(R"({"cluster": {"node": "no spaces", "etcd": ["https://a:1", "http://a:0"],
      "nats": ["tcp://b:4222"]}})",
                           cfg);
  EXPECT_EQ(paths(errors), "/cluster/node;/cluster/etcd/0;/cluster/etcd/1;/cluster/nats/0;");

  daemon_config lone;
  errors = apply_json(R"({"cluster": {"node": "n1"}})", lone);
  EXPECT_EQ(paths(errors), "/cluster/etcd;/cluster/nats;");

  daemon_config nameless;
  errors = apply_json(R"({"cluster": {"etcd": ["http://a:1"], "nats": ["nats://b:2"]}})", nameless);
  EXPECT_EQ(paths(errors), "/cluster/node;");

  daemon_config unknown;
  errors =
      apply_json(R"({"cluster": {"node": "n1", "etcd": ["http://a:1"], "nats": ["nats://b:2"], "raft": 1}})", unknown);
  EXPECT_EQ(paths(errors), "/cluster/raft;");
}

TEST(ClusterConfig, CommandLineNamesAreUsedWithoutAPath) {
  cluster_options c{"n1", {"127.0.0.1:2379"}, {"nats://127.0.0.1:4222"}};
  std::vector<config_error> errors;
  check_cluster(c, "", errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "--etcd");
  EXPECT_NE(errors[0].message.find("127.0.0.1:2379"), std::string::npos);
}
