// The BuiltInTransformation's rule machinery: compile-time validation of datasets, filter and
// map rules (with JSON pointers for every problem), and their application to a record:
// enrich -> filter -> map. docs/dataflows.md ("Transformation", "Enrichment") and
// docs/adr/0023 say what each form does and why.
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "dataflow/datasets.hpp"
#include "dataflow/field_ref.hpp"
#include "dataflow/transform_rules.hpp"

namespace edgemq::dataflow {
namespace {

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

// One record on its way through apply.
struct message_state {
  record& r;
  const ojson* payload = nullptr;               // the parsed source payload
  std::map<std::string, const ojson*> matched;  // dataset name -> its first matching record
};

const ojson* walk(const ojson* node, const field_path& p) {
  for (const auto& seg : p) {
    if (!node || !node->is_object()) return nullptr;
    auto it = node->find(seg);
    if (it == node->end()) return nullptr;
    node = &*it;
  }
  return node;
}

void set_path(ojson& doc, const field_path& p, ojson value) {
  ojson* node = &doc;
  for (std::size_t i = 0; i + 1 < p.size(); ++i) {
    if (!node->is_object()) *node = ojson::object();
    node = &(*node)[p[i]];
  }
  if (!node->is_object()) *node = ojson::object();
  (*node)[p.back()] = std::move(value);
}

void erase_path(ojson& doc, const field_path& p) {
  field_path parent(p.begin(), p.end() - 1);
  ojson* node = const_cast<ojson*>(walk(&doc, parent));
  if (node && node->is_object()) node->erase(p.back());
}

field_path substitute(const field_path& p, std::size_t star, const field_path& capture) {
  field_path out(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(star));
  out.insert(out.end(), capture.begin(), capture.end());
  out.insert(out.end(), p.begin() + static_cast<std::ptrdiff_t>(star) + 1, p.end());
  return out;
}

// The captures of `*` in `pattern` under `root`: with nothing after the `*`, each member of the
// object before it (copied whole); otherwise every path, one segment or more, under which the
// rest of the pattern exists.
void captures(const ojson* root, const field_path& pattern, std::size_t star, std::vector<field_path>& out) {
  const field_path prefix(pattern.begin(), pattern.begin() + static_cast<std::ptrdiff_t>(star));
  const field_path suffix(pattern.begin() + static_cast<std::ptrdiff_t>(star) + 1, pattern.end());
  const ojson* base = walk(root, prefix);
  if (!base || !base->is_object()) return;
  if (suffix.empty()) {
    for (auto it = base->begin(); it != base->end(); ++it) out.push_back({it.key()});
    return;
  }
  field_path at;
  const auto visit = [&](auto& self, const ojson& node) -> void {
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!it.value().is_object()) continue;
      at.push_back(it.key());
      if (const ojson* hit = walk(&it.value(), suffix); hit && !hit->is_null()) out.push_back(at);
      self(self, it.value());
      at.pop_back();
    }
  };
  visit(visit, *base);
}

