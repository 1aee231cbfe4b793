// The "cluster" section and its checks (docs/cluster.md): a node needs etcd and NATS URLs of the
// right shapes, every problem named by its JSON pointer.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <unistd.h>

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
  auto errors = apply_json(R"({"cluster": {"node": "no spaces", "etcd": ["ftp://a:1", "http://a:0"],
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
  cluster_options c;
  c.node = "n1";
  c.etcd = {"127.0.0.1:2379"};
  c.nats = {"nats://127.0.0.1:4222"};
  std::vector<config_error> errors;
  check_cluster(c, "", errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "--etcd");
  EXPECT_NE(errors[0].message.find("127.0.0.1:2379"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Securing the connections: TLS files and credentials (docs/cluster.md).

namespace {

class TempFiles {
 public:
  TempFiles() {
    dir_ = std::filesystem::temp_directory_path() / ("edgemq-cluster-cfg-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  ~TempFiles() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string make(const std::string& name, const std::string& content) const {
    std::ofstream(dir_ / name) << content;
    return (dir_ / name).string();
  }
  std::string missing() const { return (dir_ / "missing.pem").string(); }

 private:
  std::filesystem::path dir_;
};

std::string cluster_json(const std::string& extra, const std::string& etcd = "https://a:2379",
                         const std::string& nats = "tls://b:4222") {
  return R"({"cluster": {"node": "n1", "etcd": [")" + etcd + R"("], "nats": [")" + nats + R"("])" +
         (extra.empty() ? "" : ", " + extra) + "}}";
}

}  // namespace

TEST(ClusterConfig, TlsFilesAndCredentialsLoad) {
  TempFiles f;
  const auto ca = f.make("ca.pem", "ca"), cert = f.make("c.pem", "c"), key = f.make("c.key", "k");
  const auto pw = f.make("etcd.pw", "from-a-file\n");
  daemon_config cfg;
  const auto errors = apply_json(cluster_json(R"("tls_ca": ")" + ca + R"(", "tls_cert": ")" + cert +
                                              R"(", "tls_key": ")" + key + R"(", "etcd_user": "root",
      "etcd_password_file": ")" + pw + R"(", "nats_user": "edgemq", "nats_password": "s3cret")"),
                                 cfg);
  ASSERT_TRUE(errors.empty()) << paths(errors) << errors.front().message;
  EXPECT_EQ(cfg.cluster.tls_ca, ca);
  EXPECT_EQ(cfg.cluster.tls_cert, cert);
  EXPECT_EQ(cfg.cluster.tls_key, key);
  EXPECT_EQ(cfg.cluster.etcd_user, "root");
  EXPECT_EQ(cfg.cluster.etcd_password, "from-a-file");  // the line end dropped
  EXPECT_EQ(cfg.cluster.nats_user, "edgemq");
  EXPECT_EQ(cfg.cluster.nats_password, "s3cret");

  daemon_config token;
  EXPECT_TRUE(apply_json(cluster_json(R"("nats_token": "t0k")", "http://a:1", "nats://b:2"), token).empty());
  EXPECT_EQ(token.cluster.nats_token, "t0k");
}

TEST(ClusterConfig, EachTlsOrCredentialProblemIsNamedByItsKey) {
  TempFiles f;
  const auto ca = f.make("ca.pem", "ca"), cert = f.make("c.pem", "c");
  const auto check = [](const std::string& doc) {
    daemon_config cfg;
    return paths(apply_json(doc, cfg));
  };
  // Unreadable files, each by its key.
  EXPECT_EQ(check(cluster_json(R"("tls_ca": ")" + f.missing() + R"(")")), "/cluster/tls_ca;");
  EXPECT_EQ(check(cluster_json(R"("tls_cert": ")" + f.missing() + R"(", "tls_key": ")" + ca + R"(")")),
            "/cluster/tls_cert;");
  // A certificate without its key, and a key without its certificate.
  EXPECT_EQ(check(cluster_json(R"("tls_cert": ")" + cert + R"(")")), "/cluster/tls_key;");
  EXPECT_EQ(check(cluster_json(R"("tls_key": ")" + cert + R"(")")), "/cluster/tls_cert;");
  // TLS files with no URL that would use them.
  EXPECT_EQ(check(cluster_json(R"("tls_ca": ")" + ca + R"(")", "http://a:1", "nats://b:2")), "/cluster/tls_ca;");
  // https:// and http:// members mixed; tls:// and nats:// servers mixed.
  daemon_config mixed;
  EXPECT_EQ(paths(apply_json(R"({"cluster": {"node": "n1", "etcd": ["https://a:1", "http://b:1"],
      "nats": ["nats://a:2", "tls://b:2"]}})",
                             mixed)),
            "/cluster/etcd/1;/cluster/nats/1;");
  // Credentials: a user needs its password and the reverse; a NATS token or a user, not both.
  EXPECT_EQ(check(cluster_json(R"("etcd_user": "root")")), "/cluster/etcd_password;");
  EXPECT_EQ(check(cluster_json(R"("etcd_password": "pw")")), "/cluster/etcd_user;");
  EXPECT_EQ(check(cluster_json(R"("nats_user": "u")")), "/cluster/nats_password;");
  EXPECT_EQ(check(cluster_json(R"("nats_password": "p")")), "/cluster/nats_user;");
  EXPECT_EQ(check(cluster_json(R"("nats_token": "t", "nats_user": "u", "nats_password": "p")")),
            "/cluster/nats_token;");
  EXPECT_EQ(check(cluster_json(R"("nats_password_file": ")" + f.missing() + R"(")")), "/cluster/nats_password_file;");
  EXPECT_EQ(check(cluster_json(R"("etcd_user": "")")), "/cluster/etcd_user;");
}

TEST(ClusterConfig, CommandLineTlsFlagsAreNamedByTheirFlag) {
  cluster_options c;
  c.node = "n1";
  c.etcd = {"https://127.0.0.1:2379"};
  c.nats = {"nats://127.0.0.1:4222"};
  c.tls_cert = "/nonexistent/edgemq/client.pem";
  std::vector<config_error> errors;
  check_cluster(c, "", errors);
  EXPECT_EQ(paths(errors), "--cluster-tls-cert;--cluster-tls-key;");
  EXPECT_NE(errors[0].message.find("/nonexistent/edgemq/client.pem"), std::string::npos);
}
