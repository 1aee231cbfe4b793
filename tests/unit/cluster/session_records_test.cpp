// The cluster's copy of a persistent session (src/cluster/session_records.hpp): the records a
// node writes through replicated_session_store come back as the same session on another node.
#include "cluster/session_records.hpp"

#include <gtest/gtest.h>

#include "cluster/session_etcd_http.hpp"
#include "persistence/broker_records.hpp"
#include "test_delivery.hpp"

namespace edgemq::cluster {
namespace {

using namespace persistence;

broker::delivery make_delivery(std::string topic, std::string payload, std::uint64_t seq) {
  auto d = testing::qos1_delivery(std::move(topic), std::move(payload), seq);
  d.subscription_ids = {7};
  return d;
}

broker::session_image image(std::string id, std::uint32_t expiry, std::uint64_t disconnected) {
  broker::session_image img;
  img.client_id = std::move(id);
  img.expiry_interval = expiry;
  img.disconnected_wall_ms = disconnected;
  mqtt::subscribe_options o;
  o.qos = mqtt::qos::exactly_once;
  o.no_local = true;
  img.subscriptions.push_back({"a/+/c", o, 7});
  img.subscriptions.push_back({"$share/g/x/#", {}, 0});
  return img;
}

TEST(SessionRecords, KeysSeparateClientsWhosePrefixesNest) {
  const auto a = session_records_prefix("r/", "a");
  const auto ab = session_records_prefix("r/", "a/b");
  EXPECT_NE(ab.compare(0, a.size(), a), 0) << "client 'a/b' must not be under client 'a''s prefix";
  EXPECT_EQ(session_owner_key("r/", "a"), "r/o/61");
  EXPECT_EQ(a, "r/s/61/");
}

TEST(SessionRecords, RoundTripOfImageMessagesQos2AndWill) {
  const std::uint64_t wall = 1'700'000'000'000;
  const auto now = broker::clock::now();
  std::vector<std::pair<std::string, std::string>> records;
  records.emplace_back(session_key("dev-1"), encode_session(image("dev-1", 3600, wall - 1000)));
  // In-flight (awaiting PUBACK, packet id 12) and queued, written out of seq order.
  records.emplace_back(message_key("dev-1", 9), *encode_delivery(broker::stored_stage::queued, 0,
                                                                 make_delivery("a/b/c", std::string("\0x", 2), 9), 0));
  records.emplace_back(message_key("dev-1", 4),
                       *encode_delivery(broker::stored_stage::awaiting_ack, 12, make_delivery("a/z/c", "first", 4), 0));
  records.emplace_back(qos2_key("dev-1", 300), encode_qos2_record());
  broker::message will;
  will.topic = "dev/dead";
  will.payload = "bye";
  records.emplace_back(will_key("dev-1"), *encode_will_record(will, wall + 60'000, 0));

  const auto d = decode_session_records("dev-1", records, now, wall);
  ASSERT_TRUE(d.session);
  EXPECT_EQ(d.unreadable, 0u);
  EXPECT_FALSE(d.due_will);
  const auto& s = *d.session;
  EXPECT_EQ(s.image.client_id, "dev-1");
  EXPECT_EQ(s.image.expiry_interval, 3600u);
  ASSERT_EQ(s.image.subscriptions.size(), 2u);
  EXPECT_EQ(s.image.subscriptions[0].filter, "a/+/c");
  EXPECT_TRUE(s.image.subscriptions[0].options.no_local);
  EXPECT_EQ(s.image.subscriptions[0].options.qos, mqtt::qos::exactly_once);
  EXPECT_EQ(s.image.subscriptions[0].subscription_id, 7u);
  EXPECT_EQ(s.image.subscriptions[1].filter, "$share/g/x/#");
  ASSERT_EQ(s.messages.size(), 2u);
  EXPECT_EQ(s.messages[0].first, broker::stored_stage::awaiting_ack);
  EXPECT_EQ(s.messages[0].second.first, 12);
  EXPECT_EQ(s.messages[0].second.second.seq, 4u);
  EXPECT_EQ(s.messages[0].second.second.msg->payload, "first");
  EXPECT_EQ(s.messages[1].first, broker::stored_stage::queued);
  EXPECT_EQ(s.messages[1].second.second.msg->payload, std::string("\0x", 2));
  EXPECT_EQ(s.messages[1].second.second.msg->topic, "a/b/c");
  ASSERT_EQ(s.inbound_qos2.size(), 1u);
  EXPECT_EQ(s.inbound_qos2[0], 300);
  ASSERT_TRUE(s.will);
  EXPECT_EQ(s.will->topic, "dev/dead");
  EXPECT_EQ(s.will_at_wall_ms, wall + 60'000);
}

TEST(SessionRecords, ExpiredSessionIsNotResumedAndItsWillIsDue) {
  const std::uint64_t wall = 1'700'000'000'000;
  std::vector<std::pair<std::string, std::string>> records;
  records.emplace_back(session_key("c"), encode_session(image("c", 10, wall - 11'000)));
  broker::message will;
  will.topic = "w";
  records.emplace_back(will_key("c"), *encode_will_record(will, wall + 60'000, 0));
  const auto d = decode_session_records("c", records, broker::clock::now(), wall);
  EXPECT_FALSE(d.session);
  EXPECT_TRUE(d.expired);
  ASSERT_TRUE(d.due_will);
  EXPECT_EQ(d.due_will->topic, "w");
}

TEST(SessionRecords, ConnectedWhenItsNodeDiedCountsAsResumable) {
  const std::uint64_t wall = 1'700'000'000'000;
  std::vector<std::pair<std::string, std::string>> records;
  records.emplace_back(session_key("c"), encode_session(image("c", 1, 0)));  // 0: connected when written
  EXPECT_TRUE(decode_session_records("c", records, broker::clock::now(), wall).session);
}

// An armed will (the will of a connection open when written) is never a session's delayed will:
// its publish time is not known until someone learns its connection ended.
TEST(SessionRecords, AnArmedWillIsKeptApartFromTheSession) {
  const std::uint64_t wall = 1'700'000'000'000;
  broker::message will;
  will.topic = "dev/offline";
  will.payload = "1";
  std::vector<std::pair<std::string, std::string>> records;
  records.emplace_back(session_key("c"), encode_session(image("c", 600, 0)));
  records.emplace_back(will_key("c"), *encode_will_record(will, armed_will_at(30), 0));
  const auto d = decode_session_records("c", records, broker::clock::now(), wall);
  ASSERT_TRUE(d.session);
  EXPECT_FALSE(d.session->will) << "an armed will would be resumed as a delayed will of the year 292 million";
  EXPECT_FALSE(d.due_will);
  ASSERT_TRUE(d.armed_will);
  EXPECT_EQ(d.armed_will->topic, "dev/offline");
  EXPECT_EQ(d.armed_delay_s, 30u);

  // No session record (a client without session expiry): only the armed will.
  records.erase(records.begin());
  const auto alone = decode_session_records("c", records, broker::clock::now(), wall);
  EXPECT_FALSE(alone.session);
  EXPECT_EQ(alone.unreadable, 0u);
  ASSERT_TRUE(alone.armed_will);
  EXPECT_EQ(alone.armed_will->payload, "1");
}

TEST(SessionRecords, OrphanAndForeignRecordsAreNotASession) {
  std::vector<std::pair<std::string, std::string>> records;
  records.emplace_back(message_key("c", 1),
                       *encode_delivery(broker::stored_stage::queued, 0, make_delivery("t", "p", 1), 0));
  records.emplace_back(session_key("other"), encode_session(image("other", 100, 0)));
  records.emplace_back("garbage", "x");
  const auto d = decode_session_records("c", records, broker::clock::now(), 1);
  EXPECT_FALSE(d.session);
  EXPECT_EQ(d.unreadable, 2u);
}

TEST(SessionRecords, ExpiredMessagesAreDropped) {
  const std::uint64_t wall = 1'700'000'000'000;
  std::vector<std::pair<std::string, std::string>> records;
  records.emplace_back(session_key("c"), encode_session(image("c", 100, 0)));
  records.emplace_back(message_key("c", 1),
                       *encode_delivery(broker::stored_stage::queued, 0, make_delivery("t", "old", 1), wall - 1));
  records.emplace_back(message_key("c", 2),
                       *encode_delivery(broker::stored_stage::queued, 0, make_delivery("t", "new", 2), wall + 5000));
  const auto d = decode_session_records("c", records, broker::clock::now(), wall);
  ASSERT_TRUE(d.session);
  ASSERT_EQ(d.session->messages.size(), 1u);
  EXPECT_EQ(d.session->messages[0].second.second.msg->payload, "new");
  EXPECT_TRUE(d.session->messages[0].second.second.msg->expires_at);
}

TEST(SessionEtcdHttp, Base64AndPrefixEnd) {
  for (std::string raw :
       {std::string(), std::string("a"), std::string("ab"), std::string("abc"), std::string("\0\xff\x10key", 6)})
    EXPECT_EQ(session_etcd_http::unb64(session_etcd_http::b64(raw)), raw);
  EXPECT_EQ(session_etcd_http::b64("ss/k1"), "c3MvazE=");
  EXPECT_EQ(session_etcd_http::prefix_end("ss/"), "ss0");
  EXPECT_EQ(session_etcd_http::prefix_end(std::string("a\xff", 2)), "b");
}

}  // namespace
}  // namespace edgemq::cluster
