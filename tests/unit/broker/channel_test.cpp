// The protocol state machine through scripted exchanges: packets in, packets out, no sockets.
#include <deque>
#include <set>

#include <gtest/gtest.h>

#include "broker/client_channel.hpp"
#include "channel_output.hpp"
#include "edgemq/mqtt/frame_parser.hpp"

namespace edgemq::broker {
namespace {

using namespace std::chrono_literals;
namespace m = mqtt;

struct fake_link : link {
  int notified = 0;
  std::vector<m::reason_code> kicks;
  void notify() override { ++notified; }
  void kick(m::reason_code why) override { kicks.push_back(why); }
};

// A client as the channel sees it: sends packets, collects what the channel writes back.
struct client {
  broker& b;
  std::shared_ptr<fake_link> l = std::make_shared<fake_link>();
  client_channel ch;
  m::protocol_version v;
  clock::time_point now = clock::time_point{} + 1h;

  client(broker& br, m::protocol_version ver = m::protocol_version::v5) : b(br), ch(br, l, nullptr), v(ver) {}

  void send(const m::packet& p) {
    std::string bytes;
    m::encode(p, v, bytes);
    send_raw(bytes);
  }
  void send_raw(std::string_view bytes) {
    ch.on_data({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, now);
  }
  // Every packet written since the last call, decoded.
  std::vector<m::packet> backlog;  // packets that arrived together with a CONNACK

  std::vector<m::packet> received() {
    std::vector<m::packet> out = std::move(backlog);
    backlog.clear();
    auto more = testing::take_packets(ch, l->notified, v);
    out.insert(out.end(), more.begin(), more.end());
    return out;
  }
  template <class T>
  T expect_one() {
    auto ps = received();
    EXPECT_EQ(ps.size(), 1u);
    if (ps.size() != 1 || !std::holds_alternative<T>(ps[0])) {
      ADD_FAILURE() << "expected exactly one " << m::to_string(m::type_of(m::packet{T{}})) << ", got " << ps.size()
                    << " packets";
      return T{};
    }
    return std::get<T>(ps[0]);
  }
  m::connack connect(std::string id, bool clean = true, std::uint32_t expiry = 0) {
    m::connect c;
    c.version = v;
    c.client_id = std::move(id);
    c.clean_start = clean;
    if (expiry) c.props.session_expiry_interval = expiry;
    send(c);
    auto ps = received();
    EXPECT_FALSE(ps.empty());
    if (ps.empty() || !std::holds_alternative<m::connack>(ps[0])) return {};
    backlog.assign(ps.begin() + 1, ps.end());  // resumed sessions get their messages right after
    return std::get<m::connack>(ps[0]);
  }
};

class ChannelTest : public ::testing::Test {
 protected:
  broker b_{limits{}};
  clock::time_point t_ = clock::time_point{} + 1h;
  void SetUp() override {
    b_.set_clock([this] { return t_; });
  }
};

TEST_F(ChannelTest, ConnectAssignsClientIdentifierForEmptyIdV5) {
  client c(b_);
  auto ack = c.connect("");
  EXPECT_EQ(ack.code, m::reason_code::success);
  ASSERT_TRUE(ack.props.assigned_client_identifier);
  EXPECT_FALSE(ack.props.assigned_client_identifier->empty());
  EXPECT_EQ(c.ch.client_id(), *ack.props.assigned_client_identifier);
}

TEST_F(ChannelTest, FirstPacketNotConnectClosesSilently) {
  client c(b_);
  c.send(m::pingreq{});
  EXPECT_TRUE(c.ch.closing());
  EXPECT_TRUE(c.received().empty());
}

TEST_F(ChannelTest, UnsupportedProtocolLevelGetsV311Connack) {
  client c(b_);
  const std::string bytes("\x10\x0d\x00\x04MQTT\x06\x02\x00\x3c\x00\x01x", 15);
  c.send_raw(bytes);
  EXPECT_TRUE(c.ch.closing());
  c.v = m::protocol_version::v311;
  auto ack = c.expect_one<m::connack>();
  EXPECT_EQ(ack.code, m::reason_code::unsupported_protocol_version);
}

TEST_F(ChannelTest, QoS1RoundTripAndNoMatchingSubscribers) {
  client pub(b_), sub(b_);
  pub.connect("pub");
  sub.connect("sub");
  pub.send(m::publish{"t/1", "x", m::qos::at_least_once, false, false, 5, {}});
  EXPECT_EQ(pub.expect_one<m::puback>().code, m::reason_code::no_matching_subscribers);

  sub.send(m::subscribe{1, {{"t/+", {m::qos::at_least_once}}}, {}});
  EXPECT_EQ(sub.expect_one<m::suback>().codes, std::vector<m::reason_code>{m::reason_code::granted_qos_1});
  pub.send(m::publish{"t/1", "hello", m::qos::at_least_once, false, false, 6, {}});
  EXPECT_EQ(pub.expect_one<m::puback>().code, m::reason_code::success);
  auto got = sub.expect_one<m::publish>();
  EXPECT_EQ(got.payload, "hello");
  EXPECT_EQ(got.qos, m::qos::at_least_once);
  EXPECT_NE(got.packet_id, 0);
  sub.send(m::puback{got.packet_id, m::reason_code::success, {}});
  EXPECT_TRUE(sub.received().empty());
}

TEST_F(ChannelTest, QoS2InboundIsDeliveredOnceEvenWhenResent) {
  client pub(b_), sub(b_);
  pub.connect("pub");
  sub.connect("sub");
  sub.send(m::subscribe{1, {{"q2", {m::qos::exactly_once}}}, {}});
  sub.received();
  m::publish p{"q2", "once", m::qos::exactly_once, false, false, 9, {}};
  pub.send(p);
  EXPECT_EQ(pub.expect_one<m::pubrec>().packet_id, 9);
  p.dup = true;
  pub.send(p);  // the PUBREC was "lost": the client re-sends with DUP
  EXPECT_EQ(pub.expect_one<m::pubrec>().packet_id, 9);
  auto got = sub.received();
  ASSERT_EQ(got.size(), 1u);  // MQTT 4.3.3: exactly once
  pub.send(m::pubrel{9, m::reason_code::success, {}});
  EXPECT_EQ(pub.expect_one<m::pubcomp>().code, m::reason_code::success);
  pub.send(m::pubrel{9, m::reason_code::success, {}});
  EXPECT_EQ(pub.expect_one<m::pubcomp>().code, m::reason_code::packet_identifier_not_found);
}

TEST_F(ChannelTest, QoS2OutboundStateMachine) {
  client pub(b_), sub(b_);
  pub.connect("pub");
  sub.connect("sub");
  sub.send(m::subscribe{1, {{"o", {m::qos::exactly_once}}}, {}});
  sub.received();
  pub.send(m::publish{"o", "m", m::qos::exactly_once, false, false, 1, {}});
  auto p = sub.expect_one<m::publish>();
  EXPECT_EQ(p.qos, m::qos::exactly_once);
  sub.send(m::pubrec{p.packet_id, m::reason_code::success, {}});
  EXPECT_EQ(sub.expect_one<m::pubrel>().packet_id, p.packet_id);
  sub.send(m::pubcomp{p.packet_id, m::reason_code::success, {}});
  EXPECT_TRUE(sub.received().empty());
}

TEST_F(ChannelTest, OverlappingSubscriptionsDeliverOnceAtHighestQoS) {
  client pub(b_), sub(b_);
  pub.connect("pub");
  sub.connect("sub");
  m::subscribe s{
      1, {{"a/+", {m::qos::at_most_once}}, {"a/#", {m::qos::exactly_once}}, {"a/b", {m::qos::at_least_once}}}, {}};
  sub.send(s);
  sub.received();
  pub.send(m::publish{"a/b", "x", m::qos::exactly_once, false, false, 3, {}});
  auto got = sub.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<m::publish>(got[0]).qos, m::qos::exactly_once);
}

TEST_F(ChannelTest, RetainedSetReplaceClearAndDeliverOnSubscribe) {
  client pub(b_);
  pub.connect("pub");
  pub.send(m::publish{"r/1", "v1", m::qos::at_most_once, true, false, 0, {}});
  pub.send(m::publish{"r/1", "v2", m::qos::at_most_once, true, false, 0, {}});
  pub.send(m::publish{"r/2", "gone", m::qos::at_most_once, true, false, 0, {}});
  pub.send(m::publish{"r/2", "", m::qos::at_most_once, true, false, 0, {}});
  client sub(b_);
  sub.connect("sub");
  sub.send(m::subscribe{1, {{"r/#", {m::qos::at_least_once}}}, {}});
  auto got = sub.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<m::suback>(got[0]));  // SUBACK first, then retained
  auto r = std::get<m::publish>(got[1]);
  EXPECT_EQ(r.topic, "r/1");
  EXPECT_EQ(r.payload, "v2");
  EXPECT_TRUE(r.retain);
}

TEST_F(ChannelTest, WillOnAbnormalCloseNotOnNormalDisconnect) {
  client sub(b_);
  sub.connect("sub");
  sub.send(m::subscribe{1, {{"will/#", {m::qos::at_most_once}}}, {}});
  sub.received();
  auto with_will = [&](const std::string& id) {
    auto c = std::make_unique<client>(b_);
    m::connect cn;
    cn.client_id = id;
    cn.will = m::will_message{"will/" + id, "bye", m::qos::at_most_once, false, {}};
    c->send(cn);
    c->received();
    return c;
  };
  auto normal = with_will("normal");
  normal->send(m::disconnect{m::reason_code::normal_disconnection, {}});
  normal->ch.on_close(normal->now);
  auto abnormal = with_will("abnormal");
  abnormal->ch.on_close(abnormal->now);
  auto with4 = with_will("with4");
  with4->send(m::disconnect{m::reason_code::disconnect_with_will, {}});
  with4->ch.on_close(with4->now);
  auto got = sub.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(std::get<m::publish>(got[0]).topic, "will/abnormal");
  EXPECT_EQ(std::get<m::publish>(got[1]).topic, "will/with4");
}

TEST_F(ChannelTest, TakeoverKicksOldConnectionAndResumesSession) {
  client first(b_);
  first.connect("same", false, 300);
  first.send(m::subscribe{1, {{"s", {m::qos::at_least_once}}}, {}});
  first.received();
  client second(b_);
  auto ack = second.connect("same", false, 300);
  EXPECT_TRUE(ack.session_present);
  ASSERT_EQ(first.l->kicks.size(), 1u);
  EXPECT_EQ(first.l->kicks[0], m::reason_code::session_taken_over);
  first.ch.kick(first.l->kicks[0]);  // what the net layer does on kick
  EXPECT_EQ(first.expect_one<m::disconnect>().code, m::reason_code::session_taken_over);
  first.ch.on_close(first.now);  // the old connection going away must not end the new one's session
  client pub(b_);
  pub.connect("pub");
  pub.send(m::publish{"s", "still subscribed", m::qos::at_least_once, false, false, 1, {}});
  auto got = second.expect_one<m::publish>();
  EXPECT_EQ(got.payload, "still subscribed");
}

TEST_F(ChannelTest, OfflineQoS1IsQueuedAndQoS0IsNotByDefault) {
  {
    client c(b_);
    c.connect("offline", false, 300);
    c.send(m::subscribe{1, {{"q", {m::qos::at_least_once}}}, {}});
    c.received();
    c.ch.on_close(c.now);
  }
  client pub(b_);
  pub.connect("pub");
  pub.send(m::publish{"q", "zero", m::qos::at_most_once, false, false, 0, {}});
  pub.send(m::publish{"q", "one", m::qos::at_least_once, false, false, 1, {}});
  client back(b_);
  auto ack = back.connect("offline", false, 300);
  EXPECT_TRUE(ack.session_present);
  auto got = back.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<m::publish>(got[0]).payload, "one");
}

