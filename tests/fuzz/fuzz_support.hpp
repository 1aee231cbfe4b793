// Helpers shared by the fuzz bodies: a checked invariant and a reader that turns the fuzzer's
// bytes into structured values (clang's FuzzedDataProvider is not available with g++, which
// builds the generated-input replay).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace edgemq::fuzz {

// A broken invariant aborts, so libFuzzer records the input as a crash and GoogleTest fails.
inline void check(bool ok) {
  if (!ok) std::abort();
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Consumes bytes from the front; returns zeros once they run out.
class byte_source {
 public:
  byte_source(const std::uint8_t* data, std::size_t size) : data_(data), left_(size) {}

  std::uint64_t uint(int bytes) {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | byte();
    return v;
  }
  std::uint8_t byte() {
    if (left_ == 0) return 0;
    --left_;
    return *data_++;
  }
  bool flag() { return byte() & 1; }
  // Up to `max` characters drawn from `alphabet` (a length byte, then one byte per character).
  std::string text(std::string_view alphabet, std::size_t max) {
    std::string s(byte() % (max + 1), '\0');
    for (auto& c : s) c = alphabet[byte() % alphabet.size()];
    return s;
  }
  // Up to `max` arbitrary bytes.
  std::string bytes(std::size_t max) {
    std::string s(byte() % (max + 1), '\0');
    for (auto& c : s) c = static_cast<char>(byte());
    return s;
  }

 private:
  const std::uint8_t* data_;
  std::size_t left_;
};

}  // namespace edgemq::fuzz