std::string as_property_text(const ojson& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

class compiled_transform final : public transform {
 public:
  std::vector<dataset_rule> datasets;
  std::vector<filter_rule> filters;
  std::vector<map_rule> maps;
  std::shared_ptr<dataset_cache> cache;
  std::vector<std::optional<ojson>> last;  // "? $last" slots
  bool needs_payload = false;
  bool writes_payload = false;

  outcome apply(record& r, std::string& why) override {
    if (datasets.empty() && filters.empty() && maps.empty()) return outcome::pass;
    ojson doc;
    message_state st{r, nullptr, {}};
    if (needs_payload) {
      doc = ojson::parse(r.payload, nullptr, false);
      if (doc.is_discarded()) {
        why = "the payload is not JSON, and the transformation reads its fields";
        return outcome::error;
      }
      if (!doc.is_object()) {
        why = std::string("the payload is a JSON ") + doc.type_name() + ", not an object with fields";
        return outcome::error;
      }
      st.payload = &doc;
    }
    // Snapshots held for the whole record: the matched records stay valid whatever changes.
    std::vector<std::shared_ptr<const dataset_cache::records>> held;
    for (const auto& d : datasets) enrich(d, st, held);
    for (const auto& f : filters) {
      std::vector<json> args;
      bool missing = false;
      for (const auto& in : f.inputs) args.push_back(resolve(in, st, missing));
      json result;
      try {
        result = f.eval(args);
      } catch (const std::exception& e) {
        if (missing) continue;  // a missing input skips the rule
        why = f.where + ": " + e.what();
        return outcome::error;
      }
      if (result.is_boolean()) {
        if (result.get<bool>()) return outcome::dropped;
        continue;
      }
      if (missing || result.is_null()) continue;
      why = f.where + ": the expression gave " + result.dump().substr(0, 100) + ", not true or false";
      return outcome::error;
    }
    if (maps.empty()) return outcome::pass;
    // An error leaves the record as it came: keep what the map may change before it fails.
    auto topic = r.topic;
    auto properties = r.properties;
    auto content_type = r.content_type;
    const auto result = run_map(st, why);
    if (result == outcome::error) {
      r.topic = std::move(topic);
      r.properties = std::move(properties);
      r.content_type = std::move(content_type);
    }
    return result;
  }

 private:
  // The input's value, or null when the message has none (nor a last known one).
  json resolve(const input& in, const message_state& st, bool& missing) {
    auto v = lookup(in.ref, in.ref.path, st);
    if (in.ref.last) {
      if (v)
        last[in.last_slot] = *v;
      else
        v = last[in.last_slot];
    }
    if (!v) {
      missing = true;
      return nullptr;
    }
    return json(*v);
  }

  std::optional<ojson> lookup(const field_ref& ref, const field_path& path, const message_state& st) const {
    const ojson* node = nullptr;
    switch (ref.what) {
      case field_ref::kind::topic:
        return ojson(st.r.topic);
      case field_ref::kind::content_type:
        if (st.r.content_type) return ojson(*st.r.content_type);
        return std::nullopt;
      case field_ref::kind::user_property:
        for (const auto& [k, v] : st.r.properties)
          if (k == path[0]) return ojson(v);
        return std::nullopt;
      case field_ref::kind::payload:
        node = walk(st.payload, path);
        break;
      case field_ref::kind::context: {
        auto it = st.matched.find(ref.dataset);
        if (it != st.matched.end()) node = walk(it->second, path);
        break;
      }
    }
    if (!node || node->is_null()) return std::nullopt;  // AIO: null is the empty value, as missing
    return *node;
  }

  void enrich(const dataset_rule& d, message_state& st,
              std::vector<std::shared_ptr<const dataset_cache::records>>& held) {
    auto recs = cache ? cache->get(d.key) : nullptr;
    if (!recs || recs->empty()) return;
    held.push_back(recs);
    for (const auto& rec : *recs) {
      if (!d.eval) {
        st.matched[d.name] = &rec;
        return;
      }
      std::vector<json> args;
      for (const auto& in : d.inputs) {
        if (in.ref.what == field_ref::kind::context) {  // the record (validated: this dataset's)
          const ojson* v = walk(&rec, in.ref.path);
          args.push_back(v ? json(*v) : json(nullptr));
        } else {
          auto v = lookup(in.ref, in.ref.path, st);
          args.push_back(v ? json(*v) : json(nullptr));
        }
      }
      try {
        const auto result = d.eval(args);
        if (result.is_boolean() && result.get<bool>()) {
          st.matched[d.name] = &rec;
          return;
        }
      } catch (const std::exception&) {
        // A record the expression cannot compare with this message does not match it.
      }
    }
  }

  struct write {
    std::vector<field_path> from;  // the payload paths it was computed from
    field_path to;
  };

  outcome run_map(message_state& st, std::string& why) {
    ojson out = ojson::object();
    std::vector<write> written;  // payload writes, for removal rules
    for (const auto& m : maps) {
      if (!m.output) {
        remove(m, st, out, written);
        continue;
      }
      if (!m.wildcard) {
        std::vector<json> args;
        bool missing = false;
        for (const auto& in : m.inputs) args.push_back(resolve(in, st, missing));
        std::optional<json> value;
        if (!compute(m, args, missing, value, why)) return outcome::error;
        if (!value) continue;
        if (!emit(m, *m.output, m.output->path, std::move(*value), st, out, why)) return outcome::error;
        std::vector<field_path> from;
        for (const auto& in : m.inputs)
          if (in.ref.what == field_ref::kind::payload) from.push_back(in.ref.path);
        if (m.output->what == field_ref::kind::payload) written.push_back({std::move(from), m.output->path});
        continue;
      }
      const auto& first = m.inputs[0].ref;
      const ojson* root = nullptr;
      if (first.what == field_ref::kind::payload) {
        root = st.payload;
      } else if (auto it = st.matched.find(first.dataset); it != st.matched.end()) {
        root = it->second;
      }
      std::vector<field_path> caps;
      captures(root, first.path, *first.star, caps);
      for (const auto& cap : caps) {
        std::vector<json> args;
        std::vector<field_path> from;
        bool missing = false, unresolved = false;
        for (const auto& in : m.inputs) {
          if (!in.ref.wildcard()) {
            args.push_back(resolve(in, st, missing));
            continue;
          }
          const auto p = substitute(in.ref.path, *in.ref.star, cap);
          auto v = lookup(in.ref, p, st);
          if (!v) {
            unresolved = true;  // AIO: a capture that some input cannot resolve is skipped
            break;
          }
          if (in.ref.what == field_ref::kind::payload) from.push_back(p);
          args.push_back(json(*v));
        }
        if (unresolved) continue;
        std::optional<json> value;
        if (!compute(m, args, missing, value, why)) return outcome::error;
        if (!value) continue;
        const auto to = m.output->wildcard() ? substitute(m.output->path, *m.output->star, cap) : m.output->path;
        if (!emit(m, *m.output, to, std::move(*value), st, out, why)) return outcome::error;
        if (m.output->what == field_ref::kind::payload) written.push_back({std::move(from), to});
      }
    }
    if (writes_payload) st.r.payload = out.dump();
    return outcome::pass;
  }

  // The rule's value: nullopt when the rule is skipped (missing input); the empty value (null)
  // when its expression gave `()`.
  bool compute(const map_rule& m, std::vector<json>& args, bool missing, std::optional<json>& value,
               std::string& why) const {
    if (!m.eval) {
      if (!args.empty() && !args[0].is_null()) value = std::move(args[0]);
      return true;
    }
    try {
      value = m.eval(args);  // may be empty: removes a metadata field, writes no payload field
      return true;
    } catch (const std::exception& e) {
      if (missing) return true;  // a missing input skips the rule
      why = m.where + ": " + e.what();
      return false;
    }
  }

  bool emit(const map_rule& m, const field_ref& target, const field_path& to, json value, message_state& st, ojson& out,
            std::string& why) const {
    if (value.is_null()) {  // AIO: setting a metadata field to () removes it
      if (target.what == field_ref::kind::user_property)
        std::erase_if(st.r.properties, [&](const auto& kv) { return kv.first == to[0]; });
      else if (target.what == field_ref::kind::content_type)
        st.r.content_type.reset();
      return true;
    }
    switch (target.what) {
      case field_ref::kind::payload:
        set_path(out, to, ojson(std::move(value)));
        return true;
      case field_ref::kind::topic:
        if (!value.is_string() || value.get<std::string>().empty()) {
          why = m.where + ": $metadata.topic must be a non-empty string, not " + value.dump().substr(0, 100);
          return false;
        }
        st.r.topic = value.get<std::string>();
        return true;
      case field_ref::kind::content_type:
        st.r.content_type = as_property_text(ojson(value));
        return true;
      case field_ref::kind::user_property: {
        // Set, not add: the rule's value replaces what the message carried under that name.
        std::erase_if(st.r.properties, [&](const auto& kv) { return kv.first == to[0]; });
        st.r.properties.emplace_back(to[0], as_property_text(ojson(value)));
        return true;
      }
      case field_ref::kind::context:
        break;
    }
    return true;
  }

  void remove(const map_rule& m, message_state& st, ojson& out, std::vector<write>& written) const {
    for (const auto& in : m.inputs) {
      if (in.ref.what == field_ref::kind::user_property) {
        std::erase_if(st.r.properties, [&](const auto& kv) { return kv.first == in.ref.path[0]; });
        continue;
      }
      if (in.ref.what != field_ref::kind::payload) continue;
      erase_path(out, in.ref.path);
      // Specialization: what an earlier (wildcard) rule computed from this field goes too.
      std::erase_if(written, [&](const write& w) {
        for (const auto& f : w.from)
          if (f == in.ref.path) {
            erase_path(out, w.to);
            return true;
          }
        return false;
      });
    }
  }
};

// ---- compilation ----

class compiler {
 public:
  compiler(const std::string& base, problems& out, const expression_compiler& compile)
      : base_(base), out_(out), compile_(compile) {}

  void fail(const std::string& where, std::string message) { out_.push_back({where, std::move(message)}); }

  void only_keys(const json& obj, const std::string& where, std::initializer_list<std::string_view> allowed) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      bool ok = false;
      for (auto a : allowed) ok = ok || it.key() == a;
      if (!ok) fail(join_pointer(where, it.key()), "unknown setting '" + it.key() + "'");
    }
  }

  std::optional<std::string> optional_string(const json& obj, const std::string& where, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) {
      fail(join_pointer(where, key), std::string(key) + " must be a string");
      return std::nullopt;
    }
    return it->get<std::string>();
  }

  // The rule's inputs (non-empty array of references); nullopt after a problem.
  std::optional<std::vector<input>> inputs(const json& rule, const std::string& where, compiled_transform& t) {
    const auto at = join_pointer(where, "inputs");
    auto it = rule.find("inputs");
    if (it == rule.end() || !it->is_array() || it->empty()) {
      fail(at, "inputs must be a non-empty array of field references");
      return std::nullopt;
    }
    std::vector<input> out;
    bool ok = true;
    for (std::size_t i = 0; i < it->size(); ++i) {
      const auto& v = (*it)[i];
      if (!v.is_string()) {
        fail(join_pointer(at, i), "an input must be a string");
        ok = false;
        continue;
      }
      std::string err;
      auto ref = parse_field_ref(v.get<std::string>(), err);
      if (!ref) {
        fail(join_pointer(at, i), err);
        ok = false;
        continue;
      }
      if (ref->last && ref->wildcard()) {
        fail(join_pointer(at, i), "'? $last' cannot be used with a wildcard");
        ok = false;
        continue;
      }
      input in{std::move(*ref), v.get<std::string>(), 0};
      if (in.ref.last) {
        in.last_slot = t.last.size();
        t.last.emplace_back();
      }
      if (in.ref.what == field_ref::kind::payload) t.needs_payload = true;
      out.push_back(std::move(in));
    }
    if (!ok) return std::nullopt;
    return out;
  }

  evaluator expression(const std::string& text, std::size_t n, const std::string& where) {
    std::string err;
    auto e = compile_(text, n, err);
    if (!e) fail(where, "invalid expression: " + err);
    return e;
  }

  // $context(<name>) in a filter or map rule must name a dataset of this transformation.
  void check_context(const std::vector<input>& ins, const std::string& where, const std::set<std::string>& names) {
    for (std::size_t i = 0; i < ins.size(); ++i) {
      const auto& r = ins[i].ref;
      if (r.what != field_ref::kind::context) continue;
      if (r.dataset.empty())
        fail(join_pointer(join_pointer(where, "inputs"), i), "use $context(<dataset>).<field> outside datasets");
      else if (!names.contains(r.dataset))
        fail(join_pointer(join_pointer(where, "inputs"), i), "no dataset named '" + r.dataset + "' in datasets");
    }
  }

  const std::string& base() const { return base_; }

 private:
  const std::string& base_;
  problems& out_;
  const expression_compiler& compile_;
};