TEST_F(ChannelTest, InflightResentWithDupOnResume) {
  client pub(b_);
  pub.connect("pub");
  {
    client c(b_);
    c.connect("r", false, 300);
    c.send(m::subscribe{1, {{"d", {m::qos::at_least_once}}}, {}});
    c.received();
    pub.send(m::publish{"d", "unacked", m::qos::at_least_once, false, false, 1, {}});
    auto first = c.expect_one<m::publish>();
    EXPECT_FALSE(first.dup);
    c.ch.on_close(c.now);  // gone without PUBACK
  }
  client back(b_);
  back.connect("r", false, 300);
  auto again = back.expect_one<m::publish>();
  EXPECT_TRUE(again.dup);
  EXPECT_EQ(again.payload, "unacked");
}

TEST_F(ChannelTest, ProtocolErrorsDisconnectV5WithReasonCode) {
  client c(b_);
  c.connect("bad");
  c.send_raw(std::string("\x36\x03\x00\x01x", 5));  // PUBLISH QoS 3
  EXPECT_TRUE(c.ch.closing());
  EXPECT_EQ(c.expect_one<m::disconnect>().code, m::reason_code::malformed_packet);

  client d(b_);
  d.connect("second-connect");
  m::connect again;
  again.client_id = "second-connect";
  d.send(again);
  EXPECT_EQ(d.expect_one<m::disconnect>().code, m::reason_code::protocol_error);
}

