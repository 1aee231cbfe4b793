#include "cluster/etcd_store_codec.hpp"

#include "cluster/etcd_client.hpp"

namespace edgemq::cluster {

std::string encode_meta(const hlc& version, std::optional<std::uint64_t> expires) {
  json m = {{"ts", version.to_string()}};
  if (expires) m["exp"] = *expires;
  return m.dump();
}

void decode_meta(const std::string& text, key_state& st) {
  auto m = json::parse(text, nullptr, false);
  if (!m.is_object()) return;
  if (auto ts = m.find("ts"); ts != m.end() && ts->is_string()) st.version = hlc::parse(ts->get<std::string>());
  if (auto exp = m.find("exp"); exp != m.end() && exp->is_number_unsigned())
    st.expires_at_ms = exp->get<std::uint64_t>();
}

json compare_unchanged(const std::string& key, std::int64_t mod) {
  if (mod == 0)
    return {{"key", etcd_client::b64(key)}, {"target", "CREATE"}, {"result", "EQUAL"}, {"create_revision", "0"}};
  return {
      {"key", etcd_client::b64(key)}, {"target", "MOD"}, {"result", "EQUAL"}, {"mod_revision", std::to_string(mod)}};
}

json range_of(const std::string& key) {
  return {{"request_range", {{"key", etcd_client::b64(key)}}}};
}

json put_of(const std::string& key, std::string_view value, std::int64_t lease) {
  json p = {{"key", etcd_client::b64(key)}, {"value", etcd_client::b64(value)}};
  if (lease) p["lease"] = std::to_string(lease);
  return {{"request_put", p}};
}

json delete_of(const std::string& key) {
  return {{"request_delete_range", {{"key", etcd_client::b64(key)}}}};
}

std::optional<json> first_kv(const json& response) {
  const auto r = response.find("response_range");
  if (r == response.end()) return std::nullopt;
  const auto kvs = r->find("kvs");
  if (kvs == r->end() || !kvs->is_array() || kvs->empty()) return std::nullopt;
  return (*kvs)[0];
}

}  // namespace edgemq::cluster
