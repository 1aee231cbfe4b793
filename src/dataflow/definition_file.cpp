#include "dataflow/definition_file.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

namespace edgemq::dataflow {
namespace {

using json = nlohmann::json;

bool write_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    const auto n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

bool fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

bool read_definition_file(const std::string& path, stored_definitions& out, std::string& error) {
  out = {};
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return true;
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  if (in) ss << in.rdbuf();
  if (!in) {
    error = "cannot read '" + path + "'";
    return false;
  }
  try {
    const auto j = json::parse(ss.str());
    for (const auto& d : j.at("endpoints")) out.endpoints.push_back(d);
    for (const auto& d : j.at("dataflows")) out.dataflows.push_back(d);
  } catch (const json::exception& e) {
    error = "'" + path + "' is not a definitions file: " + e.what();
    return false;
  }
  return true;
}

bool write_definition_file(const std::string& path, const stored_definitions& defs, std::string& error) {
  const json j = {{"endpoints", defs.endpoints}, {"dataflows", defs.dataflows}};
  const auto text = j.dump(2) + "\n";
  const auto tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = "cannot write '" + tmp + "': " + std::strerror(errno);
    return false;
  }
  bool ok = write_all(fd, text) && ::fsync(fd) == 0;
  const int saved = errno;
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot write '" + path + "': " + std::strerror(ok ? errno : saved);
    ::unlink(tmp.c_str());
    return false;
  }
  // The rename is durable only once the directory is.
  if (!fsync_dir(std::filesystem::path(path).parent_path().string())) {
    error = "cannot sync the directory of '" + path + "': " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace edgemq::dataflow
