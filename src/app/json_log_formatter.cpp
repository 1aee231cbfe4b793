#include "app/json_log_formatter.hpp"

#include <chrono>
#include <ctime>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/details/log_msg.h>

namespace edgemq::app {

void json_log_formatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  using namespace std::chrono;
  // UTC with milliseconds, RFC 3339: sortable and unambiguous across hosts and time zones.
  const auto t = msg.time;
  const auto secs = system_clock::to_time_t(t);
  const auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  const auto n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  const auto level = spdlog::level::to_string_view(msg.level);
  const nlohmann::json line = {
      {"time", fmt::format("{}.{:03}Z", std::string_view(stamp, n), ms)},
      {"level", std::string_view(level.data(), level.size())},
      {"logger", std::string_view(msg.logger_name.data(), msg.logger_name.size())},
      {"message", std::string_view(msg.payload.data(), msg.payload.size())},
  };
  // A message that is not valid UTF-8 (a file name, say) must still give valid JSON: replace.
  const auto text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  dest.append(text.data(), text.data() + text.size());
  dest.push_back('\n');
}

std::unique_ptr<spdlog::formatter> json_log_formatter::clone() const {
  return std::make_unique<json_log_formatter>();
}

}  // namespace edgemq::app
