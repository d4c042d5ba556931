// BERT (and every checkpoint of its family that keeps its layout, e.g. MiniLM), mirroring
// transformers' src/transformers/models/bert/modeling_bert.py (BertModel):
//   embeddings = LayerNorm(word[id] + position[p] + token_type[t])
//   per layer:   x = LayerNorm(x + Wo · attention(Wq x, Wk x, Wv x))
//                x = LayerNorm(x + W2 · act(W1 x))
//   pooler:      tanh(Wp · x[CLS])            (optional)
// Positions restart at 0 for every sequence of a ragged batch ("absolute" embeddings only).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/scratch.hpp"
#include "hades/error.hpp"
#include "io/json_file.hpp"
#include "io/weights.hpp"
#include "models/architectures.hpp"
#include "models/bert_family.hpp"
#include "models/weights_util.hpp"

namespace hades {

BertConfig parse_bert_config(const nlohmann::json& json, const std::string& source) {
  const JsonFields f(json, source);
  BertConfig c = read_bert_config(f, {});
  c.type_vocab_size = f.find_positive_int("type_vocab_size").value_or(2);
  c.layer_norm_eps = static_cast<float>(f.find_number("layer_norm_eps").value_or(1e-12));
  const std::string position_type = f.find_string("position_embedding_type").value_or("absolute");
  if (position_type != "absolute") {
    throw Error(ErrorCode::unsupported, source + ": position_embedding_type '" + position_type +
                                            "' is not supported; only 'absolute' is");
  }
  return c;
}

namespace {

struct BertLayer {
  std::unique_ptr<PackedLinear> qkv;  // query, key and value fused into one matmul
  std::unique_ptr<PackedLinear> attention_output;
  NormWeights attention_norm;
  std::unique_ptr<PackedLinear> intermediate;
  std::unique_ptr<PackedLinear> output;
  NormWeights output_norm;
};

class BertModel final : public Encoder {
 public:
  BertModel(const BertConfig& config, const BertTensorNames& n, const WeightStore& weights,
            const Backend& backend)
      : config_(config), architecture_(n.architecture), backend_(backend) {
    WeightLoader w(weights, backend, n.prefix);
    const int64_t h = config.hidden_size;
    const float eps = config.layer_norm_eps;
    word_embeddings_ = w.load<PagedArray<float>>(n.word_embeddings, {config.vocab_size, h});
    position_embeddings_ =
        w.load<PagedArray<float>>(n.position_embeddings, {config.max_positions, h});
    if (config.type_vocab_size > 0) {
      token_type_embeddings_ =
          w.load<PagedArray<float>>(n.token_type_embeddings, {config.type_vocab_size, h});
    }
    embedding_norm_ = w.layer_norm(n.embedding_norm, h, eps);
    for (int64_t i = 0; i < config.num_layers; ++i) {
      const std::string p = n.layer + std::to_string(i) + ".";
      BertLayer layer;
      layer.qkv = w.fused_linear({p + n.query, p + n.key, p + n.value}, h, h);
      layer.attention_output = w.linear(p + n.attention_output, h, h);
      layer.attention_norm = w.layer_norm(p + n.attention_norm, h, eps);
      layer.intermediate = w.linear(p + n.intermediate, h, config.intermediate_size);
      layer.output = w.linear(p + n.output, config.intermediate_size, h);
      layer.output_norm = w.layer_norm(p + n.output_norm, h, eps);
      layers_.push_back(std::move(layer));
    }
    if (!n.pooler.empty() && w.contains(n.pooler + ".weight")) {
      pooler_ = w.linear(n.pooler, h, h);
    }
    weight_bytes_ = w.bytes_loaded();
  }

  std::string architecture() const override { return architecture_; }
  int64_t hidden_size() const override { return config_.hidden_size; }
  int64_t max_sequence_length() const override {
    return config_.max_positions - (config_.padding_idx + 1);
  }
  bool has_pooler() const override { return pooler_ != nullptr; }
  uint64_t weight_bytes() const override { return weight_bytes_; }

  EncoderOutput forward(const RaggedBatch& batch, bool with_pooler) const override {
    validate_ragged_batch(batch, max_sequence_length());
    EncoderOutput result;
    result.hidden.resize(static_cast<size_t>(batch.tokens() * config_.hidden_size));
    embed(batch, result.hidden.data());
    const std::vector<SequenceGroup> groups = group_sequences(batch.cu_seqlens);
    Workspace ws(largest_group(groups), config_);
    for (const BertLayer& layer : layers_) {
      for (const SequenceGroup& group : groups) {
        run_layer(layer, group, result.hidden.data() + group.first_token * config_.hidden_size, ws);
      }
    }
    if (with_pooler) result.pooled = pool(batch, result.hidden);
    return result;
  }

