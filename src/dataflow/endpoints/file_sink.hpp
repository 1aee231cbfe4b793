// The File endpoint (ours) and AIO's LocalStorage: records as JSON Lines (record_json.hpp) in a
// directory, one file at a time, rotated by size and by age. A batch is acknowledged only after it
// was written and fsync'ed (and the directory fsync'ed when the file is new): a record leaves the
// dataflow's buffer only once it is on disk. The writes run on a thread of the sink's own, so a
// slow disk never stalls the runtime's I/O thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "dataflow/endpoint.hpp"
#include "dataflow/problems.hpp"

namespace boost::asio {
class io_context;
}
namespace spdlog {
class logger;
}

namespace edgemq::dataflow {

struct file_settings {
  std::string directory;                       // absolute (relative ones are made so with data_dir)
  std::uint64_t max_file_bytes = 64ull << 20;  // fileSettings.maxFileBytes
  std::uint32_t rotate_seconds = 3600;         // fileSettings.rotateSeconds
  std::size_t max_messages = 1000;             // fileSettings.batching.maxMessages
};

// spec.fileSettings (endpointType File) or spec.localStorageSettings (LocalStorage); problems
// under `path` (the spec's pointer).
file_settings parse_file_settings(const nlohmann::json& spec, const std::string& path, const std::string& data_dir,
                                  problems& out);

// The file name prefix for a dataflow: its dataDestination (or its name when that is empty) with
// every character outside [A-Za-z0-9._-] replaced by '_'.
std::string file_prefix(const std::string& data_destination, const std::string& dataflow);

using wall_clock = std::function<std::chrono::system_clock::time_point()>;

// Files are named <prefix>-<UTC yyyymmddThhmmssZ>-<sequence>.jsonl. `now` is injectable for tests.
std::unique_ptr<sink> make_file_sink(file_settings settings, std::string prefix, boost::asio::io_context& io,
                                     std::shared_ptr<spdlog::logger> log, wall_clock now = {});

}  // namespace edgemq::dataflow
