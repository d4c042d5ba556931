// The calling thread's share of the OpenMP compute pool: narrowed to one thread for a scope, or
// asleep while the thread waits for work.
#pragma once

#include <omp.h>

#include <condition_variable>
#include <mutex>

namespace hades {

// Runs the calling thread's OpenMP ops on it alone for the scope's life, exceptions included,
// then restores the count it had. Constructed with `narrow` false, it leaves the count as it is
// (for callers that decide at run time). Work done off the executor (loads) stays on one
// thread: libgomp counts every thread of every team in the process, and once they outnumber the
// cores it stops spinning at barriers and puts threads to sleep instead, which made each op of a
// short request pay two futex wake-ups.
class OneThread {
 public:
  explicit OneThread(bool narrow = true) : caller_threads_(omp_get_max_threads()) {
    if (narrow) omp_set_num_threads(1);
  }
  ~OneThread() { omp_set_num_threads(caller_threads_); }
  OneThread(const OneThread&) = delete;
  OneThread& operator=(const OneThread&) = delete;

 private:
  int caller_threads_;
};

// Waits on CV, with LOCK held, until READY() holds, while the other threads of the calling
// thread's OpenMP team sleep. Left in libgomp's pool between parallel regions, they would spin
// for milliseconds first, and a thread woken onto a spinning thread's CPU (the request thread
// that answers the client) waited for its time slice, which showed as the service's tail latency
// for short texts (docs/performance.md). Here they wait inside a parallel region on a condition
// variable instead, and the first parallel region after the wait finds them awake.
template <typename Ready>
void wait_with_team_asleep(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                           Ready ready) {
  if (ready()) return;
  const int team = omp_get_max_threads();
  if (team < 2 || omp_in_parallel()) {
    cv.wait(lock, ready);
    return;
  }
  std::mutex park_mutex;
  std::condition_variable park;
  bool done = false;
#pragma omp parallel num_threads(team)
  {
    if (omp_get_thread_num() == 0) {  // the caller, which holds LOCK
      cv.wait(lock, ready);
      {
        const std::lock_guard guard(park_mutex);
        done = true;
      }
      park.notify_all();
    } else {
      std::unique_lock guard(park_mutex);
      park.wait(guard, [&] { return done; });
    }
  }
}

}  // namespace hades
