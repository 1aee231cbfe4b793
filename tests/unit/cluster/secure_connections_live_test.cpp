// The cluster's connections secured (docs/cluster.md, "Securing the cluster connections"):
// etcd_client and session_etcd_http against a real etcd serving https:// with client
// certificates required, and against one with etcd authentication on; libnats, set up by the
// shared apply_nats_security, against a real nats-server with TLS (client certificates verified)
// and a user. Certificates are made by the test (test_pki.hpp). Skipped where etcd, etcdctl,
// nats-server or openssl is not installed.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <nats/nats.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/connection_security_impl.hpp"
#include "cluster/etcd_client.hpp"
#include "cluster/session_etcd_http.hpp"
#include "single_etcd.hpp"
#include "test_pki.hpp"

namespace edgemq::cluster {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using live::etcd_bin;
using live::free_port;
using live::single_etcd;
using live::test_pki;
using live::wait_up;

connection_security tls_files(std::string ca, std::string cert, std::string key) {
  connection_security sec;
  sec.tls_ca = std::move(ca);
  sec.tls_cert = std::move(cert);
  sec.tls_key = std::move(key);
  return sec;
}

bool installed(const char* path) {
  return ::access(path, X_OK) == 0;
}

json put(const std::string& key, const std::string& value) {
  return {{"key", etcd_client::b64(key)}, {"value", etcd_client::b64(value)}};
}

json range(const std::string& key) {
  return {{"key", etcd_client::b64(key)}};
}

std::string value_of(const json& range_answer) {
  const auto kvs = range_answer.value("kvs", json::array());
  return kvs.empty() ? std::string("<none>") : etcd_client::unb64(kvs[0].value("value", std::string()));
}

// Waits for session_etcd_http to get an answer (etcd has no event to await when it starts).
std::optional<json> post_when_up(session_etcd_http& c, const std::string& path, const json& body, std::string& error) {
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  for (;;) {
    auto a = c.post(path, body, &error);
    if ((a && !a->contains("error")) || std::chrono::steady_clock::now() > deadline) return a;
    std::this_thread::sleep_for(100ms);
  }
}

// ---------------------------------------------------------------------------------------------
// etcd over https:// with client certificates required.

class EtcdTls : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!etcd_bin() || !installed("/usr/bin/openssl")) GTEST_SKIP() << "etcd or openssl not installed";
    ASSERT_TRUE(pki_.ok()) << "openssl could not make the test certificates";
    etcd_ = std::make_unique<single_etcd>(live::etcd_tls_files{pki_.server_cert(), pki_.server_key(), pki_.ca()});
    etcd_->start();
  }
  etcd_options options(connection_security sec) const {
    etcd_options o;
    o.endpoints = {etcd_->url()};
    o.request_timeout = 1500ms;
    o.security = std::move(sec);
    return o;
  }
  connection_security mutual() const { return tls_files(pki_.ca(), pki_.client_cert(), pki_.client_key()); }
  test_pki pki_;
  std::unique_ptr<single_etcd> etcd_;
};

TEST_F(EtcdTls, EtcdClientAndSessionHttpTalkOverMutualTls) {
  ASSERT_EQ(etcd_->url().rfind("https://", 0), 0u);
  etcd_client c(options(mutual()));
  ASSERT_TRUE(wait_up(c, 20s));
  // A watch over TLS sees the write made next.
  std::mutex mu;
  std::condition_variable cv;
  std::string seen;
  const auto w = c.watch(
      "tls/k", "", 0,
      [&](const json& events, std::int64_t) {
        std::lock_guard lock(mu);
        for (const auto& e : events) seen = etcd_client::unb64(e["kv"].value("value", std::string()));
        cv.notify_all();
      },
      [](const etcd_error&) {});
  // The watch is open once a write after it is seen: write until one is (its creation is not
  // reported to the caller).
  for (int i = 0; i < 50; ++i) {
    auto [err, a] = c.call_sync("/v3/kv/put", put("tls/k", "over-tls"));
    ASSERT_FALSE(err) << err.message;
    std::unique_lock lock(mu);
    if (cv.wait_for(lock, 200ms, [&] { return seen == "over-tls"; })) break;
  }
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(seen, "over-tls");
  }
  c.cancel_watch(w);

  session_etcd_http s({etcd_->url()}, 1500ms, mutual());
  std::string error;
  auto a = s.post("/v3/kv/range", range("tls/k"), &error);
  ASSERT_TRUE(a) << error;
  EXPECT_EQ(value_of(*a), "over-tls");
}

