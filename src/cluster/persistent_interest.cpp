#include "cluster/persistent_interest.hpp"

#include <algorithm>
#include <optional>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "broker/log_safe.hpp"
#include "cluster/etcd_client.hpp"

namespace edgemq::cluster {

namespace {

using json = nlohmann::json;

std::string hex(std::string_view raw) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (const unsigned char c : raw) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 0xF]);
  }
  return out;
}

std::optional<std::string> unhex(std::string_view text) {
  if (text.size() % 2) return std::nullopt;
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int hi = nibble(text[i]), lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

std::int64_t to_i64(const json& v) {
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_string()) {
    try {
      return std::stoll(v.get<std::string>());
    } catch (const std::exception&) {
    }
  }
  return 0;
}

}  // namespace

persistent_interest::persistent_interest(std::shared_ptr<etcd_client> etcd, persistent_interest_options opts,
                                         std::shared_ptr<spdlog::logger> log)
    : etcd_(std::move(etcd)), opts_(std::move(opts)), log_(std::move(log)) {}

persistent_interest::~persistent_interest() {
  stop();
}

void persistent_interest::start() {
  thread_ = std::thread([this] { run(); });
}

void persistent_interest::stop() {
  {
    std::lock_guard g(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::uint64_t w = 0;
  {
    std::unique_lock g(index_mu_);
    w = watch_;
    watch_ = 0;
    ++generation_;
  }
  if (w && etcd_) etcd_->cancel_watch(w);
  // The client is this object's alone: releasing it joins its I/O thread, so no watch callback
  // runs once stop() returns.
  etcd_.reset();
}

bool persistent_interest::counts(std::string_view filter) {
  return !filter.empty() && filter.front() != '$';  // `$share/...` and `$SYS/...` alike
}

void persistent_interest::session_changed(const std::string& client_id, const std::vector<std::string>* filters) {
  std::vector<std::string> now;
  if (filters)
    for (const auto& f : *filters)
      if (counts(f)) now.push_back(f);
  bool changed = false;
  {
    std::lock_guard g(mu_);
    auto it = sessions_.find(client_id);
    if (it != sessions_.end()) {
      for (const auto& f : it->second) {
        auto c = filters_.find(f);
        if (c != filters_.end() && --c->second == 0) {
          filters_.erase(c);
          dirty_.insert(f);
          changed = true;
        }
      }
      sessions_.erase(it);
    }
    // The writer compares each dirty filter with what etcd has: a filter that went and came back
    // before it ran needs no write.
    for (const auto& f : now)
      if (++filters_[f] == 1) {
        dirty_.insert(f);
        changed = true;
      }
    if (!now.empty()) sessions_.emplace(client_id, std::move(now));
  }
  if (changed) cv_.notify_all();
}

void persistent_interest::nodes_holding(std::string_view topic, std::vector<std::string>& out) const {
  std::shared_lock g(index_mu_);
  index_.match(topic, out);
}

std::map<std::string, std::size_t> persistent_interest::known_filters() const {
  std::shared_lock g(index_mu_);
  return {index_.per_node().begin(), index_.per_node().end()};
}

std::size_t persistent_interest::unwritten() const {
  std::lock_guard g(mu_);
  std::size_t n = 0;
  for (const auto& f : dirty_)
    if (filters_.contains(f) != written_.contains(f)) ++n;
  return n;
}

bool persistent_interest::write(const std::string& filter, bool present, std::int64_t lease) {
  const auto key = opts_.root + opts_.node + "/" + hex(filter);
  json body{{"key", etcd_client::b64(key)}};
  std::string path = "/v3/kv/deleterange";
  if (present) {
    path = "/v3/kv/put";
    body["value"] = etcd_client::b64(filter);
    body["lease"] = std::to_string(lease);
  }
  const auto [err, answer] = etcd_->call_sync(path, std::move(body));
  if (err && log_)
    log_->warn("cluster: cannot record persistent interest in '{}' in etcd ({}); retrying", log_safe(filter),
               err.message);
  return !err;
}

void persistent_interest::apply_event(const std::string& key, bool put) {
  // Mutex held (index_mu_). `<root><node>/<hex filter>`.
  if (!key.starts_with(opts_.root)) return;
  const std::string_view rest = std::string_view(key).substr(opts_.root.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) return;
  const std::string node(rest.substr(0, slash));
  if (node == opts_.node) return;  // this node's own sessions are confirmed by its own store
  const auto filter = unhex(rest.substr(slash + 1));
  if (!filter || filter->empty()) return;
  if (put) {
    if (keys_.insert(key).second) index_.add(node, *filter);
  } else if (keys_.erase(key)) {
    index_.remove(node, *filter);
  }
}

bool persistent_interest::reload() {
  std::uint64_t old = 0, gen = 0;
  {
    std::unique_lock g(index_mu_);
    old = watch_;
    watch_ = 0;
    gen = ++generation_;
  }
  if (old) etcd_->cancel_watch(old);
  const auto end = etcd_client::prefix_end(opts_.root);
  const auto [err, answer] = etcd_->call_sync(
      "/v3/kv/range",
      json{{"key", etcd_client::b64(opts_.root)}, {"range_end", etcd_client::b64(end)}, {"keys_only", true}});
  if (err) {
    if (log_) log_->warn("cluster: cannot read the nodes' persistent interest from etcd ({}); retrying", err.message);
    return false;
  }
  const auto revision = to_i64(answer.value("header", json::object()).value("revision", json("0")));
  {
    std::unique_lock g(index_mu_);
    index_ = node_filter_index{};
    keys_.clear();
    for (const auto& kv : answer.value("kvs", json::array()))
      apply_event(etcd_client::unb64(kv.value("key", "")), true);
  }
  const auto id = etcd_->watch(
      opts_.root, end, revision + 1,
      [this, gen](const json& events, std::int64_t) {
        std::unique_lock g(index_mu_);
        if (gen != generation_) return;
        for (const auto& e : events)
          apply_event(etcd_client::unb64(e.value("kv", json::object()).value("key", "")),
                      e.value("type", "PUT") == "PUT");
      },
      [this, gen](const etcd_error& e) {
        {
          std::shared_lock g(index_mu_);
          if (gen != generation_) return;
        }
        // It could not resume (compacted) or no member answers: read everything again.
        if (log_) log_->warn("cluster: the persistent interest watch ended ({}); reading again", e.message);
        {
          std::lock_guard g(mu_);
          reload_ = true;
        }
        cv_.notify_all();
      });
  std::unique_lock g(index_mu_);
  if (gen == generation_)
    watch_ = id;
  else
    etcd_->cancel_watch(id);
  return true;
}

void persistent_interest::run() {
  std::int64_t lease_written = 0;
  bool backoff = false;
  for (;;) {
    std::vector<std::string> todo;
    bool do_reload = false;
    std::int64_t lease = 0;
    {
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, opts_.retry, [&] {
        return stopping_ || (!backoff && (reload_ || std::any_of(dirty_.begin(), dirty_.end(), [&](const auto& f) {
                                            return filters_.contains(f) != written_.contains(f);
                                          })));
      });
      if (stopping_) return;
      lease = opts_.lease ? opts_.lease() : 0;
      if (lease && lease != lease_written) {
        // A new lease (the first, or one granted after the old one was lost): every key again.
        written_.clear();
        for (const auto& [f, n] : filters_) dirty_.insert(f);
        lease_written = lease;
      }
      for (const auto& f : dirty_)
        if (filters_.contains(f) != written_.contains(f)) todo.push_back(f);
      do_reload = reload_;
    }
    backoff = false;
    if (do_reload) {
      if (reload()) {
        std::lock_guard g(mu_);
        reload_ = false;
      } else {
        backoff = true;
      }
    }
    if (!lease) continue;
    for (const auto& f : todo) {
      bool present = false;
      {
        std::lock_guard g(mu_);
        present = filters_.contains(f);
      }
      if (!write(f, present, lease)) {
        backoff = true;
        break;
      }
      std::lock_guard g(mu_);
      if (present)
        written_.insert(f);
      else
        written_.erase(f);
      if (filters_.contains(f) == present) dirty_.erase(f);
    }
  }
}

}  // namespace edgemq::cluster
