// endpointType File (ours) and LocalStorage (AIO's, which writes Parquet to a persistent volume
// claim; edgemq writes JSON Lines to a directory): validation and the sink factory.
#include <filesystem>

#include <nlohmann/json.hpp>

#include "dataflow/endpoints/file_sink.hpp"
#include "dataflow/endpoints/kinds.hpp"
#include "dataflow/endpoints/settings_reader.hpp"

namespace edgemq::dataflow {

file_settings parse_file_settings(const nlohmann::json& spec, const std::string& path, const std::string& data_dir,
                                  problems& out) {
  const bool local_storage = spec.value("endpointType", "") == "LocalStorage";
  const char* key = local_storage ? "localStorageSettings" : "fileSettings";
  const auto it = spec.find(key);
  settings_reader s(it == spec.end() ? nullptr : &*it, join_pointer(path, key), out);
  file_settings f;
  // LocalStorage names a persistent volume claim; here it is the directory the claim would be
  // mounted at (absolute, or relative to the data directory).
  if (auto dir = s.string(local_storage ? "persistentVolumeClaimRef" : "path", true)) {
    std::filesystem::path p(*dir);
    f.directory = (p.is_absolute() || data_dir.empty() ? p : std::filesystem::path(data_dir) / p).lexically_normal();
  }
  if (auto n = s.integer("maxFileBytes", 1, std::int64_t(1) << 40)) f.max_file_bytes = static_cast<std::uint64_t>(*n);
  if (auto n = s.integer("rotateSeconds", 1, 366 * 86400)) f.rotate_seconds = static_cast<std::uint32_t>(*n);
  auto batching = s.object("batching");
  if (auto n = batching.integer("maxMessages", 1, 100000)) f.max_messages = static_cast<std::size_t>(*n);
  return f;
}

namespace {

endpoint_kind file_like_kind(const char* type) {
  endpoint_kind k;
  k.type = type;
  k.validate = [](const nlohmann::json& spec, const std::string& path, problems& out) {
    parse_file_settings(spec, path, {}, out);
  };
  k.make_sink = [](const endpoint_args& a) {
    problems ignored;  // validated before
    return make_file_sink(parse_file_settings(a.spec, "", a.data_dir, ignored),
                          file_prefix(a.data_destination, a.dataflow), a.io, a.log);
  };
  return k;  // destination only, as in AIO
}

}  // namespace

endpoint_kind file_endpoint_kind() {
  return file_like_kind("File");
}
endpoint_kind local_storage_endpoint_kind() {
  return file_like_kind("LocalStorage");
}

}  // namespace edgemq::dataflow
