// The Prometheus text rendering: format details promtool and scrapers rely on, and the mapping
// of $SYS topics to metric families.
#include "admin/prometheus.hpp"

#include <gtest/gtest.h>

#include "broker/broker.hpp"

namespace edgemq::admin {
namespace {

TEST(Prometheus, RendersHelpTypeAndSamples) {
  metric_set m;
  m.add("x_total", "Things.", metric_type::counter, {{"a", "1"}}, 3);
  m.add("x_total", "", metric_type::counter, {{"a", "2"}}, 4);
  m.add("y", "A gauge.", metric_type::gauge, {}, 7);
  EXPECT_EQ(render(m.families()),
            "# HELP x_total Things.\n# TYPE x_total counter\nx_total{a=\"1\"} 3\nx_total{a=\"2\"} 4\n"
            "# HELP y A gauge.\n# TYPE y gauge\ny 7\n");
}

TEST(Prometheus, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(escape_help("a\\b\"c\nd"), "a\\\\b\"c\\nd");
  metric_set m;
  m.add("z", "h", metric_type::gauge, {{"listener", "x\"y"}}, 1);
  EXPECT_EQ(render(m.families()), "# HELP z h\n# TYPE z gauge\nz{listener=\"x\\\"y\"} 1\n");
}

TEST(Prometheus, RepeatedSeriesKeptOnceAndEmptyFamiliesLeftOut) {
  metric_set m;
  m.add("a", "h", metric_type::gauge, {}, 1);
  m.add("a", "h", metric_type::gauge, {}, 2);
  EXPECT_EQ(render(m.families()), "# HELP a h\n# TYPE a gauge\na 1\n");
  EXPECT_EQ(render({metric_family{"empty", "h", metric_type::gauge, {}}}), "");
}

TEST(Prometheus, SysTopicsMapToFamiliesWithLabels) {
  metric_set m;
  m.add_sys("$SYS/broker/messages/dropped/queue_full", 5);
  m.add_sys("$SYS/broker/messages/dropped/expired", 6);
  m.add_sys("$SYS/broker/messages/dropped", 11);  // the total: the sum of the series, not repeated
  m.add_sys("$SYS/broker/auth/publish_denied", 2);
  m.add_sys("$SYS/broker/auth/key_denied", 3);  // from the state store's source, same family
  m.add_sys("$SYS/broker/auth/expired", 4);
  m.add_sys("$SYS/broker/some-module/thing", 9);  // not in the catalog: still exposed
  const auto text = render(m.families());
  EXPECT_NE(text.find("# TYPE edgemq_messages_dropped_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("edgemq_messages_dropped_total{cause=\"queue_full\"} 5\n"), std::string::npos);
  EXPECT_NE(text.find("edgemq_messages_dropped_total{cause=\"expired\"} 6\n"), std::string::npos);
  EXPECT_EQ(text.find(" 11\n"), std::string::npos);
  EXPECT_NE(text.find("edgemq_auth_denied_total{action=\"publish\"} 2\n"
                      "edgemq_auth_denied_total{action=\"statestore_key\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE edgemq_auth_expired_total counter\nedgemq_auth_expired_total 4\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE edgemq_sys_some_module_thing untyped\nedgemq_sys_some_module_thing 9\n"),
            std::string::npos);
}

TEST(Prometheus, BrokerMetricsComeFromTheSysRegistry) {
  broker::broker core(broker::limits{});
  auto msg = std::make_shared<broker::message>();
  msg->topic = "a/b";
  msg->payload = "hello";
  msg->qos = mqtt::qos::at_least_once;
  core.publish(msg);
  core.add_sys_source([](const broker::broker::sys_put& put) { put("$SYS/broker/persistence/healthy", 1); });
  const auto text = broker_metrics(core, {}, "9.9");
  EXPECT_NE(text.find("edgemq_build_info{version=\"9.9\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("edgemq_messages_received_total{qos=\"1\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("edgemq_messages_received_total{qos=\"0\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("edgemq_payload_received_bytes_total 5\n"), std::string::npos);
  EXPECT_NE(text.find("edgemq_persistence_healthy 1\n"), std::string::npos);
  // $SYS's own publishes do not count as received messages.
  core.publish_sys("9.9");
  EXPECT_NE(broker_metrics(core, {}, "9.9").find("edgemq_messages_received_total{qos=\"0\"} 0\n"), std::string::npos);
}

}  // namespace
}  // namespace edgemq::admin

namespace edgemq::admin {
namespace {

TEST(Prometheus, HistogramIsCumulativeWithInfSumAndCount) {
  broker::latency_histogram h;
  h.record(std::chrono::microseconds(50));  // <= 0.0001
  h.record(std::chrono::milliseconds(3));   // <= 0.005
  h.record(std::chrono::seconds(10));       // +Inf only
  const auto text = render_histogram("x_seconds", "X.", h);
  EXPECT_EQ(text.find("# HELP x_seconds X.\n# TYPE x_seconds histogram\n"), 0u);
  EXPECT_NE(text.find("x_seconds_bucket{le=\"0.0001\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("x_seconds_bucket{le=\"0.0025\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("x_seconds_bucket{le=\"0.005\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("x_seconds_bucket{le=\"2.5\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("x_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("x_seconds_sum 10.00305\n"), std::string::npos);
  EXPECT_NE(text.find("x_seconds_count 3\n"), std::string::npos);
}

TEST(Prometheus, RegisteredHistogramsAreInBrokerMetrics) {
  broker::broker core(broker::limits{});
  broker::latency_histogram h;
  h.record(std::chrono::milliseconds(1));
  core.add_histogram({"edgemq_test_duration_seconds", "Test.", &h});
  EXPECT_NE(broker_metrics(core, {}, "1").find("edgemq_test_duration_seconds_count 1\n"), std::string::npos);
}

}  // namespace
}  // namespace edgemq::admin
