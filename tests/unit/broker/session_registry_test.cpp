// The session registry's administrative operations (the admin API's session delete).
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "broker/broker.hpp"

namespace edgemq::broker {
namespace {

struct kick_link : link {
  std::vector<mqtt::reason_code> kicks;
  void notify() override {}
  void kick(mqtt::reason_code why) override { kicks.push_back(why); }
};

// A connection and its session hold each other until the connection detaches; an ended session
// is left alone by detach(), so end_session must let go of the connection itself, or the pair
// outlives both (a leak ASan reported at shutdown).
TEST(SessionRegistryTest, EndingAConnectedSessionKicksAndReleasesItsConnection) {
  broker b{limits{}};
  auto l = std::make_shared<kick_link>();
  const std::weak_ptr<kick_link> watch = l;
  auto attached = b.sessions().attach("dev-1", false, 600, l, connection_info{});
  ASSERT_TRUE(attached.s);
  EXPECT_TRUE(b.sessions().end_session("dev-1", mqtt::reason_code::administrative_action));
  EXPECT_EQ(l->kicks, std::vector<mqtt::reason_code>{mqtt::reason_code::administrative_action});
  l.reset();
  EXPECT_TRUE(watch.expired()) << "the ended session still holds its connection";
  EXPECT_FALSE(b.sessions().end_session("dev-1", mqtt::reason_code::administrative_action));
}

}  // namespace
}  // namespace edgemq::broker
