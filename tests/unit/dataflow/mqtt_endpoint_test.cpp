// The Mqtt endpoint against a REAL Debian mosquitto started by the test (plain, TLS with a CA file
// and client certificates, username/password), driven through an io_context: the sink publishes
// with the topic template and properties, acknowledges batches only after PUBACK, fails while
// the broker is down and leaves unacknowledged records unaccepted when the connection drops; the
// source hands messages over and PUBACKs only when the runtime acks.
#include <optional>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "broker/broker.hpp"
#include "dataflow/endpoint_kind.hpp"
#include "dataflow/endpoints/mqtt_settings.hpp"
#include "edgemq/mqtt/codec.hpp"
#include "mosquitto_process.hpp"

namespace edgemq::dataflow {
namespace {

using json = nlohmann::json;
using namespace testing;

class MqttEndpointTest : public ::testing::Test {
 protected:
  temp_dir tmp_;
  boost::asio::io_context io_;
  broker::broker core_{broker::limits{}};
  std::shared_ptr<spdlog::logger> log_ =
      std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());

  static json plain(std::uint16_t port, json extra = json::object()) {
    json s = {{"host", "127.0.0.1:" + std::to_string(port)}, {"tls", {{"mode", "Disabled"}}}};
    s.update(extra);
    return json{{"endpointType", "Mqtt"}, {"mqttSettings", s}};
  }

  std::unique_ptr<sink> make_sink(const json& spec, const std::string& dest, const std::string& df = "df") {
    problems ps;
    find_endpoint_kind("Mqtt")->validate(spec, "/spec", ps);
    EXPECT_TRUE(ps.empty()) << (ps.empty() ? "" : ps[0].path + ": " + ps[0].message);
    endpoint_args a{df, "remote", spec, dest, {}, io_, log_, core_, tmp_.path.string()};
    return find_endpoint_kind("Mqtt")->make_sink(a);
  }
  std::unique_ptr<source> make_source(const json& spec, std::vector<std::string> topics, const std::string& df = "in") {
    endpoint_args a{df, "remote", spec, "", std::move(topics), io_, log_, core_, tmp_.path.string()};
    return find_endpoint_kind("Mqtt")->make_source(a);
  }

  send_result send(sink& s, const std::vector<record>& batch, std::chrono::milliseconds limit = 15s) {
    std::optional<send_result> r;
    bool inside = true;
    s.send(batch, [&](send_result x) {
      EXPECT_FALSE(inside) << "done called from inside send()";
      r = std::move(x);
    });
    inside = false;
    run_until(
        io_, [&] { return r.has_value(); }, limit);
    return r.value_or(send_result{false, "no result in time", 0});
  }
  // Sends until the sink is connected and takes the batch.
  send_result send_when_up(sink& s, const std::vector<record>& batch) {
    send_result r{false, "never tried", 0};
    run_until(
        io_,
        [&] {
          r = send(s, batch);
          return r.ok;
        },
        15s);
    return r;
  }

