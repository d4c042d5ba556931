// The values the hades client API takes and returns: the service's answers as plain structs.
//
// They mirror the JSON of the protocol (docs/protocol.md) field by field, so a value read here
// means what the protocol says it means. Free of build flags and third-party types.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hades {

// One model held by the service (an entry of GET /v1/models and GET /v1/status).
struct LoadedModel {
  std::string id;             // a Hugging Face id ("org/name") or a model folder path
  std::string state;          // "downloading", "loading", "ready" or "failed"
  std::string device;         // "cpu", "cuda:0"
  std::string kind;           // "embedding", "sparse-embedding", ...
  std::string model_type;     // config.json's model_type: "bert", "xlm-roberta", ...
  std::string dtype;          // its linear layers' precision: "fp32", "int8" or "bf16"
  uint64_t memory_bytes = 0;  // bytes its loaded weights occupy
  bool pinned = false;        // never evicted
  std::string error;          // why, when state is "failed"
  double progress = 0;        // while "downloading": the fraction of its files' bytes in the cache
  uint64_t downloaded_bytes = 0;
  uint64_t total_bytes = 0;
  int64_t dimension = 0;  // embedding width
  int64_t max_sequence_length = 0;
  uint64_t requests = 0;           // requests served
  int64_t in_flight = 0;           // requests running or queued now
  double idle_seconds = 0;         // since its last use
  double keep_alive_seconds = -1;  // how long it stays after its last request; -1: until evicted
  // The prompt embed requests without their own get (a load's, else the model's
  // config_sentence_transformers.json default_prompt_name); empty: none.
  std::string default_prompt_name;
};

// What `status` reports. When the service is not running only `running` and `socket` are set
// (and `pid` when a daemon holds the socket's lock but does not accept connections yet).
struct ServiceStatus {
  bool running = false;
  int64_t pid = 0;
  std::string socket;
  std::string version;
  double uptime_seconds = 0;
  std::string device;                      // the device models load on by default
  std::string device_note;                 // why, e.g. when cuda:0 was asked for and cpu is used
  std::vector<std::string> tcp_addresses;  // the TCP listener's bound addresses, if it has one
  bool tcp_api_key = false;                // whether TCP requests need the API key
  std::vector<LoadedModel> models;
  // The server's limits and counters by name, each value as JSON text ("3", "null", "\"4GiB\"").
  std::map<std::string, std::string> limits;
  std::map<std::string, std::string> stats;
};

// What `health_check` reports; a service that cannot be reached is unhealthy, never an exception.
struct HealthStatus {
  bool healthy = false;
  std::string status;  // the service's word ("ok"), or "not running"
  std::string version;
  double uptime_seconds = 0;
  std::string message;  // why it is unhealthy
};

struct LoadModelOptions {
  std::string device;  // empty: the service's default device (HADES_DEFAULT_DEVICE)
  bool pin = false;    // a pinned model is never evicted
  // The linear layers' precision: "fp32", "int8" (dynamic quantization), "bf16" (CPUs with
  // AVX512-BF16 or AMX), "auto" (bf16 where native, else fp32); empty: fp32.
  std::string dtype;
  // How long the model stays loaded after its last request, as Ollama writes it: "5m", "30s",
  // "1h", "0" (unload after each request), "-1" (forever); empty: the service's HADES_KEEP_ALIVE.
  std::string keep_alive;
  // A prompt name of the model's config_sentence_transformers.json that embed requests without
  // `prompt` or `prompt_name` get from now on, in place of the config's default_prompt_name;
  // empty: as it was.
  std::string default_prompt_name;
};

struct EmbeddingOptions {
  std::optional<bool> normalize;  // empty: as the model's own configuration says
  bool truncate = true;           // false: an input longer than the model's limit is an error
  // The end truncation cuts: "right" (empty: the default) or "left", which keeps the last tokens.
  std::string truncation_direction;
  std::string pooling;  // empty: the model's own; cls, mean, max, mean_sqrt_len, ...
  // Put before each text, as sentence-transformers' encode(prompt=, prompt_name=); neither: the
  // model's default prompt (a load's default_prompt_name, else its
  // config_sentence_transformers.json one), if it has one.
  std::optional<std::string> prompt;
  std::string prompt_name;
  int64_t dimensions = 0;  // Matryoshka: the first N values (normalized again); 0: all
};