TEST_F(EtcdTls, WithoutAClientCertificateTheServerRefuses) {
  {
    etcd_client probe(options(mutual()));
    ASSERT_TRUE(wait_up(probe, 20s));
  }
  etcd_client c(options(tls_files(pki_.ca(), "", "")));
  auto [err, a] = c.call_sync("/v3/kv/range", range("k"));
  EXPECT_EQ(err.code, etcd_error::kind::unavailable) << a.dump();
  session_etcd_http s({etcd_->url()}, 1500ms, tls_files(pki_.ca(), "", ""));
  std::string error;
  EXPECT_FALSE(s.post("/v3/kv/range", range("k"), &error));
}

TEST_F(EtcdTls, AServerCertificateFromAnotherCaIsRefusedClearly) {
  {
    etcd_client probe(options(mutual()));
    ASSERT_TRUE(wait_up(probe, 20s));
  }
  etcd_client c(options(tls_files(pki_.other_ca(), pki_.client_cert(), pki_.client_key())));
  auto [err, a] = c.call_sync("/v3/kv/range", range("k"));
  EXPECT_EQ(err.code, etcd_error::kind::unavailable);
  EXPECT_NE(err.message.find("certificate was refused"), std::string::npos) << err.message;

  session_etcd_http s({etcd_->url()}, 1500ms, tls_files(pki_.other_ca(), pki_.client_cert(), pki_.client_key()));
  std::string error;
  EXPECT_FALSE(s.post("/v3/kv/range", range("k"), &error));
  EXPECT_NE(error.find("certificate was refused"), std::string::npos) << error;
}

TEST(EtcdTlsHostName, ACertificateForAnotherHostIsRefused) {
  if (!etcd_bin() || !installed("/usr/bin/openssl")) GTEST_SKIP() << "etcd or openssl not installed";
  test_pki pki;
  ASSERT_TRUE(pki.ok());
  // Signed by the trusted CA, so only the name check can refuse it.
  single_etcd etcd(live::etcd_tls_files{pki.misnamed_cert(), pki.misnamed_key(), pki.ca()});
  etcd.start();
  etcd_options o;
  o.endpoints = {etcd.url()};
  o.request_timeout = 1500ms;
  o.security = tls_files(pki.ca(), pki.client_cert(), pki.client_key());
  etcd_client c(o);
  // etcd has no event to await when it starts: until it listens, the error is a refused connection.
  etcd_error err;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  do {
    err = c.call_sync("/v3/kv/range", range("k")).first;
  } while (err.message.find("TLS handshake") == std::string::npos && std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(err.code, etcd_error::kind::unavailable);
  EXPECT_NE(err.message.find("certificate was refused"), std::string::npos) << err.message;
  EXPECT_NE(err.message.find("mismatch"), std::string::npos) << err.message;

  session_etcd_http s({etcd.url()}, 1500ms, o.security);
  std::string error;
  EXPECT_FALSE(s.post("/v3/kv/range", range("k"), &error));
  EXPECT_NE(error.find("mismatch"), std::string::npos) << error;
}

TEST_F(EtcdTls, AnUnreadableCaFileIsNamed) {
  try {
    etcd_client c(options(tls_files(pki_.file("missing.pem"), "", "")));
    FAIL() << "a missing CA file was taken";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cluster.tls_ca"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------------------------
// etcd with authentication on (etcdctl user add root:pw, auth enable).

class EtcdAuth : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!etcd_bin() || !installed("/usr/bin/etcdctl")) GTEST_SKIP() << "etcd or etcdctl not installed";
    etcd_.start();
    {
      etcd_options o;
      o.endpoints = {etcd_.url()};
      etcd_client probe(o);
      ASSERT_TRUE(wait_up(probe, 20s));
    }
    const auto ctl = "ETCDCTL_API=3 etcdctl --endpoints=" + etcd_.url() + " ";
    ASSERT_EQ(std::system((ctl + "user add root:pw >/dev/null && " + ctl + "auth enable >/dev/null").c_str()), 0);
  }
  etcd_options options(std::string user, std::string password) const {
    etcd_options o;
    o.endpoints = {etcd_.url()};
    o.request_timeout = 1500ms;
    o.security.etcd_user = std::move(user);
    o.security.etcd_password = std::move(password);
    return o;
  }
  single_etcd etcd_;
};