  // mosquitto_sub on `filter`, ready once it has seen a marker published on `ready_topic`.
  std::unique_ptr<background> observer(std::uint16_t port, const std::string& filter, const std::string& ready_topic,
                                       const std::string& tls = "") {
    auto out = tmp_.path / ("sub-" + std::to_string(port) + "-" + std::to_string(++subs_) + ".txt");
    auto b =
        std::make_unique<background>("exec mosquitto_sub -h 127.0.0.1 -p " + std::to_string(port) + tls +
                                         " -V 5 -q 1 --retain-as-published -F '%t|%p|%r|%C|%P' -t '" + filter + "'",
                                     out);
    int tick = 0;
    const bool ready = wait_for([&] {
      if (tick++ % 20 == 0)
        std::system(("mosquitto_pub -h 127.0.0.1 -p " + std::to_string(port) + tls + " -t '" + ready_topic +
                     "' -m ready >/dev/null 2>&1")
                        .c_str());
      return b->output().find("ready") != std::string::npos;
    });
    EXPECT_TRUE(ready) << "mosquitto_sub never saw its marker";
    return b;
  }
  static std::vector<std::string> data_lines(const background& b, const std::string& prefix) {
    std::vector<std::string> out;
    for (auto& l : b.lines())
      if (l.rfind(prefix, 0) == 0 && l.find("|ready|") == std::string::npos) out.push_back(l);
    return out;
  }
  int subs_ = 0;
};

record rec(std::string topic, std::string payload) {
  record r;
  r.topic = std::move(topic);
  r.payload = std::move(payload);
  return r;
}

TEST_F(MqttEndpointTest, SinkPublishesWithTheTemplateAndPropertiesAndIsAckedAfterPuback) {
  mosquitto_process m(tmp_.path);
  m.start();
  auto obs = observer(m.port(), "factory/#", "factory/ready");
  auto s = make_sink(plain(m.port()), "factory/${inputTopic.2}");
  EXPECT_EQ(s->max_batch(), 100u);  // maxInflightMessages' default
  s->start();
  auto a = rec("plant/line1/temp", "21.5");
  a.properties = {{"unit", "C"}, {"site", "north"}};
  a.content_type = "text/plain";
  a.retain = true;  // retain Keep (the default) keeps the flag
  auto b = rec("plant/line2/temp", "22");
  const auto r = send_when_up(*s, {a, b});
  ASSERT_TRUE(r.ok) << r.error;
  // Connected: capped by mosquitto's Receive Maximum (max_inflight_messages, 20 by default).
  EXPECT_EQ(s->max_batch(), 20u);
  ASSERT_TRUE(wait_for([&] { return data_lines(*obs, "factory/line").size() == 2; }));
  const auto got = data_lines(*obs, "factory/line");
  EXPECT_EQ(got[0], "factory/line1|21.5|1|text/plain|unit:C site:north");
  EXPECT_EQ(got[1], "factory/line2|22|0||");
  s->stop();
}

// The first batch after start() waits for the connection attempt instead of failing at once.
TEST_F(MqttEndpointTest, SinkSendRightAfterStartWaitsForTheConnection) {
  mosquitto_process m(tmp_.path);
  m.start();
  auto s = make_sink(plain(m.port()), "first/x");
  s->start();
  const auto r = send(*s, {rec("a", "1")});
  EXPECT_TRUE(r.ok) << r.error;
}

TEST_F(MqttEndpointTest, SinkFailsWhileTheBrokerIsDownAndDeliversOnceItIsUp) {
  mosquitto_process m(tmp_.path);  // not started: its port refuses connections
  auto s = make_sink(plain(m.port()), "out/${inputTopic}");
  s->start();
  auto r = send(*s, {rec("a", "1")});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.accepted, 0u);
  EXPECT_NE(r.error.find("not connected"), std::string::npos) << r.error;
  m.start();
  auto obs = observer(m.port(), "out/#", "out/ready");
  r = send_when_up(*s, {rec("a", "1")});  // the client reconnected by itself (backoff)
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(wait_for([&] { return data_lines(*obs, "out/a").size() == 1; }));
}

TEST_F(MqttEndpointTest, SinkConnectionLostBeforePubacksLeavesThoseRecordsUnaccepted) {
  mosquitto_process m(tmp_.path);
  m.start();
  auto s = make_sink(plain(m.port()), "lost/${inputTopic}");
  s->start();
  ASSERT_TRUE(send_when_up(*s, {rec("warmup", "0")}).ok);
  std::vector<record> batch;
  for (int i = 0; i < 100; ++i) batch.push_back(rec("n" + std::to_string(i), std::string(1000, 'x')));
  std::optional<send_result> r;
  s->send(batch, [&](send_result x) { r = std::move(x); });
  m.kill(SIGKILL);  // before the loop ran: no PUBACK can have come back
  run_until(io_, [&] { return r.has_value(); });
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->ok);
  EXPECT_LT(r->accepted, batch.size());
  EXPECT_NE(r->error.find("connection"), std::string::npos) << r->error;

  // The broker comes back on the same port: what was not accepted is sent again and arrives.
  mosquitto_process again(tmp_.path, m.port());
  again.start();
  auto obs = observer(again.port(), "lost/#", "lost/ready");
  std::vector<record> rest(batch.begin() + static_cast<std::ptrdiff_t>(r->accepted), batch.end());
  const auto r2 = send_when_up(*s, rest);
  ASSERT_TRUE(r2.ok) << r2.error;
  EXPECT_EQ(r2.accepted, rest.size());
  EXPECT_TRUE(wait_for([&] { return data_lines(*obs, "lost/n").size() == rest.size(); }));
}

