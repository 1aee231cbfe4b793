#include "dataflow/datasets.hpp"

#include <sstream>

#include "statestore/store.hpp"

namespace edgemq::dataflow {
namespace {

class engine_source final : public dataset_source {
 public:
  explicit engine_source(statestore::store& eng) : eng_(eng) {}
  std::shared_ptr<void> watch(const std::string& key,
                              std::function<void(std::optional<std::string>)> changed) override {
    const auto id = eng_.watch(key, std::move(changed));
    // The handle's destruction unwatches: after it, the callback never runs again.
    return std::shared_ptr<void>(nullptr, [&eng = eng_, id](void*) { eng.unwatch(id); });
  }

 private:
  statestore::store& eng_;
};

}  // namespace

std::shared_ptr<dataset_source> statestore_dataset_source(statestore::store& eng) {
  return std::make_shared<engine_source>(eng);
}

dataset_cache::dataset_cache(std::shared_ptr<dataset_source> source) : source_(std::move(source)) {}

dataset_cache::~dataset_cache() {
  // Unwatch before the entries go: a callback may be running until its handle is released.
  std::map<std::string, entry> keys;
  {
    std::lock_guard g(mu_);
    keys.swap(keys_);
  }
  for (auto& [k, e] : keys) e.handle.reset();
}

void dataset_cache::subscribe(const std::string& key) {
  {
    std::lock_guard g(mu_);
    if (keys_.contains(key)) return;
    keys_.emplace(key, entry{});
  }
  // Outside the lock: a source may call back at once, from this thread.
  auto handle = source_->watch(key, [this, key](std::optional<std::string> v) { update(key, std::move(v)); });
  std::lock_guard g(mu_);
  if (auto it = keys_.find(key); it != keys_.end()) it->second.handle = std::move(handle);
}

void dataset_cache::update(const std::string& key, std::optional<std::string> value) {
  std::size_t bad = 0;
  auto parsed = std::make_shared<const records>(value ? parse(*value, bad) : records{});
  std::lock_guard g(mu_);
  auto it = keys_.find(key);
  if (it == keys_.end()) return;
  it->second.data = std::move(parsed);
  it->second.st.loaded = true;
  it->second.st.records = it->second.data->size();
  it->second.st.bad_lines = bad;
  ++it->second.st.updates;
}

std::shared_ptr<const dataset_cache::records> dataset_cache::get(const std::string& key) const {
  std::lock_guard g(mu_);
  auto it = keys_.find(key);
  return it == keys_.end() ? nullptr : it->second.data;
}

std::map<std::string, dataset_cache::key_status> dataset_cache::status() const {
  std::lock_guard g(mu_);
  std::map<std::string, key_status> out;
  for (const auto& [k, e] : keys_) out.emplace(k, e.st);
  return out;
}

dataset_cache::records dataset_cache::parse(const std::string& text, std::size_t& bad) {
  records out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto j = nlohmann::ordered_json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      ++bad;
      continue;
    }
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace edgemq::dataflow
