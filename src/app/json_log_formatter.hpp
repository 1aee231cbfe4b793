// `--log-format json`: each log record as one JSON object on one line, {"time", "level", "logger",
// "message"}, for log shippers that parse JSON (docs/operations.md, "Logs"). The message is
// escaped as a JSON string (text already made safe with log_safe() stays as it is).
#pragma once

#include <memory>

#include <spdlog/formatter.h>

namespace edgemq::app {

class json_log_formatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

}  // namespace edgemq::app
