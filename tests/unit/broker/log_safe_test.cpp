// log_safe: client text in a log line cannot start a new line, move the cursor, change colours
// or pass invalid UTF-8 to the log reader, and is bounded in length.
#include "broker/log_safe.hpp"

#include <gtest/gtest.h>

namespace edgemq {
namespace {

std::string safe(std::string_view s, std::size_t max = 256) {
  return fmt::format("{}", log_safe(s, max));
}

TEST(LogSafe, PrintableAsciiAndUtf8StayReadable) {
  EXPECT_EQ(safe("sensor-1/temp +#$"), "sensor-1/temp +#$");
  EXPECT_EQ(safe("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
}

TEST(LogSafe, ForgedLineAndAnsiEscapesAreEscaped) {
  const auto out = safe("x\n[critical] forged\x1b[31m\r\tend");
  EXPECT_EQ(out, "x\\n[critical] forged\\x1B[31m\\r\\tend");
  EXPECT_EQ(out.find('\n'), std::string::npos);
  EXPECT_EQ(out.find('\x1b'), std::string::npos);
}

TEST(LogSafe, ControlsDelBackslashAndNulAreEscaped) {
  EXPECT_EQ(safe(std::string_view("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(safe("\x7F"), "\\x7F");
  EXPECT_EQ(safe("a\\x41"), "a\\\\x41");  // an escaped form in the input cannot pass for one of ours
  EXPECT_EQ(safe("\x01\x1F"), "\\x01\\x1F");
}

TEST(LogSafe, InvalidUtf8AndC1ControlsAreEscapedBytewise) {
  EXPECT_EQ(safe("\xFF\xFE"), "\\xFF\\xFE");
  EXPECT_EQ(safe("\xC3"), "\\xC3");                             // truncated sequence
  EXPECT_EQ(safe("\xC0\xAF"), "\\xC0\\xAF");                    // overlong '/'
  EXPECT_EQ(safe("\xED\xA0\x80"), "\\xED\\xA0\\x80");           // surrogate
  EXPECT_EQ(safe("\xF4\x90\x80\x80"), "\\xF4\\x90\\x80\\x80");  // above U+10FFFF
  EXPECT_EQ(safe("\xC2\x9B"
                 "31m"),
            "\\xC2\\x9B31m");  // C1 CSI, obeyed by some terminals
}

TEST(LogSafe, LongValuesAreCutWithTheirLength) {
  const std::string id(40000, 'a');
  EXPECT_EQ(safe(id, 8), "aaaaaaaa...[40000 bytes]");
  EXPECT_EQ(safe("12345678", 8), "12345678");
  EXPECT_EQ(safe(id).size(), 256 + std::string("...[40000 bytes]").size());
  EXPECT_EQ(safe("ab\xC3\xA9", 3), "ab\\xC3...[4 bytes]");  // a sequence cut in half is escaped
}

TEST(LogSafe, FormatSpecsStillApply) {
  EXPECT_EQ(fmt::format("[{:>6}]", log_safe("a\nb")), "[  a\\nb]");
}

}  // namespace
}  // namespace edgemq
