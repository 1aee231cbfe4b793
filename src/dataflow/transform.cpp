// Applying a compiled BuiltInTransformation to a record: enrich -> filter -> map.
// docs/dataflows.md ("Transformation", "Enrichment") and docs/adr/0023 say what each form does
// and why; transform_compile.cpp builds the rules.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dataflow/transform_compiled.hpp"

namespace edgemq::dataflow::detail {

// One record on its way through apply.
struct message_state {
  record& r;
  const ojson* payload = nullptr;               // the parsed source payload
  std::map<std::string, const ojson*> matched;  // dataset name -> its first matching record
};

namespace {

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

}  // namespace

transform::outcome compiled_transform::apply(record& r, std::string& why) {
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

// The input's value, or null when the message has none (nor a last known one).
json compiled_transform::resolve(const input& in, const message_state& st, bool& missing) {
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

std::optional<ojson> compiled_transform::lookup(const field_ref& ref, const field_path& path,
                                                const message_state& st) const {
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

void compiled_transform::enrich(const dataset_rule& d, message_state& st,
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

transform::outcome compiled_transform::run_map(message_state& st, std::string& why) {
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
bool compiled_transform::compute(const map_rule& m, std::vector<json>& args, bool missing, std::optional<json>& value,
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

bool compiled_transform::emit(const map_rule& m, const field_ref& target, const field_path& to, json value,
                              message_state& st, ojson& out, std::string& why) const {
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

void compiled_transform::remove(const map_rule& m, message_state& st, ojson& out, std::vector<write>& written) const {
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

}  // namespace edgemq::dataflow::detail