void compile_datasets(const json& list, compiler& c, compiled_transform& t, std::set<std::string>& names) {
  const auto at = join_pointer(c.base(), "datasets");
  if (!list.is_array()) return c.fail(at, "datasets must be an array");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto where = join_pointer(at, i);
    const auto& d = list[i];
    if (!d.is_object()) {
      c.fail(where, "a dataset must be an object");
      continue;
    }
    c.only_keys(d, where, {"key", "inputs", "expression", "description", "schemaRef"});
    auto key = c.optional_string(d, where, "key");
    if (!key || key->empty()) {
      c.fail(join_pointer(where, "key"), "key (the state store key holding the dataset) is required");
      continue;
    }
    dataset_rule rule;
    rule.where = where;
    // "key: datasets.parag10.rule42 as position": the key, then the name rules use.
    if (auto as = key->rfind(" as "); as != std::string::npos) {
      rule.key = key->substr(0, as);
      rule.name = key->substr(as + 4);
      const auto trim = [](std::string& s) {
        s.erase(0, s.find_first_not_of(' '));
        s.erase(s.find_last_not_of(' ') + 1);
      };
      trim(rule.key);
      trim(rule.name);
    } else {
      rule.key = rule.name = *key;
    }
    if (rule.key.empty() || rule.name.empty()) {
      c.fail(join_pointer(where, "key"), "expected '<key>' or '<key> as <name>'");
      continue;
    }
    if (!names.insert(rule.name).second) {
      c.fail(join_pointer(where, "key"), "a second dataset named '" + rule.name + "'");
      continue;
    }
    auto ins = c.inputs(d, where, t);
    if (!ins) continue;
    bool ok = true;
    for (std::size_t k = 0; k < ins->size(); ++k) {
      const auto& r = (*ins)[k].ref;
      const auto pos = join_pointer(join_pointer(where, "inputs"), k);
      if (r.wildcard()) {
        c.fail(pos, "wildcards are for map rules");
        ok = false;
      } else if (r.last) {
        c.fail(pos, "'? $last' is for filter and map rules");
        ok = false;
      } else if (r.what == field_ref::kind::context && !r.dataset.empty() && r.dataset != rule.name &&
                 r.dataset != rule.key) {
        c.fail(pos, "a dataset's inputs read the message ($source.<field>) and its own records ($context(" + rule.name +
                        ").<field>)");
        ok = false;
      }
    }
    if (!ok) continue;
    rule.inputs = std::move(*ins);
    if (auto e = c.optional_string(d, where, "expression")) {
      rule.eval = c.expression(*e, rule.inputs.size(), join_pointer(where, "expression"));
      if (!rule.eval) continue;
    }
    t.datasets.push_back(std::move(rule));
  }
}

