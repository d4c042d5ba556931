#include "hub/hub_api.hpp"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "hades/error.hpp"
#include "hub/hf_cache.hpp"
#include "hub/http_client.hpp"
#include "hub/repo_files.hpp"

namespace hades::hub {
namespace {

// Percent-encodes all but unreserved characters (and '/' when KEEP_SLASH), as the hub's URLs
// quote revisions and file paths.
std::string url_quote(const std::string& text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// The message of a hub answer that is not a success, mapped to the error a user can act on.
[[noreturn]] void throw_hub_answer(const HttpResponse& answer, const std::string& model,
                                   const std::string& revision, const HubSettings& hub) {
  const std::string code = answer.header("x-error-code");
  const long status = answer.status;
  if (code == "RevisionNotFound") {
    throw Error(ErrorCode::model_not_found, "Model not found: " + model + " at revision '" +
                                                revision + "' (" + hub.endpoint +
                                                " has no such branch, tag or commit)");
  }
  if (code == "RepoNotFound" || (status == 404 && code != "EntryNotFound")) {
    throw Error(ErrorCode::model_not_found,
                "Model not found: " + model + " (" + hub.endpoint + " has no model of that id" +
                    (hub.token.empty() ? "; if it is private, set HF_TOKEN)" : ")"));
  }
  if (status == 401 || status == 403) {
    throw Error(ErrorCode::access_denied,
                hub.token.empty()
                    ? model +
                          " is gated or private: set HF_TOKEN to a token with access to it "
                          "(create one at https://huggingface.co/settings/tokens, and accept "
                          "the model's terms on its page)"
                    : model + " is gated or private and HF_TOKEN was refused for it (HTTP " +
                          std::to_string(status) +
                          "): accept the model's terms on its page, or use a token with access");
  }
  if (status == 429 || status >= 500) {
    throw Error(ErrorCode::network_error, hub.endpoint + " answered HTTP " +
                                              std::to_string(status) + " for " + model +
                                              "; try again later");
  }
  throw Error(ErrorCode::io_error, hub.endpoint + " answered HTTP " + std::to_string(status) +
                                       " for " + model + ": " + answer.body.substr(0, 200));
}

}  // namespace

RepoListing fetch_listing(const std::string& model, const std::string& revision,
                          const HubSettings& hub) {
  HttpRequest request;
  request.url = hub.endpoint + "/api/models/" + model + "/revision/" + url_quote(revision, false);
  request.headers = auth_headers(hub);
  request.follow_redirects = true;  // a renamed repo answers with a redirect to its new name
  request.stall_timeout_s = hub.timeout_s;
  const HttpResponse answer = hub::http_request(request);
  if (answer.status != 200) throw_hub_answer(answer, model, revision, hub);
  const auto json = nlohmann::json::parse(answer.body, nullptr, /*allow_exceptions=*/false);
  RepoListing listing;
  if (json.is_object() && json.contains("sha") && json["sha"].is_string()) {
    listing.commit = json["sha"].get<std::string>();
  }
  if (!is_commit_hash(listing.commit) || !json.contains("siblings") ||
      !json["siblings"].is_array()) {
    throw Error(ErrorCode::io_error, request.url + " did not answer with a commit and a file list");
  }
  for (const auto& sibling : json["siblings"]) {
    if (sibling.is_object() && sibling.contains("rfilename") && sibling["rfilename"].is_string()) {
      listing.files.push_back(sibling["rfilename"].get<std::string>());
    }
  }
  return listing;
}

// As huggingface_hub's get_hf_file_metadata: a HEAD that follows only relative redirects (a
// renamed repo), so that an LFS file's 302 to the file store yields its linked etag and size.
FileMeta fetch_file_meta(const std::string& model, const std::string& commit,
                         const std::string& name, const HubSettings& hub) {
  HttpRequest request;
  request.method = "HEAD";
  request.url = hub.endpoint + "/" + model + "/resolve/" + commit + "/" + url_quote(name, true);
  request.headers = auth_headers(hub);
  request.headers.emplace_back("Accept-Encoding: identity");
  request.stall_timeout_s = hub.timeout_s;
  HttpResponse answer = hub::http_request(request);
  for (int hop = 0; hop < 5 && answer.status >= 300 && answer.status < 400; ++hop) {
    const std::string location = answer.header("location");
    if (location.empty() || location.front() != '/') break;
    request.url =
        hub.endpoint.substr(0, hub.endpoint.find('/', hub.endpoint.find("://") + 3)) + location;
    answer = hub::http_request(request);
  }
  if (answer.status >= 400 || answer.status < 200) throw_hub_answer(answer, model, commit, hub);
  FileMeta meta;
  meta.name = name;
  const std::string linked = answer.header("x-linked-etag");
  meta.etag = hub::normalize_etag(linked.empty() ? answer.header("etag") : linked);
  const std::string linked_size = answer.header("x-linked-size");
  meta.size = hub::parse_byte_count(
      linked_size.empty() ? answer.header("content-length") : linked_size, request.url);
  meta.url = answer.status >= 300 ? answer.header("location") : request.url;
  const bool etag_is_a_name = !meta.etag.empty() && meta.etag.find("..") == std::string::npos &&
                              std::all_of(meta.etag.begin(), meta.etag.end(), [](unsigned char c) {
                                return std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.';
                              });
  if (!etag_is_a_name || meta.url.empty()) {
    throw Error(ErrorCode::io_error, request.url + " gave no usable ETag or Location");
  }
  return meta;
}

}  // namespace hades::hub
