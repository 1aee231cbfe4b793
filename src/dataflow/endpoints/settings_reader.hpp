// Reads one settings object of a DataflowEndpoint spec (kafkaSettings, httpSettings, ...) and
// reports every bad value with its JSON pointer. The same code validates a definition (problems
// reported, values discarded) and builds a sink from a validated one (values used), so the two can
// never disagree. Unknown members are ignored: AIO documents carry fields edgemq does not use
// (cloudEventAttributes, consumerGroupId, ...) and must load as they are.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "dataflow/problems.hpp"

namespace edgemq::dataflow {

class settings_reader {
 public:
  // `obj` may be null or of the wrong type (reported once, then every read returns nothing).
  settings_reader(const nlohmann::json* obj, std::string path, problems& out, bool required = true);

  const std::string& path() const { return path_; }
  bool present() const { return obj_ != nullptr; }

  std::optional<std::string> string(const char* key, bool required = false);
  std::optional<std::int64_t> integer(const char* key, std::int64_t min, std::int64_t max);
  // One of `allowed`, as AIO spells them (exact case).
  std::optional<std::string> one_of(const char* key, std::initializer_list<const char*> allowed);
  // A nested object (nullptr when absent; reported when required or of the wrong type).
  settings_reader object(const char* key, bool required = false);
  const nlohmann::json* raw(const char* key) const;
  void problem(const char* key, std::string message);

 private:
  const nlohmann::json* obj_;
  std::string path_;
  problems& out_;
};

}  // namespace edgemq::dataflow
