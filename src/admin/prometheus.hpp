// Prometheus text exposition (format 0.0.4) of the broker's statistics. The numbers come from
// broker::collect_sys, the same registry $SYS is published from (ADR 0015); this file only maps
// $SYS topics to metric families and labels, and renders them. No I/O, no Beast.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edgemq::broker {
class broker;
class latency_histogram;
}  // namespace edgemq::broker

namespace edgemq::admin {

enum class metric_type { counter, gauge, untyped };

struct metric_sample {
  std::vector<std::pair<std::string, std::string>> labels;  // name, value (rendered escaped)
  std::uint64_t value = 0;
};

struct metric_family {
  std::string name;
  std::string help;
  metric_type type = metric_type::untyped;
  std::vector<metric_sample> samples;
};

// Collects samples into families, in first-seen order; a sample whose labels a family already
// has is ignored (a family never repeats a series).
class metric_set {
 public:
  void add(std::string_view name, std::string_view help, metric_type type,
           std::vector<std::pair<std::string, std::string>> labels, std::uint64_t value);
  // The family one $SYS/broker/... value belongs to (catalog in prometheus.cpp; a topic not in
  // it becomes an untyped edgemq_sys_<topic> gauge, so every $SYS number is on /metrics).
  void add_sys(std::string_view topic, std::uint64_t value);
  const std::vector<metric_family>& families() const noexcept { return families_; }

 private:
  std::vector<metric_family> families_;
};

// The text format: # HELP, # TYPE, one line per sample; families without samples are left out.
std::string render(const std::vector<metric_family>& families);

// One histogram in the text format: _bucket{le=...} (cumulative, then +Inf), _sum, _count.
std::string render_histogram(std::string_view name, std::string_view help, const broker::latency_histogram& h);

// Label values: backslash, double quote and newline escaped. HELP text: backslash and newline.
std::string escape_label_value(std::string_view v);
std::string escape_help(std::string_view v);

// Everything /metrics shows: every $SYS number, connections by listener and protocol version,
// build info. `listener_names[i]` names listener i.
std::string broker_metrics(const broker::broker& core, const std::vector<std::string>& listener_names,
                           std::string_view version);

}  // namespace edgemq::admin