struct EmbeddingResult {
  std::string model;
  int64_t dimension = 0;
  int64_t tokens = 0;                          // tokens computed, special tokens included
  std::vector<std::vector<float>> embeddings;  // one row per input, in input order
};

// Sparse (SPLADE) models: embed_sparse's options are embed's, less those a sparse vector has not.
struct SparseEmbeddingOptions {
  bool truncate = true;
  std::string truncation_direction;   // "right" (empty: the default) or "left"
  std::optional<std::string> prompt;  // as EmbeddingOptions's
  std::string prompt_name;
};

struct SparseEmbedding {  // the non-zero entries over the vocabulary, indices ascending
  std::vector<int64_t> indices;
  std::vector<float> values;
};

struct SparseEmbeddingResult {
  std::string model;
  int64_t dimension = 0;                    // the vocabulary size
  int64_t tokens = 0;                       // tokens computed, special tokens included
  std::vector<SparseEmbedding> embeddings;  // one per input, in input order
};

struct TokenizeOptions {
  bool add_special_tokens = true;
};

struct TokenEncoding {
  std::vector<int64_t> ids;
  std::vector<std::string> tokens;
  std::vector<std::pair<int64_t, int64_t>> offsets;  // [start, end) in Unicode code points
  std::vector<int64_t> type_ids;
};

struct TokenizationResult {
  std::string model;
  std::vector<TokenEncoding> encodings;  // one per input, in input order
};

// Classifier models (a *ForSequenceClassification or *ForTokenClassification head).

struct ClassScore {
  std::string label;  // from the model's id2label
  float score = 0;    // softmax probability (the sigmoid for a single-label model)
};

struct Classification {
  std::string label;  // the best label
  float score = 0;
  std::vector<ClassScore> scores;  // every label, best first
};

struct ClassificationResult {
  std::string model;
  std::vector<Classification> results;  // one per input, in input order
};

struct RerankOptions {
  // false: the relevance as a probability (see RerankHit); true: the model's raw logit for it, as
  // CrossEncoder.predict gives it without an activation.
  bool raw_scores = false;
};

struct RerankHit {
  size_t index = 0;  // into the documents given
  float score = 0;   // relevance: the sigmoid of a single logit, else the last label's probability
                     // (raw_scores: that logit)
};

struct RerankResult {
  std::string model;
  std::vector<RerankHit> results;  // every document, most relevant first
};

struct EntitySpan {  // adjacent tokens with the same predicted label (never "O")
  std::string label;
  float score = 0;    // mean probability of its tokens
  int64_t start = 0;  // [start, end) in Unicode code points of the input
  int64_t end = 0;
};

struct TokenClassificationResult {
  std::string model;
  std::vector<std::vector<EntitySpan>> entities;  // per input, by start
};

struct ChunkingOptions {
  int64_t max_length = 0;  // window in tokens, specials included; 0: the model's (chonky's rule)
  // Both off by default, as chonky: clean the text first as chonky's MarkupRemover does ("text":
  // newlines/tabs to spaces and whitespace runs collapsed; "html"/"xml": the document's text, then
  // the same), and move cuts that fall inside a word to the word's end.
  std::string clean;  // empty or "none", "text", "html", "xml"
  bool snap_to_whitespace = false;
};

struct TextChunk {
  std::string text;
  int64_t start = 0;  // [start, end) in Unicode code points of the (cleaned) input
  int64_t end = 0;
  float score = 0;  // of the separator that ends the chunk; 0 for the last
};

struct ChunkedText {
  std::vector<TextChunk> chunks;  // concatenated, they are the (cleaned) input exactly
  int64_t windows = 0;            // model windows the text needed
  int64_t tokens = 0;
};

struct ChunkingResult {
  std::string model;
  std::vector<ChunkedText> results;  // one per input, in input order
};

// The outcome of start(): `already_running` when a service was found on the socket.
struct StartResult {
  bool already_running = false;
  int64_t pid = 0;
};

// The outcome of stop(): `was_running` false when there was nothing to stop.
struct StopResult {
  bool was_running = false;
  int64_t pid = 0;
};

}  // namespace hades