void compile_filters(const json& list, compiler& c, compiled_transform& t, const std::set<std::string>& names) {
  const auto at = join_pointer(c.base(), "filter");
  if (!list.is_array()) return c.fail(at, "filter must be an array");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto where = join_pointer(at, i);
    const auto& f = list[i];
    if (!f.is_object()) {
      c.fail(where, "a filter rule must be an object");
      continue;
    }
    c.only_keys(f, where, {"inputs", "expression", "description", "type"});
    auto ins = c.inputs(f, where, t);
    auto e = c.optional_string(f, where, "expression");
    if (!e || e->empty()) c.fail(join_pointer(where, "expression"), "a filter rule needs an expression");
    if (!ins || !e || e->empty()) continue;
    c.check_context(*ins, where, names);
    bool ok = true;
    for (std::size_t k = 0; k < ins->size(); ++k)
      if ((*ins)[k].ref.wildcard()) {
        c.fail(join_pointer(join_pointer(where, "inputs"), k), "wildcards are for map rules");
        ok = false;
      }
    filter_rule rule{std::move(*ins), {}, where};
    rule.eval = c.expression(*e, rule.inputs.size(), join_pointer(where, "expression"));
    if (ok && rule.eval) t.filters.push_back(std::move(rule));
  }
}

void compile_maps(const json& list, compiler& c, compiled_transform& t, const std::set<std::string>& names) {
  const auto at = join_pointer(c.base(), "map");
  if (!list.is_array()) return c.fail(at, "map must be an array");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto where = join_pointer(at, i);
    const auto& m = list[i];
    if (!m.is_object()) {
      c.fail(where, "a map rule must be an object");
      continue;
    }
    c.only_keys(m, where, {"inputs", "output", "expression", "description", "type"});
    auto ins = c.inputs(m, where, t);
    const auto out_at = join_pointer(where, "output");
    auto out_text = c.optional_string(m, where, "output");
    if (!m.contains("output")) c.fail(out_at, "a map rule needs an output (empty: remove the inputs)");
    auto e = c.optional_string(m, where, "expression");
    if (!ins || !out_text) continue;
    c.check_context(*ins, where, names);
    map_rule rule;
    rule.where = where;
    bool ok = true;
    const bool input_star = std::any_of(ins->begin(), ins->end(), [](const input& in) { return in.ref.wildcard(); });
    if (out_text->empty()) {
      if (e) {
        c.fail(join_pointer(where, "expression"), "a removal rule (empty output) takes no expression");
        ok = false;
      }
      for (std::size_t k = 0; k < ins->size(); ++k) {
        const auto& r = (*ins)[k].ref;
        if ((r.what != field_ref::kind::payload && r.what != field_ref::kind::user_property) || r.wildcard()) {
          c.fail(join_pointer(join_pointer(where, "inputs"), k),
                 "a removal rule removes payload fields or $metadata.user_property.<name>, without wildcards");
          ok = false;
        }
        if (r.what == field_ref::kind::payload) t.writes_payload = true;
      }
    } else {
      std::string err;
      auto out = parse_field_ref(*out_text, err);
      if (!out) {
        c.fail(out_at, err);
        continue;
      }
      if (out->what == field_ref::kind::context || out->last) {
        c.fail(out_at, "an output is a payload field path or $metadata.topic/user_property/system_property");
        continue;
      }
      if (out->wildcard() && !(*ins)[0].ref.wildcard()) {
        c.fail(out_at, "a wildcard output needs a wildcard first input (the '*' it captures)");
        ok = false;
      }
      if (input_star && !out->wildcard()) {
        c.fail(out_at, "a wildcard input needs a wildcard output (where the captured '*' goes)");
        ok = false;
      }
      if (!e && ins->size() > 1) {
        c.fail(join_pointer(where, "expression"), "several inputs need an expression that combines them");
        ok = false;
      }
      if (out->what == field_ref::kind::payload) t.writes_payload = true;
      rule.output = std::move(*out);
    }
    rule.wildcard = input_star;
    rule.inputs = std::move(*ins);
    if (e) {
      rule.eval = c.expression(*e, rule.inputs.size(), join_pointer(where, "expression"));
      if (!rule.eval) ok = false;
    }
    if (ok) t.maps.push_back(std::move(rule));
  }
  if (t.writes_payload) t.needs_payload = true;
}

}  // namespace

