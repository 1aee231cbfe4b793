// The configuration loader: any text is either applied or answered with errors (never an
// exception or a crash); the result is deterministic and, when accepted, within the documented
// ranges and stable when applied again. Listener addresses round-trip through their text form.
#include <string>

#include "config/config.hpp"
#include "fuzz_bodies.hpp"
#include "fuzz_support.hpp"

namespace edgemq::fuzz {
namespace {

void loader(const std::string& text) {
  config::daemon_config a;
  config::daemon_config b;
  const auto ea = config::apply_json(text, a);
  const auto eb = config::apply_json(text, b);
  check(ea.size() == eb.size());
  for (std::size_t i = 0; i < ea.size(); ++i) {
    check(ea[i].path == eb[i].path && ea[i].message == eb[i].message);
    check(ea[i].path.empty() || ea[i].path.front() == '/');
    check(!ea[i].message.empty());
  }
  if (!ea.empty()) return;
  const auto& lim = a.limits;
  check(lim.max_packet_size >= 64 && lim.receive_maximum >= 1 && lim.max_inflight >= 1);
  check(static_cast<int>(lim.maximum_qos) <= 2);
  check(a.statestore.sync == "sync" || a.statestore.sync == "none");
  check(a.persistence.sync == "sync" || a.persistence.sync == "batch" || a.persistence.sync == "none");
  check(!a.statestore.node_id.empty() && a.statestore.node_id.find(':') == std::string::npos);
  check(!a.data_dir.empty() && config::valid_log_level(a.log_level));
  check(config::apply_json(text, a).empty());  // an accepted document stays accepted on its own result
}

void endpoint(const std::string& text) {
  config::listen_endpoint ep;
  if (!config::parse_endpoint(text, ep)) return;
  config::listen_endpoint again;
  check(config::parse_endpoint(config::format_endpoint(ep), again));
  check(again.host == ep.host && again.port == ep.port);
}

}  // namespace

void config_one_input(const std::uint8_t* data, std::size_t size) {
  const std::string text(as_text(data, size));
  loader(text);
  endpoint(text);
}

}  // namespace edgemq::fuzz
