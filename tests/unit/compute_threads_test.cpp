// wait_with_team_asleep: the wait ends when its condition holds, and the calling thread's OpenMP
// team uses no CPU meanwhile. CTest runs this file with OMP_WAIT_POLICY=active, under which
// libgomp's idle threads spin without end: a team left in the pool would burn its CPU for the
// whole wait, and the control test shows that the measurement sees it.
#include <gtest/gtest.h>
#include <omp.h>
#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "compute/threads.hpp"

namespace hades {
namespace {

using namespace std::chrono_literals;

constexpr int kTeam = 2;

double thread_cpu_seconds(pthread_t thread) {
  clockid_t clock{};
  if (pthread_getcpuclockid(thread, &clock) != 0) return -1;
  timespec t{};
  clock_gettime(clock, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// A thread with an OpenMP team of kTeam that waits on a condition variable until release(),
// with its team asleep (wait_with_team_asleep) or left in libgomp's pool (a plain wait).
class Waiter {
 public:
  explicit Waiter(bool asleep) : thread_([this, asleep] { run(asleep); }) {
    std::unique_lock lock(mutex_);
    started_.wait(lock, [this] { return waiting_; });
  }
  ~Waiter() { release(); }  // then thread_ joins

  void release() {
    {
      const std::lock_guard lock(mutex_);
      ready_ = true;
    }
    cv_.notify_all();
  }
  void join() { thread_.join(); }
  bool held_lock_on_return() const { return held_lock_on_return_; }

  // CPU seconds the team's threads other than the waiter have used.
  double team_cpu_seconds() const {
    double total = 0;
    for (const pthread_t thread : team_) total += thread_cpu_seconds(thread);
    return total;
  }

 private:
  void run(bool asleep) {
    omp_set_num_threads(kTeam);
    std::vector<pthread_t> team(kTeam);
#pragma omp parallel num_threads(kTeam)
    team[static_cast<size_t>(omp_get_thread_num())] = pthread_self();
    std::unique_lock lock(mutex_);
    team_.assign(team.begin() + 1, team.end());
    waiting_ = true;
    started_.notify_all();
    const auto ready = [this] { return ready_; };
    if (asleep) {
      wait_with_team_asleep(cv_, lock, ready);
    } else {
      cv_.wait(lock, ready);
    }
    held_lock_on_return_ = lock.owns_lock();
  }

  std::mutex mutex_;
  std::condition_variable cv_, started_;
  bool ready_ = false, waiting_ = false, held_lock_on_return_ = false;
  std::vector<pthread_t> team_;
  std::jthread thread_;  // last: starts after the members above exist
};

bool libgomp_spins_forever() {
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  return policy != nullptr && std::string(policy) == "active";
}

TEST(WaitWithTeamAsleep, ReturnsOnceReadyWithTheLockHeld) {
  Waiter waiter(true);
  std::this_thread::sleep_for(20ms);
  waiter.release();
  waiter.join();
  EXPECT_TRUE(waiter.held_lock_on_return());
}

TEST(WaitWithTeamAsleep, TheTeamUsesNoCpuWhileItWaits) {
  if (!libgomp_spins_forever()) GTEST_SKIP() << "needs OMP_WAIT_POLICY=active (CTest sets it)";
  Waiter waiter(true);
  std::this_thread::sleep_for(50ms);  // the team enters the wait
  const double before = waiter.team_cpu_seconds();
  std::this_thread::sleep_for(300ms);
  EXPECT_LT(waiter.team_cpu_seconds() - before, 0.03);
}

// The control: a team left in libgomp's pool spins through the same wait, and is seen doing it.
TEST(WaitWithTeamAsleep, AWaitWithTheTeamInThePoolIsSeenSpinning) {
  if (!libgomp_spins_forever()) GTEST_SKIP() << "needs OMP_WAIT_POLICY=active (CTest sets it)";
  Waiter waiter(false);
  std::this_thread::sleep_for(50ms);
  const double before = waiter.team_cpu_seconds();
  // On a loaded machine a spinning thread gets only its share of a CPU: wait until it has used
  // 0.1 CPU-s, which a sleeping team never does.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (waiter.team_cpu_seconds() - before <= 0.1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_GT(waiter.team_cpu_seconds() - before, 0.1);
}

}  // namespace
}  // namespace hades
