// The limits and sizes of the HTTP service. Every limit fails a request with a clear error
// (docs/protocol.md): too_large (413) for size limits, overloaded (429, Retry-After) for
// concurrency, and a closed connection for a client that is too slow to send its request.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace hades::server {

struct ServerOptions {
  // The largest request body accepted (413 too_large beyond; checked against Content-Length
  // before the body is read).
  size_t max_body_bytes = size_t{16} * 1024 * 1024;
  // The largest request header block (413 too_large beyond).
  size_t max_header_bytes = size_t{64} * 1024;
  // Texts in one embed or tokenize request (413 too_large beyond).
  size_t max_inputs = 1024;
  // Requests that hold an engine call (load, unload, embed, tokenize) at once; one more is
  // answered 429 overloaded with `Retry-After: retry_after_seconds`.
  size_t max_in_flight = 512;
  // Open connections; one more is answered 429 overloaded and closed.
  size_t max_connections = 1024;
  int retry_after_seconds = 1;
  // Time a connection has to deliver a whole request (headers and body), counted from the moment
  // the server starts waiting for it; this is also the idle timeout of a kept-alive connection.
  std::chrono::milliseconds read_timeout{30000};
  // Time a client has to take a response.
  std::chrono::milliseconds write_timeout{30000};
  // Threads that run socket I/O; they never block.
  size_t io_threads = 2;
  // Threads that run the blocking engine calls. The engine's executor batches the requests that
  // are waiting at once, so this bounds the batch a burst of small requests can form.
  size_t worker_threads = 64;
  // Not empty: a connection on the Unix socket from a process whose uid is not listed is closed
  // unread (peer_credentials.hpp). Empty: the socket's mode alone decides.
  std::vector<uid_t> allowed_uids;
};

}  // namespace hades::server
