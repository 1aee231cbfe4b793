// The state store semantics on the in-memory backend with a controlled wall clock.
#include "statestore/service.hpp"

#include <gtest/gtest.h>

#include "edgemq/statestore/resp3.hpp"

namespace edgemq::statestore {
namespace {

class ServiceTest : public ::testing::Test {
 protected:
  std::uint64_t now_ = 1'700'000'000'000;
  memory_backend backend_;
  service_limits lim_;
  std::unique_ptr<service> svc_;
  effects fx_;

  void SetUp() override { make(); }
  void make(key_authorizer auth = {}) {
    svc_ = std::make_unique<service>(
        lim_, [this] { return now_; }, std::move(auth));
    effects fx;
    ASSERT_FALSE(svc_->load(backend_, fx));
    backend_.apply(fx.writes);
  }
  std::string ts(std::uint64_t offset_ms = 0) { return hlc{now_ + offset_ms, 0, "client"}.to_string(); }
  response run(std::vector<std::string_view> parts, std::optional<std::string> t = std::string("now"),
               std::optional<std::string> ft = std::nullopt, std::string client = "c1", std::uint64_t conn = 1) {
    request r;
    r.client_id = std::move(client);
    r.connection_id = conn;
    r.payload = resp3::request(parts);
    if (t) r.timestamp = *t == "now" ? ts() : *t;
    r.fencing_token = std::move(ft);
    auto resp = svc_->execute(r, fx_);
    backend_.apply(fx_.writes);
    fx_.writes.clear();
    return resp;
  }
};

TEST_F(ServiceTest, SetGetDelReplies) {
  auto set = run({"SET", "testkey", "testvalue"});
  EXPECT_EQ(set.payload, "+OK\r\n");
  ASSERT_TRUE(set.version);
  auto get = run({"GET", "testkey"});
  EXPECT_EQ(get.payload, "$9\r\ntestvalue\r\n");
  EXPECT_EQ(get.version, set.version);  // GET returns the version the SET returned
  EXPECT_EQ(run({"DEL", "testkey"}).payload, ":1\r\n");
  EXPECT_EQ(run({"DEL", "testkey"}).payload, ":0\r\n");
  auto miss = run({"GET", "testkey"});
  EXPECT_EQ(miss.payload, "$-1\r\n");
  EXPECT_FALSE(miss.version);
  EXPECT_EQ(run({"SET", "e", ""}).payload, "+OK\r\n");
  EXPECT_EQ(run({"GET", "e"}).payload, "$0\r\n\r\n");
}

TEST_F(ServiceTest, VersionIsAboveTheRequestTimestamp) {
  const auto ahead = hlc{now_ + 30'000, 5, "client"};
  auto r = run({"SET", "k", "v"}, ahead.to_string());
  auto v = hlc::parse(*r.version);
  ASSERT_TRUE(v);
  EXPECT_LT(ahead, *v);
}

TEST_F(ServiceTest, ConditionsNxNex) {
  run({"SET", "k", "v1"});
  auto nx = run({"SET", "k", "v2", "NX"});
  EXPECT_EQ(nx.payload, ":-1\r\n");
  EXPECT_TRUE(nx.version);                                       // every SET reply carries __ts, :-1 included
  EXPECT_EQ(run({"SET", "k", "v1", "NEX"}).payload, "+OK\r\n");  // equal value: renew
  EXPECT_EQ(run({"SET", "k", "other", "NEX"}).payload, ":-1\r\n");
  EXPECT_EQ(run({"SET", "fresh", "x", "NEX"}).payload, "+OK\r\n");
  EXPECT_EQ(run({"SET", "fresh2", "x", "NX", "PX", "100"}).payload, "+OK\r\n");
}

TEST_F(ServiceTest, VdelSemantics) {
  run({"SET", "k", "mine"});
  EXPECT_EQ(run({"VDEL", "k", "theirs"}).payload, ":-1\r\n");
  EXPECT_EQ(run({"VDEL", "k", "mine"}).payload, ":1\r\n");
  EXPECT_EQ(run({"VDEL", "k", "mine"}).payload, ":0\r\n");
}

TEST_F(ServiceTest, ErrorStrings) {
  EXPECT_EQ(run({"SET", "", ""}).payload, "-ERR the key length is zero\r\n");
  EXPECT_TRUE(run({"SET", "", ""}).version);
  EXPECT_EQ(run({"GET", ""}).payload, "-ERR the key length is zero\r\n");
  EXPECT_EQ(run({"SET", "k", "v"}, std::nullopt).payload, "-ERR missing timestamp\r\n");
  EXPECT_EQ(run({"SET", "k", "v"}, std::string("12:x")).payload, "-ERR malformed timestamp\r\n");
  EXPECT_EQ(run({"SET", "k", "v"}, ts(61'000)).payload,
            "-ERR the request timestamp is too far in the future; ensure that the client and broker system clocks are "
            "synchronized\r\n");
  EXPECT_EQ(run({"SET", "k", "v"}, std::string("now"), hlc{now_ + 10ull * 365 * 86400000, 0, "x"}.to_string()).payload,
            "-ERR the request fencing token timestamp is too far in the future; ensure that the client and broker "
            "system clocks are synchronized\r\n");
  EXPECT_EQ(run({"SET", "k", "v"}, std::string("now"), std::string("bad")).payload, "-ERR malformed timestamp\r\n");
  EXPECT_EQ(run({"FOO", "k"}).payload, "-ERR unknown command\r\n");
  EXPECT_EQ(run({"GET"}).payload, "-ERR wrong number of arguments\r\n");
  EXPECT_EQ(run({"GET", "a", "b"}).payload, "-ERR wrong number of arguments\r\n");
  EXPECT_EQ(run({"SET", "k"}).payload, "-ERR wrong number of arguments\r\n");
  EXPECT_EQ(run({"SET", "k", "v", "EX", "10"}).payload, "-ERR syntax error\r\n");
  EXPECT_EQ(run({"SET", "k", "v", "PX", "soon"}).payload, "-ERR syntax error\r\n");
  EXPECT_EQ(run({"SET", "k", "v", "PX", "0"}).payload, "-ERR syntax error\r\n");
  EXPECT_EQ(run({"SET", "k", "v", "PX", "10", "NX"}).payload, "-ERR syntax error\r\n");  // SDK order only
  EXPECT_EQ(run({"KEYNOTIFY", "k", "GO"}).payload, "-ERR syntax error\r\n");
  request garbage;
  garbage.payload = "GET k";
  EXPECT_EQ(svc_->execute(garbage, fx_).payload, "-ERR syntax error\r\n");
}

TEST_F(ServiceTest, QuotaByCountAndBytes) {
  lim_.max_keys = 2;
  lim_.max_bytes = 20;
  make();
  EXPECT_EQ(run({"SET", "a", "1"}).payload, "+OK\r\n");
  EXPECT_EQ(run({"SET", "b", "2"}).payload, "+OK\r\n");
  EXPECT_EQ(run({"SET", "c", "3"}).payload, "-ERR the quota has been exceeded\r\n");
  EXPECT_EQ(run({"SET", "a", "replaced"}).payload, "+OK\r\n");  // not a new key
  EXPECT_EQ(run({"SET", "a", std::string(30, 'x')}).payload, "-ERR the quota has been exceeded\r\n");
  run({"DEL", "b"});
  EXPECT_EQ(run({"SET", "c", "3"}).payload, "+OK\r\n");
}

TEST_F(ServiceTest, FencingTokens) {
  const auto token = *run({"SET", "lock", "client1", "NEX", "PX", "10000"}).version;
  EXPECT_EQ(run({"SET", "protected", "v1"}, std::string("now"), token).payload, "+OK\r\n");
  EXPECT_EQ(run({"SET", "protected", "v2"}).payload, "-ERR a fencing token is required for this request\r\n");
  const auto older = hlc{1, 0, "x"}.to_string();
  EXPECT_EQ(run({"SET", "protected", "v2"}, std::string("now"), older).payload,
            "-ERR the request fencing token is a lower version than the fencing token protecting the resource\r\n");
  EXPECT_EQ(run({"SET", "protected", "v2"}, std::string("now"), token).payload, "+OK\r\n");  // equal is fine
  now_ += 5;
  const auto newer = hlc{now_, 0, "edgemq"}.to_string();
  EXPECT_EQ(run({"SET", "protected", "v3"}, std::string("now"), newer).payload, "+OK\r\n");
  EXPECT_EQ(run({"SET", "protected", "v4"}, std::string("now"), token).payload,  // replaced by the newer one
            "-ERR the request fencing token is a lower version than the fencing token protecting the resource\r\n");
  EXPECT_EQ(run({"GET", "protected"}).payload, "$2\r\nv3\r\n");  // GET needs no token
  EXPECT_EQ(run({"DEL", "protected"}).payload, "-ERR a fencing token is required for this request\r\n");
  EXPECT_EQ(run({"VDEL", "protected", "v3"}, std::string("now"), older).payload,
            "-ERR the request fencing token is a lower version than the fencing token protecting the resource\r\n");
  EXPECT_EQ(run({"DEL", "protected"}, std::string("now"), newer).payload, ":1\r\n");
  EXPECT_EQ(run({"SET", "protected", "free"}).payload, "+OK\r\n");  // the token went with the key
}

TEST_F(ServiceTest, NotificationsForSetDelVdelAndExpiry) {
  EXPECT_EQ(run({"KEYNOTIFY", "SOMEKEY"}, std::string("now"), std::nullopt, "client-id1", 7).payload, "+OK\r\n");
  run({"SET", "SOMEKEY", "abc"});
  run({"DEL", "SOMEKEY"});
  run({"SET", "SOMEKEY", "x", "PX", "50"});
  now_ += 50;
  svc_->expire(fx_);
  ASSERT_EQ(fx_.notifications.size(), 4u);
  EXPECT_EQ(fx_.notifications[0].client_id, "client-id1");
  EXPECT_EQ(fx_.notifications[0].payload, "*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$3\r\nabc\r\n");
  EXPECT_EQ(fx_.notifications[1].payload, "*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n");
  EXPECT_EQ(fx_.notifications[3].payload, "*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n");  // expiry
  for (const auto& n : fx_.notifications) EXPECT_TRUE(hlc::parse(n.version)) << n.version;
  EXPECT_EQ(
      notification_topic("client-id1", "SOMEKEY"),
      "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/636C69656E742D696431/command/notify/534F4D454B4559");
}

// The notification topic carries client id and key in hex: a watch whose topic MQTT cannot carry
// (more than 65,535 bytes) is refused, not registered to produce wrapped or dropped PUBLISHes.
TEST_F(ServiceTest, KeynotifyRefusesAWatchWhoseTopicCannotBeEncoded) {
  const std::string client(256, 'c');
  const std::size_t fixed = notification_topic_size(client, "");
  const std::string fits((65535 - fixed) / 2, 'k');
  const std::string too_long(fits.size() + 1, 'k');
  EXPECT_EQ(notification_topic(client, fits).size(), notification_topic_size(client, fits));
  EXPECT_LE(notification_topic_size(client, fits), 65535u);
  EXPECT_GT(notification_topic_size(client, too_long), 65535u);
  EXPECT_EQ(run({"KEYNOTIFY", fits}, std::string("now"), std::nullopt, client, 1).payload, "+OK\r\n");
  EXPECT_EQ(run({"KEYNOTIFY", too_long}, std::string("now"), std::nullopt, client, 1).payload,
            "-ERR the key and client id are too long for a notification topic (at most 65535 bytes, both in hex)\r\n");
  run({"SET", too_long, "v"});
  EXPECT_TRUE(fx_.notifications.empty());
  // A 40,000-byte client id (the daemon refuses such ids by default) cannot watch any key.
  EXPECT_NE(run({"KEYNOTIFY", "k"}, std::string("now"), std::nullopt, std::string(40000, 'c'), 2).payload, "+OK\r\n");
}

TEST_F(ServiceTest, WatchesEndWithTheirConnectionAndStop) {
  run({"KEYNOTIFY", "k"}, std::string("now"), std::nullopt, "w", 1);
  svc_->connection_closed(1);
  run({"SET", "k", "v"});
  EXPECT_TRUE(fx_.notifications.empty());
  run({"KEYNOTIFY", "k"}, std::string("now"), std::nullopt, "w", 2);
  svc_->connection_closed(1);  // an older connection of the same client ending changes nothing
  run({"SET", "k", "v2"});
  EXPECT_EQ(fx_.notifications.size(), 1u);
  EXPECT_EQ(run({"KEYNOTIFY", "k", "STOP"}, std::string("now"), std::nullopt, "w", 2).payload, "+OK\r\n");
  EXPECT_EQ(run({"KEYNOTIFY", "k", "STOP"}, std::string("now"), std::nullopt, "w", 2).payload, ":0\r\n");
  run({"SET", "k", "v3"});
  EXPECT_EQ(fx_.notifications.size(), 1u);
}

TEST_F(ServiceTest, ExpiryIsExactToTheMillisecond) {
  run({"SET", "k", "v", "PX", "100"});
  now_ += 99;
  EXPECT_EQ(run({"GET", "k"}).payload, "$1\r\nv\r\n");
  EXPECT_EQ(svc_->next_expiry_ms(), now_ + 1);
  now_ += 1;
  EXPECT_EQ(run({"GET", "k"}).payload, "$-1\r\n");  // even before the sweep runs
  EXPECT_FALSE(svc_->next_expiry_ms());
}

TEST_F(ServiceTest, StateSurvivesReloadAndExpiredKeysAreDroppedOnLoad) {
  run({"SET", "keep", "v"});
  const auto version = *run({"GET", "keep"}).version;
  run({"SET", "short", "v", "PX", "1000"});
  run({"SET", "long", "v", "PX", "100000"});
  now_ += 5000;  // "the daemon was down"
  make();
  EXPECT_EQ(run({"GET", "keep"}).version, version);
  EXPECT_EQ(run({"GET", "short"}).payload, "$-1\r\n");
  EXPECT_EQ(run({"GET", "long"}).payload, "$1\r\nv\r\n");
  EXPECT_EQ(backend_.size(), 2u);  // the expired key was erased from storage too
  auto after = hlc::parse(*run({"SET", "keep", "w"}).version);
  EXPECT_LT(*hlc::parse(version), *after);
}

TEST_F(ServiceTest, AuthorizationHook) {
  make([](const std::string& client, std::string_view key, key_access a) {
    return key.starts_with(client + "/") || (a == key_access::read && key.starts_with("shared/"));
  });
  EXPECT_EQ(run({"SET", "c1/x", "v"}).payload, "+OK\r\n");
  EXPECT_EQ(run({"SET", "c2/x", "v"}).payload, "-ERR not authorized\r\n");
  EXPECT_EQ(run({"GET", "shared/x"}).payload, "$-1\r\n");
  EXPECT_EQ(run({"DEL", "shared/x"}).payload, "-ERR not authorized\r\n");
  EXPECT_EQ(run({"KEYNOTIFY", "other"}).payload, "-ERR not authorized\r\n");
}

// The requesting connection's policy, carried in the request (no lookup by client id).
struct key_permissions : broker::client_permissions {
  bool may_publish(std::string_view) const override { return false; }
  bool may_subscribe(std::string_view) const override { return false; }
  bool may_read_key(std::string_view k) const override { return k.starts_with("r") || k.starts_with("rw"); }
  bool may_write_key(std::string_view k) const override { return k.starts_with("rw"); }
};

TEST_F(ServiceTest, RequestPermissions) {
  const auto perms = std::make_shared<key_permissions>();
  const auto as_client = [&](std::vector<std::string_view> parts) {
    request r;
    r.client_id = "c1";
    r.connection_id = 1;
    r.payload = resp3::request(parts);
    r.timestamp = ts();
    r.permissions = perms;
    return svc_->execute(r, fx_).payload;
  };
  EXPECT_EQ(as_client({"SET", "rw1", "v"}), "+OK\r\n");
  EXPECT_EQ(as_client({"GET", "rw1"}), "$1\r\nv\r\n");
  EXPECT_EQ(as_client({"SET", "r1", "v"}), "-ERR not authorized\r\n");
  EXPECT_EQ(as_client({"DEL", "r1"}), "-ERR not authorized\r\n");
  EXPECT_EQ(as_client({"VDEL", "r1", "v"}), "-ERR not authorized\r\n");
  EXPECT_EQ(as_client({"GET", "x"}), "-ERR not authorized\r\n");
  EXPECT_EQ(as_client({"KEYNOTIFY", "x"}), "-ERR not authorized\r\n");
  EXPECT_EQ(as_client({"KEYNOTIFY", "r1"}), "+OK\r\n");
  EXPECT_EQ(svc_->stats().denied, 5u);
  EXPECT_EQ(run({"SET", "x", "v"}).payload, "+OK\r\n");  // no permissions: no policy
}

TEST_F(ServiceTest, CountersForMetrics) {
  run({"SET", "a", "1"});
  run({"SET", "a", "2"});
  run({"GET", "a"});
  run({"KEYNOTIFY", "a"});
  run({"DEL", "a"});
  const auto& s = svc_->stats();
  EXPECT_EQ(s.insertions, 1u);
  EXPECT_EQ(s.modifications, 1u);
  EXPECT_EQ(s.retrievals, 1u);
  EXPECT_EQ(s.keynotify_requests, 1u);
  EXPECT_EQ(s.deletions, 1u);
  EXPECT_EQ(s.notifications, 1u);
}

}  // namespace
}  // namespace edgemq::statestore

namespace edgemq::statestore {
namespace {

// A batch the backend refused is taken back: every key has the record it had before the batch
// (a key changed twice, a key created, a key deleted, a key expired while reading), quotas too.
TEST_F(ServiceTest, UndoJournalTakesABatchBack) {
  svc_->enable_undo_journal();
  run({"SET", "kept", "v1"});
  run({"SET", "gone", "old"});
  run({"SET", "short", "lived", "PX", "10"});
  svc_->keep_changes();
  const auto size_before = svc_->size();
  now_ += 20;  // "short" expires when next read
  run({"SET", "kept", "v2"});
  run({"SET", "kept", "v3"});
  run({"SET", "new", "x"});
  run({"DEL", "gone"});
  EXPECT_EQ(run({"GET", "short"}).payload, "$-1\r\n");
  EXPECT_TRUE(svc_->changed_since_kept());
  svc_->undo_changes();
  EXPECT_FALSE(svc_->changed_since_kept());
  EXPECT_EQ(svc_->size(), size_before);
  EXPECT_EQ(run({"GET", "new"}).payload, "$-1\r\n");
  EXPECT_EQ(run({"GET", "gone"}).payload, "$3\r\nold\r\n");
  // Without undo, a read-only request changes nothing.
  svc_->keep_changes();
  EXPECT_EQ(run({"GET", "kept"}).payload, "$2\r\nv1\r\n");
  EXPECT_FALSE(svc_->changed_since_kept());
}

}  // namespace
}  // namespace edgemq::statestore
