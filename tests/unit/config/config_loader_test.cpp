#include <set>

#include <gtest/gtest.h>

#include "config/config.hpp"

namespace edgemq::config {
namespace {

std::vector<config_error> apply(const std::string& text, daemon_config& cfg) {
  return apply_json(text, cfg);
}

bool has_error(const std::vector<config_error>& errors, const std::string& path) {
  for (const auto& e : errors)
    if (e.path == path) return true;
  return false;
}

TEST(ConfigLoader, ShippedExampleLoadsAndEqualsDefaults) {
  daemon_config cfg;
  auto errors = load_file(std::string(EDGEMQ_SOURCE_DIR) + "/config/edgemq.json", cfg);
  for (const auto& e : errors) ADD_FAILURE() << e.path << ": " << e.message;
  daemon_config defaults;
  EXPECT_EQ(cfg.limits.max_packet_size, defaults.limits.max_packet_size);
  EXPECT_EQ(cfg.limits.max_queued_messages, defaults.limits.max_queued_messages);
  EXPECT_EQ(cfg.limits.connect_timeout, defaults.limits.connect_timeout);
  ASSERT_EQ(cfg.server.listeners.size(), 1u);
  EXPECT_EQ(cfg.server.listeners[0].port, 1883);
}

TEST(ConfigLoader, ValuesAreApplied) {
  daemon_config cfg;
  auto errors = apply(R"({"listeners": ["127.0.0.1:1884", "[::1]:1885"], "log_level": "debug",
                          "mqtt": {"max_packet_size": 4096, "maximum_qos": 1, "connect_timeout_ms": 250},
                          "queue": {"qos0_offline": true}})",
                      cfg);
  EXPECT_TRUE(errors.empty());
  ASSERT_EQ(cfg.server.listeners.size(), 2u);
  EXPECT_EQ(cfg.server.listeners[1].host, "::1");
  EXPECT_EQ(cfg.server.listeners[1].port, 1885);
  EXPECT_EQ(cfg.log_level, "debug");
  EXPECT_EQ(cfg.limits.max_packet_size, 4096u);
  EXPECT_EQ(cfg.limits.maximum_qos, mqtt::qos::at_least_once);
  EXPECT_EQ(cfg.limits.connect_timeout, std::chrono::milliseconds(250));
  EXPECT_TRUE(cfg.limits.queue_qos0_offline);
}

TEST(ConfigLoader, UnknownKeysAreErrorsWithTheirPath) {
  daemon_config cfg;
  auto errors = apply(R"({"listner": [], "mqtt": {"max_packet_sise": 5}})", cfg);
  EXPECT_TRUE(has_error(errors, "/listner"));
  EXPECT_TRUE(has_error(errors, "/mqtt/max_packet_sise"));
  EXPECT_EQ(errors.size(), 2u);
}

TEST(ConfigLoader, BadValuesNameKeyAndProblem) {
  daemon_config cfg;
  auto errors = apply(R"({"mqtt": {"max_packet_size": 3, "maximum_qos": "2", "retain_available": 1},
                          "log_level": "loud", "listeners": ["nohost"], "workers": -1})",
                      cfg);
  EXPECT_TRUE(has_error(errors, "/mqtt/max_packet_size"));
  EXPECT_TRUE(has_error(errors, "/mqtt/maximum_qos"));
  EXPECT_TRUE(has_error(errors, "/mqtt/retain_available"));
  EXPECT_TRUE(has_error(errors, "/log_level"));
  EXPECT_TRUE(has_error(errors, "/listeners/0"));
  EXPECT_TRUE(has_error(errors, "/workers"));
  for (const auto& e : errors) EXPECT_FALSE(e.message.empty()) << e.path;
  auto range = std::find_if(errors.begin(), errors.end(), [](auto& e) { return e.path == "/mqtt/max_packet_size"; });
  EXPECT_NE(range->message.find("got 3"), std::string::npos) << range->message;
}