std::unique_ptr<transform> compile_transform_with(const nlohmann::json& settings, const std::string& path,
                                                  problems& out, std::shared_ptr<dataset_cache> datasets,
                                                  const expression_compiler& compile) {
  auto t = std::make_unique<compiled_transform>();
  if (settings.is_null()) return t;
  const auto before = out.size();
  compiler c(path, out, compile);
  if (!settings.is_object()) {
    c.fail(path, "builtInTransformationSettings must be an object");
    return nullptr;
  }
  c.only_keys(settings, path, {"datasets", "filter", "map", "serializationFormat", "schemaRef"});
  if (auto f = c.optional_string(settings, path, "serializationFormat"); f && *f != "Json")
    c.fail(join_pointer(path, "serializationFormat"), "only Json is supported (not '" + *f + "')");
  std::set<std::string> names;
  if (auto it = settings.find("datasets"); it != settings.end() && !it->is_null()) {
    compile_datasets(*it, c, *t, names);
  }
  if (auto it = settings.find("filter"); it != settings.end() && !it->is_null()) compile_filters(*it, c, *t, names);
  if (auto it = settings.find("map"); it != settings.end() && !it->is_null()) compile_maps(*it, c, *t, names);
  if (out.size() != before) return nullptr;
  // No cache (a validation-only compile, or the state store is off): datasets match nothing.
  t->cache = std::move(datasets);
  if (t->cache)
    for (const auto& d : t->datasets) t->cache->subscribe(d.key);
  return t;
}

}  // namespace edgemq::dataflow
