// The RESP3 subset of the state store protocol: requests are arrays of bulk strings
// (binary-safe); replies are +OK, :n, $n, $-1 and -ERR. Strict and bounded: no allocation
// beyond the views it returns, no nesting, a cap on the element count.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edgemq::statestore::resp3 {

constexpr std::size_t max_request_elements = 16;

// Splits a request into its bulk strings (views into `payload`). nullopt if the payload is not
// exactly one array of 1..max_request_elements bulk strings.
std::optional<std::vector<std::string_view>> parse_request(std::string_view payload);

// Builds a request (as SDK clients and edgemq-cli send it).
std::string request(const std::vector<std::string_view>& parts);

std::string ok();                          // +OK\r\n
std::string integer(std::int64_t n);       // :n\r\n
std::string bulk(std::string_view value);  // $len\r\nvalue\r\n
std::string null_bulk();                   // $-1\r\n
std::string error(std::string_view text);  // -ERR text\r\n

// A parsed reply, for clients.
struct reply {
  enum class kind : std::uint8_t { simple, integer, bulk, null, error, array } type = kind::null;
  std::string text;                // simple / bulk / error (without "ERR ")
  std::int64_t number = 0;         // integer
  std::vector<std::string> items;  // array of bulk strings (notifications)
};
std::optional<reply> parse_reply(std::string_view payload);

}  // namespace edgemq::statestore::resp3
