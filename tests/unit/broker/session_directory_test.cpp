// The cluster seams of the broker core (broker/session_directory.hpp, session_registry::hand_over):
// the CONNECT path asks the directory before attaching, refuses with its code, and resumes a
// session the directory brought in; a session handed over leaves without erasing its records.
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "broker/broker.hpp"
#include "channel_output.hpp"

namespace edgemq::broker {
namespace {

struct kick_link : link {
  std::vector<mqtt::reason_code> kicks;
  void notify() override {}
  void kick(mqtt::reason_code why) override { kicks.push_back(why); }
};

// Counts erase_session; every change is durable at once.
struct counting_store final : durable_store {
  int erased = 0;
  std::uint64_t t = 0;
  std::uint64_t save_session(const session_image&) override { return ++t; }
  std::uint64_t erase_session(const std::string&) override {
    ++erased;
    return ++t;
  }
  std::uint64_t put_message(const std::string&, std::uint64_t, stored_stage, std::uint16_t, const delivery&) override {
    return ++t;
  }
  std::uint64_t erase_message(const std::string&, std::uint64_t) override { return ++t; }
  std::uint64_t put_inbound_qos2(const std::string&, std::uint16_t) override { return ++t; }
  std::uint64_t erase_inbound_qos2(const std::string&, std::uint16_t) override { return ++t; }
  std::uint64_t put_retained(const message&) override { return ++t; }
  std::uint64_t erase_retained(const std::string&) override { return ++t; }
  std::uint64_t put_will(const std::string&, const message&, std::uint64_t) override { return ++t; }
  std::uint64_t erase_will(const std::string&) override { return ++t; }
  std::uint64_t decided() const override { return t; }
  outcome outcome_of(std::uint64_t) const override { return outcome::durable; }
  void notify_when_decided(std::uint64_t, std::weak_ptr<link> l) override {
    if (auto s = l.lock()) s->notify();
  }
  bool healthy() const override { return true; }
  mqtt::reason_code refusal() const override { return mqtt::reason_code::unspecified_error; }
};

struct fake_directory final : session_directory {
  broker* b = nullptr;
  session_claim answer;
  bool bring_session = false;
  std::vector<std::pair<std::string, bool>> claims;
  session_claim claim(const std::string& client_id, bool clean_start) override {
    claims.emplace_back(client_id, clean_start);
    if (bring_session) {
      session_registry::restored_session r;
      r.image.client_id = client_id;
      r.image.expiry_interval = 600;
      r.image.subscriptions.push_back({"moved/#", mqtt::subscribe_options{mqtt::qos::at_least_once}, 0});
      b->sessions().restore(std::move(r), b->now());
    }
    return answer;
  }
};

TEST(SessionDirectoryTest, HandOverKicksWithTakenOverAndKeepsTheRecords) {
  broker b{limits{}};
  counting_store store;
  b.set_durable_store(&store);
  auto l = std::make_shared<kick_link>();
  b.sessions().attach("dev-1", false, 600, l, connection_info{});
  EXPECT_TRUE(b.sessions().hand_over("dev-1", mqtt::reason_code::session_taken_over));
  EXPECT_EQ(l->kicks, std::vector<mqtt::reason_code>{mqtt::reason_code::session_taken_over});
  EXPECT_EQ(store.erased, 0) << "the records are the copy the new owner reads";
  EXPECT_FALSE(b.sessions().find("dev-1"));
  EXPECT_FALSE(b.sessions().hand_over("dev-1", mqtt::reason_code::session_taken_over));
  // end_session still erases.
  b.sessions().attach("dev-2", false, 600, std::make_shared<kick_link>(), connection_info{});
  EXPECT_TRUE(b.sessions().end_session("dev-2", mqtt::reason_code::administrative_action));
  EXPECT_EQ(store.erased, 1);
}

TEST(SessionDirectoryTest, ARefusedClaimIsTheConnackCode) {
  broker b{limits{}};
  fake_directory dir;
  dir.b = &b;
  dir.answer = {mqtt::reason_code::server_unavailable, "etcd down"};
  b.set_session_directory(&dir);
  testing::channel_client c(b);
  const auto ack = c.connect("dev-1");
  EXPECT_EQ(ack.code, mqtt::reason_code::server_unavailable);
  ASSERT_EQ(dir.claims.size(), 1u);
  EXPECT_EQ(dir.claims[0], std::make_pair(std::string("dev-1"), true));
  EXPECT_FALSE(b.sessions().find("dev-1"));
}

TEST(SessionDirectoryTest, ASessionTheDirectoryBroughtIsResumed) {
  broker b{limits{}};
  fake_directory dir;
  dir.b = &b;
  dir.bring_session = true;
  b.set_session_directory(&dir);
  testing::channel_client c(b);
  mqtt::connect con;
  con.version = mqtt::protocol_version::v5;
  con.client_id = "dev-9";
  con.clean_start = false;
  con.props.session_expiry_interval = 600;
  c.send(con);
  const auto ack = c.one<mqtt::connack>();
  EXPECT_EQ(ack.code, mqtt::reason_code::success);
  EXPECT_TRUE(ack.session_present);
  auto m = std::make_shared<message>();
  m->topic = "moved/here";
  m->payload = "x";
  m->qos = mqtt::qos::at_least_once;
  EXPECT_EQ(b.publish(m), 1u) << "the subscription the directory brought routes";
}

TEST(SessionDirectoryTest, NoDirectoryNoClaim) {
  broker b{limits{}};
  testing::channel_client c(b);
  EXPECT_EQ(c.connect("dev-1").code, mqtt::reason_code::success);
  EXPECT_EQ(b.directory(), nullptr);
}

}  // namespace
}  // namespace edgemq::broker