TEST_F(MqttEndpointTest, SinkQos0RetainNeverAndMaxInflight) {
  mosquitto_process m(tmp_.path);
  m.start();
  auto obs = observer(m.port(), "q0/#", "q0/ready");
  auto s = make_sink(plain(m.port(), {{"qos", 0}, {"retain", "Never"}, {"maxInflightMessages", 5}}), "q0/x");
  EXPECT_EQ(s->max_batch(), 5u);
  s->start();
  auto a = rec("t", "zero");
  a.retain = true;
  const auto r = send_when_up(*s, {a});
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_TRUE(wait_for([&] { return data_lines(*obs, "q0/x").size() >= 1; }));
  EXPECT_EQ(data_lines(*obs, "q0/x")[0], "q0/x|zero|0||");  // retain Never dropped the flag
}

TEST_F(MqttEndpointTest, SinkOverTlsWithTheCaFileAndAClientCertificate) {
  make_pki(tmp_.path);
  const auto p = tmp_.path.string();
  mosquitto_process m(tmp_.path, 0,
                      "allow_anonymous true\ncafile " + p + "/ca.crt\ncertfile " + p + "/server.crt\nkeyfile " + p +
                          "/server.key\nrequire_certificate true\nuse_identity_as_username true\n");
  m.start();
  // The Secret's files as Kubernetes mounts a kubernetes.io/tls Secret.
  fs::create_directories(tmp_.path / "client-secret");
  fs::copy_file(tmp_.path / "client.crt", tmp_.path / "client-secret/tls.crt");
  fs::copy_file(tmp_.path / "client.key", tmp_.path / "client-secret/tls.key");
  const std::string tls_cli = " --cafile " + p + "/ca.crt --cert " + p + "/client.crt --key " + p + "/client.key";
  auto obs = observer(m.port(), "secure/#", "secure/ready", tls_cli);

  const json auth = {{"method", "X509Certificate"}, {"x509CertificateSettings", {{"secretRef", p + "/client-secret"}}}};
  const json good = {{"endpointType", "Mqtt"},
                     {"mqttSettings",
                      {{"host", "localhost:" + std::to_string(m.port())},
                       {"tls", {{"mode", "Enabled"}, {"trustedCaCertificateConfigMapRef", p + "/ca.crt"}}},
                       {"authentication", auth}}}};
  auto s = make_sink(good, "secure/${inputTopic.1}");
  s->start();
  const auto r = send_when_up(*s, {rec("hello/world", "over tls")});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(wait_for([&] { return data_lines(*obs, "secure/hello").size() == 1; }));

  // A server certificate from another CA is refused; so is a client without certificate.
  json wrong_ca = good;
  wrong_ca["mqttSettings"]["tls"]["trustedCaCertificateConfigMapRef"] = p + "/other.crt";
  auto bad = make_sink(wrong_ca, "secure/x", "df-bad-ca");
  bad->start();
  run_until(
      io_, [] { return false; }, 1s);  // its first attempt has failed by now
  auto rb = send(*bad, {rec("a", "1")});
  EXPECT_FALSE(rb.ok);
  EXPECT_NE(rb.error.find("certificate verify failed"), std::string::npos) << rb.error;
  json no_cert = good;
  no_cert["mqttSettings"].erase("authentication");
  auto anon = make_sink(no_cert, "secure/x", "df-no-cert");
  anon->start();
  run_until(
      io_, [] { return false; }, 1s);
  EXPECT_FALSE(send(*anon, {rec("a", "1")}).ok);
}

TEST_F(MqttEndpointTest, SinkWithUsernameAndPasswordFiles) {
  const auto p = tmp_.path.string();
  run("mosquitto_passwd -b -c " + p + "/passwd alice s3cret >/dev/null 2>&1");
  mosquitto_process m(tmp_.path, 0, "allow_anonymous false\npassword_file " + p + "/passwd\n");
  m.start();
  fs::create_directories(tmp_.path / "good");
  std::ofstream(tmp_.path / "good/username") << "alice\n";
  std::ofstream(tmp_.path / "good/password") << "s3cret\n";
  fs::create_directories(tmp_.path / "bad");
  std::ofstream(tmp_.path / "bad/username") << "alice";
  std::ofstream(tmp_.path / "bad/password") << "wrong";
  const auto spec = [&](const std::string& dir) {
    return plain(
        m.port(),
        {{"authentication", {{"method", "UsernamePassword"}, {"usernamePasswordSettings", {{"secretRef", p + dir}}}}}});
  };
  auto bad = make_sink(spec("/bad"), "x", "df-bad");
  bad->start();
  run_until(
      io_, [] { return false; }, 1s);
  const auto rb = send(*bad, {rec("a", "1")});
  EXPECT_FALSE(rb.ok);
  EXPECT_NE(rb.error.find("CONNACK"), std::string::npos) << rb.error;
  auto good = make_sink(spec("/good"), "x", "df-good");
  good->start();
  const auto r = send_when_up(*good, {rec("a", "1")});
  EXPECT_TRUE(r.ok) << r.error;
}