TEST(ConfigLoader, NotJsonOrNotAnObject) {
  daemon_config cfg;
  auto errors = apply("{ broken", cfg);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("not valid JSON"), std::string::npos);
  errors = apply("[1,2]", cfg);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "/");
  errors = apply(R"({"mqtt": 5})", cfg);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "/mqtt");
}

TEST(ConfigLoader, MissingFileIsReported) {
  daemon_config cfg;
  auto errors = load_file("/nonexistent/edgemq.json", cfg);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("cannot read"), std::string::npos);
}

TEST(ConfigLoader, ParseListenUrl) {
  listen_endpoint ep;
  std::string why;
  ASSERT_TRUE(parse_listen_url("mqtts://0.0.0.0:8883", ep, &why)) << why;
  EXPECT_EQ(ep.scheme, listener_scheme::mqtts);
  EXPECT_EQ(format_listener(ep), "mqtts://0.0.0.0:8883");
  ASSERT_TRUE(parse_listen_url("mqtt://[::1]:1883", ep, &why)) << why;
  EXPECT_EQ(ep.scheme, listener_scheme::mqtt);
  EXPECT_EQ(ep.host, "::1");
  ASSERT_TRUE(parse_listen_url("127.0.0.1:1883", ep, &why)) << why;
  EXPECT_EQ(ep.scheme, listener_scheme::mqtt);
  EXPECT_FALSE(parse_listen_url("mqtt://0.0.0.0:1883/mqtt", ep, &why));
  EXPECT_NE(why.find("only for ws:// and wss://"), std::string::npos) << why;
  EXPECT_FALSE(parse_listen_url("http://0.0.0.0:80", ep, &why));
  EXPECT_NE(why.find("unknown scheme"), std::string::npos) << why;
}

TEST(ConfigLoader, WebSocketListenUrls) {
  listen_endpoint ep;
  std::string why;
  ASSERT_TRUE(parse_listen_url("ws://0.0.0.0:8080", ep, &why)) << why;
  EXPECT_EQ(ep.scheme, listener_scheme::ws);
  EXPECT_EQ(ep.websocket.path, "/mqtt");
  EXPECT_EQ(format_listener(ep), "ws://0.0.0.0:8080/mqtt");
  listen_endpoint wss;
  ASSERT_TRUE(parse_listen_url("wss://[::1]:8443/broker/mqtt", wss, &why)) << why;
  EXPECT_EQ(wss.scheme, listener_scheme::wss);
  EXPECT_EQ(wss.host, "::1");
  EXPECT_EQ(wss.websocket.path, "/broker/mqtt");
  EXPECT_EQ(format_listener(wss), "wss://[::1]:8443/broker/mqtt");
  EXPECT_TRUE(uses_tls(wss.scheme) && is_websocket(wss.scheme));
  EXPECT_FALSE(parse_listen_url("ws://0.0.0.0:8080/a b", ep, &why));
  EXPECT_NE(why.find("printable ASCII"), std::string::npos) << why;
  EXPECT_FALSE(parse_listen_url("ws://0.0.0.0:8080/mqtt?x=1", ep, &why));
}

