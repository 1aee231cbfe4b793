// Compiling builtInTransformationSettings: every reference parsed, every expression compiled,
// every problem reported with its JSON pointer (a definition with any is refused).
#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "dataflow/transform_compiled.hpp"

namespace edgemq::dataflow {
namespace {

using detail::compiled_transform;
using detail::dataset_rule;
using detail::filter_rule;
using detail::input;
using detail::map_rule;
using json = nlohmann::json;

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