TEST_F(EtcdAuth, AUserWithItsPasswordIsLetInAndATokenLostWithARestartIsRenewed) {
  etcd_client c(options("root", "pw"));
  // A watch carries the token too; it is reopened after the restart below. From revision 1: every
  // write of the key reaches it, however late it opens.
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> seen;
  const auto w = c.watch(
      "auth/k", "", 1,
      [&](const json& events, std::int64_t) {
        std::lock_guard lock(mu);
        for (const auto& e : events) seen.push_back(etcd_client::unb64(e["kv"].value("value", std::string())));
        cv.notify_all();
      },
      [](const etcd_error&) {});
  const auto wait_seen = [&](const std::string& v) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 10s, [&] { return std::find(seen.begin(), seen.end(), v) != seen.end(); });
  };
  auto [e1, a1] = c.call_sync("/v3/kv/put", put("auth/k", "v1"));
  ASSERT_FALSE(e1) << e1.message;
  auto [e2, a2] = c.call_sync("/v3/kv/range", range("auth/k"));
  ASSERT_FALSE(e2) << e2.message;
  EXPECT_EQ(value_of(a2), "v1");

  session_etcd_http s({etcd_.url()}, 1500ms, options("root", "pw").security);
  std::string error;
  auto a = s.post("/v3/kv/range", range("auth/k"), &error);
  ASSERT_TRUE(a) << error;
  EXPECT_EQ(value_of(*a), "v1");

  // Without credentials etcd refuses: the requests above were let in by the token.
  etcd_options anonymous;
  anonymous.endpoints = {etcd_.url()};
  etcd_client nobody(anonymous);
  auto [e3, a3] = nobody.call_sync("/v3/kv/range", range("auth/k"));
  EXPECT_EQ(e3.code, etcd_error::kind::refused) << a3.dump();

  // etcd's simple tokens live in the member's memory: after a restart both clients' tokens are
  // refused ("invalid auth token"), and each asks for a new one once, unseen by its caller.
  etcd_.kill();
  etcd_.start();
  ASSERT_TRUE(wait_up(c, 20s));
  auto [e4, a4] = c.call_sync("/v3/kv/put", put("auth/k", "v2"));  // a write, sent again after the refusal
  ASSERT_FALSE(e4) << e4.message;
  auto again = post_when_up(s, "/v3/kv/range", range("auth/k"), error);
  ASSERT_TRUE(again) << error;
  EXPECT_EQ(value_of(*again), "v2") << again->dump();
  // The watch reopened from the revision after the last one it saw: both values reach it.
  EXPECT_TRUE(wait_seen("v1"));
  EXPECT_TRUE(wait_seen("v2"));
  c.cancel_watch(w);
}

TEST_F(EtcdAuth, AWrongPasswordIsRefusedAndNotRepeated) {
  etcd_client c(options("root", "not-the-password"));
  auto [err, a] = c.call_sync("/v3/kv/range", range("k"));
  EXPECT_EQ(err.code, etcd_error::kind::refused);
  EXPECT_NE(err.message.find("root"), std::string::npos) << err.message;
  EXPECT_NE(err.message.find("authentication failed"), std::string::npos) << err.message;
  EXPECT_EQ(err.message.find("not-the-password"), std::string::npos) << err.message;

  session_etcd_http s({etcd_.url()}, 1500ms, options("root", "not-the-password").security);
  std::string error;
  EXPECT_FALSE(s.post("/v3/kv/range", range("k"), &error));
  EXPECT_NE(error.find("authentication failed"), std::string::npos) << error;
  EXPECT_EQ(error.find("not-the-password"), std::string::npos) << error;
}

// ---------------------------------------------------------------------------------------------
// NATS with TLS (client certificates verified) and a user, through apply_nats_security.

const char* nats_server_bin() {
  for (const char* p : {"/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"})
    if (installed(p)) return p;
  return nullptr;
}

