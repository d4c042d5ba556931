// The routes of other servers' APIs (OpenAI's embeddings, TEI's routes): each reads its request
// into the engine's, calls the same engine method as hades's own route, and answers in that API's
// shape. Errors take the API's shape too (Router::error_reply with the route's dialect).
#include <algorithm>

#include "server/compat_requests.hpp"
#include "server/compat_responses.hpp"
#include "server/json_text.hpp"
#include "server/request_fields.hpp"
#include "server/router.hpp"

namespace hades::server {

using nlohmann::json;

namespace {

// Whether INPUTS holds a pair or a one-text list ([["a", "b"]], ["a", ["b"]]): /predict's input,
// which an embedding model cannot take.
bool holds_text_lists(const json* inputs) {
  if (inputs == nullptr || !inputs->is_array()) return false;
  return std::any_of(inputs->begin(), inputs->end(), [](const json& item) {
    return item.is_array() && !item.empty() &&
           std::all_of(item.begin(), item.end(), [](const json& t) { return t.is_string(); });
  });
}

}  // namespace

HttpReply Router::openai_embeddings(const json& body, const runtime::CancelFlag& cancelled) {
  OpenAiEmbedRequest request =
      parse_openai_embed_request(body, request_limits(), info_.default_model);
  request.embed.cancelled = cancelled;
  return HttpReply{.body = openai_embeddings_body(engine_.embed(request.embed), request.base64)};
}

// TEI answers POST / with the task of its one model; here, the task of the model named (or the
// default one): embeddings for an embedding model, predictions for a sequence classifier.
HttpReply Router::tei_root(const json& body, const runtime::CancelFlag& cancelled) {
  const std::string model = compat_model(body, info_.default_model);
  const runtime::LoadedModel info = engine_.load_model(model, runtime::LoadModelOptions{});
  if (info.kind == "embedding") {
    if (holds_text_lists(fields::find_field(body, "inputs"))) {
      throw Error(ErrorCode::unsupported,
                  model +
                      " is an embedding model; POST / takes texts for it "
                      "(pairs and text lists are for sequence classifiers)");
    }
    return tei_embed(body, cancelled);
  }
  if (info.kind == "sequence-classification") return tei_predict(body, cancelled);
  throw Error(ErrorCode::unsupported, model + " is a " + info.kind +
                                          " model; POST / takes embedding and sequence-"
                                          "classification models (use /v1/token-classify)");
}

HttpReply Router::tei_embed(const json& body, const runtime::CancelFlag& cancelled) {
  runtime::EmbedRequest request =
      parse_tei_embed_request(body, request_limits(), info_.default_model);
  request.cancelled = cancelled;
  return HttpReply{.body = tei_embed_body(engine_.embed(request))};
}

HttpReply Router::tei_rerank(const json& body, const runtime::CancelFlag& cancelled) {
  TeiRerankRequest request = parse_tei_rerank_request(body, request_limits(), info_.default_model);
  request.pairs.cancelled = cancelled;
  const runtime::ClassificationResult result = engine_.classify(request.pairs);
  return HttpReply{.body = tei_rerank_body(result, request.pairs.pairs, request.raw_scores,
                                           request.return_text)};
}

HttpReply Router::tei_predict(const json& body, const runtime::CancelFlag& cancelled) {
  TeiPredictRequest request =
      parse_tei_predict_request(body, request_limits(), info_.default_model);
  request.classify.cancelled = cancelled;
  const runtime::ClassificationResult result = engine_.classify(request.classify);
  return HttpReply{.body = tei_predict_body(result, request.raw_scores, request.batch)};
}

HttpReply Router::tei_tokenize(const json& body, const runtime::CancelFlag&) {
  const runtime::TokenizeRequest request =
      parse_tei_tokenize_request(body, request_limits(), info_.default_model);
  return HttpReply{.body = tei_tokenize_body(engine_.tokenize(request), request.inputs)};
}

HttpReply Router::tei_decode(const json& body, const runtime::CancelFlag&) {
  const runtime::DecodeRequest request = parse_tei_decode_request(body, info_.default_model);
  return HttpReply{.body = dump_lenient(json(engine_.decode(request)))};
}

HttpReply Router::tei_info(const json&, const runtime::CancelFlag&) {
  const runtime::LoadedModel info =
      engine_.load_model(compat_model(json::object(), info_.default_model), {});
  return HttpReply{.body = tei_info_body(info, info_.version, info_.limits.max_inputs,
                                         engine_.config().max_batch_tokens)};
}

}  // namespace hades::server