TEST_F(ChannelTest, V311ProtocolErrorClosesWithoutDisconnect) {
  client c(b_, m::protocol_version::v311);
  c.connect("old");
  c.send_raw(std::string("\x36\x03\x00\x01x", 5));
  EXPECT_TRUE(c.ch.closing());
  EXPECT_TRUE(c.received().empty());
}

TEST_F(ChannelTest, PacketTooLargeIsRefusedBeforeItArrives) {
  limits lim;
  lim.max_packet_size = 128;
  broker small(lim);
  client c(small);
  c.connect("big");
  // Only the fixed header of a 1 MB PUBLISH: refused without waiting for (or buffering) the body.
  c.send_raw(std::string("\x30\x80\x80\x40", 4));
  EXPECT_TRUE(c.ch.closing());
  EXPECT_EQ(c.expect_one<m::disconnect>().code, m::reason_code::packet_too_large);
}

TEST_F(ChannelTest, FramesSplitAcrossReadsAreReassembled) {
  client pub(b_), sub(b_);
  pub.connect("pub");
  sub.connect("sub");
  sub.send(m::subscribe{1, {{"split", {m::qos::at_most_once}}}, {}});
  sub.received();
  std::string bytes;
  m::encode(m::publish{"split", std::string(1000, 'z'), m::qos::at_most_once, false, false, 0, {}}, pub.v, bytes);
  m::encode(m::pingreq{}, pub.v, bytes);
  for (char ch : bytes) pub.send_raw(std::string(1, ch));  // one byte per read
  EXPECT_TRUE(std::holds_alternative<m::pingresp>(pub.received().at(0)));
  auto got = sub.expect_one<m::publish>();
  EXPECT_EQ(got.payload.size(), 1000u);
}