class NatsSecure : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!nats_server_bin() || !installed("/usr/bin/openssl")) GTEST_SKIP() << "nats-server or openssl not installed";
    ASSERT_TRUE(pki_.ok());
    port_ = free_port();
    const auto conf = pki_.file("nats.conf");
    std::ofstream(conf) << "listen: 127.0.0.1:" << port_ << "\n"
                        << "tls {\n  cert_file: \"" << pki_.server_cert() << "\"\n  key_file: \"" << pki_.server_key()
                        << "\"\n  ca_file: \"" << pki_.ca() << "\"\n  verify: true\n  timeout: 2\n}\n"
                        << "authorization {\n  user: edgemq\n  password: \"s3cret\"\n}\n";
    pid_ = ::fork();
    if (pid_ == 0) {
      const auto log = pki_.file("nats.log");
      std::freopen(log.c_str(), "a", stdout);
      std::freopen(log.c_str(), "a", stderr);
      ::execl(nats_server_bin(), "nats-server", "-c", conf.c_str(), static_cast<char*>(nullptr));
      std::_Exit(127);
    }
    // nats-server has no event to await when it starts: connect until it answers.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    natsStatus s = NATS_ERR;
    while (s != NATS_OK && std::chrono::steady_clock::now() < deadline) {
      natsConnection* nc = nullptr;
      s = connect(good(), &nc);
      if (nc) natsConnection_Destroy(nc);
      if (s != NATS_OK) std::this_thread::sleep_for(100ms);
    }
    ASSERT_EQ(s, NATS_OK) << "nats-server did not come up: " << natsStatus_GetText(s);
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  // By name: libnats checks a host name, never an IP address (docs/cluster.md).
  std::vector<std::string> urls() const { return {"tls://localhost:" + std::to_string(port_)}; }
  connection_security good() const {
    auto sec = tls_files(pki_.ca(), pki_.client_cert(), pki_.client_key());
    sec.nats_user = "edgemq";
    sec.nats_password = "s3cret";
    return sec;
  }
  natsStatus connect(const connection_security& sec, natsConnection** nc, std::string* error = nullptr) const {
    natsOptions* o = nullptr;
    natsOptions_Create(&o);
    const auto u = urls();
    std::vector<const char*> servers;
    for (const auto& x : u) servers.push_back(x.c_str());
    natsOptions_SetServers(o, servers.data(), static_cast<int>(servers.size()));
    natsOptions_SetTimeout(o, 2000);
    std::string why;
    auto s = apply_nats_security(o, sec, u, why);
    if (s == NATS_OK) s = natsConnection_Connect(nc, o);
    natsOptions_Destroy(o);
    if (error) *error = why;
    return s;
  }
  test_pki pki_;
  int port_ = 0;
  pid_t pid_ = -1;
};

TEST_F(NatsSecure, PublishAndSubscribeOverTlsWithAUser) {
  natsConnection* nc = nullptr;
  ASSERT_EQ(connect(good(), &nc), NATS_OK);
  natsSubscription* sub = nullptr;
  ASSERT_EQ(natsConnection_SubscribeSync(&sub, nc, "edgemq.test.secure"), NATS_OK);
  ASSERT_EQ(natsConnection_Flush(nc), NATS_OK);
  ASSERT_EQ(natsConnection_PublishString(nc, "edgemq.test.secure", "hello"), NATS_OK);
  natsMsg* m = nullptr;
  ASSERT_EQ(natsSubscription_NextMsg(&m, sub, 5000), NATS_OK);
  EXPECT_EQ(std::string(natsMsg_GetData(m), natsMsg_GetDataLength(m)), "hello");
  natsMsg_Destroy(m);
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(nc);
}

TEST_F(NatsSecure, AWrongPasswordNoClientCertificateOrAnotherCaAreRefused) {
  auto wrong_password = good();
  wrong_password.nats_password = "nope";
  auto no_cert = good();
  no_cert.tls_cert.clear();
  no_cert.tls_key.clear();
  auto other_ca = good();
  other_ca.tls_ca = pki_.other_ca();
  for (const auto* sec : {&wrong_password, &no_cert, &other_ca}) {
    natsConnection* nc = nullptr;
    const auto s = connect(*sec, &nc);
    EXPECT_NE(s, NATS_OK);
    if (nc) natsConnection_Destroy(nc);
  }
  natsConnection* nc = nullptr;
  EXPECT_EQ(connect(wrong_password, &nc), NATS_CONNECTION_AUTH_FAILED);
  if (nc) natsConnection_Destroy(nc);
}

TEST_F(NatsSecure, AnUnreadableCertificateIsNamed) {
  auto sec = good();
  sec.tls_cert = pki_.file("missing.pem");
  natsConnection* nc = nullptr;
  std::string error;
  EXPECT_NE(connect(sec, &nc, &error), NATS_OK);
  EXPECT_NE(error.find("cluster.tls_cert"), std::string::npos) << error;
  if (nc) natsConnection_Destroy(nc);
}

}  // namespace
}  // namespace edgemq::cluster
