// The state store protocol over a cli::session: RESP3 requests on the request topic with
// Response Topic + Correlation Data + __ts (and __ft), replies matched by correlation data,
// KEYNOTIFY notifications parsed into key_notification values.
#pragma once

#include <deque>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "cli/session.hpp"
#include "edgemq/statestore/hlc.hpp"
#include "edgemq/statestore/resp3.hpp"

namespace edgemq::cli {

struct store_reply {
  statestore::resp3::reply value;
  std::optional<std::string> version;  // __ts of the reply
};

struct key_notification {
  enum class kind { set, del } op = kind::set;
  std::string key;
  std::string value;    // SET only
  std::string version;  // __ts
};

class store_client {
 public:
  // `s` must be connected; subscribes to this client's response topic.
  store_client(session& s, deadline d);

  // Sends one request and waits for its reply. Throws cli_error (exit_failure) on timeout or
  // on a reply that is not a 200 with a parseable RESP3 payload.
  store_reply invoke(const std::vector<std::string_view>& parts, const std::optional<std::string>& fencing_token,
                     deadline d);

  // Subscribes to the key's notification topic and sends KEYNOTIFY; throws cli_error unless
  // the store answers +OK (exit_service_error for -ERR).
  void watch(std::string_view key, deadline d);

  // The next notification (for any watched key), or nullopt at the deadline.
  std::optional<key_notification> next_notification(deadline d);

  const std::string& response_topic() const noexcept { return response_topic_; }

 private:
  std::optional<key_notification> as_notification(const mqtt::publish& m) const;

  session& s_;
  std::string response_topic_;
  std::string notify_prefix_;
  statestore::hlc_clock clock_;
  std::mt19937_64 rng_;
  std::deque<key_notification> pending_;  // arrived while waiting for a reply
};

// `bytes` random bytes as lower-case hex (for the default client id).
std::string random_hex(std::size_t bytes);

}  // namespace edgemq::cli
