// The pure parts of an etcd gateway watch stream, apart from sockets so they are unit-tested:
// the gateway answers POST /v3/watch with a chunked body of one JSON object per line
// ({"result":{...}} or {"error":{...}}), and a reader must know from each line where to resume.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace edgemq::cluster {

// Splits a byte stream into complete lines (without '\n'); a partial line waits for the rest.
class line_splitter {
 public:
  std::vector<std::string> feed(std::string_view bytes);
  std::size_t pending() const noexcept { return partial_.size(); }

 private:
  std::string partial_;
};

struct watch_message {
  enum class kind : std::uint8_t { created, events, canceled, error, other } type = kind::other;
  std::int64_t header_revision = 0;
  std::int64_t compact_revision = 0;   // canceled because the start revision was compacted
  std::int64_t last_mod_revision = 0;  // the highest mod_revision among `events`
  nlohmann::json events = nlohmann::json::array();
  std::string error;  // error / canceled: etcd's message
};

// One line of the stream; nullopt when it is not JSON.
std::optional<watch_message> parse_watch_line(std::string_view line);

// The revision to reopen a watch from after `m`, given the one planned so far (0: "now").
std::int64_t next_watch_revision(std::int64_t planned, const watch_message& m);

// An int64 of the gateway's JSON: a string, sometimes a number, absent when 0.
std::int64_t json_int(const nlohmann::json& object, const char* field);

}  // namespace edgemq::cluster