TEST_F(MqttEndpointTest, SourceHandsMessagesOverAndPubacksOnlyWhenTheRuntimeAcks) {
  mosquitto_process m(tmp_.path);
  m.start();
  const auto spec = plain(m.port(), {{"sessionExpirySeconds", 600}});
  struct got_t {
    record r;
    std::function<void()> ack;
  };
  std::vector<got_t> got;
  auto src = make_source(spec, {"plant/#"});
  src->start([&](record r, std::function<void()> ack) { got.push_back({std::move(r), std::move(ack)}); });
  const auto pub = [&](const std::string& topic, const std::string& payload) {
    run("mosquitto_pub -h 127.0.0.1 -p " + std::to_string(m.port()) + " -V 5 -q 1 -t '" + topic + "' -m '" + payload +
        "' -D publish user-property k v -D publish content-type text/plain");
  };
  // Subscribed once a marker comes through (the session is persistent from then on).
  int tick = 0;
  ASSERT_TRUE(run_until(io_, [&] {
    if (tick++ % 10 == 0) pub("plant/ready", "r");
    return !got.empty();
  }));
  for (auto& g : got) g.ack();
  got.clear();
  pub("plant/a/t", "first");
  ASSERT_TRUE(run_until(io_, [&] { return got.size() == 1; }));
  EXPECT_EQ(got[0].r.topic, "plant/a/t");
  EXPECT_EQ(got[0].r.payload, "first");
  EXPECT_EQ(got[0].r.qos, 1);
  EXPECT_EQ(got[0].r.properties, (user_properties{{"k", "v"}}));
  EXPECT_EQ(got[0].r.content_type, "text/plain");
  EXPECT_GT(got[0].r.timestamp_ms, 0u);

  // Not acknowledged: after a reconnect (same client id, session resumed) the broker sends it again.
  src->stop();
  got.clear();
  auto again = make_source(spec, {"plant/#"});
  again->start([&](record r, std::function<void()> ack) { got.push_back({std::move(r), std::move(ack)}); });
  ASSERT_TRUE(run_until(io_, [&] { return !got.empty(); }));
  EXPECT_EQ(got[0].r.payload, "first");
  got[0].ack();
  run_until(
      io_, [] { return false; }, 300ms);  // let the PUBACK go out
  again->stop();

  // Acknowledged: not sent again; what comes next is new.
  got.clear();
  auto third = make_source(spec, {"plant/#"});
  third->start([&](record r, std::function<void()> ack) { got.push_back({std::move(r), std::move(ack)}); });
  pub("plant/b/t", "second");
  ASSERT_TRUE(run_until(io_, [&] { return !got.empty(); }));
  EXPECT_EQ(got[0].r.payload, "second");
  third->stop();
}

TEST_F(MqttEndpointTest, SourcePausedHoldsMessagesUntilResumed) {
  mosquitto_process m(tmp_.path);
  m.start();
  std::vector<std::string> got;
  auto src = make_source(plain(m.port()), {"p/#"}, "paused");
  src->start([&](record r, std::function<void()> ack) {
    got.push_back(r.payload);
    ack();
  });
  int tick = 0;
  ASSERT_TRUE(run_until(io_, [&] {
    if (tick++ % 10 == 0) run("mosquitto_pub -h 127.0.0.1 -p " + std::to_string(m.port()) + " -q 1 -t p/r -m r");
    return !got.empty();
  }));
  src->pause();
  got.clear();
  run("mosquitto_pub -h 127.0.0.1 -p " + std::to_string(m.port()) + " -q 1 -t p/x -m held");
  run_until(
      io_, [] { return false; }, 300ms);
  EXPECT_TRUE(got.empty());  // held while paused
  got.clear();
  src->resume();
  EXPECT_TRUE(run_until(io_, [&] { return std::find(got.begin(), got.end(), "held") != got.end(); }));
  src->stop();
}

