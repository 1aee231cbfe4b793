#include "auth/aio_policy.hpp"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "auth/aio_permissions.hpp"
#include "auth/key_glob.hpp"
#include "edgemq/mqtt/topic.hpp"

namespace edgemq::auth {
namespace {

using json = nlohmann::json;

// Collects every problem with its JSON path, as the config loader does.
struct reader {
  std::vector<std::string> errors;
  void fail(const std::string& path, const std::string& what) { errors.push_back("at " + path + ": " + what); }

  // Reports keys of `v` not in `known`.
  void only(const json& v, const std::string& path, std::initializer_list<std::string_view> known) {
    for (const auto& [k, _] : v.items())
      if (std::find(known.begin(), known.end(), k) == known.end()) fail(path + "/" + k, "unknown key");
  }

  // A non-empty array of non-empty strings.
  bool strings(const json& v, const std::string& path, std::vector<std::string>& out) {
    if (!v.is_array() || v.empty()) {
      fail(path, "must be a non-empty array of strings");
      return false;
    }
    bool ok = true;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (!v[i].is_string() || v[i].get<std::string>().empty()) {
        fail(path + "/" + std::to_string(i), "must be a non-empty string");
        ok = false;
      } else {
        out.push_back(v[i].get<std::string>());
      }
    }
    return ok;
  }

