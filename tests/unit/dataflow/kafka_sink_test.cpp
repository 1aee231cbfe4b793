// The Kafka sink against librdkafka's mock cluster, read back by a real librdkafka consumer:
// payloads, keys per partition strategy, MQTT properties as headers, compression, acks; a broker
// taken down (failed sends, then recovery with nothing lost and order kept) and produce errors
// pushed by the cluster.
#include "dataflow/endpoints/kafka_sink.hpp"

#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "sink_test_support.hpp"

namespace edgemq::dataflow {
namespace {

using namespace std::chrono_literals;

struct consumed {
  std::string payload;
  std::string key;
  std::int32_t partition;
  std::map<std::string, std::string> headers;
};

class KafkaSink : public ::testing::Test {
 protected:
  void SetUp() override {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    owner_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    ASSERT_NE(owner_, nullptr) << err;
    mock_ = rd_kafka_mock_cluster_new(owner_, 1);
    ASSERT_NE(mock_, nullptr);
    bootstraps_ = rd_kafka_mock_cluster_bootstraps(mock_);
    ASSERT_EQ(rd_kafka_mock_topic_create(mock_, "telemetry", 3, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    ASSERT_EQ(rd_kafka_mock_topic_create(mock_, "ordered", 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  void TearDown() override {
    if (mock_) rd_kafka_mock_cluster_destroy(mock_);
    if (owner_) rd_kafka_destroy(owner_);
  }

  kafka_settings settings() const {
    kafka_settings s;
    s.host = bootstraps_;
    s.tls = false;
    s.timeout_seconds = 2;
    return s;
  }

  // Reads `topic` from the beginning of each of its partitions until `count` records came.
  std::vector<consumed> consume(const std::string& topic, int partitions, std::size_t count) {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps_.c_str(), err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", "edgemq-test", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_t* c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    EXPECT_NE(c, nullptr) << err;
    if (!c) return {};
    auto* parts = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p)
      rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(c, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    std::vector<consumed> out;
    const auto end = std::chrono::steady_clock::now() + 15s;
    while (out.size() < count && std::chrono::steady_clock::now() < end) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(c, 100);
      if (!m) continue;
      if (!m->err) {
        consumed x;
        x.payload.assign(static_cast<const char*>(m->payload), m->len);
        if (m->key) x.key.assign(static_cast<const char*>(m->key), m->key_len);
        x.partition = m->partition;
        rd_kafka_headers_t* h = nullptr;
        if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR) {
          const char* name;
          const void* value;
          std::size_t size;
          for (std::size_t i = 0; rd_kafka_header_get_all(h, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
               ++i)
            x.headers[name] = std::string(static_cast<const char*>(value), size);
        }
        out.push_back(std::move(x));
      }
      rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return out;
  }

  rd_kafka_t* owner_ = nullptr;
  rd_kafka_mock_cluster_t* mock_ = nullptr;
  std::string bootstraps_;
  boost::asio::io_context io_;
};

TEST_F(KafkaSink, ProducesPayloadsKeysAndHeaders) {
  auto s = settings();
  s.compression = "gzip";
  s.partitioning = kafka_partitioning::by_topic;
  s.copy_mqtt_properties = true;
  auto sink = make_kafka_sink(s, "telemetry", "df1", io_, nullptr);
  sink->start();
  std::vector<record> batch;
  for (int i = 0; i < 6; ++i) {
    auto r = test::make_record("site/" + std::to_string(i % 2) + "/temp", "{\"n\":" + std::to_string(i) + "}",
                               {{"unit", "C"}});
    r.content_type = "application/json";
    batch.push_back(std::move(r));
  }
  auto r = test::send_and_wait(io_, *sink, batch);
  ASSERT_TRUE(r && r->ok) << (r ? r->error : "no result");
  EXPECT_EQ(r->accepted, 6u);

  const auto got = consume("telemetry", 3, 6);
  ASSERT_EQ(got.size(), 6u);
  std::map<std::string, std::vector<std::string>> by_key;  // order holds per key (one partition each)
  std::map<std::string, std::int32_t> partition_of;
  for (const auto& c : got) {
    by_key[c.key].push_back(c.payload);
    if (partition_of.count(c.key)) EXPECT_EQ(partition_of[c.key], c.partition);  // Topic: same key, same partition
    partition_of[c.key] = c.partition;
    EXPECT_EQ(c.headers.at("unit"), "C");
    EXPECT_EQ(c.headers.at("mqtt-topic"), c.key);
    EXPECT_EQ(c.headers.at("mqtt-content-type"), "application/json");
  }
  EXPECT_EQ(by_key["site/0/temp"], (std::vector<std::string>{"{\"n\":0}", "{\"n\":2}", "{\"n\":4}"}));
  EXPECT_EQ(by_key["site/1/temp"], (std::vector<std::string>{"{\"n\":1}", "{\"n\":3}", "{\"n\":5}"}));
}

TEST_F(KafkaSink, BrokerDownFailsTheBatchThenEverythingArrivesInOrder) {
  auto sink = make_kafka_sink(settings(), "ordered", "df2", io_, nullptr);  // acks=all, idempotent
  sink->start();
  auto r = test::send_and_wait(io_, *sink, test::numbered(0, 5));
  ASSERT_TRUE(r && r->ok) << (r ? r->error : "no result");

  ASSERT_EQ(rd_kafka_mock_broker_set_down(mock_, -1), RD_KAFKA_RESP_ERR_NO_ERROR);
  const auto down = test::numbered(5, 5);
  r = test::send_and_wait(io_, *sink, down);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->accepted, 0u);
  EXPECT_NE(r->error.find("5 of 5 records not delivered"), std::string::npos) << r->error;
  // librdkafka's message timeout, or (on a loaded machine, first) the sink's own purge of a batch
  // without delivery reports after timeoutSeconds + 5: either way the batch failed for good.
  EXPECT_TRUE(r->error.find("timed out") != std::string::npos || r->error.find("Purged") != std::string::npos)
      << r->error;

  // Back up: the runtime sends the same batch again (after its backoff; librdkafka's reconnect
  // backoff may fail a first attempt or two more), then goes on.
  ASSERT_EQ(rd_kafka_mock_broker_set_up(mock_, -1), RD_KAFKA_RESP_ERR_NO_ERROR);
  int attempts = 0;
  do {
    r = test::send_and_wait(io_, *sink, down);
    ASSERT_TRUE(r);
    ASSERT_LT(++attempts, 15) << r->error;
  } while (!r->ok);
  r = test::send_and_wait(io_, *sink, test::numbered(10, 5));
  ASSERT_TRUE(r && r->ok) << r->error;

  const auto got = consume("ordered", 1, 15);
  std::vector<std::string> payloads;
  for (const auto& c : got) payloads.push_back(c.payload);
  std::vector<std::string> expected;
  for (int i = 0; i < 15; ++i) expected.push_back("{\"n\":" + std::to_string(i) + "}");
  EXPECT_EQ(payloads, expected);
}

TEST_F(KafkaSink, ProduceErrorFromTheClusterFailsTheBatch) {
  auto s = settings();
  s.acks = "1";
  auto sink = make_kafka_sink(s, "ordered", "df3", io_, nullptr);
  sink->start();
  // A permanent error (librdkafka does not retry it itself).
  rd_kafka_mock_push_request_errors(mock_, 0 /* Produce */, 1, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  auto r = test::send_and_wait(io_, *sink, test::numbered(0, 3));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->accepted, 0u);
  EXPECT_NE(r->error.find("too large"), std::string::npos) << r->error;
  r = test::send_and_wait(io_, *sink, test::numbered(0, 3));
  ASSERT_TRUE(r && r->ok) << r->error;
  EXPECT_EQ(consume("ordered", 1, 3).size(), 3u);
}

TEST_F(KafkaSink, AcksZeroAndFixedPartition) {
  auto s = settings();
  s.acks = "0";
  s.partitioning = kafka_partitioning::fixed;
  auto sink = make_kafka_sink(s, "telemetry", "df4", io_, nullptr);
  sink->start();
  auto r = test::send_and_wait(io_, *sink, test::numbered(0, 4));
  ASSERT_TRUE(r && r->ok) << r->error;
  const auto got = consume("telemetry", 3, 4);
  ASSERT_EQ(got.size(), 4u);
  for (const auto& c : got) {
    EXPECT_EQ(c.key, "df4");
    EXPECT_EQ(c.partition, got[0].partition);
  }
}

TEST_F(KafkaSink, MissingSaslSecretFailsEverySendSayingWhy) {
  auto s = settings();
  s.sasl_mechanism = "PLAIN";
  s.sasl_secret = "/nonexistent/edgemq-secret";
  auto sink = make_kafka_sink(s, "telemetry", "df5", io_, nullptr);
  sink->start();
  auto r = test::send_and_wait(io_, *sink, test::numbered(0, 1));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->ok);
  EXPECT_NE(r->error.find("/nonexistent/edgemq-secret"), std::string::npos) << r->error;
}

TEST_F(KafkaSink, SaslSecretIsReadFromTheSecretDirectory) {
  // The mock cluster does not speak SASL: what this shows is that the secret files are read and
  // librdkafka takes the SASL configuration, so the batch fails at delivery, not at setup.
  char tmpl[] = "/tmp/edgemq-kafka-secret-XXXXXX";
  const std::filesystem::path dir = ::mkdtemp(tmpl);
  std::ofstream(dir / "username") << "$ConnectionString\n";
  std::ofstream(dir / "password")
      << "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=v\n";
  auto s = settings();
  s.sasl_mechanism = "PLAIN";
  s.sasl_secret = dir.string();
  auto sink = make_kafka_sink(s, "telemetry", "df7", io_, nullptr);
  sink->start();
  auto r = test::send_and_wait(io_, *sink, test::numbered(0, 1));
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->ok);
  EXPECT_NE(r->error.find("1 of 1 records not delivered"), std::string::npos) << r->error;
}

TEST_F(KafkaSink, StopLeavesTheBatchUnanswered) {
  ASSERT_EQ(rd_kafka_mock_broker_set_down(mock_, -1), RD_KAFKA_RESP_ERR_NO_ERROR);
  auto sink = make_kafka_sink(settings(), "ordered", "df6", io_, nullptr);
  sink->start();
  bool called = false;
  sink->send(test::numbered(0, 2), [&](send_result) { called = true; });
  io_.restart();
  io_.run_for(50ms);
  sink->stop();
  sink.reset();
  io_.restart();
  io_.run_for(50ms);
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace edgemq::dataflow
