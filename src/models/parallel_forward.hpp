// Data parallelism over the sequences of a ragged batch. On a few cores, splitting every matmul
// across threads costs a barrier per op and leaves the threads waiting on each other (badly so on
// a shared machine); running whole sequences through the whole layer stack, one part per thread
// with single-threaded ops, needs no synchronisation until the end.
#pragma once

#include "models/encoder.hpp"

namespace hades {

// ENCODER's forward pass over BATCH, cut into as many parts of whole sequences and about equal
// tokens as OpenMP's thread count for this thread (OMP_NUM_THREADS, else the cores), each part on
// its own thread. A batch too small to share runs as one part with multithreaded ops. The output
// is the same as encoder.forward(batch): every sequence is computed independently of the others.
EncoderOutput forward_parallel(const Encoder& encoder, const RaggedBatch& batch,
                               bool with_pooler = false);

}  // namespace hades
