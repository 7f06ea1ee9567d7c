#include <chrono>

#include "catch2/catch.hpp"
#include "engine/http_server.h"

namespace ricochet::engine {
namespace {
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = YieldPolicy::Clock;

// A worker that is busy for `busy`, then sleeps for `asleep`, from *now on; advances *now.
void Cycle(YieldPolicy& p, Clock::time_point* now, Clock::duration busy, Clock::duration asleep) {
  *now += busy;
  p.Slept(*now, *now + asleep);
  *now += asleep;
}
}  // namespace

TEST_CASE("yields start once a worker is half busy, and stop below 35%", "[yield]") {
  Clock::time_point now{};
  YieldPolicy p(now);
  REQUIRE_FALSE(p.yielding());  // a worker starts idle

  // 40% busy: not enough to start.
  for (int i = 0; i < 10; ++i) Cycle(p, &now, microseconds(400), microseconds(600));
  CHECK_FALSE(p.yielding());

  // 60% busy over a window: the yields start.
  Cycle(p, &now, microseconds(600), microseconds(400));
  CHECK(p.yielding());

  // 40% busy no longer starts them, but does not stop them either (at saturation a window dips
  // now and then, and one threshold would switch them off and on).
  for (int i = 0; i < 10; ++i) Cycle(p, &now, microseconds(400), microseconds(600));
  CHECK(p.yielding());

  // 30% busy stops them.
  Cycle(p, &now, microseconds(300), microseconds(700));
  CHECK_FALSE(p.yielding());

  // Exactly half busy starts them again; just under 35% stops them.
  Cycle(p, &now, microseconds(500), microseconds(500));
  CHECK(p.yielding());
  Cycle(p, &now, microseconds(340), microseconds(660));
  CHECK_FALSE(p.yielding());
}

TEST_CASE("yield decisions are made over windows of at least a millisecond", "[yield]") {
  Clock::time_point now{};
  YieldPolicy p(now);

  // Short sleeps between busy spells: nothing is decided until a millisecond has passed, and
  // then over the whole of it (here 90% busy).
  for (int i = 0; i < 9; ++i) {
    Cycle(p, &now, microseconds(90), microseconds(10));
    CHECK_FALSE(p.yielding());
  }
  Cycle(p, &now, microseconds(90), microseconds(10));
  CHECK(p.yielding());

  // A window is not carried over: the next one starts at the wake-up that closed the last.
  // A long sleep makes that window idle, and the yields stop.
  Cycle(p, &now, microseconds(100), seconds(60));
  CHECK_FALSE(p.yielding());

  // A busy spell of 2 ms then a 1 ms sleep (67%) starts them from idle.
  Cycle(p, &now, milliseconds(2), milliseconds(1));
  CHECK(p.yielding());
}

}  // namespace ricochet::engine
