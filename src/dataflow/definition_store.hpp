// The Dataflow and DataflowEndpoint definitions the daemon runs, from two layers:
// - declared: the --dataflows directory's files and the config file's documents, read at every
//   start (an invalid one stops the start);
// - API: PUT through the admin API, persisted (definition_file.hpp) and restored at start. An API
//   definition wins over a declared one of the same name until it is DELETEd (the declared one
//   is then back); a declared-only definition cannot be DELETEd through the API (409).
// Every change is validated against the others (a dataflow's endpoints exist; an endpoint's new
// type still fits the dataflows using it), persisted, then handed to the runner.
//
// Threads: any (the admin server's, main's); one mutex, held while calling the runner so its
// calls come in the order of the changes.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dataflow/definitions.hpp"
#include "dataflow/problems.hpp"
#include "dataflow/validate.hpp"

namespace spdlog {
class logger;
}

namespace edgemq::dataflow {

class runner;

enum class resource_kind { dataflow, endpoint };

// Where a definition came from (shown by GET as status.origin).
struct origin {
  enum class from { api, file, config, builtin } source = from::api;
  std::string file;  // file: its path
  std::size_t index =
      0;  // file, config: the document's position (0-based) in the file or list; a file's is shown 1-based
  nlohmann::json to_json() const;
  std::string describe() const;  // "file x.yaml document 2", "config document 0", "API"
};

struct declared_document {
  nlohmann::json document;
  origin where;
};

// A problem found while loading the declared documents.
struct load_error {
  origin where;
  std::string kind;  // the document's kind and name, when it has them
  std::string name;
  problem what;
};

class definition_store {
 public:
  struct options {
    std::string persist_file;  // empty: API definitions are not persisted
    validation_context validation;
    std::shared_ptr<spdlog::logger> log;  // may be null
  };
  explicit definition_store(options o);
  ~definition_store();
  definition_store(const definition_store&) = delete;
  definition_store& operator=(const definition_store&) = delete;

  // Start-up, before restore(): the declared documents. Returns every problem (empty: all loaded).
  std::vector<load_error> declare(const std::vector<declared_document>& docs);
  // Start-up: the persisted API definitions. Those no longer valid (an endpoint they name is gone
  // from the directory) are skipped with a line in `skipped` and kept in the file until their
  // name is PUT or DELETEd. False with `error` when the file cannot be read.
  bool restore(std::vector<std::string>& skipped, std::string& error);
  // Applies every dataflow on `r`, and every later change. `r` must outlive the store or detach().
  void attach(runner* r);
  void detach();

  struct put_result {
    enum class status { created, replaced, invalid, unavailable } code = status::invalid;
    dataflow::problems problems;  // invalid
    std::string message;          // invalid, unavailable
  };
  // `name` is the one in the request path (it must equal metadata.name). A top-level "status" in
  // `doc` (as GET returns it) is ignored.
  put_result put(resource_kind kind, const std::string& name, nlohmann::json doc);

  struct delete_result {
    enum class status { deleted, not_found, in_use, declared, reserved, unavailable } code = status::not_found;
    std::string message;
    std::vector<std::string> users;  // in_use: the dataflows naming the endpoint
  };
  delete_result remove(resource_kind kind, const std::string& name);

  // The document with "status" (the runner's, for a dataflow; {"usedBy"} for an endpoint) and
  // status.origin. Nullopt: no definition of that name.
  std::optional<nlohmann::json> get(resource_kind kind, const std::string& name) const;
  std::vector<nlohmann::json> list(resource_kind kind) const;

 private:
  template <class T>
  struct entry {
    std::shared_ptr<const T> def;
    origin where;
  };
  using endpoint_entries = std::map<std::string, entry<endpoint_definition>>;
  using dataflow_entries = std::map<std::string, entry<dataflow_definition>>;

  static endpoint_map effective_endpoints(const endpoint_entries& declared, const endpoint_entries& api);
  const entry<dataflow_definition>* effective_dataflow(const std::string& name) const;
  const entry<endpoint_definition>* effective_endpoint(const std::string& name) const;
  std::vector<std::string> users_of(const std::string& endpoint) const;
  // Re-validates the effective dataflows naming `endpoint` against `endpoints`; problems (for the
  // endpoint's document) go to `out`, the new definitions to `updated`.
  void revalidate_users(const std::string& endpoint, const endpoint_map& endpoints, problems& out,
                        std::map<std::string, std::shared_ptr<const dataflow_definition>>& updated) const;
  bool save(const endpoint_entries& api_endpoints, const dataflow_entries& api_dataflows, std::string& error);
  void replace_effective_dataflow(const std::shared_ptr<const dataflow_definition>& df);
  nlohmann::json with_status(const nlohmann::json& doc, nlohmann::json status, const origin& where) const;
  void forget_skipped(resource_kind kind, const std::string& name);

  options opt_;
  mutable std::mutex mu_;
  runner* runner_ = nullptr;
  endpoint_entries declared_endpoints_, api_endpoints_;
  dataflow_entries declared_dataflows_, api_dataflows_;
  // Persisted API documents restore() could not use, written back with the others.
  std::map<std::string, nlohmann::json> skipped_endpoints_, skipped_dataflows_;
};

}  // namespace edgemq::dataflow
