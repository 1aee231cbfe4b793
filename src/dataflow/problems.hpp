// Validation problems of a definition, each with the JSON pointer of the value at fault
// ("/spec/operations/1/builtInTransformationSettings/map/0/expression"), as config errors are
// reported (config/config.hpp). A definition with any problem is refused whole.
#pragma once

#include <string>
#include <vector>

namespace edgemq::dataflow {

struct problem {
  std::string path;     // JSON pointer into the resource document
  std::string message;  // what is wrong with it
};
using problems = std::vector<problem>;

inline std::string join_pointer(const std::string& base, const std::string& token) {
  return base + "/" + token;
}
inline std::string join_pointer(const std::string& base, std::size_t index) {
  return base + "/" + std::to_string(index);
}

}  // namespace edgemq::dataflow