 private:
  // Activation buffers for one group of sequences (see SequenceGroup), taken once per pass from
  // the scratch pool (reused across passes), never per op. The attention's qkv and context are dead
  // once the attention output is projected, so the feed-forward's intermediate activations reuse
  // their memory: 5 instead of 9 hidden widths per token for BERT's 4× intermediate, which is most
  // of a busy server's memory beside the weights.
  struct Workspace {
    Workspace(int64_t tokens, const BertConfig& c)
        : shared(static_cast<size_t>(
              tokens * (std::max(4 * c.hidden_size, c.intermediate_size) + c.hidden_size))),
          qkv(shared.data()),
          context(shared.data() + tokens * 3 * c.hidden_size),
          intermediate(shared.data()),
          projected(shared.data() + tokens * std::max(4 * c.hidden_size, c.intermediate_size)) {}
    Scratch shared;
    float* qkv;           // [tokens, 3 hidden]   } attention
    float* context;       // [tokens, hidden]     }
    float* intermediate;  // [tokens, intermediate]: feed-forward, over the two above
    float* projected;     // [tokens, hidden]: a sublayer's output before its residual LayerNorm
  };

  // From 0 in every sequence; RoBERTa's (padding_idx >= 0): from padding_idx + 1, skipping
  // padding tokens, which sit at padding_idx.
  std::vector<int32_t> position_ids(const RaggedBatch& batch) const {
    std::vector<int32_t> positions(batch.ids.size());
    const auto pad = static_cast<int32_t>(config_.padding_idx);
    for (int64_t b = 0; b < batch.sequences(); ++b) {
      int32_t next = pad < 0 ? 0 : pad + 1;
      for (int32_t t = batch.cu_seqlens[b]; t < batch.cu_seqlens[b + 1]; ++t) {
        positions[t] = pad >= 0 && batch.ids[t] == pad ? pad : next++;
      }
    }
    return positions;
  }

  void embed(const RaggedBatch& batch, float* out) const {
    const int64_t h = config_.hidden_size;
    backend_.embedding_lookup(word_embeddings_.data(), config_.vocab_size, h, batch.ids, out,
                              false);
    const std::vector<int32_t> positions = position_ids(batch);
    backend_.embedding_lookup(position_embeddings_.data(), config_.max_positions, h, positions, out,
                              true);
    if (config_.type_vocab_size > 0) {
      add_token_type_embeddings(backend_, token_type_embeddings_.data(), config_.type_vocab_size, h,
                                batch, out);
    }
    backend_.add_layer_norm(out, nullptr, batch.tokens(), h, embedding_norm_.params());
  }

  // LAYER over GROUP, whose rows of the hidden state start at HIDDEN.
  void run_layer(const BertLayer& layer, const SequenceGroup& group, float* hidden,
                 Workspace& ws) const {
    const int64_t tokens = group.tokens;
    const int64_t h = config_.hidden_size;
    const int64_t head_dim = h / config_.num_heads;
    backend_.linear(*layer.qkv, hidden, tokens, ws.qkv, Activation::none);
    const AttentionParams attention{group.cu_seqlens, config_.num_heads, head_dim,
                                    1.0f / std::sqrt(static_cast<float>(head_dim)), 0};
    backend_.attention(ws.qkv, attention, ws.context);
    backend_.linear(*layer.attention_output, ws.context, tokens, ws.projected, Activation::none);
    backend_.add_layer_norm(hidden, ws.projected, tokens, h, layer.attention_norm.params());
    backend_.linear(*layer.intermediate, hidden, tokens, ws.intermediate, config_.activation);
    backend_.linear(*layer.output, ws.intermediate, tokens, ws.projected, Activation::none);
    backend_.add_layer_norm(hidden, ws.projected, tokens, h, layer.output_norm.params());
  }

  std::vector<float> pool(const RaggedBatch& batch, const std::vector<float>& hidden) const {
    if (pooler_ == nullptr) {
      throw Error(ErrorCode::unsupported, "this BERT checkpoint has no pooler weights");
    }
    const int64_t h = config_.hidden_size;
    std::vector<float> first(static_cast<size_t>(batch.sequences() * h));
    for (int64_t b = 0; b < batch.sequences(); ++b) {
      std::copy_n(hidden.begin() + batch.cu_seqlens[b] * h, h, first.begin() + b * h);
    }
    std::vector<float> pooled(first.size());
    backend_.linear(*pooler_, first.data(), batch.sequences(), pooled.data(), Activation::none);
    for (float& v : pooled) v = std::tanh(v);
    return pooled;
  }

