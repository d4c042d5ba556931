// Classification and chunking with transformers' semantics:
//  - classify: softmax over a *ForSequenceClassification model's logits.
//  - token_classify: transformers' TokenClassificationPipeline with aggregation_strategy="simple"
//    and a stride of half the window (what chonky's ParagraphSplitter asks for): the text is
//    tokenized into overlapping windows, each window runs with its own special tokens; per token a
//    float32 softmax and argmax; special tokens skipped; adjacent tokens with the same label form
//    one entity (score = mean probability); "O" entities dropped; with several windows, entities
//    sorted by start and overlaps resolved (the longer wins; on equal length the higher score).
//  - chunk: chonky cuts the text after each entity's end and always emits the tail. Two options,
//    off by default, run chonky's recommended clean-up first and snap cuts out of words.
#include "models/classifier_model.hpp"

#include <algorithm>
#include <cmath>

#include "hades/error.hpp"
#include "io/folder_path.hpp"
#include "io/json_file.hpp"
#include "models/parallel_forward.hpp"
#include "models/registry.hpp"
#include "tokenizer/unicode.hpp"

namespace hades {
namespace {

// Softmax in float32, as the pipeline computes it with numpy.
std::vector<float> softmax(std::span<const float> logits) {
  const float max = *std::max_element(logits.begin(), logits.end());
  std::vector<float> p(logits.size());
  float sum = 0.0f;
  for (size_t i = 0; i < logits.size(); ++i) sum += (p[i] = std::exp(logits[i] - max));
  for (float& v : p) v /= sum;
  return p;
}

// Token classification and chunking run on a token-classification head; WHAT_NEEDS_ONE names the
// task that was asked for and a model that has one.
void require_token_head(ModelTask task, const std::string& what_needs_one) {
  if (task != ModelTask::token_classification) {
    throw Error(ErrorCode::unsupported,
                "this model has no token-classification head; " + what_needs_one);
  }
}

// The pipeline's window length: tokenizer_config.json's model_max_length where it is a real
// bound, else the encoder's.
int64_t window_from_config(const std::filesystem::path& dir, int64_t positions) {
  const auto path = dir / "tokenizer_config.json";
  // An error examining it (a symlink loop) is left for read_json_file to report.
  std::error_code error;
  if (!std::filesystem::exists(path, error) && !error) return positions;
  const nlohmann::json config = read_json_file(path);
  const auto it = config.find("model_max_length");
  if (it != config.end() && it->is_number_integer() && it->get<int64_t>() > 2) {
    return std::min(positions, it->get<int64_t>());
  }
  return positions;
}

// transformers' aggregate_overlapping_entities, applied when a text ran as several windows.
std::vector<runtime::EntitySpan> resolve_overlaps(std::vector<runtime::EntitySpan> entities) {
  if (entities.empty()) return entities;
  std::stable_sort(
      entities.begin(), entities.end(),
      [](const runtime::EntitySpan& a, const runtime::EntitySpan& b) { return a.start < b.start; });
  std::vector<runtime::EntitySpan> kept;
  runtime::EntitySpan previous = entities.front();
  for (const runtime::EntitySpan& e : entities) {
    if (previous.start <= e.start && e.start < previous.end) {
      const int64_t length = e.end - e.start;
      const int64_t previous_length = previous.end - previous.start;
      if (length > previous_length || (length == previous_length && e.score > previous.score)) {
        previous = e;
      }
    } else {
      kept.push_back(previous);
      previous = e;
    }
  }
  kept.push_back(previous);
  return kept;
}

// Byte offset of each code point boundary, so that code-point spans cut the UTF-8 text.
std::vector<size_t> code_point_offsets(const std::string& text) {
  std::vector<size_t> offsets;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) offsets.push_back(i);
  }
  offsets.push_back(text.size());
  return offsets;
}

}  // namespace

ClassifierModel::ClassifierModel(ModelParts parts, Tokenizer tokenizer)
    : parts_(std::move(parts)), tokenizer_(std::move(tokenizer)) {}

