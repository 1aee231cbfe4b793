// Broker records and the durable store against a real RocksDB in a temporary directory: what
// goes in comes back into a fresh broker after a "restart".
#include "persistence/durable_broker_store.hpp"

#include <filesystem>

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "broker/link.hpp"
#include "persistence/broker_records.hpp"

namespace edgemq::persistence {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

broker::message_ptr make_message(std::string topic, std::string payload, mqtt::qos q) {
  auto m = std::make_shared<broker::message>();
  m->topic = std::move(topic);
  m->payload = std::move(payload);
  m->qos = q;
  m->props.mut().user_properties = {{"k", "v"}};
  m->props.mut().content_type = "text/plain";
  m->origin_client_id = "publisher";
  return m;
}

TEST(BrokerRecords, RoundTrips) {
  broker::session_image s{
      "client", 3600, 12345, {{"a/+", {mqtt::qos::exactly_once, true, true, mqtt::retain_handling::dont_send}, 7}}};
  auto back = decode_session(encode_session(s));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->expiry_interval, 3600u);
  EXPECT_EQ(back->disconnected_wall_ms, 12345u);
  ASSERT_EQ(back->subscriptions.size(), 1u);
  EXPECT_EQ(back->subscriptions[0].filter, "a/+");
  EXPECT_EQ(back->subscriptions[0].options, s.subscriptions[0].options);
  EXPECT_EQ(back->subscriptions[0].subscription_id, 7u);

  broker::delivery d;
  d.msg = make_message("t", std::string("\0bin", 4), mqtt::qos::exactly_once);
  d.qos = mqtt::qos::at_least_once;
  d.retain = true;
  d.subscription_ids = {3, 9};
  auto sd = decode_delivery(*encode_delivery(broker::stored_stage::awaiting_pubcomp, 42, d, 999));
  ASSERT_TRUE(sd);
  EXPECT_EQ(sd->stage, broker::stored_stage::awaiting_pubcomp);
  EXPECT_EQ(sd->packet_id, 42);
  EXPECT_EQ(sd->expires_wall_ms, 999u);
  EXPECT_EQ(sd->d.qos, mqtt::qos::at_least_once);
  EXPECT_TRUE(sd->d.retain);
  EXPECT_EQ(sd->d.subscription_ids, (std::vector<std::uint32_t>{3, 9}));
  EXPECT_EQ(sd->d.msg->payload, std::string("\0bin", 4));
  EXPECT_EQ(sd->d.msg->props->user_properties, d.msg->props->user_properties);
  EXPECT_EQ(sd->d.msg->props->content_type, d.msg->props->content_type);
  EXPECT_EQ(sd->d.msg->origin_client_id, "publisher");

  EXPECT_FALSE(decode_session("\x09garbage"));  // unknown format version
  // Option bytes no SUBSCRIBE grants are corruption, not a subscription to restore.
  const std::string good = encode_session(s);
  const auto options_at = good.size() - 5;  // the one subscription's options byte, then its id
  ASSERT_EQ(static_cast<std::uint8_t>(good[options_at]) & 0x03, 0x02);
  for (const std::uint8_t bad : {0x03, 0x30, 0x40, 0x80}) {
    std::string corrupt = good;
    corrupt[options_at] = static_cast<char>(bad);
    EXPECT_FALSE(decode_session(corrupt)) << int(bad);
  }
  EXPECT_FALSE(decode_delivery(std::string("\x01\x00", 2)));
  EXPECT_LT(message_key("c", 1), message_key("c", 2));
  EXPECT_LT(message_key("c", 255), message_key("c", 256));  // big-endian: numeric order
  EXPECT_LT(client_range_begin('M', "c"), message_key("c", 0));
  EXPECT_LT(message_key("c", ~0ull), client_range_end('M', "c"));
  EXPECT_GT(client_range_begin('M', "cd"), client_range_end('M', "c"));
}

