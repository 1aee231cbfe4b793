// A Kafka cluster for the daemon-level tests: librdkafka's built-in mock cluster (real TCP
// listeners on 127.0.0.1, the Kafka protocol, no broker process) plus a consumer that prints
// every message of the watched topic as one JSON line on stdout. The test starts it, reads the
// first line ({"bootstrap": "127.0.0.1:PORT"}), points a Kafka DataflowEndpoint there and reads
// the messages the daemon produced.
//
//   edgemq-test-kafka-mock --topic T [--brokers N] [--partitions P] [--seconds S]
//
// Ends after --seconds (default 120), on SIGTERM, or when stdin closes (the test went away).
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <unistd.h>

namespace {

volatile std::sig_atomic_t stop_requested = 0;

void on_signal(int) {
  stop_requested = 1;
}

rd_kafka_t* make_client(rd_kafka_type_t type, const std::string& bootstrap, const std::string& group) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const char* k, const std::string& v) {
    if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "kafka-mock: %s=%s: %s\n", k, v.c_str(), err);
      std::exit(2);
    }
  };
  if (!bootstrap.empty())
    set("bootstrap.servers", bootstrap);
  else
    set("log_level", "3");  // the mock cluster's own handle: no warning about its missing bootstrap
  if (type == RD_KAFKA_CONSUMER) {
    set("group.id", group);
    set("auto.offset.reset", "earliest");
    set("enable.partition.eof", "false");
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk) {
    std::fprintf(stderr, "kafka-mock: %s\n", err);
    std::exit(2);
  }
  return rk;
}

std::string as_text(const void* p, std::size_t n) {
  return n ? std::string(static_cast<const char*>(p), n) : "";
}

}  // namespace

int main(int argc, char** argv) {
  std::string topic;
  int brokers = 1, partitions = 1, seconds = 120;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--topic")
      topic = v;
    else if (k == "--brokers")
      brokers = std::atoi(v.c_str());
    else if (k == "--partitions")
      partitions = std::atoi(v.c_str());
    else if (k == "--seconds")
      seconds = std::atoi(v.c_str());
    else {
      std::fprintf(stderr, "kafka-mock: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (topic.empty() || brokers < 1 || partitions < 1) {
    std::fprintf(stderr, "usage: %s --topic T [--brokers N] [--partitions P] [--seconds S]\n", argv[0]);
    return 2;
  }
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);

  // The mock cluster lives inside a client handle of its own.
  rd_kafka_t* host = make_client(RD_KAFKA_PRODUCER, "", "");
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(host, brokers);
  if (!cluster) {
    std::fprintf(stderr, "kafka-mock: cannot create the mock cluster\n");
    return 1;
  }
  if (rd_kafka_mock_topic_create(cluster, topic.c_str(), partitions, 1) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::fprintf(stderr, "kafka-mock: cannot create topic %s\n", topic.c_str());
    return 1;
  }
  const std::string bootstrap = rd_kafka_mock_cluster_bootstraps(cluster);
  std::printf("%s\n", nlohmann::json{{"bootstrap", bootstrap}, {"topic", topic}}.dump().c_str());
  std::fflush(stdout);

  rd_kafka_t* consumer = make_client(RD_KAFKA_CONSUMER, bootstrap, "edgemq-test-kafka-mock");
  rd_kafka_poll_set_consumer(consumer);
  rd_kafka_topic_partition_list_t* subs = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(subs, topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (rd_kafka_subscribe(consumer, subs) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::fprintf(stderr, "kafka-mock: subscribe failed\n");
    return 1;
  }
  rd_kafka_topic_partition_list_destroy(subs);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!stop_requested && std::chrono::steady_clock::now() < deadline) {
    pollfd in{STDIN_FILENO, POLLIN, 0};
    if (::poll(&in, 1, 0) > 0 && (in.revents & (POLLHUP | POLLIN))) {
      char c;
      if (::read(STDIN_FILENO, &c, 1) <= 0) break;  // the test closed our stdin: it is done
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
    if (!m) continue;
    if (m->err) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        std::fprintf(stderr, "kafka-mock: consume: %s\n", rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
      continue;
    }
    nlohmann::json line{{"partition", m->partition},
                        {"offset", m->offset},
                        {"key", m->key ? nlohmann::json(as_text(m->key, m->key_len)) : nlohmann::json(nullptr)},
                        {"value", as_text(m->payload, m->len)}};
    rd_kafka_headers_t* hdrs = nullptr;
    nlohmann::json headers = nlohmann::json::array();
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name;
      const void* value;
      std::size_t size;
      for (std::size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i)
        headers.push_back({name, as_text(value, size)});
    }
    line["headers"] = headers;
    std::printf("%s\n", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    std::fflush(stdout);
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(host);
  return 0;
}
