#include "tokenizer/json_reader.hpp"

#include <string>
#include <utility>
#include <vector>

#include "hades/error.hpp"

namespace hades::tok {
namespace {

// Real files nest a handful of levels; deeper ones are refused while parsing, before a hostile
// one can exhaust the stack of the loader's recursive walk.
constexpr size_t kMaxJsonDepth = 256;

// nlohmann's SAX interface, building the tree as its own DOM parser does (a later duplicate key
// replaces an earlier one), with "vocab" of the root's "model" object sent to doc.vocab.
class DocumentBuilder {
 public:
  DocumentBuilder(TokenizerDocument& doc, std::string_view source) : doc_(doc), source_(source) {}

  bool null() {
    place(Json(nullptr));
    return true;
  }
  bool boolean(bool value) {
    place(Json(value));
    return true;
  }
  bool number_integer(Json::number_integer_t value) {
    place(Json(value));
    return true;
  }
  bool number_unsigned(Json::number_unsigned_t value) {
    place(Json(value));
    return true;
  }
  bool number_float(Json::number_float_t value, const Json::string_t& /*text*/) {
    place(Json(value));
    return true;
  }
  bool string(Json::string_t& value) {
    place(Json(std::move(value)));
    return true;
  }
  bool binary(Json::binary_t& value) {
    place(Json::binary(std::move(value)));
    return true;
  }
  bool start_object(std::size_t /*size*/) { return open(Json::value_t::object); }
  bool start_array(std::size_t /*size*/) { return open(Json::value_t::array); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(Json::string_t& key) {
    Json* object = stack_.back();
    if (object == nullptr) {  // an entry of the set-aside vocabulary
      doc_.vocab->emplace_back(std::move(key), Json());
      return true;
    }
    model_next_ = stack_.size() == 1 && key == "model";
    vocab_next_ = model_ != nullptr && object == model_ && key == "vocab";
    if (model_next_ || vocab_next_) doc_.vocab.reset();  // a later duplicate replaces the first
    slot_ = &(*object)[std::move(key)];
    return true;
  }

  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& e) {
    // A syntax error, or out_of_range for a number such as 1e999.
    throw Error(ErrorCode::invalid_model,
                std::string(source_) + ": not valid JSON: " + std::string(e.what()));
  }

 private:
  // Puts VALUE where the document expects the next value; returns where it went.
  Json* place(Json&& value) {
    model_next_ = vocab_next_ = false;
    if (stack_.empty()) {
      doc_.root = std::move(value);
      return &doc_.root;
    }
    Json* container = stack_.back();
    if (container == nullptr) {
      doc_.vocab->back().second = std::move(value);
      return &doc_.vocab->back().second;
    }
    if (container->is_array()) {
      container->push_back(std::move(value));
      return &container->back();
    }
    *slot_ = std::move(value);
    return slot_;
  }

  bool open(Json::value_t type) {
    if (stack_.size() >= kMaxJsonDepth) {
      throw Error(ErrorCode::invalid_model, std::string(source_) +
                                                ": not valid JSON: nested deeper than " +
                                                std::to_string(kMaxJsonDepth) + " levels");
    }
    const bool is_object = type == Json::value_t::object;
    const bool vocab = vocab_next_ && is_object;
    const bool model = model_next_ && is_object;
    Json* container = place(Json(type));
    if (vocab) {
      doc_.vocab.emplace();
      container = nullptr;  // the entries go to doc_.vocab; the tree keeps an empty object
    }
    if (model) model_ = container;
    stack_.push_back(container);
    return true;
  }

  bool close() {
    stack_.pop_back();
    return true;
  }

  TokenizerDocument& doc_;
  std::string_view source_;
  std::vector<Json*> stack_;  // open containers; nullptr is the set-aside vocabulary
  Json* slot_ = nullptr;      // the member of the innermost object that the last key named
  Json* model_ = nullptr;     // the root's "model" object, once open
  bool model_next_ = false;   // the next value is the root's "model"
  bool vocab_next_ = false;   // the next value is the model's "vocab"
};

}  // namespace

TokenizerDocument read_tokenizer_json(std::string_view text, std::string_view source) {
  // nlohmann stops at a NUL byte as if the input ended there; valid JSON never holds a raw one.
  if (const size_t nul = text.find('\0'); nul != std::string_view::npos) {
    throw Error(
        ErrorCode::invalid_model,
        std::string(source) + ": not valid JSON: NUL character at byte " + std::to_string(nul));
  }
  TokenizerDocument doc;
  DocumentBuilder builder(doc, source);
  if (!Json::sax_parse(text, &builder)) {
    throw Error(ErrorCode::invalid_model, std::string(source) + ": not valid JSON");
  }
  return doc;
}

}  // namespace hades::tok