TEST_F(ChannelTest, KeepAliveExpiresAtOneAndAHalfTimes) {
  client c(b_);
  m::connect cn;
  cn.client_id = "ka";
  cn.keep_alive = 10;
  c.send(cn);
  c.received();
  EXPECT_FALSE(c.ch.keep_alive_expired(c.now + 14s));
  EXPECT_TRUE(c.ch.keep_alive_expired(c.now + 15s + 1ms));
}

TEST_F(ChannelTest, TopicAliasInbound) {
  client pub(b_), sub(b_);
  pub.connect("pub");
  sub.connect("sub");
  sub.send(m::subscribe{1, {{"alias/t", {m::qos::at_most_once}}}, {}});
  sub.received();
  m::publish p{"alias/t", "1", m::qos::at_most_once, false, false, 0, {}};
  p.props.topic_alias = 3;
  pub.send(p);
  p.topic.clear();
  p.payload = "2";
  pub.send(p);
  auto got = sub.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(std::get<m::publish>(got[1]).topic, "alias/t");
  EXPECT_FALSE(std::get<m::publish>(got[1]).props.topic_alias);  // aliases are per connection
  m::publish unknown{"", "x", m::qos::at_most_once, false, false, 0, {}};
  unknown.props.topic_alias = 4;
  pub.send(unknown);
  EXPECT_EQ(pub.expect_one<m::disconnect>().code, m::reason_code::protocol_error);
}

