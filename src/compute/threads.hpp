// The calling thread's share of the OpenMP compute pool, narrowed to one thread for a scope.
#pragma once

#include <omp.h>

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

}  // namespace hades
