// Enrichment datasets: a state store key whose value is JSON Lines, one record per line. The
// cache loads each key once and then follows its changes (the state store's notifications), so
// that a record needs no GET per message and a changed dataset applies as soon as it is stored.
// Shared by every dataflow that names the key; read on the runtime's I/O thread, updated on
// the state store's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace edgemq::statestore {
class store;
}

namespace edgemq::dataflow {

// Where the cache reads keys from: the in-process state store in the daemon, a fake in tests.
class dataset_source {
 public:
  virtual ~dataset_source() = default;
  // Calls `changed` with the key's value now (nullopt: no such key), then after every change of
  // it, on any one thread, until the returned handle is destroyed (after which it is not called).
  virtual std::shared_ptr<void> watch(const std::string& key,
                                      std::function<void(std::optional<std::string>)> changed) = 0;
};

// The state store engine as a dataset source (engine::watch/unwatch). The runtime builds its
// cache as std::make_shared<dataset_cache>(statestore_dataset_source(engine)); the engine must
// outlive the cache (the cache unwatches when destroyed).
std::shared_ptr<dataset_source> statestore_dataset_source(statestore::store& eng);

class dataset_cache {
 public:
  using records = std::vector<nlohmann::ordered_json>;  // the key's lines that are JSON objects, in order

  explicit dataset_cache(std::shared_ptr<dataset_source> source);
  ~dataset_cache();
  dataset_cache(const dataset_cache&) = delete;
  dataset_cache& operator=(const dataset_cache&) = delete;

  // Starts following `key` (once per key, whoever asks; kept until the cache goes, as keys are
  // few and a redefined dataflow usually names the same ones). Compiling a transformation calls it.
  void subscribe(const std::string& key);

  // The key's records as last stored: null until the first value arrived, empty when the key
  // does not exist. The snapshot stays valid while held, whatever changes meanwhile.
  std::shared_ptr<const records> get(const std::string& key) const;

  struct key_status {
    bool loaded = false;        // a value (or its absence) arrived
    std::size_t records = 0;    // lines kept
    std::size_t bad_lines = 0;  // lines that were not JSON objects (skipped)
    std::uint64_t updates = 0;  // values received, the first load included
  };
  std::map<std::string, key_status> status() const;

  // Parses JSON Lines: blank lines are ignored, a line that is not a JSON object is counted
  // in `bad` and skipped (one bad line does not hide the rest of a dataset).
  static records parse(const std::string& text, std::size_t& bad);

 private:
  struct entry {
    std::shared_ptr<const records> data;
    key_status st;
    std::shared_ptr<void> handle;
  };
  void update(const std::string& key, std::optional<std::string> value);

  std::shared_ptr<dataset_source> source_;
  mutable std::mutex mu_;
  std::map<std::string, entry> keys_;
};

}  // namespace edgemq::dataflow