// Each record kind decodes from its key and value what restore() needs; what cannot be read
// (a key too short for its kind, an unknown format version, a truncated value) is nullopt.
TEST(BrokerRecords, WholeRecordsPerKind) {
  EXPECT_EQ(record_kind_of(session_key("c")), record_kind::session);
  EXPECT_EQ(record_kind_of(message_key("c", 1)), record_kind::message);
  EXPECT_EQ(record_kind_of(qos2_key("c", 1)), record_kind::inbound_qos2);
  EXPECT_EQ(record_kind_of(retained_key("t")), record_kind::retained);
  EXPECT_EQ(record_kind_of(will_key("c")), record_kind::will);
  EXPECT_FALSE(record_kind_of("~probe"));
  EXPECT_FALSE(record_kind_of(""));

  const auto m = make_message("a/b", "payload", mqtt::qos::at_least_once);
  auto r = decode_retained_record(*encode_retained_record(*m, 777));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->msg.topic, "a/b");
  EXPECT_EQ(r->msg.payload, "payload");
  EXPECT_EQ(r->expires_wall_ms, 777u);
  EXPECT_FALSE(decode_retained_record("\x09" + *encode_message(*m, 0)));

  broker::session_image img{"ignored", 60, 5, {}};
  auto s = decode_session_record(session_key(std::string("client\0x", 8)), encode_session(img));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->client_id, std::string("client\0x", 8));  // from the key
  EXPECT_EQ(s->expiry_interval, 60u);

  broker::delivery d;
  d.msg = m;
  d.qos = mqtt::qos::at_least_once;
  auto md =
      decode_message_record(message_key("cl", 258), *encode_delivery(broker::stored_stage::awaiting_ack, 9, d, 0));
  ASSERT_TRUE(md);
  EXPECT_EQ(md->client_id, "cl");
  EXPECT_EQ(md->delivery.d.seq, 258u);
  EXPECT_EQ(md->delivery.packet_id, 9);
  EXPECT_FALSE(decode_message_record("Mcl", *encode_delivery(broker::stored_stage::queued, 0, d, 0)));
  EXPECT_FALSE(decode_message_record(std::string("M\0", 2), *encode_delivery(broker::stored_stage::queued, 0, d, 0)));

  auto q = decode_qos2_record(qos2_key("cl", 513), encode_qos2_record());
  ASSERT_TRUE(q);
  EXPECT_EQ(q->client_id, "cl");
  EXPECT_EQ(q->packet_id, 513);
  EXPECT_FALSE(decode_qos2_record("Q", encode_qos2_record()));
  EXPECT_FALSE(decode_qos2_record(qos2_key("cl", 1), "\x09"));

  auto w = decode_will_record(will_key("cl"), *encode_will_record(*m, 123456, 999));
  ASSERT_TRUE(w);
  EXPECT_EQ(w->client_id, "cl");
  EXPECT_EQ(w->at_wall_ms, 123456u);
  EXPECT_EQ(w->will.expires_wall_ms, 999u);
  EXPECT_EQ(w->will.msg.topic, "a/b");
  EXPECT_FALSE(decode_will_record(will_key("cl"), std::string("\x01\0\0", 3)));  // truncated time
}

