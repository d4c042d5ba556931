// The machine's GEMM peak at a model's shapes, measured with oneDNN in the same run as the
// throughput figures so that "fraction of peak" compares like with like.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

namespace hades::bench {

// GFLOP/s of oneDNN matmuls of ROWS × K by K × N at all-MiniLM-L6-v2's linear shapes (K, N) in
// {(384, 1152), (384, 384), (384, 1536), (1536, 384)}, weights pre-packed, on the threads oneDNN
// uses: {"fp32": {"shapes": [...], "peak_gflops": best}, "bf16": the same or null where the CPU
// has no native bf16 (oneDNN would emulate it), "int8": the same for u8 × s8 → s32, "isa":
// oneDNN's instruction set}.
nlohmann::json gemm_peak(int64_t rows);

}  // namespace hades::bench
