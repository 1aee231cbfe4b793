// The `default` endpoint (the local broker) end to end inside the process: a real broker core,
// the runtime's in-process clients as source and sink, and MQTT clients (client_channel driven
// by the test) publishing to the source topics and subscribed to the destination.
#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "broker/client_channel.hpp"
#include "dataflow/runtime.hpp"
#include "edgemq/mqtt/codec.hpp"
#include "edgemq/mqtt/frame_parser.hpp"

namespace edgemq::dataflow {
namespace {

namespace fs = std::filesystem;
namespace m = mqtt;
using namespace std::chrono_literals;

template <class Pred>
bool wait_for(Pred p, std::chrono::milliseconds timeout = 10s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!p()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

struct quiet_link : broker::link {
  void notify() override {}
  void kick(m::reason_code) override {}
};

// An MQTT 5 client on the test's thread (the broker's other clients run on the runtime's).
struct test_client {
  std::mutex mu;
  broker::client_channel ch;
  std::vector<m::publish> got;
  explicit test_client(broker::broker& b) : ch(b, std::make_shared<quiet_link>(), nullptr) {}
  void send(const m::packet& p) {
    std::lock_guard g(mu);
    std::string bytes;
    m::encode(p, m::protocol_version::v5, bytes);
    ch.on_data({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, broker::clock::now());
    read_locked();
  }
  // Collects deliveries (acknowledging QoS 1).
  std::vector<m::publish> poll() {
    std::lock_guard g(mu);
    ch.pull();
    read_locked();
    return got;
  }
  void read_locked() {
    for (int round = 0; round < 100 && ch.has_output(); ++round) {
      std::string heads;
      std::vector<broker::out_chunk> chunks;
      ch.take_output(heads, chunks);
      std::string wire;
      for (const auto& c : chunks) {
        wire.append(heads, c.head_begin, c.head_end - c.head_begin);
        if (c.body) wire.append(c.body->payload);
      }
      std::span<const std::uint8_t> rest(reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size());
      while (!rest.empty()) {
        const auto f = m::parse_frame(rest, 0xFFFFFFFF);
        if (f.status != m::frame_status::complete) break;
        rest = rest.subspan(f.value.size);
        auto p = m::decode(f.value.header, f.value.body, m::protocol_version::v5);
        if (!p || !std::holds_alternative<m::publish>(*p)) continue;
        auto& pub = std::get<m::publish>(*p);
        if (pub.qos == m::qos::at_least_once) {
          std::string ack;
          m::encode(m::puback{pub.packet_id, m::reason_code::success, {}}, m::protocol_version::v5, ack);
          ch.on_data({reinterpret_cast<const std::uint8_t*>(ack.data()), ack.size()}, broker::clock::now());
        }
        got.push_back(std::move(pub));
      }
      ch.pull();
    }
  }
  void connect(const std::string& id) {
    m::connect c;
    c.client_id = id;
    c.keep_alive = 0;
    send(c);
  }
};

class LocalEndpointsTest : public ::testing::Test {
 protected:
  fs::path dir_;
  broker::broker core_{broker::limits{}};
  std::unique_ptr<runtime> rt_;
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("edgemq-dflocal-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override {
    rt_.reset();
    fs::remove_all(dir_);
  }
  void start_runtime() {
    runtime_options o;
    o.data_dir = dir_.string();
    rt_ = std::make_unique<runtime>(core_, std::move(o), nullptr);
  }
  static std::shared_ptr<dataflow_definition> def(std::vector<std::string> sources, std::string dest) {
    auto d = std::make_shared<dataflow_definition>();
    d->name = "republish";
    d->data_sources = std::move(sources);
    d->destination_endpoint = default_endpoint;
    d->data_destination = std::move(dest);
    return d;
  }
  static void publish(test_client& c, const std::string& topic, const std::string& payload, std::uint16_t id) {
    m::publish p;
    p.topic = topic;
    p.payload = payload;
    p.qos = m::qos::at_least_once;
    p.packet_id = id;
    p.props.user_properties = {{"k", "v"}};
    c.send(p);
  }
  static std::vector<std::string> payloads(const std::vector<m::publish>& ps) {
    std::vector<std::string> out;
    for (const auto& p : ps) out.push_back(p.payload);
    return out;
  }
};

TEST_F(LocalEndpointsTest, RepublishesToAnotherTopicAndResumesAfterARestart) {
  test_client sub(core_), pub(core_);
  sub.connect("sub");
  m::subscribe s;
  s.packet_id = 1;
  s.entries.push_back({"out/#", {m::qos::at_least_once}});
  sub.send(s);
  pub.connect("pub");
  start_runtime();
  rt_->apply(def({"in/#"}, "out/${inputTopic.2}"), {});

  std::vector<std::string> want;
  for (int i = 0; i < 20; ++i) {
    want.push_back("m" + std::to_string(i));
    publish(pub, "in/line1", want.back(), static_cast<std::uint16_t>(i + 1));
  }
  ASSERT_TRUE(wait_for([&] { return sub.poll().size() >= 20; })) << sub.poll().size();
  auto got = sub.poll();
  EXPECT_EQ(payloads(got), want);
  EXPECT_EQ(got[0].topic, "out/line1");
  EXPECT_EQ(got[0].props.user_properties, (m::properties{}.user_properties = {{"k", "v"}}));
  ASSERT_TRUE(wait_for([&] { return rt_->status("republish")["sent"] == 20; }));

  // Stopped (the daemon restarts): the broker keeps queuing in the dataflow's session.
  rt_.reset();
  for (int i = 20; i < 30; ++i) {
    want.push_back("m" + std::to_string(i));
    publish(pub, "in/line1", want.back(), static_cast<std::uint16_t>(i + 1));
  }
  start_runtime();
  rt_->apply(def({"in/#"}, "out/${inputTopic.2}"), {});
  ASSERT_TRUE(wait_for([&] { return sub.poll().size() >= 30; })) << sub.poll().size();
  EXPECT_EQ(payloads(sub.poll()), want);
  const auto t = rt_->totals();
  EXPECT_EQ(t.sent, 10u);

  // Replaced with other dataSources: the session keeps only the new ones.
  rt_->apply(def({"in2/#"}, "out/${inputTopic.2}"), {});
  publish(pub, "in/line1", "old-topic", 40);
  publish(pub, "in2/line2", "new-topic", 41);
  ASSERT_TRUE(wait_for([&] { return sub.poll().size() >= 31; }));
  EXPECT_EQ(sub.poll().back().payload, "new-topic");
  EXPECT_EQ(sub.poll().size(), 31u);  // in/line1 was published before in2/line2: it would have come first
  const auto d = core_.sessions().describe("$edgemq-dataflow-republish");
  ASSERT_TRUE(d);
  ASSERT_EQ(d->subscriptions.size(), 1u);
  EXPECT_EQ(d->subscriptions[0].filter, "in2/#");

  // Removed: its session ends, so nothing queues for it any more.
  rt_->remove("republish");
  EXPECT_FALSE(core_.sessions().find("$edgemq-dataflow-republish"));
}

TEST_F(LocalEndpointsTest, DisabledKeepsMessagesInTheSessionUntilEnabled) {
  test_client sub(core_), pub(core_);
  sub.connect("sub");
  m::subscribe s;
  s.packet_id = 1;
  s.entries.push_back({"out", {m::qos::at_least_once}});
  sub.send(s);
  pub.connect("pub");
  start_runtime();
  auto d = def({"in/+"}, "out");
  rt_->apply(d, {});
  publish(pub, "in/a", "before", 1);
  ASSERT_TRUE(wait_for([&] { return sub.poll().size() == 1; }));
  auto off = std::make_shared<dataflow_definition>(*d);
  off->enabled = false;
  rt_->apply(off, {});
  publish(pub, "in/a", "while-off-1", 2);
  publish(pub, "in/b", "while-off-2", 3);
  std::this_thread::sleep_for(50ms);  // nothing may arrive meanwhile (no event to await)
  EXPECT_EQ(sub.poll().size(), 1u);
  rt_->apply(d, {});
  ASSERT_TRUE(wait_for([&] { return sub.poll().size() == 3; }));
  EXPECT_EQ(payloads(sub.poll()), (std::vector<std::string>{"before", "while-off-1", "while-off-2"}));
}

TEST_F(LocalEndpointsTest, RefusedPublishesStayBufferedAndGoToTheReplacedDestination) {
  test_client sub(core_), pub(core_);
  sub.connect("sub");
  m::subscribe s;
  s.packet_id = 1;
  s.entries.push_back({"fixed/#", {m::qos::at_least_once}});
  sub.send(s);
  pub.connect("pub");
  start_runtime();
  // Clients may not publish under $SYS: the broker refuses each PUBACK (0x87), the sink fails.
  rt_->apply(def({"in/#"}, "$SYS/not-allowed"), {});
  for (int i = 0; i < 3; ++i) publish(pub, "in/a", "m" + std::to_string(i), static_cast<std::uint16_t>(i + 1));
  ASSERT_TRUE(wait_for([&] {
    const auto st = rt_->status("republish");
    return st["received"] == 3 && st["sendFailures"].get<int>() >= 2;
  }));
  auto st = rt_->status("republish");
  EXPECT_EQ(st["buffer"]["messages"], 3);
  EXPECT_EQ(st["sent"], 0);
  EXPECT_EQ(st["lastError"], "the local broker refused a message (not authorized)");
  EXPECT_TRUE(sub.poll().empty());

  rt_->apply(def({"in/#"}, "fixed/out"), {});  // the buffer goes to the new destination
  ASSERT_TRUE(wait_for([&] { return sub.poll().size() == 3; }));
  EXPECT_EQ(payloads(sub.poll()), (std::vector<std::string>{"m0", "m1", "m2"}));
  ASSERT_TRUE(wait_for([&] { return rt_->status("republish")["buffer"]["messages"] == 0; }));
}

}  // namespace
}  // namespace edgemq::dataflow