TEST(ConfigLoader, WebSocketListenerObjects) {
  daemon_config cfg;
  auto errors =
      apply(R"({"listeners": [{"address": "ws://127.0.0.1:8080/custom", "websocket": {"max_frame_size": 4096}},
                          {"address": "wss://0.0.0.0:8443", "allow_anonymous": true,
                           "tls": {"cert": "s.crt", "key": "s.key"}}]})",
            cfg);
  ASSERT_TRUE(errors.empty()) << errors[0].path << ": " << errors[0].message;
  EXPECT_EQ(cfg.server.listeners.at(0).websocket.path, "/custom");
  EXPECT_EQ(cfg.server.listeners.at(0).websocket.max_frame_size, 4096u);
  EXPECT_EQ(cfg.server.listeners.at(1).tls.cert, "s.crt");
  EXPECT_EQ(cfg.server.listeners.at(1).websocket.max_frame_size, 0u);  // the default
  daemon_config bad;
  errors = apply(R"({"listeners": [{"address": "mqtts://0.0.0.0:8883", "websocket": {}},
                     {"address": "ws://0.0.0.0:8080", "tls": {"cert": "s.crt"}},
                     {"address": "ws://0.0.0.0:8080", "websocket": {"max_frame_size": 10, "path": "/x"}}]})",
                 bad);
  EXPECT_TRUE(has_error(errors, "/listeners/0/websocket"));
  EXPECT_TRUE(has_error(errors, "/listeners/1/tls"));
  EXPECT_TRUE(has_error(errors, "/listeners/2/websocket/max_frame_size"));
  EXPECT_TRUE(has_error(errors, "/listeners/2/websocket/path"));  // the path is in the URL
}

TEST(ConfigLoader, TlsListenerObjects) {
  daemon_config cfg;
  auto errors = apply(R"({"listeners": [{"address": "mqtts://0.0.0.0:8883", "tls": {"cert": "s.crt", "key": "s.key",
                          "client_ca": "ca.crt", "require_client_cert": true, "min_version": "1.3"}}]})",
                      cfg);
  ASSERT_TRUE(errors.empty()) << errors[0].path << ": " << errors[0].message;
  const auto& l = cfg.server.listeners.at(0);
  EXPECT_EQ(l.scheme, listener_scheme::mqtts);
  EXPECT_EQ(l.tls.cert, "s.crt");
  EXPECT_TRUE(l.tls.require_client_cert);
  EXPECT_EQ(l.tls.min_version, "1.3");
  EXPECT_TRUE(open_listeners(cfg).empty());  // a required client certificate authenticates
  daemon_config bad;
  errors = apply(R"({"listeners": [{"address": "0.0.0.0:1883", "tls": {"cert": "s.crt"}},
                     {"address": "mqtts://0.0.0.0:8883", "tls": {"min_version": "1.1", "colour": 1}}]})",
                 bad);
  EXPECT_TRUE(has_error(errors, "/listeners/0/tls"));
  EXPECT_TRUE(has_error(errors, "/listeners/1/tls/min_version"));
  EXPECT_TRUE(has_error(errors, "/listeners/1/tls/colour"));
}

TEST(ConfigLoader, ParseEndpoint) {
  listen_endpoint ep;
  EXPECT_TRUE(parse_endpoint("127.0.0.1:0", ep));
  EXPECT_EQ(ep.port, 0);
  EXPECT_TRUE(parse_endpoint(":1883", ep));
  EXPECT_EQ(ep.host, "0.0.0.0");
  EXPECT_FALSE(parse_endpoint("127.0.0.1", ep));
  EXPECT_FALSE(parse_endpoint("127.0.0.1:70000", ep));
  EXPECT_FALSE(parse_endpoint("127.0.0.1:12ab", ep));
  EXPECT_FALSE(parse_endpoint("example.com:1883", ep));
}

TEST(ConfigLoader, ListenerAddressesAreCheckedUpFront) {
  // "abc" used to pass (its letters are hex digits) and fail only when binding.
  daemon_config cfg;
  auto errors =
      apply(R"({"listeners": ["abc:1883", "localhost:1884", "[::1]:1885", "::1:1886", "10.0.0.300:1", ":1887"]})", cfg);
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].path, "/listeners/0");
  EXPECT_NE(errors[0].message.find("'abc' is not an IP address"), std::string::npos) << errors[0].message;
  EXPECT_EQ(errors[1].path, "/listeners/3");
  EXPECT_NE(errors[1].message.find("must be in brackets"), std::string::npos) << errors[1].message;
  EXPECT_EQ(errors[2].path, "/listeners/4");
}