TEST_F(ChannelTest, QueueBudgetBoundsBacklogWhateverReceiveMaximum) {
  limits lim;
  lim.max_queued_messages = 5;
  broker br(lim);
  client pub(br), sub(br);
  pub.connect("pub");
  m::connect cn;
  cn.client_id = "slow";
  cn.props.receive_maximum = 1;
  sub.send(cn);
  sub.received();
  sub.send(m::subscribe{1, {{"flood", {m::qos::at_least_once}}}, {}});
  sub.received();
  for (std::uint16_t i = 1; i <= 20; ++i)
    pub.send(m::publish{"flood", "x", m::qos::at_least_once, false, false, i, {}});
  auto first = sub.received();
  ASSERT_EQ(first.size(), 1u);  // Receive Maximum 1: one in flight
  std::size_t total = 1;
  auto id = std::get<m::publish>(first[0]).packet_id;
  for (int i = 0; i < 30; ++i) {
    sub.send(m::puback{id, m::reason_code::success, {}});
    auto next = sub.received();
    if (next.empty()) break;
    ASSERT_EQ(next.size(), 1u);
    id = std::get<m::publish>(next[0]).packet_id;
    ++total;
  }
  // All 20 arrived before the subscriber's thread pulled any: the budget kept 5, dropped 15.
  EXPECT_EQ(total, 5u);
  EXPECT_GT(br.sessions().size(), 0u);
}

TEST_F(ChannelTest, MessageExpiryDropsQueuedMessagesAndForwardsTheRemainder) {
  {
    client c(b_);
    c.connect("exp", false, 300);
    c.send(m::subscribe{1, {{"e", {m::qos::at_least_once}}}, {}});
    c.received();
    c.ch.on_close(c.now);
  }
  client pub(b_);
  pub.connect("pub");
  m::publish shortlived{"e", "short", m::qos::at_least_once, false, false, 1, {}};
  shortlived.props.message_expiry_interval = 5;
  pub.send(shortlived);
  m::publish longer{"e", "long", m::qos::at_least_once, false, false, 2, {}};
  longer.props.message_expiry_interval = 60;
  pub.send(longer);
  t_ += 10s;  // the first expired while the subscriber was away
  client back(b_);
  back.connect("exp", false, 300);
  auto got = back.received();
  ASSERT_EQ(got.size(), 1u);  // MQTT-3.3.2-5
  const auto& p = std::get<m::publish>(got[0]);
  EXPECT_EQ(p.payload, "long");
  EXPECT_EQ(p.props.message_expiry_interval, 50u);  // MQTT-3.3.2-6: 60 minus the 10 waited
  EXPECT_EQ(b_.stats().dropped_expired.load(), 1u);
}

TEST_F(ChannelTest, ExpiredRetainedMessageIsNotDelivered) {
  client pub(b_);
  pub.connect("pub");
  m::publish r{"ret/e", "gone soon", m::qos::at_most_once, true, false, 0, {}};
  r.props.message_expiry_interval = 2;
  pub.send(r);
  t_ += 3s;
  client sub(b_);
  sub.connect("sub");
  sub.send(m::subscribe{1, {{"ret/#", {m::qos::at_most_once}}}, {}});
  auto got = sub.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<m::suback>(got[0]));
  EXPECT_EQ(b_.retained().size(), 0u);
}

namespace {
std::unique_ptr<client> connect_with_will(broker& b, const std::string& id, std::uint32_t delay, std::uint32_t expiry) {
  auto c = std::make_unique<client>(b);
  m::connect cn;
  cn.client_id = id;
  cn.clean_start = false;
  cn.props.session_expiry_interval = expiry;
  cn.will = m::will_message{"will/" + id, "late", m::qos::at_most_once, false, {}};
  cn.will->props.will_delay_interval = delay;
  c->send(cn);
  c->received();
  return c;
}
}  // namespace

TEST_F(ChannelTest, WillDelayCancelledByReconnectAndPublishedAfterDelay) {
  client sub(b_);
  sub.connect("sub");
  sub.send(m::subscribe{1, {{"will/#", {m::qos::at_most_once}}}, {}});
  sub.received();

  auto back_soon = connect_with_will(b_, "soon", 30, 300);
  back_soon->ch.on_close(t_);
  auto gone = connect_with_will(b_, "gone", 30, 300);
  gone->ch.on_close(t_);
  EXPECT_TRUE(sub.received().empty());  // delayed, not yet
  t_ += 10s;
  b_.tick();
  client again(b_);
  m::connect cn;
  cn.client_id = "soon";
  cn.clean_start = false;
  cn.props.session_expiry_interval = 300;
  again.send(cn);  // within the delay: its will must never be sent (MQTT-3.1.3-9)
  again.received();
  t_ += 25s;
  b_.tick();
  auto got = sub.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<m::publish>(got[0]).topic, "will/gone");
}

