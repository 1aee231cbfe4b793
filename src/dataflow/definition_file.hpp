// The file holding the definitions PUT through the admin API (data_dir/dataflow-definitions.json):
// {"endpoints": [documents], "dataflows": [documents]}, replaced atomically on each change
// (written to a temporary file, fsynced, renamed over the old one, directory fsynced).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace edgemq::dataflow {

struct stored_definitions {
  std::vector<nlohmann::json> endpoints;
  std::vector<nlohmann::json> dataflows;
};

// A missing file is empty (true). False with `error` when it cannot be read or parsed.
bool read_definition_file(const std::string& path, stored_definitions& out, std::string& error);
// False with `error` when it cannot be written; the previous file is then left as it was.
bool write_definition_file(const std::string& path, const stored_definitions& defs, std::string& error);

}  // namespace edgemq::dataflow
