#include "app/dataflow_definitions.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "app/command_line.hpp"
#include "broker/log_safe.hpp"
#include "dataflow/document.hpp"

namespace edgemq::app {
namespace {

namespace fs = std::filesystem;
using dataflow::declared_document;
using dataflow::origin;

// Where the definitions PUT through the admin API are kept (docs/dataflows.md, ADR 0018).
constexpr const char* definitions_file = "dataflow-definitions.json";

// The directory's definition files, in name order; false with a line on stderr when it cannot be read.
bool read_directory(const std::string& dir, bool from_flag, const std::string& config_file,
                    std::vector<declared_document>& out) {
  const auto where = from_flag ? "edgemq: --dataflows '" + dir + "'"
                               : "edgemq: config error in " + config_file + " at /dataflows/dir: '" + dir + "'";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    std::fprintf(stderr, "%s: not a directory\n", where.c_str());
    return false;
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && dataflow::is_definition_file(e.path().filename().string())) files.push_back(e.path());
  if (ec) {
    std::fprintf(stderr, "%s: %s\n", where.c_str(), ec.message().c_str());
    return false;
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    if (in) ss << in.rdbuf();
    std::vector<nlohmann::json> docs;
    std::string error;
    if (!in) error = "cannot be read";
    if (in && !dataflow::parse_documents(ss.str(), dataflow::format_of_file(f.string()), docs, error)) in.close();
    if (!error.empty()) {
      std::fprintf(stderr, "edgemq: dataflow definitions in %s: %s\n", f.c_str(), error.c_str());
      return false;
    }
    for (std::size_t i = 0; i < docs.size(); ++i)
      out.push_back({std::move(docs[i]), {origin::from::file, f.string(), i}});
  }
  return true;
}

int fail_definitions(const std::vector<dataflow::load_error>& errors, const std::string& config_file) {
  for (const auto& e : errors) {
    if (e.where.source == origin::from::config) {
      std::fprintf(stderr, "edgemq: config error in %s at /dataflows/documents/%zu%s: %s\n", config_file.c_str(),
                   e.where.index, e.what.path.c_str(), e.what.message.c_str());
      continue;
    }
    const auto what =
        e.kind.empty() ? std::string() : " (" + e.kind + (e.name.empty() ? "" : " '" + e.name + "'") + ")";
    std::fprintf(stderr, "edgemq: dataflow definition error in %s document %zu%s at %s: %s\n", e.where.file.c_str(),
                 e.where.index + 1, what.c_str(), e.what.path.empty() ? "/" : e.what.path.c_str(),
                 e.what.message.c_str());
  }
  return 2;
}

}  // namespace

std::optional<int> load_dataflow_definitions(const config::daemon_config& cfg, const command_line& cl,
                                             std::unique_ptr<dataflow::definition_store>& out,
                                             const std::shared_ptr<spdlog::logger>& log) {
  std::vector<declared_document> docs;
  if (!cfg.dataflows.dir.empty() &&
      !read_directory(cfg.dataflows.dir, cl.dataflows_dir.has_value(), cl.config_file, docs))
    return 2;
  for (std::size_t i = 0; i < cfg.dataflows.documents.size(); ++i)
    docs.push_back({nlohmann::json::parse(cfg.dataflows.documents[i]), {origin::from::config, {}, i}});

  dataflow::definition_store::options o;
  o.persist_file = (fs::path(cfg.data_dir) / definitions_file).string();
  o.log = log;
  out = std::make_unique<dataflow::definition_store>(std::move(o));
  if (auto errors = out->declare(docs); !errors.empty()) return fail_definitions(errors, cl.config_file);
  std::vector<std::string> skipped;
  std::string error;
  if (!out->restore(skipped, error)) {
    log->critical("dataflows: {}", error);
    return 1;
  }
  for (const auto& s : skipped) log->error("dataflows: {}", edgemq::log_safe(s, 2048));  // the text of stored documents
  const auto dataflows = out->list(dataflow::resource_kind::dataflow).size();
  const auto endpoints = out->list(dataflow::resource_kind::endpoint).size() - 1;  // `default`
  if (dataflows + endpoints > 0)
    log->info("dataflows: {} dataflow(s) and {} endpoint(s) defined", dataflows, endpoints);
  return std::nullopt;
}

}  // namespace edgemq::app
