#include "net/deadline_wheel.hpp"

#include <functional>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using edgemq::net::deadline_wheel;

namespace {

// An entry that records when it fired (the fake clock's time at the advance that fired it).
struct timed : deadline_wheel::entry {
  timed()
      : entry([](deadline_wheel::entry& e) {
          auto& t = static_cast<timed&>(e);
          t.fired = *t.now;
          ++t.count;
          if (t.on_fire) t.on_fire(t);
        }) {}
  deadline_wheel::entry& hook = *this;
  const deadline_wheel::time_point* now = nullptr;
  deadline_wheel::time_point fired{};
  int count = 0;
  std::function<void(timed&)> on_fire;
};

struct fixture {
  deadline_wheel::time_point now = deadline_wheel::time_point{} + 1000h;
  deadline_wheel wheel{now, 250ms, 16};
  // Advances the fake clock in steps of `step` up to `until`, as the worker's ticker would.
  void run_until(deadline_wheel::time_point until, deadline_wheel::clock::duration step = 10ms) {
    while (now < until) {
      now += step;
      wheel.advance(now);
    }
  }
};

}  // namespace

TEST(DeadlineWheel, FiresNotEarlyAndAtMostOneSlotLate) {
  fixture f;
  for (auto after : {1ms, 249ms, 250ms, 251ms, 1000ms, 1500ms, 3333ms}) {
    timed t;
    t.now = &f.now;
    const auto due = f.now + after;
    f.wheel.arm(t.hook, due);
    f.run_until(due + 1s);
    ASSERT_EQ(t.count, 1) << after.count();
    EXPECT_GE(t.fired, due) << after.count();
    EXPECT_LE(t.fired, due + f.wheel.slot() + 10ms) << after.count();  // + the fake ticker's step
  }
}

TEST(DeadlineWheel, BeyondOneTurnWaitsForItsTurn) {
  fixture f;  // 16 slots of 250 ms: one turn is 4 s
  timed t;
  t.now = &f.now;
  const auto due = f.now + 10s;
  f.wheel.arm(t.hook, due);
  f.run_until(due - 20ms);  // run_until may step 10 ms past its bound
  EXPECT_EQ(t.count, 0);
  f.run_until(due + 1s);
  EXPECT_EQ(t.count, 1);
  EXPECT_GE(t.fired, due);
  EXPECT_LE(t.fired, due + 260ms);
}

TEST(DeadlineWheel, RearmMovesAndCancelStops) {
  fixture f;
  timed a, b;
  a.now = b.now = &f.now;
  f.wheel.arm(a.hook, f.now + 500ms);
  f.wheel.arm(a.hook, f.now + 2s);  // moved later
  f.wheel.arm(b.hook, f.now + 500ms);
  f.wheel.cancel(b.hook);
  EXPECT_FALSE(b.hook.armed());
  EXPECT_EQ(f.wheel.size(), 1u);
  const auto start = f.now;
  f.run_until(start + 3s);
  EXPECT_EQ(a.count, 1);
  EXPECT_GE(a.fired, start + 2s);
  EXPECT_EQ(b.count, 0);
  EXPECT_EQ(f.wheel.size(), 0u);
}

TEST(DeadlineWheel, ADueTimeInThePastFiresAtTheNextAdvance) {
  fixture f;
  f.run_until(f.now + 1s);
  timed t;
  t.now = &f.now;
  f.wheel.arm(t.hook, f.now - 5s);
  EXPECT_EQ(t.count, 0);
  f.run_until(f.now + 260ms);
  EXPECT_EQ(t.count, 1);
}

TEST(DeadlineWheel, CallbackMayRearmItselfAndCancelOthers) {
  fixture f;
  timed a, b;
  a.now = b.now = &f.now;
  a.on_fire = [&](timed& self) {
    if (self.count == 1) f.wheel.arm(self.hook, f.now + 1s);  // keep alive moved on
    f.wheel.cancel(b.hook);                                   // in the same slot
  };
  const auto start = f.now;
  f.wheel.arm(a.hook, start + 500ms);
  f.wheel.arm(b.hook, start + 500ms);
  f.run_until(start + 3s);
  EXPECT_EQ(a.count, 2);
  EXPECT_EQ(b.count, 0);
  EXPECT_GE(a.fired, start + 1500ms);
}

TEST(DeadlineWheel, ManyConnections) {
  fixture f;
  std::vector<std::unique_ptr<timed>> all;
  const auto start = f.now;
  for (int i = 0; i < 10000; ++i) {
    all.push_back(std::make_unique<timed>());
    all.back()->now = &f.now;
    f.wheel.arm(all.back()->hook, start + std::chrono::milliseconds(i % 7000));
  }
  for (int i = 0; i < 10000; i += 2) f.wheel.cancel(all[static_cast<std::size_t>(i)]->hook);
  EXPECT_EQ(f.wheel.size(), 5000u);
  f.run_until(start + 8s);
  EXPECT_EQ(f.wheel.size(), 0u);
  for (int i = 0; i < 10000; ++i) {
    const auto& t = *all[static_cast<std::size_t>(i)];
    if (i % 2 == 0) {
      EXPECT_EQ(t.count, 0);
      continue;
    }
    const auto due = start + std::chrono::milliseconds(i % 7000);
    ASSERT_EQ(t.count, 1);
    EXPECT_GE(t.fired, due);
    EXPECT_LE(t.fired, due + 260ms);
  }
}

TEST(DeadlineWheel, StallLongerThanATurnFiresEverythingDue) {
  fixture f;
  timed a, b;
  a.now = b.now = &f.now;
  const auto start = f.now;
  f.wheel.arm(a.hook, start + 1s);
  f.wheel.arm(b.hook, start + 30s);
  f.now += 10s;  // the worker was stalled
  f.wheel.advance(f.now);
  EXPECT_EQ(a.count, 1);
  EXPECT_EQ(b.count, 0);
  f.run_until(start + 31s);
  EXPECT_EQ(b.count, 1);
  EXPECT_GE(b.fired, start + 30s);
}