TEST(ConfigLoader, ParseEndpointAcceptsLocalhostAndBracketedIpv6Only) {
  listen_endpoint ep;
  std::string why;
  ASSERT_TRUE(parse_endpoint("localhost:1883", ep, &why)) << why;
  EXPECT_EQ(ep.host, "127.0.0.1");
  EXPECT_EQ(ep.port, 1883);
  ASSERT_TRUE(parse_endpoint("[::1]:0", ep, &why)) << why;
  EXPECT_EQ(ep.host, "::1");
  EXPECT_EQ(ep.port, 0);
  ASSERT_TRUE(parse_endpoint("[::]:1883", ep, &why)) << why;
  EXPECT_EQ(ep.host, "::");
  EXPECT_FALSE(parse_endpoint("abc:1883", ep, &why));
  EXPECT_EQ(why, "'abc' is not an IP address (use a numeric IPv4 address, [IPv6] or localhost)");
  EXPECT_FALSE(parse_endpoint("dead:beef:1883", ep, &why));
  EXPECT_NE(why.find("must be in brackets"), std::string::npos) << why;
  EXPECT_FALSE(parse_endpoint("[1.2.3.4]:1883", ep, &why));
  EXPECT_FALSE(parse_endpoint("[::1:1883", ep, &why));
  EXPECT_FALSE(parse_endpoint("1.2.3:1883", ep, &why));
  EXPECT_FALSE(parse_endpoint("127.0.0.1:", ep, &why));
  EXPECT_NE(why.find("port ''"), std::string::npos) << why;
}

TEST(ConfigLoader, Ipv6EndpointsArePrintedInBrackets) {
  EXPECT_EQ(format_endpoint("::1", 1883), "[::1]:1883");
  EXPECT_EQ(format_endpoint("fe80::1%eth0", 1), "[fe80::1%eth0]:1");
  EXPECT_EQ(format_endpoint("127.0.0.1", 1883), "127.0.0.1:1883");
  EXPECT_EQ(format_endpoint(listen_endpoint{"::", 0}), "[::]:0");
}

}  // namespace
}  // namespace edgemq::config

namespace edgemq::config {
namespace {

// Found by the config fuzzer: a number beyond double's range made json::parse throw out_of_range,
// which escaped apply_json and aborted the daemon instead of a configuration error (exit 2).
TEST(ConfigLoader, NumberOutOfRangeIsAConfigurationError) {
  daemon_config cfg;
  const auto errors = apply_json(R"({"workers": 1e999})", cfg);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("not a valid configuration"), std::string::npos) << errors[0].message;
}

TEST(ConfigLoader, DataflowBufferKeys) {
  daemon_config cfg;
  EXPECT_EQ(cfg.dataflows.buffer.when_full, "drop_oldest");
  auto errors = apply_json(R"({"dataflows": {"buffer": {"max_bytes": 1048576, "max_messages": 10,
                                                        "when_full": "stop"}}})",
                           cfg);
  ASSERT_TRUE(errors.empty()) << errors[0].path << ": " << errors[0].message;
  EXPECT_EQ(cfg.dataflows.buffer.max_bytes, 1048576u);
  EXPECT_EQ(cfg.dataflows.buffer.max_messages, 10u);
  EXPECT_EQ(cfg.dataflows.buffer.when_full, "stop");

  errors = apply_json(R"({"dataflows": {"buffer": {"when_full": "block", "max_messages": 0, "max_bytes": 1,
                                                   "size": 3}}})",
                      cfg);
  std::set<std::string> paths;
  for (const auto& e : errors) paths.insert(e.path);
  EXPECT_EQ(paths, (std::set<std::string>{"/dataflows/buffer/when_full", "/dataflows/buffer/max_messages",
                                          "/dataflows/buffer/max_bytes", "/dataflows/buffer/size"}));
}

}  // namespace
}  // namespace edgemq::config
