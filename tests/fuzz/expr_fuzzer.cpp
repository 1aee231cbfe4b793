#include "fuzz_bodies.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  edgemq::fuzz::expr_one_input(data, size);
  return 0;
}
