#include "text_batches.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <utility>

#include "hades/error.hpp"
#include "server/server_options.hpp"

namespace hades::cli {
namespace {

// A text's bytes in the request body: as JSON text, with the comma before it.
size_t json_bytes(const std::string& text) {
  return nlohmann::json(text)
             .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
             .size() +
         1;
}

// The body's bytes besides the texts: the model id (the client sends a folder as its absolute
// path) and the options, whose fields take well under the 1 KiB allowed for them.
size_t envelope_bytes(const std::string& model_id) {
  std::error_code error;
  const std::filesystem::path absolute = std::filesystem::absolute(model_id, error);
  return json_bytes(model_id) + json_bytes(absolute.string()) + 1024;
}

size_t limit_field(const ServiceStatus& status, const char* name, size_t fallback) {
  const auto it = status.limits.find(name);
  if (it == status.limits.end()) return fallback;
  const nlohmann::json value = nlohmann::json::parse(it->second, nullptr, false);
  return value.is_number_unsigned() && value.get<size_t>() > 0 ? value.get<size_t>() : fallback;
}

std::optional<uint64_t> regular_file_size(int fd) {
  struct stat info {};
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) return std::nullopt;
  return static_cast<uint64_t>(info.st_size);
}

}  // namespace

RequestLimits service_request_limits(ModelClient& client) {
  const server::ServerOptions defaults;
  RequestLimits limits{.max_inputs = defaults.max_inputs,
                       .max_body_bytes = defaults.max_body_bytes};
  try {
    const ServiceStatus status = client.status();
    limits.max_inputs = limit_field(status, "max_inputs", limits.max_inputs);
    limits.max_body_bytes = limit_field(status, "max_body_bytes", limits.max_body_bytes);
  } catch (const Error& e) {
    // No service yet: the first request starts one with the defaults (or fails, saying why).
    if (e.code() != ErrorCode::connection_refused) throw;
  }
  return limits;
}

TextBatches::TextBatches(const std::vector<std::string>& texts, const std::string& model_id,
                         RequestLimits limits)
    : given_(&texts), limits_(limits), envelope_bytes_(envelope_bytes(model_id)) {
  if (texts.size() == 1 && texts.front() == "-") {
    in_ = &std::cin;
    stdin_size_ = regular_file_size(STDIN_FILENO);
  }
  if (limits_.max_inputs == 0) limits_.max_inputs = 1;
}

std::optional<double> TextBatches::fraction_read() const {
  if (in_ == nullptr) {
    return static_cast<double>(given_next_) / static_cast<double>(given_->size());
  }
  if (!stdin_size_ || *stdin_size_ == 0) return std::nullopt;
  return static_cast<double>(bytes_read_) / static_cast<double>(*stdin_size_);
}

bool TextBatches::at_end() const {
  if (held_) return false;
  return in_ == nullptr ? given_next_ == given_->size() : eof_;
}

// One line of stdin without its end ("\n" or "\r\n"); none at the end of the input. A line is
// read only up to the body limit, so that a file without newlines cannot fill the memory.
std::optional<std::string> TextBatches::read_line() {
  std::streambuf& buffer = *in_->rdbuf();
  if (buffer.sgetc() == std::char_traits<char>::eof()) {
    eof_ = true;
    return std::nullopt;
  }
  ++line_number_;
  std::string line;
  for (int c = buffer.sbumpc(); c != std::char_traits<char>::eof() && c != '\n';
       c = buffer.sbumpc()) {
    ++bytes_read_;
    if (line.size() >= limits_.max_body_bytes) {
      throw Error(ErrorCode::too_large, "line " + std::to_string(line_number_) +
                                            " of stdin is over " +
                                            std::to_string(limits_.max_body_bytes) +
                                            " bytes, the largest request body the service takes");
    }
    line.push_back(static_cast<char>(c));
  }
  ++bytes_read_;  // the newline
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (buffer.sgetc() == std::char_traits<char>::eof()) eof_ = true;
  return line;
}

std::optional<std::string> TextBatches::read_text() {
  if (held_) return std::exchange(held_, std::nullopt);
  if (in_ != nullptr) return read_line();
  if (given_next_ == given_->size()) return std::nullopt;
  return (*given_)[given_next_++];
}

std::vector<std::string> TextBatches::next() {
  std::vector<std::string> batch;
  size_t body_bytes = envelope_bytes_;
  first_index_ = handed_out_;
  while (batch.size() < limits_.max_inputs) {
    std::optional<std::string> text = read_text();
    if (!text) break;
    const size_t bytes = json_bytes(*text);
    if (body_bytes + bytes > limits_.max_body_bytes) {
      if (batch.empty()) {
        throw Error(ErrorCode::too_large,
                    "text " + std::to_string(handed_out_ + 1) + " takes " + std::to_string(bytes) +
                        " bytes as JSON; the service takes requests of at most " +
                        std::to_string(limits_.max_body_bytes) + " bytes");
      }
      held_ = std::move(text);
      break;
    }
    body_bytes += bytes;
    batch.push_back(std::move(*text));
  }
  if (batch.empty() && handed_out_ == 0 && in_ != nullptr) {
    throw Error(ErrorCode::invalid_argument, "no texts on stdin");
  }
  handed_out_ += batch.size();
  return batch;
}

ProgressLine::ProgressLine(const TextBatches& batches)
    : batches_(batches), terminal_(isatty(STDERR_FILENO) == 1) {}

ProgressLine::~ProgressLine() {
  if (shown_) std::fputs("\r\033[K", stderr);
}

void ProgressLine::update(size_t done) {
  // An input of one request needs no progress line; one of several shows it from the first.
  if (!terminal_ || (!shown_ && batches_.at_end())) return;
  shown_ = true;
  if (const std::optional<double> fraction = batches_.fraction_read()) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(std::min(1.0, *fraction) * kWidth);
    std::fprintf(stderr, "\r[%s%s] %3d%%  %zu texts", std::string(filled, '#').c_str(),
                 std::string(kWidth - filled, ' ').c_str(), static_cast<int>(100 * *fraction),
                 done);
  } else {
    std::fprintf(stderr, "\r%zu texts", done);
  }
  std::fflush(stderr);
}

}  // namespace hades::cli
