#include "server/compat_requests.hpp"

#include <algorithm>
#include <climits>

#include "hades/error.hpp"
#include "server/request_fields.hpp"

namespace hades::server {
namespace {

using fields::fail;
using fields::find_field;
using fields::optional_bool;
using fields::optional_dimensions;
using fields::optional_string;
using fields::optional_truncation_direction;
using fields::read_texts;
using fields::required_string;
using fields::type_name;
using nlohmann::json;

// The token ids of FIELD when it holds them: a list of ids is one input, a list of such lists one
// input each (OpenAI's and TEI's token-id inputs); none when it holds text.
std::optional<std::vector<std::vector<int32_t>>> read_token_ids(const json& body, const char* field,
                                                                const RequestLimits& limits) {
  const json* input = find_field(body, field);
  if (input == nullptr || !input->is_array() || input->empty() ||
      !(input->front().is_number() || input->front().is_array())) {
    return std::nullopt;
  }
  const bool one = !input->front().is_array();
  const json batch = one ? json::array({*input}) : *input;
  if (batch.size() > limits.max_inputs) {
    throw Error(ErrorCode::too_large, std::string("field '") + field + "' holds " +
                                          std::to_string(batch.size()) + " inputs; the limit is " +
                                          std::to_string(limits.max_inputs) + " per request");
  }
  std::vector<std::vector<int32_t>> inputs;
  for (size_t i = 0; i < batch.size(); ++i) {
    std::string at = "field '";
    at.append(field).append("'");
    if (!one) at.append("[").append(std::to_string(i)).append("]");
    if (!batch[i].is_array()) fail(at + " must be a list of token ids, got " + batch[i].dump());
    std::vector<int32_t>& ids = inputs.emplace_back();
    for (const json& id : batch[i]) {
      // A whole number written as 162.0 is an integer to JSON Schema, so one too.
      const std::optional<int64_t> number = fields::whole_number(id);
      if (!number || *number < 0 || *number > INT32_MAX) {
        fail(at + " must hold token ids (whole numbers from 0), got " + id.dump());
      }
      ids.push_back(static_cast<int32_t>(*number));
    }
  }
  return inputs;
}

bool is_pair(const json& value) {
  return value.is_array() && value.size() == 2 && value[0].is_string() && value[1].is_string();
}

}  // namespace

std::string compat_model(const json& body, const std::string& default_model) {
  if (find_field(body, "model") != nullptr) return required_string(body, "model");
  if (default_model.empty()) {
    fail(
        "no model: name one in the field 'model', or start the service with a default model "
        "(--default-model, HADES_DEFAULT_MODEL)");
  }
  return default_model;
}

namespace {

// The texts (or token ids) of FIELD for the model named or the default one; the request waits in
// the queue.
runtime::EmbedRequest compat_embed_request(const json& body, const char* field,
                                           const RequestLimits& limits,
                                           const std::string& default_model) {
  runtime::EmbedRequest request;
  request.wait_in_queue = true;
  request.model = compat_model(body, default_model);
  if (auto ids = read_token_ids(body, field, limits)) {
    request.token_ids = std::move(*ids);
  } else {
    request.inputs = read_texts(body, field, limits);
  }
  return request;
}

}  // namespace

OpenAiEmbedRequest parse_openai_embed_request(const json& body, const RequestLimits& limits,
                                              const std::string& default_model) {
  OpenAiEmbedRequest request;
  request.embed = compat_embed_request(body, "input", limits, default_model);
  const std::string format = optional_string(body, "encoding_format").value_or("float");
  if (format != "float" && format != "base64") {
    fail("field 'encoding_format' must be 'float' or 'base64', got '" + format + "'");
  }
  request.base64 = format == "base64";
  request.embed.dimensions = optional_dimensions(body);
  // OpenAI refuses an input over the model's limit; a caller's own token ids are not cut unasked.
  if (!request.embed.token_ids.empty()) request.embed.truncate = false;
  // OpenAI's shortened embeddings are unit length, whatever the model's own rows are.
  if (request.embed.dimensions) request.embed.normalize = true;
  return request;
}

runtime::EmbedRequest parse_tei_embed_request(const json& body, const RequestLimits& limits,
                                              const std::string& default_model) {
  runtime::EmbedRequest request = compat_embed_request(body, "inputs", limits, default_model);
  request.normalize = optional_bool(body, "normalize").value_or(true);
  request.truncate = optional_bool(body, "truncate").value_or(false);
  request.truncation_direction =
      optional_truncation_direction(body).value_or(TruncationDirection::right);
  request.prompt_name = optional_string(body, "prompt_name");
  request.dimensions = optional_dimensions(body);
  return request;
}

TeiRerankRequest parse_tei_rerank_request(const json& body, const RequestLimits& limits,
                                          const std::string& default_model) {
  TeiRerankRequest request;
  request.pairs.wait_in_queue = true;
  request.pairs.model = compat_model(body, default_model);
  const std::string query = required_string(body, "query");
  request.pairs.pairs = read_texts(body, "texts", limits);
  request.pairs.inputs.assign(request.pairs.pairs.size(), query);
  request.raw_scores = optional_bool(body, "raw_scores").value_or(false);
  request.return_text = optional_bool(body, "return_text").value_or(false);
  if (optional_truncation_direction(body) == TruncationDirection::left) {
    throw Error(ErrorCode::unsupported,
                "truncation_direction 'left' is not supported on /rerank; pairs are cut on the "
                "right");
  }
  return request;
}

TeiPredictRequest parse_tei_predict_request(const json& body, const RequestLimits& limits,
                                            const std::string& default_model) {
  TeiPredictRequest request;
  request.classify.wait_in_queue = true;
  request.classify.model = compat_model(body, default_model);
  request.raw_scores = optional_bool(body, "raw_scores").value_or(false);
  const json* inputs = find_field(body, "inputs");
  if (inputs == nullptr) fail("field 'inputs' is required");
  // As TEI reads it: a text, or two texts (one pair), is one input; any other list is a batch
  // of texts, one-text lists, and pairs.
  const bool single = inputs->is_string() || is_pair(*inputs);
  request.batch = !single;
  const json batch = single ? json::array({*inputs}) : *inputs;
  if (!batch.is_array() || batch.empty()) fail("field 'inputs' must be a text, a pair or a list");
  if (batch.size() > limits.max_inputs) {
    throw Error(ErrorCode::too_large, "field 'inputs' holds " + std::to_string(batch.size()) +
                                          " inputs; the limit is " +
                                          std::to_string(limits.max_inputs) + " per request");
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    const json& item = batch[i];
    const json one = item.is_string() ? json::array({item}) : item;
    if (!one.is_array() || one.empty() || one.size() > 2 ||
        !std::all_of(one.begin(), one.end(), [](const json& t) { return t.is_string(); })) {
      fail("field 'inputs'[" + std::to_string(i) + "] must be a text or a pair of texts");
    }
    request.classify.inputs.push_back(one[0].get<std::string>());
    if (one.size() == 2) request.classify.pairs.push_back(one[1].get<std::string>());
  }
  if (!request.classify.pairs.empty() &&
      request.classify.pairs.size() != request.classify.inputs.size()) {
    fail("field 'inputs' mixes pairs and single texts; send one kind per request");
  }
  return request;
}

runtime::TokenizeRequest parse_tei_tokenize_request(const json& body, const RequestLimits& limits,
                                                    const std::string& default_model) {
  runtime::TokenizeRequest request;
  request.model = compat_model(body, default_model);
  request.inputs = read_texts(body, "inputs", limits);
  request.add_special_tokens = optional_bool(body, "add_special_tokens").value_or(true);
  request.truncate = false;
  return request;
}

runtime::DecodeRequest parse_tei_decode_request(const json& body,
                                                const std::string& default_model) {
  runtime::DecodeRequest request;
  request.model = compat_model(body, default_model);
  const json* ids = find_field(body, "ids");
  if (ids == nullptr) fail("field 'ids' is required");
  // TEI takes one list of ids, or a list holding one.
  const json& list = ids->is_array() && ids->size() == 1 && (*ids)[0].is_array() ? (*ids)[0] : *ids;
  if (!list.is_array()) fail("field 'ids' must be a list of token ids, got " + type_name(list));
  for (const json& id : list) {
    const std::optional<int64_t> number = fields::whole_number(id);
    if (!number || *number < 0 || *number > INT32_MAX) {
      fail("field 'ids' must hold token ids (whole numbers from 0), got " + id.dump());
    }
    request.ids.push_back(static_cast<int32_t>(*number));
  }
  request.skip_special_tokens = optional_bool(body, "skip_special_tokens").value_or(true);
  return request;
}

}  // namespace hades::server
