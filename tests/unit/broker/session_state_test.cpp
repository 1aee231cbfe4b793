// The lazy session state (docs/adr/0036-compact-sessions.md): created on first use, released once
// the session is offline with nothing in it, and restored sessions hold what they held before.
#include <chrono>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "broker/broker.hpp"

namespace edgemq::broker {
namespace {

struct count_link : link {
  int notified = 0;
  void notify() override { ++notified; }
  void kick(mqtt::reason_code) override {}
};

message_ptr make(std::string topic, mqtt::qos q) {
  auto m = std::make_shared<message>();
  m->topic = std::move(topic);
  m->payload = "p";
  m->qos = q;
  return m;
}

delivery deliver(mqtt::qos q, std::uint64_t seq = 0) {
  delivery d;
  d.msg = make("t/1", q);
  d.qos = q;
  d.seq = seq;
  return d;
}

session_registry::restored_session image(const std::string& id) {
  session_registry::restored_session r;
  r.image = {id, 3600, wall_now_ms(), {{"t/#", {mqtt::qos::at_least_once}, 0}}};
  return r;
}

bool has_state(const session_ptr& s) {
  auto sl = s->lock();
  return s->state() != nullptr;
}

TEST(SessionStateTest, ARestoredIdleSessionHasNoStateUntilItIsUsed) {
  broker b{limits{}};
  auto s = b.sessions().restore(image("idle"), b.now());
  EXPECT_FALSE(has_state(s));
  EXPECT_EQ(b.sessions().find("idle"), s);
  EXPECT_EQ(b.subscriptions().size(), 1u);
  // A QoS 0 message for an offline session is dropped: it creates nothing.
  b.publish(make("t/1", mqtt::qos::at_most_once));
  EXPECT_FALSE(has_state(s));
  // A QoS 1 message is queued: the state exists now.
  b.publish(make("t/1", mqtt::qos::at_least_once));
  ASSERT_TRUE(has_state(s));
  auto sl = s->lock();
  EXPECT_EQ(s->queued(), 1u);
}

TEST(SessionStateTest, AnIdleSessionReleasesItsStateWhenItsConnectionEnds) {
  broker b{limits{}};
  auto l = std::make_shared<count_link>();
  auto a = b.sessions().attach(
      "dev", false, 600, l,
      connection_info{.username = std::make_shared<const std::string>("alice"), .connected_at_ms = 7});
  ASSERT_TRUE(has_state(a.s));
  EXPECT_EQ(a.s->current_link(), l.get());
  ASSERT_NE(b.sessions().describe("dev")->connection.username, nullptr);
  EXPECT_EQ(*b.sessions().describe("dev")->connection.username, "alice");
  b.sessions().detach(a.s, l.get(), b.now());
  EXPECT_FALSE(has_state(a.s));
  const auto d = b.sessions().describe("dev");
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->connected);
  EXPECT_EQ(d->expiry_interval, 600u);
  // Resumed, it has a state again (and the session is the same one).
  auto again = b.sessions().attach("dev", false, 600, l, connection_info{});
  EXPECT_TRUE(again.session_present);
  EXPECT_EQ(again.s, a.s);
  EXPECT_TRUE(has_state(a.s));
}

TEST(SessionStateTest, AQueuedMessageOrADelayedWillKeepsTheStateOffline) {
  broker b{limits{}};
  auto l = std::make_shared<count_link>();
  auto a = b.sessions().attach("dev", false, 600, l, connection_info{});
  b.sessions().detach(a.s, l.get(), b.now(), make("will", mqtt::qos::at_least_once), 5);
  ASSERT_TRUE(has_state(a.s));
  EXPECT_TRUE(b.sessions().describe("dev")->will_pending);
  // The will is due: published, and nothing is left in the state.
  std::vector<session_registry::due_will> wills;
  EXPECT_EQ(b.sessions().expire(b.now() + std::chrono::seconds(6), wills), 0u);
  ASSERT_EQ(wills.size(), 1u);
  EXPECT_FALSE(has_state(a.s));

  a = b.sessions().attach("dev", false, 600, l, connection_info{});
  a.s->enqueue(deliver(mqtt::qos::at_least_once));
  EXPECT_EQ(l->notified, 1);
  b.sessions().detach(a.s, l.get(), b.now());
  ASSERT_TRUE(has_state(a.s));
  EXPECT_EQ(b.sessions().queues().queued, 1u);
}

TEST(SessionStateTest, ARestoredSessionKeepsItsQueueInflightPacketIdsAndWill) {
  broker b{limits{}};
  auto r = image("full");
  r.messages.push_back({stored_stage::queued, {0, deliver(mqtt::qos::at_least_once, 4)}});
  r.messages.push_back({stored_stage::awaiting_pubcomp, {77, deliver(mqtt::qos::exactly_once, 2)}});
  r.inbound_qos2 = {12};
  r.will = make("will", mqtt::qos::at_least_once);
  r.will_at_wall_ms = wall_now_ms() + 60'000;
  auto s = b.sessions().restore(std::move(r), b.now());
  {
    auto sl = s->lock();
    auto* st = s->state();
    ASSERT_TRUE(st);
    EXPECT_EQ(st->queue_.size(), 1u);
    ASSERT_EQ(st->inflight_.count(77), 1u);
    EXPECT_EQ(st->inflight_.at(77).stage, inflight_stage::awaiting_pubcomp);
    EXPECT_TRUE(st->inbound_qos2_.contains(12));
    EXPECT_TRUE(st->pending_will_);
    EXPECT_EQ(s->next_seq_, 5u);
    // A packet id in flight is not handed out again.
    st->next_packet_id_ = 77;
    EXPECT_EQ(st->allocate_packet_id(), 78u);
  }
  // Resumed: the will is cancelled (MQTT-3.1.3-9), the rest stays for the connection.
  auto l = std::make_shared<count_link>();
  auto a = b.sessions().attach("full", false, 3600, l, connection_info{});
  EXPECT_TRUE(a.session_present);
  EXPECT_FALSE(b.sessions().describe("full")->will_pending);
  EXPECT_EQ(b.sessions().describe("full")->queued, 1u);
  EXPECT_EQ(b.sessions().describe("full")->inflight, 1u);
}

// Restoring a large store takes a while: its deadlines are converted against the steady and wall
// clocks read together at the pass's start, not against a steady time from then and the wall
// clock of now (that made every restored will and expiry early by the time the pass had taken).
TEST(SessionStateTest, RestoredDeadlinesCountFromTheClocksReadTogether) {
  broker b{limits{}};
  const auto now = b.now();
  const std::uint64_t wall = wall_now_ms() - 10'000;  // as if read together 10 s ago
  auto r = image("slow");
  r.image.disconnected_wall_ms = wall - 2'000;
  r.will = make("will", mqtt::qos::at_least_once);
  r.will_at_wall_ms = wall + 5'000;
  auto s = b.sessions().restore(std::move(r), now, wall);
  auto sl = s->lock();
  ASSERT_TRUE(s->state());
  EXPECT_EQ(s->state()->pending_will_->at, now + std::chrono::seconds(5));
  EXPECT_EQ(s->disconnected_at_, now - std::chrono::seconds(2));
}

TEST(SessionStateTest, AnExpiredSessionIsEndedWhetherOrNotItHasAState) {
  broker b{limits{}};
  auto idle = b.sessions().restore(image("idle"), b.now());
  auto r = image("queued");
  r.messages.push_back({stored_stage::queued, {0, deliver(mqtt::qos::at_least_once, 1)}});
  auto queued = b.sessions().restore(std::move(r), b.now());
  std::vector<session_registry::due_will> wills;
  std::vector<std::string> ids;
  EXPECT_EQ(b.sessions().expire(b.now() + std::chrono::seconds(3599), wills, &ids), 0u);
  EXPECT_EQ(b.sessions().expire(b.now() + std::chrono::seconds(3601), wills, &ids), 2u);
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_FALSE(has_state(queued));
  EXPECT_FALSE(b.sessions().find("idle"));
  EXPECT_EQ(b.sessions().size(), 0u);
  EXPECT_EQ(b.subscriptions().size(), 0u);
}

TEST(SessionStateTest, RestoringAnIdAgainReplacesTheSession) {
  broker b{limits{}};
  auto first = b.sessions().restore(image("dup"), b.now());
  auto second = b.sessions().restore(image("dup"), b.now());
  EXPECT_NE(first, second);
  EXPECT_EQ(b.sessions().find("dup"), second);
  EXPECT_EQ(b.sessions().size(), 1u);
}

}  // namespace
}  // namespace edgemq::broker
