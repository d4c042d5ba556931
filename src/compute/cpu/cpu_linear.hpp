// The CPU backend's packed linear layers: one interface, one implementation per precision
// (float32 and bfloat16 in cpu_backend.cpp, int8 in int8_linear.cpp).
#pragma once

#include <omp.h>
#include <dnnl.hpp>

#include <cstdint>
#include <memory>

#include "compute/backend.hpp"

namespace hades::cpu {

// Runs the calling thread's OpenMP ops on it alone for the scope's life, exceptions included.
// Work done off the executor (loads) stays on one thread: libgomp counts every thread of every
// team in the process, and once they outnumber the cores it stops spinning at barriers and puts
// threads to sleep instead, which made each op of a short request pay two futex wake-ups.
class OneThread {
 public:
  OneThread() : caller_threads_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~OneThread() { omp_set_num_threads(caller_threads_); }
  OneThread(const OneThread&) = delete;
  OneThread& operator=(const OneThread&) = delete;

 private:
  int caller_threads_;
};

class CpuPackedLinear : public PackedLinear {
 public:
  using PackedLinear::PackedLinear;
  // y[rows, out] = act(x · Wᵀ + b), or y += x · Wᵀ + b when `accumulate` (act is then none).
  virtual void run(const float* x, int64_t rows, float* y, Activation act,
                   bool accumulate) const = 0;
};

// Weights quantized to s8 per output channel; inputs quantized to u8 per row at run time.
std::unique_ptr<CpuPackedLinear> make_int8_linear(const dnnl::engine& engine,
                                                  const LinearWeights& weights);

}  // namespace hades::cpu
