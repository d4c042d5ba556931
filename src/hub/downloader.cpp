#include "hub/downloader.hpp"

#include <algorithm>
#include <iterator>
#include <vector>

#include "hades/error.hpp"
#include "hub/blob_store.hpp"
#include "hub/hub_api.hpp"
#include "hub/repo_files.hpp"

namespace hades {
namespace {

namespace fs = std::filesystem;
using hub::FileMeta;
using hub::RepoListing;

RepoListing listing_or_network_error(const std::string& model, const std::string& revision,
                                     const HubSettings& hub) {
  try {
    return hub::fetch_listing(model, revision, hub);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::network_error) throw;
    throw Error(ErrorCode::network_error,
                "cannot reach the hub at " + hub.endpoint + " (" + e.what() + "), and " + model +
                    " is not in the cache at " + hub.cache.string() +
                    "; check the network or HF_ENDPOINT, or copy the model into the cache");
  }
}

std::vector<std::string> wanted_files(const std::string& model, const RepoListing& listing) {
  if (!hub::has_safetensors_weights(listing.files)) {
    std::string weights;
    for (const std::string& name : hub::weight_files(listing.files)) {
      weights += (weights.empty() ? "" : ", ") + name;
    }
    throw Error(ErrorCode::unsupported,
                model + " has no safetensors weights (its weight files: " +
                    (weights.empty() ? std::string("none") : weights) +
                    "); hades loads only *.safetensors, never pickle or code");
  }
  std::vector<std::string> wanted;
  std::copy_if(listing.files.begin(), listing.files.end(), std::back_inserter(wanted),
               hub::is_wanted_file);
  return wanted;
}

std::string offline_message(const std::string& model, const HubSettings& hub) {
  return "Model not found: " + model + " (offline mode is on, HF_HUB_OFFLINE=1, and the cache at " +
         hub.cache.string() + " does not hold it; pull it while online)";
}

}  // namespace

fs::path pull_model(const std::string& model_id, const PullOptions& options,
                    const HubSettings& hub) {
  check_model_id(model_id);
  check_revision(options.revision);
  if (hub.offline) {
    const auto cached = find_cached_model(model_id, options.revision, hub.cache);
    if (cached && is_complete_snapshot(*cached)) return *cached;
    throw Error(ErrorCode::model_not_found, offline_message(model_id, hub));
  }
  const RepoListing listing = listing_or_network_error(model_id, options.revision, hub);
  std::vector<FileMeta> files;
  DownloadEvent totals;
  totals.model = model_id;
  totals.commit = listing.commit;
  for (const std::string& name : wanted_files(model_id, listing)) {
    files.push_back(hub::fetch_file_meta(model_id, listing.commit, name, hub));
    totals.total_bytes += files.back().size;
  }
  totals.files_total = files.size();
  const fs::path repo = hub.cache / repo_folder_name(model_id);
  fs::path snapshot = repo / "snapshots" / listing.commit;
  fs::create_directories(repo / "blobs");
  hub::DownloadProgress progress(options.observer, totals);
  progress.start();
  for (const FileMeta& meta : files) {
    const fs::path blob = repo / "blobs" / meta.etag;
    if (!fs::exists(blob)) {
      hub::download_blob(meta, blob,
                         hub.cache / ".locks" / repo_folder_name(model_id) / (meta.etag + ".lock"),
                         hub, progress);
    }
    const fs::path link = snapshot / meta.name;
    if (!fs::exists(link)) hub::link_snapshot_file(blob, link);
    progress.file_done(meta.name, meta.size);
  }
  // Last, so that a reader following refs/REVISION finds a whole snapshot.
  hub::write_ref(repo, options.revision, listing.commit);
  progress.done();
  return snapshot;
}

fs::path resolve_model(const std::string& model, const DownloadObserver& observer,
                       const HubSettings& hub) {
  std::error_code ec;
  if (fs::is_directory(model, ec)) return model;
  check_model_reference(model);
  // "org/name@revision" names a revision; plain ids mean the main branch.
  const size_t at = model.find('@');
  const std::string id = model.substr(0, at);
  PullOptions options;
  options.revision = at == std::string::npos ? "main" : model.substr(at + 1);
  options.observer = observer;
  if (const auto cached = find_cached_model(id, options.revision, hub.cache)) {
    if (is_complete_snapshot(*cached) || hub.offline) return *cached;
  }
  return pull_model(id, options, hub);
}

}  // namespace hades