// MQTT 3.1.1 (edgemq's protocolVersion "3.1.1"): both ends work; properties cannot travel.
TEST_F(MqttEndpointTest, Mqtt311SinkAndSource) {
  mosquitto_process m(tmp_.path);
  m.start();
  const auto spec = plain(m.port(), {{"protocolVersion", "3.1.1"}});
  std::vector<record> got;
  auto src = make_source(spec, {"v3/#"}, "v3in");
  src->start([&](record r, std::function<void()> ack) {
    got.push_back(std::move(r));
    ack();
  });
  auto s = make_sink(spec, "v3/${inputTopic.1}", "v3out");
  s->start();
  auto a = rec("hello/x", "three");
  a.properties = {{"k", "v"}};
  // Until the source is subscribed, what the sink sends goes nowhere: send until one arrives.
  ASSERT_TRUE(run_until(io_, [&] {
    const auto r = send(*s, {a});
    EXPECT_TRUE(r.ok) << r.error;
    run_until(
        io_, [&] { return !got.empty(); }, 100ms);
    return !got.empty();
  }));
  EXPECT_EQ(got[0].topic, "v3/hello");
  EXPECT_EQ(got[0].payload, "three");
  EXPECT_TRUE(got[0].properties.empty());  // 3.1.1 has none (with MQTT 5 they travel: the first test)
}

// protocol WebSockets: both ends over ws:// (edgemq's own listener: Debian's mosquitto has no
// WebSockets), observed with mosquitto_sub/mosquitto_pub on the same broker's TCP listener.
TEST_F(MqttEndpointTest, WebSocketsSinkAndSource) {
  edgemq_process e(tmp_.path);
  e.start(EDGEMQ_DAEMON);
  const json spec = {{"endpointType", "Mqtt"},
                     {"mqttSettings",
                      {{"host", "127.0.0.1:" + std::to_string(e.ws_port())},
                       {"tls", {{"mode", "Disabled"}}},
                       {"protocol", "WebSockets"}}}};
  auto obs = observer(e.tcp_port(), "ws/#", "ws/ready");
  auto s = make_sink(spec, "ws/${inputTopic.2}");
  s->start();
  auto a = rec("in/over/x", std::string(70000, 'w'));  // a 64-bit length frame
  a.properties = {{"k", "v"}};
  const auto r = send(*s, {a, rec("in/small/y", "tiny")});
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_TRUE(wait_for([&] { return data_lines(*obs, "ws/").size() == 2; }));
  EXPECT_EQ(data_lines(*obs, "ws/")[1], "ws/small|tiny|0||");
  s->stop();  // its DISCONNECT goes in a WebSocket frame too
  EXPECT_TRUE(wait_for([&] {
    return e.output().find("client 'edgemq-df' disconnected from 127.0.0.1") != std::string::npos &&
           e.output().find("normal DISCONNECT") != std::string::npos;
  })) << e.output();

  std::vector<record> got;
  auto src = make_source(spec, {"up/#"}, "wsin");
  src->start([&](record r, std::function<void()> ack) {
    got.push_back(std::move(r));
    ack();
  });
  int tick = 0;
  ASSERT_TRUE(run_until(io_, [&] {
    if (tick++ % 10 == 0)
      run("mosquitto_pub -h 127.0.0.1 -p " + std::to_string(e.tcp_port()) + " -q 1 -t up/1 -m over-ws");
    return !got.empty();
  }));
  EXPECT_EQ(got[0].payload, "over-ws");
}

// A "broker" that answers CONNACK and then falls silent: the keep alive (1 s here) notices within
// 1.5 keep alives, and the QoS 1 message waiting for its PUBACK fails.
TEST_F(MqttEndpointTest, KeepAliveDetectsASilentBroker) {
  namespace asio = boost::asio;
  using tcp = asio::ip::tcp;
  tcp::acceptor acceptor(io_, {asio::ip::address_v4::loopback(), 0});
  tcp::socket peer(io_);
  std::string connack;
  mqtt::encode(mqtt::connack{}, mqtt::protocol_version::v5, connack);
  std::vector<char> in(4096);
  bool answered = false;
  acceptor.async_accept(peer, [&](boost::system::error_code ec) {
    ASSERT_FALSE(ec);
    peer.async_read_some(asio::buffer(in), [&](boost::system::error_code, std::size_t) {  // the CONNECT
      asio::async_write(peer, asio::buffer(connack), [&](boost::system::error_code, std::size_t) { answered = true; });
    });
  });
  auto s = make_sink(plain(acceptor.local_endpoint().port(), {{"keepAliveSeconds", 1}}), "x");
  s->start();
  ASSERT_TRUE(run_until(io_, [&] { return answered; }));
  run_until(
      io_, [] { return false; }, 50ms);  // the CONNACK is read
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = send(*s, {rec("a", "1")}, 10s);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("keep alive"), std::string::npos) << r.error;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
}

}  // namespace
}  // namespace edgemq::dataflow