  std::optional<policy_template> tmpl(const std::string& text, const std::string& path) {
    std::string why;
    auto t = policy_template::parse(text, why);
    if (!t) fail(path, why);
    return t;
  }
};

// AIO: a token in a topic must be a whole level ("clients/{principal.clientId}/#", not
// "client-{principal.clientId}/#"), so a substituted value can never become a wildcard or span levels.
bool tokens_are_whole_levels(const policy_template& t) {
  const auto& ps = t.pieces();
  for (std::size_t i = 0; i < ps.size(); ++i) {
    if (ps[i].k == policy_template::kind::literal) continue;
    if (i > 0 && !ps[i - 1].text.ends_with('/')) return false;
    if (i + 1 < ps.size() && (ps[i + 1].k != policy_template::kind::literal || !ps[i + 1].text.starts_with('/')))
      return false;
  }
  return true;
}

std::optional<std::string> decode_base64(std::string_view in) {
  static constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '=') {
      if (i + 2 < in.size() || (i + 1 < in.size() && in[i + 1] != '=')) return std::nullopt;
      break;
    }
    const auto pos = alphabet.find(in[i]);
    if (pos == std::string_view::npos) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

void read_principals(const json& v, const std::string& path, aio_policy::principals& who, reader& r) {
  if (!v.is_object()) return r.fail(path, "must be an object with clientIds, usernames and/or attributes");
  r.only(v, path, {"clientIds", "usernames", "attributes"});
  if (v.contains("clientIds")) r.strings(v["clientIds"], path + "/clientIds", who.client_ids);
  if (v.contains("usernames")) r.strings(v["usernames"], path + "/usernames", who.usernames);
  if (v.contains("attributes")) {
    const auto& a = v["attributes"];
    const auto ap = path + "/attributes";
    if (!a.is_array() || a.empty()) {
      r.fail(ap, "must be a non-empty array of {\"name\": \"value\"} objects");
    } else {
      for (std::size_t i = 0; i < a.size(); ++i) {
        const auto ip = ap + "/" + std::to_string(i);
        if (!a[i].is_object() || a[i].empty()) {
          r.fail(ip, "must be a non-empty object of \"name\": \"value\" pairs");
          continue;
        }
        broker::attribute_map m;
        for (const auto& [k, val] : a[i].items()) {
          if (!val.is_string())
            r.fail(ip + "/" + k, "must be a string");
          else
            m.emplace(k, val.get<std::string>());
        }
        who.attributes.push_back(std::move(m));
      }
    }
  }
  if (who.client_ids.empty() && who.usernames.empty() && who.attributes.empty() && r.errors.empty())
    r.fail(path, "names nobody: give clientIds, usernames or attributes");
}

void read_broker_resource(const json& v, const std::string& path, aio_policy::broker_resource& out, reader& r) {
  using m = aio_policy::broker_method;
  if (!v.is_object()) return r.fail(path, "must be an object with method, topics and/or clientIds");
  r.only(v, path, {"method", "topics", "clientIds"});
  const auto method = v.contains("method") && v["method"].is_string() ? v["method"].get<std::string>() : "";
  if (method == "Connect")
    out.method = m::connect;
  else if (method == "Publish")
    out.method = m::publish;
  else if (method == "Subscribe")
    out.method = m::subscribe;
  else
    return r.fail(path + "/method", "must be \"Connect\", \"Publish\" or \"Subscribe\"");
  std::vector<std::string> texts;
  if (out.method == m::connect) {
    if (v.contains("topics")) r.fail(path + "/topics", "not allowed for Connect");
  } else if (!v.contains("topics")) {
    r.fail(path + "/topics", "missing (the topic filters " + method + " is granted on)");
  } else if (r.strings(v["topics"], path + "/topics", texts)) {
    for (std::size_t i = 0; i < texts.size(); ++i) {
      const auto tp = path + "/topics/" + std::to_string(i);
      auto t = r.tmpl(texts[i], tp);
      if (!t) continue;
      if (!tokens_are_whole_levels(*t)) {
        r.fail(tp, "a {principal...} token must be a whole topic level, as in \"clients/{principal.clientId}/#\"");
        continue;
      }
      if (mqtt::validate_topic_filter(t->with_stand_in("x")) != mqtt::reason_code::success) {
        r.fail(tp, "not a valid MQTT topic filter ('#' only as the last level, '+' and '#' alone in their level)");
        continue;
      }
      out.topics.push_back(std::move(*t));
    }
  }
  if (v.contains("clientIds")) {
    std::vector<std::string> ids;
    if (r.strings(v["clientIds"], path + "/clientIds", ids)) {
      for (std::size_t i = 0; i < ids.size(); ++i) {
        const auto ip = path + "/clientIds/" + std::to_string(i);
        auto t = r.tmpl(ids[i], ip);
        if (t && !valid_glob(t->with_stand_in("x")))
          r.fail(ip, "not a valid pattern ('[' without ']', or a trailing '\\')");
        else if (t)
          out.client_ids.push_back(std::move(*t));
      }
    }
  }
}

void read_key_resource(const json& v, const std::string& path, aio_policy::key_resource& out, reader& r) {
  using kt = aio_policy::key_type;
  if (!v.is_object()) return r.fail(path, "must be an object with method, keyType and keys");
  r.only(v, path, {"method", "keyType", "keys"});
  const auto str = [&](const char* k) { return v.contains(k) && v[k].is_string() ? v[k].get<std::string>() : ""; };
  const auto method = str("method");
  if (method == "Read")
    out.read = true;
  else if (method == "Write")
    out.write = true;
  else if (method == "ReadWrite")
    out.read = out.write = true;
  else
    r.fail(path + "/method", "must be \"Read\", \"Write\" or \"ReadWrite\"");
  const auto type = str("keyType");
  if (type == "Pattern")
    out.type = kt::pattern;
  else if (type == "String")
    out.type = kt::string;
  else if (type == "Binary")
    out.type = kt::binary;
  else
    return r.fail(path + "/keyType", "must be \"Pattern\", \"String\" or \"Binary\"");
  std::vector<std::string> keys;
  if (!v.contains("keys")) return r.fail(path + "/keys", "missing (the keys " + method + " is granted on)");
  if (!r.strings(v["keys"], path + "/keys", keys)) return;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto kp = path + "/keys/" + std::to_string(i);
    if (out.type == kt::binary) {
      // Binary keys are base64 of the key's bytes; no tokens (there is no text to put them in).
      auto bytes = decode_base64(keys[i]);
      if (!bytes || bytes->empty()) {
        r.fail(kp, "must be the key's bytes in standard base64");
        continue;
      }
      out.keys.push_back(policy_template::literal(std::move(*bytes)));
      continue;
    }
    auto t = r.tmpl(keys[i], kp);
    if (!t) continue;
    if (out.type == kt::pattern && !valid_glob(t->with_stand_in("x"))) {
      r.fail(kp, "not a valid pattern ('[' without ']', or a trailing '\\'); use keyType String for an exact key");
      continue;
    }
    out.keys.push_back(std::move(*t));
  }
}

void read_rule(const json& v, const std::string& path, aio_policy::rule& out, reader& r) {
  if (!v.is_object()) return r.fail(path, "must be an object with principals, brokerResources, stateStoreResources");
  r.only(v, path, {"principals", "brokerResources", "stateStoreResources"});
  if (!v.contains("principals"))
    r.fail(path + "/principals", "missing (who the rule is for)");
  else
    read_principals(v["principals"], path + "/principals", out.who, r);
  const auto list = [&](const char* key, auto& dest, auto read_one) {
    if (!v.contains(key)) return;
    const auto& a = v[key];
    const auto lp = path + "/" + key;
    if (!a.is_array()) return r.fail(lp, "must be an array");
    for (std::size_t i = 0; i < a.size(); ++i) {
      dest.emplace_back();
      read_one(a[i], lp + "/" + std::to_string(i), dest.back(), r);
    }
  };
  list("brokerResources", out.broker, read_broker_resource);
  list("stateStoreResources", out.keys, read_key_resource);
  if (!v.contains("brokerResources") && !v.contains("stateStoreResources"))
    r.fail(path, "grants nothing: give brokerResources and/or stateStoreResources");
}