// A 3.1.1 PUBLISH may be one byte shorter than its MQTT 5 form, so a message at the packet size
// limit (here: a topic longer than a string field) cannot be stored: every encoder says so
// instead of writing a record that restore() could not read.
TEST(BrokerRecords, AMessageThatCannotBeEncodedIsRefusedByEveryRecordKind) {
  auto m = make_message(std::string(70'000, 't'), "p", mqtt::qos::at_least_once);
  broker::delivery d;
  d.msg = m;
  d.qos = mqtt::qos::at_least_once;
  EXPECT_FALSE(encode_message(*m, 0));
  EXPECT_FALSE(encode_delivery(broker::stored_stage::queued, 0, d, 0));
  EXPECT_FALSE(encode_retained_record(*m, 0));
  EXPECT_FALSE(encode_will_record(*m, 1, 0));
}

struct counting_link : broker::link {
  std::atomic<int> notified{0};
  void notify() override { ++notified; }
  void kick(mqtt::reason_code) override {}
};

class DurableStoreTest : public ::testing::Test {
 protected:
  fs::path dir_ = fs::temp_directory_path() / ("edgemq-durable-" + std::to_string(::getpid()) + "-" +
                                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
  void SetUp() override { fs::remove_all(dir_); }
  void TearDown() override { fs::remove_all(dir_); }
  std::unique_ptr<durable_broker_store> open() {
    return std::make_unique<durable_broker_store>(dir_.string(), durability::sync, 5ms, nullptr);
  }
};

TEST_F(DurableStoreTest, CommitNotifiesWaitersAndStateComesBack) {
  {
    auto store = open();
    broker::broker b{broker::limits{}};
    EXPECT_TRUE(store->restore(b).empty());
    store->start();
    broker::session_image img{"persistent", 3600, broker::wall_now_ms(), {{"t/#", {mqtt::qos::at_least_once}, 5}}};
    store->save_session(img);
    broker::delivery queued;
    queued.msg = make_message("t/1", "queued", mqtt::qos::at_least_once);
    queued.qos = mqtt::qos::at_least_once;
    queued.seq = 1;
    store->put_message("persistent", 1, broker::stored_stage::queued, 0, queued);
    broker::delivery inflight = queued;
    inflight.msg = make_message("t/2", "in flight", mqtt::qos::exactly_once);
    inflight.qos = mqtt::qos::exactly_once;
    inflight.seq = 2;
    store->put_message("persistent", 2, broker::stored_stage::awaiting_pubcomp, 77, inflight);
    store->put_inbound_qos2("persistent", 12);
    store->put_retained(*make_message("r/1", "kept", mqtt::qos::at_most_once));
    store->put_retained(*make_message("r/2", "dropped", mqtt::qos::at_most_once));
    const auto last = store->erase_retained("r/2");
    auto l = std::make_shared<counting_link>();
    store->notify_when_decided(last, l);
    store->stop();  // writes what is queued
    EXPECT_GE(store->decided(), last);
    EXPECT_EQ(l->notified.load(), 1);
    // An ended session leaves nothing.
  }
  auto store = open();
  broker::broker b{broker::limits{}};
  EXPECT_TRUE(store->restore(b).empty());
  EXPECT_EQ(b.retained().size(), 1u);
  auto s = b.sessions().find("persistent");
  ASSERT_TRUE(s);
  auto sl = s->lock();
  EXPECT_EQ(s->expiry_interval_, 3600u);
  auto* st = s->state();
  ASSERT_TRUE(st);
  ASSERT_EQ(st->queue_.size(), 1u);
  EXPECT_EQ(st->queue_.front().msg->payload, "queued");
  ASSERT_EQ(st->inflight_.count(77), 1u);
  EXPECT_EQ(st->inflight_.at(77).stage, broker::inflight_stage::awaiting_pubcomp);
  EXPECT_TRUE(st->inbound_qos2_.contains(12));
  EXPECT_EQ(s->next_seq_, 3u);
  EXPECT_EQ(b.subscriptions().size(), 1u);
}

// The refused write fails alone: the tickets around it are written and durable, its waiter is
// woken, and nothing of it reaches the disk.
TEST_F(DurableStoreTest, AWriteThatCannotBeEncodedFailsAloneAndIsNeverAcknowledged) {
  {
    auto store = open();
    broker::broker b{broker::limits{}};
    store->restore(b);
    store->start();
    broker::delivery good;
    good.msg = make_message("t/1", "fits", mqtt::qos::at_least_once);
    good.qos = mqtt::qos::at_least_once;
    broker::delivery too_big = good;
    too_big.msg = make_message(std::string(70'000, 't'), "does not fit", mqtt::qos::at_least_once);
    store->save_session({"c", 3600, broker::wall_now_ms(), {{"#", {mqtt::qos::at_least_once}, 0}}});
    const auto before = store->put_message("c", 1, broker::stored_stage::queued, 0, good);
    const auto refused = store->put_message("c", 2, broker::stored_stage::queued, 0, too_big);
    const auto after = store->put_message("c", 3, broker::stored_stage::queued, 0, good);
    auto l = std::make_shared<counting_link>();
    store->notify_when_decided(refused, l);
    store->stop();
    EXPECT_EQ(l->notified.load(), 1);
    EXPECT_EQ(store->outcome_of(before), broker::durable_store::outcome::durable);
    EXPECT_EQ(store->outcome_of(refused), broker::durable_store::outcome::failed);
    EXPECT_EQ(store->outcome_of(after), broker::durable_store::outcome::durable);
    EXPECT_EQ(store->refused_writes(), 1u);
    EXPECT_TRUE(store->healthy());  // the disk is fine: only that message was refused
  }
  auto store = open();
  broker::broker b{broker::limits{}};
  store->restore(b);
  auto s = b.sessions().find("c");
  ASSERT_TRUE(s);
  auto sl = s->lock();
  ASSERT_TRUE(s->state());
  ASSERT_EQ(s->state()->queue_.size(), 2u);
  for (const auto& d : s->state()->queue_) EXPECT_EQ(d.msg->topic, "t/1");
}

TEST_F(DurableStoreTest, SessionsThatExpiredWhileDownAreGoneAndTheirWillIsDue) {
  {
    auto store = open();
    broker::broker b{broker::limits{}};
    store->restore(b);
    store->start();
    store->save_session({"gone", 1, broker::wall_now_ms() - 5000, {}});
    store->put_will("gone", *make_message("will/gone", "bye", mqtt::qos::at_most_once), broker::wall_now_ms() + 60000);
    store->save_session({"kept", 60, broker::wall_now_ms(), {}});
    store->stop();
  }
  auto store = open();
  broker::broker b{broker::limits{}};
  auto wills = store->restore(b);
  ASSERT_EQ(wills.size(), 1u);  // the session ended before the will's delay: the will is due
  EXPECT_EQ(wills[0]->topic, "will/gone");
  EXPECT_FALSE(b.sessions().find("gone"));
  EXPECT_TRUE(b.sessions().find("kept"));
}

// A will taken for publication keeps its record until it is published (wills_published): a crash
// in between publishes it after the restart (at least once) instead of losing it. Both ways a will
// comes due: its delay passed (the record keeps its time: the restored session has it pending
// again), or its session ended first (the session's other records go at once, the will is written
// back alone, due: published at the restart).
TEST_F(DurableStoreTest, AWillDueButNotYetPublishedSurvivesACrashAndGoesOncePublished) {
  using due_wills = std::vector<broker::session_registry::due_will>;
  for (const bool session_ends : {false, true}) {
    SCOPED_TRACE(session_ends ? "the session ended first" : "the will delay passed");
    fs::remove_all(dir_);
    const auto will_pending = [](broker::broker& b) {
      const auto d = b.sessions().describe("dev");
      return d && d->will_pending;
    };
    {
      auto store = open();
      broker::broker b{broker::limits{}};
      store->restore(b);
      b.set_durable_store(store.get());
      store->start();
      auto l = std::make_shared<counting_link>();
      const std::uint32_t expiry = session_ends ? 2 : 600, delay = session_ends ? 100 : 5;
      auto a = b.sessions().attach("dev", false, expiry, l, {});
      b.sessions().detach(a.s, l.get(), b.now(), make_message("will/dev", "bye", mqtt::qos::at_least_once), delay);
      due_wills due;
      EXPECT_EQ(b.sessions().expire(b.now() + 10s, due), session_ends ? 1u : 0u);
      ASSERT_EQ(due.size(), 1u);
      EXPECT_EQ(due[0].client_id, "dev");
      store->stop();  // the process dies before the will is published
    }
    {
      auto store = open();
      broker::broker b{broker::limits{}};
      const auto wills = store->restore(b);
      b.set_durable_store(store.get());
      store->start();
      if (session_ends) {
        ASSERT_EQ(wills.size(), 1u) << "a will taken for publication was lost before it was published";
        EXPECT_EQ(wills[0]->topic, "will/dev");
        EXPECT_FALSE(b.sessions().find("dev"));
        store->wills_published();
      } else {
        EXPECT_TRUE(wills.empty());
        ASSERT_TRUE(will_pending(b)) << "a will taken for publication was lost before it was published";
        due_wills due;
        b.sessions().expire(b.now() + 10s, due);
        ASSERT_EQ(due.size(), 1u);
        b.sessions().wills_published(due);
      }
      store->stop();
    }
    auto store = open();
    broker::broker b{broker::limits{}};
    EXPECT_TRUE(store->restore(b).empty()) << "a published will is published once";
    EXPECT_FALSE(will_pending(b)) << "a published will is published once";
    EXPECT_EQ(static_cast<bool>(b.sessions().find("dev")), !session_ends);
  }
}

TEST_F(DurableStoreTest, UnreadableRecordsStopTheStartNamingThePath) {
  {
    auto store = open();
    broker::broker b{broker::limits{}};
    store->restore(b);
  }
  {
    // A session record from a format version this build does not know.
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_.string(), &raw).ok());
    ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), "Sfuture", "\x09junk").ok());
    delete raw;
  }
  auto store = open();
  broker::broker b{broker::limits{}};
  try {
    store->restore(b);
    FAIL() << "started from an unreadable database";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(dir_.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("unreadable"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace edgemq::persistence
