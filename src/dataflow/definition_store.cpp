#include "dataflow/definition_store.hpp"

#include <set>

#include <spdlog/spdlog.h>

#include "dataflow/definition_file.hpp"
#include "dataflow/runner.hpp"

namespace edgemq::dataflow {

using json = nlohmann::json;

json origin::to_json() const {
  switch (source) {
    case from::api:
      return {{"source", "api"}};
    case from::file:
      return {{"source", "file"}, {"file", file}, {"document", index + 1}};
    case from::config:
      return {{"source", "config"}, {"document", index}};
    case from::builtin:
      return {{"source", "builtin"}};
  }
  return nullptr;
}

std::string origin::describe() const {
  switch (source) {
    case from::api:
      return "the admin API";
    case from::file:
      return file + " document " + std::to_string(index + 1);
    case from::config:
      return "config document " + std::to_string(index);
    case from::builtin:
      return "edgemq itself";
  }
  return {};
}

definition_store::definition_store(options o) : opt_(std::move(o)) {}
definition_store::~definition_store() = default;

endpoint_map definition_store::effective_endpoints(const endpoint_entries& declared, const endpoint_entries& api) {
  endpoint_map m;
  for (const auto& [n, e] : declared) m[n] = e.def;
  for (const auto& [n, e] : api) m[n] = e.def;
  return m;
}

const definition_store::entry<dataflow_definition>* definition_store::effective_dataflow(
    const std::string& name) const {
  if (auto it = api_dataflows_.find(name); it != api_dataflows_.end()) return &it->second;
  if (auto it = declared_dataflows_.find(name); it != declared_dataflows_.end()) return &it->second;
  return nullptr;
}

const definition_store::entry<endpoint_definition>* definition_store::effective_endpoint(
    const std::string& name) const {
  if (auto it = api_endpoints_.find(name); it != api_endpoints_.end()) return &it->second;
  if (auto it = declared_endpoints_.find(name); it != declared_endpoints_.end()) return &it->second;
  return nullptr;
}

std::vector<std::string> definition_store::users_of(const std::string& endpoint) const {
  std::set<std::string> names;
  for (const auto* layer : {&declared_dataflows_, &api_dataflows_})
    for (const auto& [n, e] : *layer) {
      const auto* eff = effective_dataflow(n);
      if (eff == &e && (e.def->source_endpoint == endpoint || e.def->destination_endpoint == endpoint)) names.insert(n);
    }
  return {names.begin(), names.end()};
}

void definition_store::revalidate_users(
    const std::string& endpoint, const endpoint_map& endpoints, problems& out,
    std::map<std::string, std::shared_ptr<const dataflow_definition>>& updated) const {
  for (const auto& user : users_of(endpoint)) {
    problems local;
    auto df = validate_dataflow(effective_dataflow(user)->def->document, endpoints, opt_.validation, local);
    for (const auto& p : local)
      out.push_back(
          {"/spec", "dataflow '" + user + "' uses this endpoint and would not be valid: " + p.path + ": " + p.message});
    if (df) updated[user] = std::move(df);
  }
}

void definition_store::replace_effective_dataflow(const std::shared_ptr<const dataflow_definition>& df) {
  if (auto it = api_dataflows_.find(df->name); it != api_dataflows_.end())
    it->second.def = df;
  else if (auto d = declared_dataflows_.find(df->name); d != declared_dataflows_.end())
    d->second.def = df;
}

bool definition_store::save(const endpoint_entries& api_endpoints, const dataflow_entries& api_dataflows,
                            std::string& error) {
  if (opt_.persist_file.empty()) return true;
  stored_definitions s;
  for (const auto& [n, e] : api_endpoints) s.endpoints.push_back(e.def->document);
  for (const auto& [n, d] : skipped_endpoints_) s.endpoints.push_back(d);
  for (const auto& [n, e] : api_dataflows) s.dataflows.push_back(e.def->document);
  for (const auto& [n, d] : skipped_dataflows_) s.dataflows.push_back(d);
  return write_definition_file(opt_.persist_file, s, error);
}

void definition_store::forget_skipped(resource_kind kind, const std::string& name) {
  (kind == resource_kind::endpoint ? skipped_endpoints_ : skipped_dataflows_).erase(name);
}

std::vector<load_error> definition_store::declare(const std::vector<declared_document>& docs) {
  std::lock_guard g(mu_);
  std::vector<load_error> errors;
  const auto add = [&](const declared_document& d, problems ps) {
    for (auto& p : ps) errors.push_back({d.where, kind_of(d.document), name_of(d.document), std::move(p)});
  };
  // Endpoints first: dataflows are checked against all of them, wherever they were declared.
  for (const bool endpoints : {true, false}) {
    for (const auto& d : docs) {
      const auto kind = kind_of(d.document);
      if (kind != "Dataflow" && kind != "DataflowEndpoint") {
        if (!endpoints) continue;
        add(d, {{d.document.is_object() ? "/kind" : "", "must be Dataflow or DataflowEndpoint"}});
        continue;
      }
      if ((kind == "DataflowEndpoint") != endpoints) continue;
      problems ps;
      const auto name = name_of(d.document);
      const origin* before = nullptr;
      if (endpoints && declared_endpoints_.contains(name)) before = &declared_endpoints_.at(name).where;
      if (!endpoints && declared_dataflows_.contains(name)) before = &declared_dataflows_.at(name).where;
      if (before) {
        ps.push_back({"/metadata/name", kind + " '" + name + "' is also defined in " + before->describe()});
        add(d, std::move(ps));
        continue;
      }
      if (endpoints) {
        if (auto e = validate_endpoint(d.document, opt_.validation, ps)) declared_endpoints_[name] = {e, d.where};
      } else {
        const auto all = effective_endpoints(declared_endpoints_, {});
        if (auto df = validate_dataflow(d.document, all, opt_.validation, ps))
          declared_dataflows_[name] = {df, d.where};
      }
      add(d, std::move(ps));
    }
  }
  return errors;
}

bool definition_store::restore(std::vector<std::string>& skipped, std::string& error) {
  if (opt_.persist_file.empty()) return true;
  stored_definitions s;
  if (!read_definition_file(opt_.persist_file, s, error)) return false;
  std::lock_guard g(mu_);
  const auto skip = [&](const json& doc, const char* kind, const problems& ps) {
    std::string why;
    for (const auto& p : ps) why += (why.empty() ? "" : "; ") + p.path + ": " + p.message;
    skipped.push_back(std::string(kind) + " '" + name_of(doc) + "' (from the admin API) is not valid any more: " + why +
                      "; not run");
  };
  for (const auto& doc : s.endpoints) {
    problems ps;
    if (auto e = validate_endpoint(doc, opt_.validation, ps))
      api_endpoints_[e->name] = {e, {}};
    else
      skip(doc, "DataflowEndpoint", ps), skipped_endpoints_[name_of(doc)] = doc;
  }
  const auto endpoints = effective_endpoints(declared_endpoints_, api_endpoints_);
  for (const auto& doc : s.dataflows) {
    problems ps;
    if (auto df = validate_dataflow(doc, endpoints, opt_.validation, ps))
      api_dataflows_[df->name] = {df, {}};
    else
      skip(doc, "Dataflow", ps), skipped_dataflows_[name_of(doc)] = doc;
  }
  // A declared dataflow whose endpoint an API definition replaced must still fit it.
  for (const auto& [name, e] : api_endpoints_) {
    problems ps;
    std::map<std::string, std::shared_ptr<const dataflow_definition>> updated;
    revalidate_users(name, endpoints, ps, updated);
    for (const auto& [n, df] : updated) replace_effective_dataflow(df);
    for (const auto& p : ps) skipped.push_back("DataflowEndpoint '" + name + "': " + p.message);
  }
  return true;
}

void definition_store::attach(runner* r) {
  std::lock_guard g(mu_);
  runner_ = r;
  if (!runner_) return;
  const auto endpoints = effective_endpoints(declared_endpoints_, api_endpoints_);
  std::set<std::string> names;
  for (const auto& [n, e] : declared_dataflows_) names.insert(n);
  for (const auto& [n, e] : api_dataflows_) names.insert(n);
  for (const auto& n : names) runner_->apply(effective_dataflow(n)->def, endpoints);
}

void definition_store::detach() {
  std::lock_guard g(mu_);
  runner_ = nullptr;
}

definition_store::put_result definition_store::put(resource_kind kind, const std::string& name, json doc) {
  put_result r;
  if (doc.is_object()) doc.erase("status");  // as GET shows it: not part of the definition
  const auto doc_name = name_of(doc);
  if (doc.is_object() && !doc_name.empty() && doc_name != name)
    r.problems.push_back({"/metadata/name", "'" + doc_name + "' differs from the name in the path ('" + name + "')"});
  std::lock_guard g(mu_);
  const bool endpoint = kind == resource_kind::endpoint;
  const bool existed = endpoint ? effective_endpoint(name) != nullptr : effective_dataflow(name) != nullptr;
  auto api_endpoints = api_endpoints_;
  auto api_dataflows = api_dataflows_;
  std::map<std::string, std::shared_ptr<const dataflow_definition>> updated;
  endpoint_map endpoints;
  if (endpoint) {
    auto e = validate_endpoint(doc, opt_.validation, r.problems);
    if (e && r.problems.empty()) {
      api_endpoints[name] = {e, {}};
      endpoints = effective_endpoints(declared_endpoints_, api_endpoints);
      revalidate_users(name, endpoints, r.problems, updated);
    }
  } else {
    endpoints = effective_endpoints(declared_endpoints_, api_endpoints_);
    auto df = validate_dataflow(doc, endpoints, opt_.validation, r.problems);
    if (df && r.problems.empty()) {
      api_dataflows[name] = {df, {}};
      updated[name] = df;
    }
  }
  if (!r.problems.empty()) {
    r.code = put_result::status::invalid;
    r.message = std::string(endpoint ? "DataflowEndpoint" : "Dataflow") +
                " definition refused: " + std::to_string(r.problems.size()) + " problem(s)";
    return r;
  }
  auto skipped_before = endpoint ? skipped_endpoints_ : skipped_dataflows_;
  forget_skipped(kind, name);
  if (std::string error; !save(api_endpoints, api_dataflows, error)) {
    (endpoint ? skipped_endpoints_ : skipped_dataflows_) = std::move(skipped_before);
    r.code = put_result::status::unavailable;
    r.message = error;
    return r;
  }
  api_endpoints_ = std::move(api_endpoints);
  api_dataflows_ = std::move(api_dataflows);
  for (const auto& [n, df] : updated) replace_effective_dataflow(df);
  if (opt_.log)
    opt_.log->info("dataflows: {} '{}' {} through the admin API", endpoint ? "DataflowEndpoint" : "Dataflow", name,
                   existed ? "replaced" : "created");
  if (runner_)
    for (const auto& [n, df] : updated) runner_->apply(df, endpoints);
  r.code = existed ? put_result::status::replaced : put_result::status::created;
  return r;
}

definition_store::delete_result definition_store::remove(resource_kind kind, const std::string& name) {
  delete_result r;
  const bool endpoint = kind == resource_kind::endpoint;
  std::lock_guard g(mu_);
  if (endpoint && name == default_endpoint) {
    r.code = delete_result::status::reserved;
    r.message = "'default' is the local broker: it always exists";
    return r;
  }
  const bool in_api = endpoint ? api_endpoints_.contains(name) : api_dataflows_.contains(name);
  const bool in_declared = endpoint ? declared_endpoints_.contains(name) : declared_dataflows_.contains(name);
  const bool in_skipped = endpoint ? skipped_endpoints_.contains(name) : skipped_dataflows_.contains(name);
  if (!in_api && !in_skipped) {
    r.code = in_declared ? delete_result::status::declared : delete_result::status::not_found;
    if (in_declared)
      r.message = "declared in " +
                  (endpoint ? declared_endpoints_.at(name).where : declared_dataflows_.at(name).where).describe() +
                  ": remove it there (or pause a dataflow with spec.mode Disabled)";
    return r;
  }
  auto api_endpoints = api_endpoints_;
  auto api_dataflows = api_dataflows_;
  std::map<std::string, std::shared_ptr<const dataflow_definition>> updated;
  std::shared_ptr<const dataflow_definition> reverted;  // a declared dataflow back in effect
  endpoint_map endpoints;
  if (endpoint) {
    api_endpoints.erase(name);
    endpoints = effective_endpoints(declared_endpoints_, api_endpoints);
    if (in_api && !in_declared) {
      r.users = users_of(name);
      if (!r.users.empty()) {
        r.code = delete_result::status::in_use;
        std::string list;
        for (const auto& u : r.users) list += (list.empty() ? "" : ", ") + u;
        r.message = "endpoint '" + name + "' is used by dataflow(s) " + list;
        return r;
      }
    } else if (in_api) {
      problems ps;
      revalidate_users(name, endpoints, ps, updated);
      if (!ps.empty()) {
        r.code = delete_result::status::in_use;
        r.users = users_of(name);
        r.message = "the declared definition it would fall back to does not fit: " + ps.front().message;
        return r;
      }
    }
  } else {
    api_dataflows.erase(name);
    endpoints = effective_endpoints(declared_endpoints_, api_endpoints_);
    if (in_api && in_declared) {
      problems ps;
      reverted = validate_dataflow(declared_dataflows_.at(name).def->document, endpoints, opt_.validation, ps);
      if (!reverted) {
        r.code = delete_result::status::in_use;
        r.message = "the declared definition it would fall back to is not valid: " + ps.front().path + ": " +
                    ps.front().message;
        return r;
      }
    }
  }
  auto skipped_before = endpoint ? skipped_endpoints_ : skipped_dataflows_;
  forget_skipped(kind, name);
  if (std::string error; !save(api_endpoints, api_dataflows, error)) {
    (endpoint ? skipped_endpoints_ : skipped_dataflows_) = std::move(skipped_before);
    r.code = delete_result::status::unavailable;
    r.message = error;
    return r;
  }
  api_endpoints_ = std::move(api_endpoints);
  api_dataflows_ = std::move(api_dataflows);
  if (reverted) updated[name] = reverted;
  for (const auto& [n, df] : updated) replace_effective_dataflow(df);
  if (opt_.log)
    opt_.log->info("dataflows: {} '{}' deleted through the admin API{}", endpoint ? "DataflowEndpoint" : "Dataflow",
                   name, in_declared ? " (its declared definition is back)" : "");
  if (runner_) {
    if (!endpoint && in_api && !reverted) runner_->remove(name);
    for (const auto& [n, df] : updated) runner_->apply(df, endpoints);
  }
  r.code = delete_result::status::deleted;
  return r;
}

json definition_store::with_status(const json& doc, json status, const origin& where) const {
  json out = doc;
  if (!status.is_object()) status = json::object();
  status["origin"] = where.to_json();
  out["status"] = std::move(status);
  return out;
}

std::optional<json> definition_store::get(resource_kind kind, const std::string& name) const {
  std::lock_guard g(mu_);
  if (kind == resource_kind::endpoint) {
    if (name == default_endpoint) {
      const json doc = {{"apiVersion", std::string(api_group) + "/v1"},
                        {"kind", "DataflowEndpoint"},
                        {"metadata", {{"name", default_endpoint}}},
                        {"spec", {{"endpointType", "Mqtt"}}}};
      return with_status(doc, {{"usedBy", users_of(name)}}, {origin::from::builtin, {}, 0});
    }
    const auto* e = effective_endpoint(name);
    if (!e) return std::nullopt;
    return with_status(e->def->document, {{"usedBy", users_of(name)}}, e->where);
  }
  const auto* d = effective_dataflow(name);
  if (!d) return std::nullopt;
  return with_status(d->def->document, runner_ ? runner_->status(name) : json(nullptr), d->where);
}

std::vector<json> definition_store::list(resource_kind kind) const {
  std::set<std::string> names;
  {
    std::lock_guard g(mu_);
    if (kind == resource_kind::endpoint) {
      names.insert(default_endpoint);
      for (const auto& [n, e] : declared_endpoints_) names.insert(n);
      for (const auto& [n, e] : api_endpoints_) names.insert(n);
    } else {
      for (const auto& [n, e] : declared_dataflows_) names.insert(n);
      for (const auto& [n, e] : api_dataflows_) names.insert(n);
    }
  }
  std::vector<json> out;
  for (const auto& n : names)
    if (auto j = get(kind, n)) out.push_back(std::move(*j));
  return out;
}

}  // namespace edgemq::dataflow