std::unique_ptr<ClassifierModel> ClassifierModel::load(const std::filesystem::path& dir,
                                                       const ModelLoadOptions& options) {
  require_model_folder(dir);
  const Backend& backend =
      options.backend != nullptr ? *options.backend : cpu_backend(options.precision);
  ModelParts parts = load_model_parts(dir, backend);
  if (parts.task == ModelTask::base) {
    throw Error(ErrorCode::unsupported,
                (dir / "config.json").string() +
                    ": the model has no classification head (architectures names no "
                    "*ForSequenceClassification or *ForTokenClassification)");
  }
  Tokenizer tokenizer = Tokenizer::from_file(dir / "tokenizer.json");
  tokenizer.set_padding(std::nullopt);
  const int64_t positions = parts.encoder->max_sequence_length();
  std::unique_ptr<ClassifierModel> model(
      new ClassifierModel(std::move(parts), std::move(tokenizer)));
  model->default_window_ = window_from_config(dir, positions);
  return model;
}

std::vector<float> ClassifierModel::run_head(std::span<const Encoding> encodings) const {
  std::vector<int32_t> ids, type_ids, cu = {0};
  for (const Encoding& e : encodings) {
    ids.insert(ids.end(), e.ids.begin(), e.ids.end());
    type_ids.insert(type_ids.end(), e.type_ids.begin(), e.type_ids.end());
    cu.push_back(static_cast<int32_t>(ids.size()));
  }
  const RaggedBatch batch{ids, type_ids, cu};
  const EncoderOutput out = forward_parallel(*parts_.encoder, batch);
  return parts_.head->logits(out.hidden, batch);
}

std::vector<runtime::Classification> ClassifierModel::classify(
    std::span<const std::string> texts, std::span<const std::string> pairs) const {
  if (task() != ModelTask::sequence_classification) {
    throw Error(ErrorCode::unsupported,
                "this model is a token classifier, not a sequence classifier");
  }
  if (!pairs.empty() && pairs.size() != texts.size()) {
    throw Error(ErrorCode::invalid_argument, "texts and pairs differ in length");
  }
  Tokenizer truncating = tokenizer_;
  TruncationOptions truncation;
  truncation.max_length = static_cast<size_t>(default_window_);
  truncating.set_truncation(truncation);
  std::vector<Encoding> encodings;
  for (size_t i = 0; i < texts.size(); ++i) {
    encodings.push_back(pairs.empty() ? truncating.encode(texts[i])
                                      : truncating.encode_pair(texts[i], pairs[i]));
    encodings.back().overflowing.clear();
  }
  const std::vector<float> logits = run_head(encodings);
  const auto labels = static_cast<size_t>(parts_.head->num_labels());
  std::vector<runtime::Classification> out(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    out[i].logits.assign(logits.begin() + static_cast<long>(i * labels),
                         logits.begin() + static_cast<long>((i + 1) * labels));
    // One label is a score, not a distribution: its sigmoid, as sentence-transformers' CrossEncoder
    // and TEI report it.
    const std::vector<float> p =
        labels == 1 ? std::vector<float>{1.0f / (1.0f + std::exp(-out[i].logits[0]))}
                    : softmax(out[i].logits);
    for (size_t l = 0; l < labels; ++l) out[i].scores.push_back({parts_.labels[l], p[l]});
    std::stable_sort(out[i].scores.begin(), out[i].scores.end(),
                     [](const runtime::ClassScore& a, const runtime::ClassScore& b) {
                       return a.score > b.score;
                     });
  }
  return out;
}

