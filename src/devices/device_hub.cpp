// The device hub's registry and twins, written through to the state store (device_hub.hpp).
#include "devices/device_hub.hpp"

#include <future>

#include <spdlog/spdlog.h>

#include "broker/log_safe.hpp"
#include "devices/dialect.hpp"
#include "devices/twin_doc.hpp"

namespace edgemq::devices {
namespace {

using json = nlohmann::json;
using store_api = statestore::store;

// If-Match as sent: "*", "\"etag\"", W/"etag" or a bare etag.
std::string unquote(std::string s) {
  if (s.starts_with("W/")) s.erase(0, 2);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

std::string normalize_thumbprint(const std::string& t) {
  std::string out;
  for (char c : t) {
    if (c == ':' || c == ' ') continue;
    out.push_back(c >= 'a' && c <= 'f' ? static_cast<char>(c - 'a' + 'A') : c);
  }
  return out;
}

}  // namespace

device_hub::device_hub(broker::broker& b, hub_options o, std::shared_ptr<spdlog::logger> log,
                       std::function<std::uint64_t()> wall_ms)
    : broker_(b), opts_(std::move(o)), log_(std::move(log)), wall_ms_(std::move(wall_ms)) {
  if (!wall_ms_) wall_ms_ = [] { return statestore::system_wall_ms(); };
  broker_.services().add_prefix("$iothub/", this);
  broker_.services().add_prefix("devices/", this);
  broker_.set_connect_interceptor(this);
  timer_ = std::thread([this] { run_timer(); });
}

device_hub::~device_hub() {
  stop();
  if (broker_.interceptor() == this) broker_.set_connect_interceptor(nullptr);
}

void device_hub::stop() {
  std::map<std::string, pending_method> left;
  {
    std::lock_guard g(mu_);
    if (stopping_) return;
    stopping_ = true;
    left.swap(methods_);
  }
  timer_cv_.notify_all();
  if (timer_.joinable()) timer_.join();
  for (auto& [rid, m] : left) m.done(status::timeout, {});
}

std::optional<std::string> device_hub::service_key(const std::string& policy) const {
  for (const auto& [name, key] : opts_.service_policies)
    if (name == policy) return key;
  return std::nullopt;
}

// ---- storage ---------------------------------------------------------------------------------

std::string device_hub::registry_record(const device& d) {
  return json{{"format", 1},
              {"deviceId", d.device_id},
              {"etag", d.etag},
              {"generationId", std::to_string(d.generation)},
              {"status", d.enabled ? "enabled" : "disabled"},
              {"authentication",
               {{"type", d.auth_type},
                {"symmetricKey", {{"primaryKey", d.primary_key}, {"secondaryKey", d.secondary_key}}},
                {"x509Thumbprint",
                 {{"primaryThumbprint", d.primary_thumbprint}, {"secondaryThumbprint", d.secondary_thumbprint}}}}}}
      .dump();
}

std::string device_hub::twin_record(const entry& e) const {
  return json{{"format", 1},
              {"deviceId", e.t.device_id},
              {"etag", e.t.etag},
              {"version", e.t.version},
              {"tags", e.t.tags},
              {"desired", e.t.desired},
              {"reported", e.t.reported},
              {"desiredPending", e.desired_pending}}
      .dump();
}

void device_hub::write(std::vector<kv_write> kvs, std::function<void(bool)> done) {
  if (!submit_ || kvs.empty()) return done(true);
  struct state {
    std::size_t left;
    bool ok = true;
    std::mutex mu;
    std::function<void(bool)> done;
  };
  auto st = std::make_shared<state>();
  st->left = kvs.size();
  st->done = std::move(done);
  for (auto& [key, value] : kvs) {
    store_api::operator_request r;
    r.op = value ? store_api::operator_request::verb::put : store_api::operator_request::verb::del;
    r.key = std::move(key);
    if (value) r.value = std::move(*value);
    submit_(std::move(r), [st](store_api::operator_reply rep) {
      bool last = false, ok = false;
      {
        std::lock_guard g(st->mu);
        if (rep.code != store_api::operator_reply::status::ok &&
            rep.code != store_api::operator_reply::status::not_found)
          st->ok = false;
        last = --st->left == 0;
        ok = st->ok;
      }
      if (last) st->done(ok);
    });
  }
}

void device_hub::load(const submit_fn& submit) {
  // Every key under `prefix`, page by page, waiting for each (start-up only).
  const auto list_all = [&submit](std::string_view prefix) {
    std::vector<store_api::operator_item> all;
    std::string after;
    while (true) {
      store_api::operator_request r;
      r.op = store_api::operator_request::verb::list;
      r.prefix = std::string(prefix);
      r.after = after;
      r.limit = 1000;
      std::promise<store_api::operator_reply> p;
      auto f = p.get_future();
      submit(std::move(r), [&p](store_api::operator_reply rep) { p.set_value(std::move(rep)); });
      auto rep = f.get();
      if (rep.code != store_api::operator_reply::status::ok)
        throw std::runtime_error("devices: cannot read " + std::string(prefix) +
                                 " from the state store: " + rep.message);
      for (auto& i : rep.items) all.push_back(std::move(i));
      if (!rep.more || all.empty()) break;
      after = all.back().key;
    }
    return all;
  };
  for (auto& item : list_all(registry_prefix)) {
    const auto doc = json::parse(item.value, nullptr, false);
    if (!doc.is_object()) {
      if (log_) log_->warn("devices: ignoring unreadable registry record '{}'", log_safe(item.key));
      continue;
    }
    device d;
    d.device_id = item.key.substr(registry_prefix.size());
    d.etag = doc.value("etag", random_etag());
    d.enabled = doc.value("status", "enabled") != "disabled";
    d.generation = std::strtoull(doc.value("generationId", "0").c_str(), nullptr, 10);
    const auto auth = doc.value("authentication", json::object());
    d.auth_type = auth.value("type", "sas");
    const auto sym = auth.value("symmetricKey", json::object());
    d.primary_key = sym.value("primaryKey", "");
    d.secondary_key = sym.value("secondaryKey", "");
    const auto x509 = auth.value("x509Thumbprint", json::object());
    d.primary_thumbprint = normalize_thumbprint(x509.value("primaryThumbprint", ""));
    d.secondary_thumbprint = normalize_thumbprint(x509.value("secondaryThumbprint", ""));
    entry e;
    e.t.device_id = d.device_id;
    e.t.etag = random_etag();
    e.t.version = 1;
    const auto now = iso8601(wall_ms_());
    e.t.desired = new_section(now, true);
    e.t.reported = new_section(now, false);
    e.d = std::move(d);
    entries_[e.d.device_id] = std::move(e);
  }
  for (auto& item : list_all(twins_prefix)) {
    auto it = entries_.find(item.key.substr(twins_prefix.size()));
    const auto doc = json::parse(item.value, nullptr, false);
    if (it == entries_.end() || !doc.is_object()) continue;  // a twin without its device
    auto& e = it->second;
    e.t.etag = doc.value("etag", e.t.etag);
    e.t.version = doc.value("version", std::uint64_t{1});
    if (doc.contains("tags") && doc["tags"].is_object()) e.t.tags = doc["tags"];
    if (doc.contains("desired") && doc["desired"].is_object()) e.t.desired = doc["desired"];
    if (doc.contains("reported") && doc["reported"].is_object()) e.t.reported = doc["reported"];
    e.desired_pending = doc.value("desiredPending", false);
  }
}

void device_hub::start(submit_fn submit) {
  if (submit) load(submit);
  std::lock_guard g(mu_);
  submit_ = std::move(submit);
  started_ = true;
  if (log_) log_->info("devices: {} devices loaded, hostname '{}'", entries_.size(), opts_.hostname);
}

// ---- registry ----------------------------------------------------------------------------------

void device_hub::put_device(device d, std::string if_match, std::function<void(status, device)> done) {
  if_match = unquote(std::move(if_match));
  if (!valid_device_id(d.device_id)) return done(status::bad_request, {});
  if (d.auth_type.empty()) d.auth_type = "sas";
  if (d.auth_type != "sas" && d.auth_type != "selfSigned" && d.auth_type != "certificateAuthority")
    return done(status::bad_request, {});
  d.primary_thumbprint = normalize_thumbprint(d.primary_thumbprint);
  d.secondary_thumbprint = normalize_thumbprint(d.secondary_thumbprint);
  if (d.auth_type == "selfSigned" && d.primary_thumbprint.empty()) return done(status::bad_request, {});
  std::unique_lock lk(mu_);
  if (!started_) {
    lk.unlock();
    return done(status::unavailable, {});
  }
  auto it = entries_.find(d.device_id);
  const bool exists = it != entries_.end();
  if (if_match.empty() && exists) {
    lk.unlock();
    return done(status::conflict, {});
  }
  if (!if_match.empty() && if_match != "*") {
    const auto st = !exists                         ? status::not_found
                    : it->second.d.etag != if_match ? status::precondition_failed
                                                    : status::ok;
    if (st != status::ok) {
      lk.unlock();
      return done(st, {});
    }
  }
  std::optional<entry> previous;
  if (exists) previous = it->second;
  entry& e = exists ? it->second : entries_[d.device_id];
  if (d.auth_type == "sas") {
    // Empty keys mean "generate" (as IoT Hub does on create; an update sends the keys back).
    if (d.primary_key.empty()) d.primary_key = exists && !e.d.primary_key.empty() ? e.d.primary_key : random_key();
    if (d.secondary_key.empty())
      d.secondary_key = exists && !e.d.secondary_key.empty() ? e.d.secondary_key : random_key();
  }
  d.connected = exists && e.d.connected;
  d.last_activity_ms = exists ? e.d.last_activity_ms : 0;
  d.generation = exists ? e.d.generation : wall_ms_();
  d.etag = random_etag();
  const bool disabled_now = exists && e.d.enabled && !d.enabled;
  e.d = d;
  std::vector<kv_write> kvs{{std::string(registry_prefix) + d.device_id, registry_record(d)}};
  if (!exists) {
    const auto now = iso8601(wall_ms_());
    e.t = twin{d.device_id, random_etag(), 1, json::object(), new_section(now, true), new_section(now, false)};
    kvs.emplace_back(std::string(twins_prefix) + d.device_id, twin_record(e));
  }
  lk.unlock();
  const std::string written_etag = d.etag;
  write(std::move(kvs), [this, d = std::move(d), previous = std::move(previous), written_etag, disabled_now,
                         done = std::move(done)](bool ok) mutable {
    if (!ok) {
      {
        // Undone unless changed again meanwhile (that change's own write decides then).
        std::lock_guard g(mu_);
        auto it = entries_.find(d.device_id);
        if (it != entries_.end() && it->second.d.etag == written_etag) {
          if (previous)
            it->second = std::move(*previous);
          else
            entries_.erase(it);
        }
      }
      if (log_) log_->warn("devices: device '{}' not saved: the state store refused the write", d.device_id);
      return done(status::unavailable, {});
    }
    if (disabled_now) disconnect_device(d.device_id, false);
    publish_event(d.device_id, previous ? "updated" : "created", json{{"status", d.enabled ? "enabled" : "disabled"}});
    auto current = get_device(d.device_id);
    done(previous ? status::ok : status::created, current ? *current : d);
  });
}

std::optional<device> device_hub::get_device(const std::string& id) const {
  std::lock_guard g(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  return it->second.d;
}

std::vector<device> device_hub::list_devices() const {
  std::lock_guard g(mu_);
  std::vector<device> out;
  out.reserve(entries_.size());
  for (const auto& [id, e] : entries_) out.push_back(e.d);
  return out;
}

void device_hub::delete_device(const std::string& id, std::string if_match, std::function<void(status)> done) {
  if_match = unquote(std::move(if_match));
  std::unique_lock lk(mu_);
  if (!started_) {
    lk.unlock();
    return done(status::unavailable);
  }
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    lk.unlock();
    return done(status::not_found);
  }
  if (!if_match.empty() && if_match != "*" && if_match != it->second.d.etag) {
    lk.unlock();
    return done(status::precondition_failed);
  }
  auto previous = std::move(it->second);
  entries_.erase(it);
  lk.unlock();
  write({{std::string(registry_prefix) + id, std::nullopt}, {std::string(twins_prefix) + id, std::nullopt}},
        [this, id, previous = std::move(previous), done = std::move(done)](bool ok) mutable {
          if (!ok) {
            {
              std::lock_guard g(mu_);
              entries_.try_emplace(id, std::move(previous));  // unless created again meanwhile
            }
            return done(status::unavailable);
          }
          disconnect_device(id, true);
          publish_event(id, "deleted", json::object());
          done(status::ok);
        });
}

// ---- twins -------------------------------------------------------------------------------------

std::optional<twin> device_hub::get_twin(const std::string& id) const {
  std::lock_guard g(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  return it->second.t;
}

void device_hub::patch_twin(const std::string& id, const json& patch, std::string if_match,
                            std::function<void(status, twin)> done) {
  if_match = unquote(std::move(if_match));
  if (!patch.is_object()) return done(status::bad_request, {});
  const json* desired = nullptr;
  if (auto p = patch.find("properties"); p != patch.end()) {
    if (!p->is_object() || p->contains("reported")) return done(status::bad_request, {});  // the device's to write
    if (auto d = p->find("desired"); d != p->end()) desired = &*d;
  }
  const json* tags = patch.contains("tags") ? &patch["tags"] : nullptr;
  if (!desired && !tags) return done(status::bad_request, {});
  std::unique_lock lk(mu_);
  if (!started_) {
    lk.unlock();
    return done(status::unavailable, {});
  }
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    lk.unlock();
    return done(status::not_found, {});
  }
  auto& e = it->second;
  if (!if_match.empty() && if_match != "*" && if_match != e.t.etag) {
    lk.unlock();
    return done(status::precondition_failed, {});
  }
  twin next = e.t;
  std::string why;
  const auto now = iso8601(wall_ms_());
  if ((tags && !merge_patch_limited(next.tags, *tags, why)) ||
      (desired && !patch_section(next.desired, *desired, now, true, why))) {
    lk.unlock();
    if (log_) log_->info("devices: twin patch of '{}' refused: {}", log_safe(id), why);
    return done(status::bad_request, {});
  }
  ++next.version;
  next.etag = random_etag();
  const auto previous = e;
  e.t = next;
  if (desired) e.desired_pending = true;  // until pushed to a connected device
  std::vector<kv_write> kvs{{std::string(twins_prefix) + id, twin_record(e)}};
  const std::uint64_t desired_version = e.t.desired.value("$version", std::uint64_t{0});
  lk.unlock();
  json desired_patch = desired ? *desired : json();
  json tags_patch = tags ? *tags : json();
  write(std::move(kvs), [this, id, previous, written = next.etag, desired_patch = std::move(desired_patch), tags_patch,
                         desired_version, done = std::move(done)](bool ok) {
    if (!ok) {
      {
        std::lock_guard g(mu_);
        auto it = entries_.find(id);
        if (it != entries_.end() && it->second.t.etag == written) it->second = previous;
      }
      return done(status::unavailable, {});
    }
    if (!desired_patch.is_null()) push_desired(id, desired_patch, desired_version);
    json changed = json::object();
    if (!desired_patch.is_null()) changed["properties"] = {{"desired", desired_patch}};
    if (tags_patch.is_object()) changed["tags"] = tags_patch;
    publish_event(id, "twinChanged", std::move(changed));
    auto t = get_twin(id);
    done(status::ok, t ? *t : twin{});
  });
}

}  // namespace edgemq::devices
