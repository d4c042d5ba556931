// Texts of any number from the command line or stdin (one per line), cut into requests that the
// service takes: at most its `max_inputs` texts and `max_body_bytes` of JSON each. Lines are read
// as the batches are asked for, so memory holds one request's texts, however long stdin is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <vector>

#include "hades/client.hpp"

namespace hades::cli {

// What one request may hold (the service's limits, docs/protocol.md).
struct RequestLimits {
  size_t max_inputs = 0;
  size_t max_body_bytes = 0;
};

// The limits of the service on CLIENT's socket, as GET /v1/status reports them; where no service
// runs yet, those of the one the client would start: the defaults of `hades serve`.
RequestLimits service_request_limits(ModelClient& client);

class TextBatches {
 public:
  // TEXTS as given, or stdin's lines when TEXTS is just "-". MODEL_ID is the model the requests
  // name: its bytes count against the body limit too.
  TextBatches(const std::vector<std::string>& texts, const std::string& model_id,
              RequestLimits limits);

  // The next request's texts; empty once every text has been handed out. The first call fails
  // with invalid_argument when stdin holds no line, and any call with too_large when a line alone
  // is over the body limit.
  std::vector<std::string> next();

  // The position of the first text of the batch next() returned last, among all texts.
  size_t first_index() const { return first_index_; }
  // Whether every text has been handed out (so the batch just returned is the last one).
  bool at_end() const;
  // The part of the input read so far, where its size is known (texts from the command line, or
  // stdin that is a regular file), for a progress bar.
  std::optional<double> fraction_read() const;

 private:
  std::optional<std::string> read_text();
  std::optional<std::string> read_line();

  std::istream* in_ = nullptr;             // stdin, or null for texts from the command line
  const std::vector<std::string>* given_;  // texts from the command line
  size_t given_next_ = 0;
  std::optional<std::string> held_;  // a text read that did not fit in the last batch
  RequestLimits limits_;
  size_t envelope_bytes_ = 0;  // the body's bytes besides the texts
  size_t first_index_ = 0;
  size_t handed_out_ = 0;
  size_t line_number_ = 0;
  uint64_t bytes_read_ = 0;
  std::optional<uint64_t> stdin_size_;
  bool eof_ = false;
};

// A progress line on stderr for inputs that take more than one request, drawn only when stderr
// is a terminal; it is cleared when the work ends.
class ProgressLine {
 public:
  explicit ProgressLine(const TextBatches& batches);
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // DONE texts have their results.
  void update(size_t done);

 private:
  const TextBatches& batches_;
  bool shown_ = false;
  bool terminal_ = false;
};

}  // namespace hades::cli
