// How one state store key is kept in etcd (etcd_store.hpp: ss/v/, ss/m/, ss/ft/): the metadata's
// JSON, and the parts of the JSON gateway's txns that read, write and guard those keys. Private to
// src/cluster/etcd_store*.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "edgemq/statestore/hlc.hpp"

namespace edgemq::cluster {

using json = nlohmann::json;
using statestore::hlc;

// The three etcd keys of one state store key, as read at one revision (0: absent).
struct key_state {
  std::int64_t v_mod = 0, m_mod = 0, ft_mod = 0;
  std::string value;
  std::optional<hlc> version, ft;
  std::optional<std::uint64_t> expires_at_ms;
  bool live(std::uint64_t now) const { return v_mod != 0 && !(expires_at_ms && *expires_at_ms <= now); }
};

std::string encode_meta(const hlc& version, std::optional<std::uint64_t> expires);
void decode_meta(const std::string& text, key_state& st);

json compare_unchanged(const std::string& key, std::int64_t mod);
json range_of(const std::string& key);
json put_of(const std::string& key, std::string_view value, std::int64_t lease);
json delete_of(const std::string& key);

std::optional<json> first_kv(const json& response);

}  // namespace edgemq::cluster
