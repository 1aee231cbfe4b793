#include "cluster/etcd_watch_stream.hpp"

#include <charconv>

namespace edgemq::cluster {

std::vector<std::string> line_splitter::feed(std::string_view bytes) {
  std::vector<std::string> lines;
  for (;;) {
    const auto nl = bytes.find('\n');
    if (nl == std::string_view::npos) break;
    partial_.append(bytes.substr(0, nl));
    if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
    if (!partial_.empty()) lines.push_back(std::move(partial_));
    partial_.clear();
    bytes.remove_prefix(nl + 1);
  }
  partial_.append(bytes);
  return lines;
}

std::int64_t json_int(const nlohmann::json& object, const char* field) {
  if (!object.is_object()) return 0;
  auto it = object.find(field);
  if (it == object.end()) return 0;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (!it->is_string()) return 0;
  const auto& s = it->get_ref<const std::string&>();
  std::int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::optional<watch_message> parse_watch_line(std::string_view line) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  watch_message m;
  if (auto e = j.find("error"); e != j.end()) {
    m.type = watch_message::kind::error;
    m.error = e->is_object() ? e->value("message", std::string("watch ended")) : e->dump();
    return m;
  }
  auto r = j.find("result");
  if (r == j.end() || !r->is_object()) return m;
  m.header_revision = json_int(r->value("header", nlohmann::json::object()), "revision");
  if (r->value("canceled", false)) {
    m.type = watch_message::kind::canceled;
    m.compact_revision = json_int(*r, "compact_revision");
    m.error = r->value("cancel_reason", std::string(m.compact_revision ? "revision compacted" : "watch canceled"));
    return m;
  }
  if (auto ev = r->find("events"); ev != r->end() && ev->is_array() && !ev->empty()) {
    m.type = watch_message::kind::events;
    for (const auto& e : *ev) {
      const auto rev = json_int(e.value("kv", nlohmann::json::object()), "mod_revision");
      if (rev > m.last_mod_revision) m.last_mod_revision = rev;
    }
    m.events = std::move(*ev);
    return m;
  }
  if (r->value("created", false)) m.type = watch_message::kind::created;
  return m;
}

std::int64_t next_watch_revision(std::int64_t planned, const watch_message& m) {
  switch (m.type) {
    case watch_message::kind::created:
      // Opened "now": the events to come are after the revision the member answered at.
      return planned == 0 ? m.header_revision + 1 : planned;
    case watch_message::kind::events:
      return m.last_mod_revision >= planned ? m.last_mod_revision + 1 : planned;
    case watch_message::kind::canceled:
      return m.compact_revision ? 0 : planned;  // compacted: only "now" can be watched
    default:
      return planned;
  }
}

}  // namespace edgemq::cluster