// Values substituted into a topic must stay one literal level: nothing that would widen the
// grant (a wildcard), span levels ('/') or be empty (the entry is left out for that client).
std::optional<std::string> topic_value(std::string_view v) {
  if (v.empty() || v.find_first_of("/+#") != std::string_view::npos || v.find('\0') != std::string_view::npos)
    return std::nullopt;
  return std::string(v);
}
std::optional<std::string> glob_value(std::string_view v) {
  return glob_escape(v);
}
std::optional<std::string> plain_value(std::string_view v) {
  return std::string(v);
}

}  // namespace

bool aio_policy::principals::match(const broker::principal& p) const {
  for (const auto& id : client_ids)
    if (id == p.client_id) return true;
  if (p.username)
    for (const auto& u : usernames)
      if (u == *p.username) return true;
  for (const auto& m : attributes) {
    bool all = true;
    for (const auto& [k, v] : m) {
      const auto it = p.attributes.find(k);
      if (it == p.attributes.end() || it->second != v) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

std::shared_ptr<const aio_policy> aio_policy::parse(std::string_view json_text, std::string& why) {
  json doc;
  try {
    doc = json::parse(json_text.begin(), json_text.end(), nullptr, true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    why = std::string("not valid JSON: ") + e.what();
    return nullptr;
  }
  reader r;
  std::string root;
  const json* top = &doc;
  if (doc.is_object() && doc.contains("authorizationPolicies")) {
    r.only(doc, "", {"authorizationPolicies"});
    top = &doc["authorizationPolicies"];
    root = "/authorizationPolicies";
  }
  auto policy = std::make_shared<aio_policy>();
  if (!top->is_object() || !top->contains("rules")) {
    r.fail(root.empty() ? "/" : root, "must be an object with \"rules\": [...] (AIO authorizationPolicies)");
  } else {
    r.only(*top, root, {"rules", "cache"});  // "cache" (Enabled/Disabled) is accepted and has no effect
    const auto& rules = (*top)["rules"];
    if (!rules.is_array()) {
      r.fail(root + "/rules", "must be an array of rules");
    } else {
      for (std::size_t i = 0; i < rules.size(); ++i) {
        policy->rules_.emplace_back();
        read_rule(rules[i], root + "/rules/" + std::to_string(i), policy->rules_.back(), r);
      }
    }
  }
  if (r.errors.empty()) return policy;
  why.clear();
  for (const auto& e : r.errors) why += (why.empty() ? "" : "; ") + e;
  return nullptr;
}

std::shared_ptr<const aio_policy> aio_policy::load(const std::string& path, std::string& why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = "authz file '" + path + "': cannot be read";
    return nullptr;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto p = parse(ss.str(), why);
  if (!p) why = "authz file '" + path + "': " + why;
  return p;
}

std::shared_ptr<const broker::client_permissions> aio_policy::on_connect(const broker::principal& p) const {
  auto perms = std::make_shared<aio_permissions>();
  bool may_connect = false;
  for (const auto& rule : rules_) {
    if (!rule.who.match(p)) continue;
    for (const auto& res : rule.broker) {
      if (!res.client_ids.empty()) {
        bool hit = false;
        for (const auto& id : res.client_ids) {
          const auto pattern = id.resolve(p, glob_value);
          if (pattern && glob_matches(*pattern, p.client_id)) {
            hit = true;
            break;
          }
        }
        if (!hit) continue;
      }
      if (res.method == broker_method::connect) {
        may_connect = true;
        continue;
      }
      auto& grants = res.method == broker_method::publish ? perms->publish_ : perms->subscribe_;
      for (const auto& t : res.topics)
        if (auto filter = t.resolve(p, topic_value)) grants.add(std::move(*filter));
    }
    for (const auto& res : rule.keys) {
      for (const auto& k : res.keys) {
        const bool pattern = res.type == key_type::pattern;
        auto key = k.resolve(p, pattern ? glob_value : plain_value);
        if (!key || key->empty()) continue;
        for (auto* g : {res.read ? &perms->read_ : nullptr, res.write ? &perms->write_ : nullptr}) {
          if (!g) continue;
          if (pattern)
            g->add_pattern(*key);
          else
            g->add_exact(*key);
        }
      }
    }
  }
  if (!may_connect) return nullptr;
  return perms;
}

}  // namespace edgemq::auth