TEST_F(ChannelTest, WillPublishedWhenSessionEndsBeforeDelay) {
  client sub(b_);
  sub.connect("sub");
  sub.send(m::subscribe{1, {{"will/#", {m::qos::at_most_once}}}, {}});
  sub.received();
  auto c = connect_with_will(b_, "short-session", 600, 5);
  c->ch.on_close(t_);
  t_ += 6s;
  b_.tick();  // the session ends at 5 s, before the 600 s delay (MQTT-3.1.2-8)
  auto got = sub.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<m::publish>(got[0]).topic, "will/short-session");
  EXPECT_EQ(b_.sessions().size(), 1u);  // only "sub" is left
}

TEST_F(ChannelTest, OutboundTopicAliasesUpToTheClientsMaximum) {
  client sub(b_), pub(b_);
  m::connect cn;
  cn.client_id = "aliased";
  cn.props.topic_alias_maximum = 1;
  sub.send(cn);
  sub.received();
  sub.send(m::subscribe{1, {{"al/#", {m::qos::at_most_once}}}, {}});
  sub.received();
  pub.connect("pub");
  for (const char* t : {"al/one", "al/one", "al/two"})
    pub.send(m::publish{t, "x", m::qos::at_most_once, false, false, 0, {}});
  auto got = sub.received();
  ASSERT_EQ(got.size(), 3u);
  const auto& first = std::get<m::publish>(got[0]);
  const auto& second = std::get<m::publish>(got[1]);
  const auto& third = std::get<m::publish>(got[2]);
  EXPECT_EQ(first.topic, "al/one");
  EXPECT_EQ(first.props.topic_alias, 1);
  EXPECT_EQ(second.topic, "");  // the alias alone names the topic
  EXPECT_EQ(second.props.topic_alias, 1);
  EXPECT_EQ(third.topic, "al/two");  // no alias left: MQTT-3.3.2-8 never above the maximum
  EXPECT_FALSE(third.props.topic_alias);
}

TEST_F(ChannelTest, SharedSubscriptionRoundRobinAndRerouteOnLeave) {
  client a(b_), bm(b_), pub(b_);
  a.connect("a");
  bm.connect("b");
  pub.connect("pub");
  for (auto* c : {&a, &bm}) {
    c->send(m::subscribe{1, {{"$share/g/job", {m::qos::at_least_once}}}, {}});
    EXPECT_EQ(c->expect_one<m::suback>().codes, std::vector<m::reason_code>{m::reason_code::granted_qos_1});
  }
  for (std::uint16_t i = 1; i <= 4; ++i)
    pub.send(m::publish{"job", std::to_string(i), m::qos::at_least_once, false, false, i, {}});
  auto to_a = a.received();
  auto to_b = bm.received();
  EXPECT_EQ(to_a.size(), 2u);
  EXPECT_EQ(to_b.size(), 2u);
  // "a" leaves without acknowledging: its two messages go to "b".
  a.ch.on_close(t_);
  auto moved = bm.received();
  ASSERT_EQ(moved.size(), 2u);
  std::set<std::string> payloads;
  for (auto& p : to_a) payloads.insert(std::get<m::publish>(p).payload);
  for (auto& p : moved) EXPECT_TRUE(payloads.contains(std::get<m::publish>(p).payload));
}

TEST_F(ChannelTest, SharedSubscriptionGetsNoRetainedAndRefusesNoLocal) {
  client pub(b_), sub(b_);
  pub.connect("pub");
  pub.send(m::publish{"sr", "retained", m::qos::at_most_once, true, false, 0, {}});
  sub.connect("sub");
  sub.send(m::subscribe{1, {{"$share/g/sr", {m::qos::at_most_once}}}, {}});
  auto got = sub.received();
  ASSERT_EQ(got.size(), 1u);  // SUBACK only: no retained messages on a shared subscription
  sub.send(m::subscribe{2, {{"$share/g/x", {m::qos::at_most_once, /*no_local=*/true}}}, {}});
  EXPECT_EQ(sub.expect_one<m::disconnect>().code, m::reason_code::protocol_error);  // MQTT-3.8.3-4
}

namespace {
// Challenge/response: the server sends "nonce", the client must answer "nonce:secret".
struct challenge_auth : auth_exchange {
  auth_step start(const std::string&, const std::optional<std::string>& data) override {
    if (data != "hello") return auth_step::refuse(m::reason_code::not_authorized);
    return auth_step::challenge("nonce");
  }
  auth_step next(const std::optional<std::string>& data) override {
    if (data == "nonce:secret") return auth_step::accept("welcome");
    return auth_step::refuse(m::reason_code::not_authorized);
  }
};
}  // namespace