std::vector<runtime::EntitySpan> ClassifierModel::entities(const std::string& text,
                                                           const runtime::ChunkingOptions& options,
                                                           int64_t* windows,
                                                           int64_t* tokens) const {
  const int64_t window = options.max_length.value_or(default_window_);
  const int64_t specials = static_cast<int64_t>(tokenizer_.num_special_tokens_to_add(false));
  // The windows overlap by half (the stride below), which must be less than the text tokens a
  // window holds besides the special ones: so a window is more than twice the special tokens.
  if (window <= 2 * specials || window > parts_.encoder->max_sequence_length()) {
    // input_invalid: the bounds are the model's (its special tokens, its length), so a window
    // that one model takes another cannot.
    throw Error(ErrorCode::input_invalid,
                "window of " + std::to_string(window) + " tokens: must be more than " +
                    std::to_string(2 * specials) + " and at most " +
                    std::to_string(parts_.encoder->max_sequence_length()));
  }
  Tokenizer windowed = tokenizer_;
  TruncationOptions truncation;
  truncation.max_length = static_cast<size_t>(window);
  truncation.stride = static_cast<size_t>(window / 2);
  windowed.set_truncation(truncation);
  Encoding first = windowed.encode(text);
  std::vector<Encoding> all;
  std::vector<Encoding> overflow = std::move(first.overflowing);
  first.overflowing.clear();
  all.push_back(std::move(first));
  for (Encoding& e : overflow) all.push_back(std::move(e));
  *windows = static_cast<int64_t>(all.size());
  const std::vector<float> logits = run_head(all);
  const auto labels = static_cast<size_t>(parts_.head->num_labels());
  std::vector<runtime::EntitySpan> found;
  size_t row = 0;
  for (const Encoding& e : all) {
    std::optional<runtime::EntitySpan> current;
    std::vector<float> current_scores;
    const auto flush = [&] {
      if (current && current->label != "O") {
        float sum = 0.0f;
        for (float s : current_scores) sum += s;
        current->score = sum / static_cast<float>(current_scores.size());
        found.push_back(*current);
      }
      current.reset();
      current_scores.clear();
    };
    for (size_t t = 0; t < e.size(); ++t, ++row) {
      if (e.special_tokens_mask[t] != 0) continue;
      *tokens += 1;
      const std::vector<float> p = softmax(std::span(logits).subspan(row * labels, labels));
      const size_t best = static_cast<size_t>(std::max_element(p.begin(), p.end()) - p.begin());
      const std::string& label = parts_.labels[best];
      if (current && current->label == label) {
        current->end = e.offsets[t].second;
      } else {
        flush();
        current = runtime::EntitySpan{label, 0.0f, e.offsets[t].first, e.offsets[t].second};
      }
      current_scores.push_back(p[best]);
    }
    flush();
  }
  return all.size() > 1 ? resolve_overlaps(std::move(found)) : found;
}

std::vector<runtime::EntitySpan> ClassifierModel::token_classify(
    const std::string& text, const runtime::ChunkingOptions& options) const {
  require_token_head(task(), "token classification needs one (a *ForTokenClassification model)");
  int64_t windows = 0, tokens = 0;
  return entities(text, options, &windows, &tokens);
}

runtime::ChunkedText ClassifierModel::chunk(const std::string& text,
                                            const runtime::ChunkingOptions& options) const {
  if (options.clean != TextCleanup::none) {
    if (const auto bad = tok::find_invalid_utf8(text)) {
      throw Error(ErrorCode::input_invalid,
                  "the text is not valid UTF-8 (at byte " + std::to_string(*bad) + ")");
    }
  }
  const std::string cleaned =
      options.clean == TextCleanup::none ? std::string() : clean_text(text, options.clean);
  const std::string& input = options.clean == TextCleanup::none ? text : cleaned;
  runtime::ChunkedText out;
  require_token_head(task(), "chunking needs one (e.g. mirth/chonky_*)");
  const std::vector<runtime::EntitySpan> found =
      entities(input, options, &out.windows, &out.tokens);
  const std::vector<size_t> bytes = code_point_offsets(input);
  const auto code_points = static_cast<int64_t>(bytes.size()) - 1;
  std::u32string decoded;
  if (options.snap_to_whitespace) {
    for (size_t i = 0; i < input.size();) decoded.push_back(tok::next_code_point(input, i));
  }
  int64_t begin = 0;
  const auto emit = [&](int64_t end, float score) {
    end = std::clamp(end, begin, code_points);
    out.chunks.push_back(
        {input.substr(bytes[begin], bytes[end] - bytes[begin]), begin, end, score});
    begin = end;
  };
  for (const runtime::EntitySpan& e : found) {
    if (!options.snap_to_whitespace) {
      emit(e.end, e.score);
      continue;
    }
    const int64_t end = snap_to_whitespace(decoded, e.end);
    if (end > begin && end < code_points) {
      emit(end, e.score);
    } else if (!out.chunks.empty() && end <= begin) {  // snapped onto the previous cut
      out.chunks.back().separator_score = std::max(out.chunks.back().separator_score, e.score);
    }
  }
  emit(code_points, 0.0f);
  return out;
}

}  // namespace hades