  BertConfig config_;
  std::string architecture_;
  const Backend& backend_;
  PagedArray<float> word_embeddings_;
  PagedArray<float> position_embeddings_;
  PagedArray<float> token_type_embeddings_;
  NormWeights embedding_norm_;
  std::vector<BertLayer> layers_;
  std::unique_ptr<PackedLinear> pooler_;
  uint64_t weight_bytes_ = 0;
};

}  // namespace

std::unique_ptr<ClassificationHead> load_tanh_head(const ModelLoadContext& c, int64_t hidden,
                                                   const TanhHeadNames& names) {
  WeightLoader w(c.weights, c.backend, "");
  HeadSpec spec;
  std::string classifier = "classifier";
  if (c.task == ModelTask::sequence_classification) {
    spec.pooling = HeadPooling::first_token;
    spec.dense = w.linear(names.sequence_dense, hidden, hidden);
    spec.dense_activation = Activation::tanh;
    classifier = names.sequence_classifier;
  }
  spec.classifier = w.linear(classifier, hidden, c.num_labels);
  return std::make_unique<ClassificationHead>(std::move(spec), c.backend, hidden);
}

BertConfig read_bert_config(const JsonFields& f, const BertConfigKeys& keys) {
  BertConfig c;
  c.vocab_size = f.get_positive_int("vocab_size");
  c.hidden_size = f.get_positive_int(keys.hidden_size);
  c.num_layers = f.get_positive_int(keys.num_layers);
  c.num_heads = f.get_positive_int(keys.num_heads);
  c.intermediate_size = f.get_positive_int(keys.intermediate_size);
  c.max_positions = f.get_positive_int("max_position_embeddings");
  c.activation = parse_activation(f, keys.activation, "gelu");
  if (c.hidden_size % c.num_heads != 0) {
    f.fail(keys.hidden_size, std::string("must be a multiple of ") + keys.num_heads + " (" +
                                 std::to_string(c.num_heads) + ")");
  }
  check_model_size(f, {{"vocab_size", c.vocab_size},
                       {keys.hidden_size, c.hidden_size},
                       {keys.num_layers, c.num_layers},
                       {keys.intermediate_size, c.intermediate_size},
                       {"max_position_embeddings", c.max_positions}});
  return c;
}

MaskedLmHeadShape masked_lm_shape(const BertConfig& config, const ModelLoadContext& context) {
  const JsonFields f(context.config, context.config_source);
  return {.hidden_size = config.hidden_size,
          .vocab_size = config.vocab_size,
          .activation = config.activation,
          .norm_eps = config.layer_norm_eps,
          .tied = f.find_bool("tie_word_embeddings").value_or(true),
          .config_source = context.config_source};
}

std::unique_ptr<Encoder> make_bert_style_encoder(const BertConfig& config,
                                                 const BertTensorNames& names,
                                                 const WeightStore& weights,
                                                 const Backend& backend) {
  return std::make_unique<BertModel>(config, names, weights, backend);
}

ModelParts load_bert(const ModelLoadContext& context) {
  const BertConfig config = parse_bert_config(context.config, context.config_source);
  BertTensorNames names;
  // Checkpoints of BertFor* heads keep the encoder under "bert."; a bare BertModel has none.
  names.prefix =
      WeightLoader::detect_prefix(context.weights, "embeddings.word_embeddings.weight", {"bert."});
  ModelParts parts;
  parts.encoder = make_bert_style_encoder(config, names, context.weights, context.backend);
  if (context.task == ModelTask::masked_lm) {
    // BertForMaskedLM: cls.predictions (BertLMPredictionHead), its decoder tied to the word
    // embeddings; older checkpoints keep the bias as cls.predictions.decoder.bias.
    parts.masked_lm = load_masked_lm_head(
        context.weights, context.backend,
        {.transform = "cls.predictions.transform.dense",
         .norm = "cls.predictions.transform.LayerNorm",
         .decoder_weight = "cls.predictions.decoder.weight",
         .tied_weight = names.prefix + names.word_embeddings,
         .bias_names = {"cls.predictions.bias", "cls.predictions.decoder.bias"}},
        masked_lm_shape(config, context));
  } else if (is_classification(context.task)) {
    // BertForSequenceClassification: the pooler (tanh of a dense layer on [CLS]), the classifier.
    parts.head = load_tanh_head(context, config.hidden_size, {"bert.pooler.dense", "classifier"});
  }
  return parts;
}

}  // namespace hades