TEST_F(ChannelTest, EnhancedAuthenticationHook) {
  b_.authenticators().add("TEST-CHALLENGE", [] { return std::make_unique<challenge_auth>(); });
  client unknown(b_);
  m::connect cn;
  cn.client_id = "x";
  cn.props.authentication_method = "SCRAM-SHA-1";
  unknown.send(cn);
  EXPECT_EQ(unknown.expect_one<m::connack>().code, m::reason_code::bad_authentication_method);

  client c(b_);
  cn.props.authentication_method = "TEST-CHALLENGE";
  cn.props.authentication_data = "hello";
  c.send(cn);
  auto challenge = c.expect_one<m::auth>();
  EXPECT_EQ(challenge.code, m::reason_code::continue_authentication);
  EXPECT_EQ(challenge.props.authentication_data, "nonce");
  EXPECT_FALSE(c.ch.connected());
  m::auth answer{m::reason_code::continue_authentication, {}};
  answer.props.authentication_method = "TEST-CHALLENGE";
  answer.props.authentication_data = "nonce:secret";
  c.send(answer);
  auto ack = c.expect_one<m::connack>();
  EXPECT_EQ(ack.code, m::reason_code::success);
  EXPECT_EQ(ack.props.authentication_method, "TEST-CHALLENGE");
  EXPECT_EQ(ack.props.authentication_data, "welcome");
  EXPECT_TRUE(c.ch.connected());

  // Re-authentication (AUTH 0x19) with a wrong answer ends the connection.
  m::auth reauth{m::reason_code::re_authenticate, {}};
  reauth.props.authentication_method = "TEST-CHALLENGE";
  reauth.props.authentication_data = "hello";
  c.send(reauth);
  EXPECT_EQ(c.expect_one<m::auth>().code, m::reason_code::continue_authentication);
  answer.props.authentication_data = "wrong";
  c.send(answer);
  EXPECT_EQ(c.expect_one<m::disconnect>().code, m::reason_code::not_authorized);
}

TEST_F(ChannelTest, ProtocolErrorDuringAuthenticationIsRefusedWithConnack) {
  b_.authenticators().add("TEST-CHALLENGE", [] { return std::make_unique<challenge_auth>(); });
  client c(b_);
  m::connect cn;
  cn.client_id = "x";
  cn.props.authentication_method = "TEST-CHALLENGE";
  cn.props.authentication_data = "hello";
  c.send(cn);
  EXPECT_EQ(c.expect_one<m::auth>().code, m::reason_code::continue_authentication);
  c.send(m::pingreq{});  // only AUTH may come now
  // MQTT-3.14.0-1: no DISCONNECT before a successful CONNACK; the refusal is a CONNACK.
  EXPECT_EQ(c.expect_one<m::connack>().code, m::reason_code::protocol_error);
  EXPECT_TRUE(c.ch.closing());
}

namespace {
// A token method: the data "user@SECONDS" is accepted for `user`, expiring SECONDS after the
// test clients' start time; anything else is bad credentials.
struct token_auth : auth_exchange {
  auth_step start(const std::string&, const std::optional<std::string>& data) override {
    const auto at = data ? data->find('@') : std::string::npos;
    if (at == std::string::npos) return auth_step::refuse(m::reason_code::bad_user_name_or_password, "no token");
    auto s = auth_step::accept();
    s.username = data->substr(0, at);
    s.attributes["aud"] = "test";
    s.expires_at = clock::time_point{} + 1h + std::chrono::seconds(std::stoi(data->substr(at + 1)));
    return s;
  }
  auth_step next(const std::optional<std::string>&) override {
    return auth_step::refuse(m::reason_code::protocol_error);
  }
};
}  // namespace

