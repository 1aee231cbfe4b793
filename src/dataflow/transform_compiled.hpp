// Internal to the transformation: the compiled form of builtInTransformationSettings, shared
// by the compiler (transform_compile.cpp) and the code that applies it (transform.cpp).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dataflow/datasets.hpp"
#include "dataflow/field_ref.hpp"
#include "dataflow/transform_rules.hpp"

namespace edgemq::dataflow::detail {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

struct input {
  field_ref ref;
  std::string text;
  std::size_t last_slot = 0;  // ref.last: where its last known value is kept
};

struct dataset_rule {
  std::string key;   // the state store key
  std::string name;  // what $context(<name>) refers to (the alias, or the key)
  std::vector<input> inputs;
  evaluator eval;  // empty: the first record matches
  std::string where;
};

struct filter_rule {
  std::vector<input> inputs;
  evaluator eval;
  std::string where;
};

struct map_rule {
  std::vector<input> inputs;
  std::optional<field_ref> output;  // nullopt: a removal rule (empty output)
  evaluator eval;                   // empty: copy the first input
  std::string where;
  bool wildcard = false;
};

struct message_state;

class compiled_transform final : public transform {
 public:
  std::vector<dataset_rule> datasets;
  std::vector<filter_rule> filters;
  std::vector<map_rule> maps;
  std::shared_ptr<dataset_cache> cache;
  std::vector<std::optional<ojson>> last;  // "? $last" slots
  bool needs_payload = false;
  bool writes_payload = false;

  outcome apply(record& r, std::string& why) override;

 private:
  struct write {
    std::vector<field_path> from;  // the payload paths it was computed from
    field_path to;
  };

  // The input's value, or null when the message has none (nor a last known one).
  json resolve(const input& in, const message_state& st, bool& missing);
  std::optional<ojson> lookup(const field_ref& ref, const field_path& path, const message_state& st) const;
  void enrich(const dataset_rule& d, message_state& st,
              std::vector<std::shared_ptr<const dataset_cache::records>>& held);
  outcome run_map(message_state& st, std::string& why);
  // The rule's value: nullopt when the rule is skipped (missing input); the empty value (null)
  // when its expression gave `()`.
  bool compute(const map_rule& m, std::vector<json>& args, bool missing, std::optional<json>& value,
               std::string& why) const;
  bool emit(const map_rule& m, const field_ref& target, const field_path& to, json value, message_state& st, ojson& out,
            std::string& why) const;
  void remove(const map_rule& m, message_state& st, ojson& out, std::vector<write>& written) const;
};

}  // namespace edgemq::dataflow::detail
