// Which nodes hold persistent sessions subscribed to what (persistent_interest.hpp), against a
// real etcd: one node's filters reach another through etcd, counted per session, removed with the
// last session, and gone with the node's lease.
#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "cluster/etcd_client.hpp"
#include "cluster/persistent_interest.hpp"
#include "live_etcd_fixture.hpp"

namespace edgemq::cluster {
namespace {

using namespace std::chrono_literals;
using list = std::vector<std::string>;

class PersistentInterestLive : public live::live_etcd_test {
 protected:
  std::shared_ptr<etcd_client> client() {
    return std::make_shared<etcd_client>(etcd_options{{etcd_.url()}, 2000ms, {}});
  }
  std::int64_t grant(etcd_client& c, std::int64_t ttl) {
    std::promise<std::int64_t> p;
    c.grant_lease(
        ttl, [&](const etcd_error& e, std::int64_t id) { p.set_value(e ? 0 : id); }, [] {});
    return p.get_future().get();
  }
  static list holding(const persistent_interest& i, std::string_view topic) {
    list out;
    i.nodes_holding(topic, out);
    return out;
  }
  template <class F>
  static bool eventually(F f) {
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < until) {
      if (f()) return true;
      std::this_thread::sleep_for(5ms);  // polling another node's view of etcd, not waiting for time
    }
    return f();
  }
};

TEST_F(PersistentInterestLive, FiltersReachTheOtherNodesAndLeaveWithTheLastSession) {
  auto leases = client();
  const auto lease_a = grant(*leases, 30);
  ASSERT_NE(lease_a, 0);
  persistent_interest a(client(), {"a", "t/interest/", [&] { return lease_a; }, 100ms}, nullptr);
  persistent_interest b(client(), {"b", "t/interest/", [] { return std::int64_t{0}; }, 100ms}, nullptr);
  a.start();
  b.start();
  const list f1{"dev/+/cmd", "$share/g/dev/#", "$SYS/#"};
  a.session_changed("c1", &f1);
  a.session_changed("c2", &f1);
  ASSERT_TRUE(eventually([&] { return holding(b, "dev/7/cmd") == list{"a"}; }));
  EXPECT_EQ(b.known_filters(), (std::map<std::string, std::size_t>{{"a", 1}})) << "share and $ filters are left out";
  EXPECT_EQ(holding(a, "dev/7/cmd"), list{}) << "a node does not wait for itself";
  a.session_changed("c1", nullptr);
  const list f2{"other"};
  a.session_changed("c2", &f2);  // c2 subscribed elsewhere: dev/+/cmd has no session left
  ASSERT_TRUE(eventually([&] { return holding(b, "dev/7/cmd").empty() && holding(b, "other") == list{"a"}; }));
  // etcd's watch may tell b before a's own write has had its answer: a's count follows.
  EXPECT_TRUE(eventually([&] { return a.unwritten() == 0; })) << a.unwritten() << " changes unwritten";
  a.stop();
  b.stop();
}

TEST_F(PersistentInterestLive, ANodesFiltersGoWithItsLeaseAndComeBackUnderANewOne) {
  auto leases = client();
  std::atomic<std::int64_t> lease{grant(*leases, 30)};
  ASSERT_NE(lease.load(), 0);
  persistent_interest a(client(), {"a", "t/interest/", [&] { return lease.load(); }, 100ms}, nullptr);
  persistent_interest b(client(), {"b", "t/interest/", [] { return std::int64_t{0}; }, 100ms}, nullptr);
  a.start();
  b.start();
  const list f{"x/#"};
  a.session_changed("c", &f);
  ASSERT_TRUE(eventually([&] { return holding(b, "x/1") == list{"a"}; }));
  leases->revoke_lease(lease.load());  // what a node's death does after its TTL
  ASSERT_TRUE(eventually([&] { return holding(b, "x/1").empty(); }));
  lease = grant(*leases, 30);  // the node granted itself a new lease: its filters again
  ASSERT_TRUE(eventually([&] { return holding(b, "x/1") == list{"a"}; }));
  a.stop();
  b.stop();
}

}  // namespace
}  // namespace edgemq::cluster