// A token's expiry is a deadline of the channel beside the keep alive; re-authentication moves
// it; the authenticated user is the principal even when the CONNECT names another.
TEST_F(ChannelTest, TokenExpiryIsADeadlineThatReauthenticationMoves) {
  b_.authenticators().add("TEST-TOKEN", [] { return std::make_unique<token_auth>(); });
  client c(b_);
  m::connect cn;
  cn.client_id = "tok";
  cn.keep_alive = 60;
  cn.username = "admin";  // not checked with enhanced authentication: must not become the principal
  cn.props.authentication_method = "TEST-TOKEN";
  cn.props.authentication_data = "sensor@30";
  c.send(cn);
  EXPECT_EQ(c.expect_one<m::connack>().code, m::reason_code::success);
  ASSERT_TRUE(c.ch.who());
  EXPECT_EQ(c.ch.who()->username, "sensor");
  EXPECT_EQ(c.ch.who()->attributes.at("aud"), "test");
  EXPECT_EQ(c.ch.timer_remaining(c.now), 30s);  // before the keep alive's 90 s
  EXPECT_EQ(c.ch.timer_expired(c.now + 29s), m::reason_code::success);
  EXPECT_EQ(c.ch.timer_expired(c.now + 30s), m::reason_code::maximum_connect_time);

  m::auth reauth{m::reason_code::re_authenticate, {}};
  reauth.props.authentication_method = "TEST-TOKEN";
  reauth.props.authentication_data = "sensor@120";
  c.send(reauth);
  EXPECT_EQ(c.expect_one<m::auth>().code, m::reason_code::success);
  EXPECT_EQ(c.ch.timer_expired(c.now + 30s), m::reason_code::success);
  EXPECT_EQ(c.ch.credentials_expiry(), clock::time_point{} + 1h + 120s);
  EXPECT_EQ(c.ch.timer_expired(c.now + 91s), m::reason_code::keep_alive_timeout);  // no packet since

  // A refused re-authentication ends the connection: 0x86 is no DISCONNECT code, so 0x87.
  const auto failures = b_.stats().auth_failures.load();
  reauth.props.authentication_data = "garbage";
  c.send(reauth);
  EXPECT_EQ(c.expect_one<m::disconnect>().code, m::reason_code::not_authorized);
  EXPECT_TRUE(c.ch.closing());
  EXPECT_EQ(b_.stats().auth_failures.load(), failures + 1);

  client plain(b_);  // no token: no credentials deadline
  plain.connect("plain");
  EXPECT_EQ(plain.ch.credentials_expiry(), clock::time_point::max());
  EXPECT_EQ(plain.ch.timer_expired(plain.now + 24h), m::reason_code::keep_alive_timeout);
}

TEST_F(ChannelTest, RequestResponseInformationIsAnswered) {
  client c(b_);
  m::connect cn;
  cn.client_id = "rr";
  cn.props.request_response_information = 1;
  c.send(cn);
  auto ack = c.expect_one<m::connack>();
  EXPECT_EQ(ack.props.response_information, "response/rr");
  client d(b_);
  EXPECT_FALSE(d.connect("plain").props.response_information);
}

// A delivery that MQTT cannot carry (a topic built by a reserved-topic service from a long client
// id) is dropped and counted, never written with a wrapped length; what follows goes out.
TEST_F(ChannelTest, UnencodableDeliveryIsDroppedAndCountedNeverSentWrapped) {
  client c(b_);
  c.connect("long-topic");
  c.received();
  for (std::string topic : {std::string(70000, 't'), std::string("ok")}) {
    auto msg = std::make_shared<message>();
    msg->topic = topic;
    msg->payload = "p";
    msg->qos = m::qos::at_least_once;
    delivery d;
    d.msg = msg;
    d.qos = m::qos::at_least_once;
    ASSERT_TRUE(b_.deliver_to("long-topic", std::move(d)));
  }
  auto p = c.expect_one<m::publish>();
  EXPECT_EQ(p.topic, "ok");
  EXPECT_EQ(b_.stats().dropped_unencodable.load(), 1u);
  EXPECT_EQ(b_.stats().dropped_too_large.load(), 0u);
}

TEST_F(ChannelTest, ClientIdLongerThanTheLimitIsRefused) {
  for (auto v : {m::protocol_version::v5, m::protocol_version::v311}) {
    client ok(b_, v);
    EXPECT_EQ(ok.connect(std::string(256, 'a')).code, m::reason_code::success);
    client c(b_, v);
    // 0x85; for 3.1.1 the encoder writes return code 0x02, which decodes back to the same value.
    EXPECT_EQ(c.connect(std::string(257, 'a')).code, m::reason_code::client_identifier_not_valid);
    EXPECT_TRUE(c.ch.closing());
  }
}

}  // namespace
}  // namespace edgemq::broker
