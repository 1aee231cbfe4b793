// One daemon per data directory: an exclusive flock(2) on <data dir>/edgemq.lock, taken before
// any database is opened and held for the life of the process (the kernel drops it when the
// process exits, even on kill -9). Without it a second daemon would find the databases locked
// by the first and could mistake that for corruption.
#pragma once

#include <string>
#include <system_error>

namespace edgemq::persistence {

class data_dir_lock {
 public:
  data_dir_lock() = default;
  ~data_dir_lock();
  data_dir_lock(data_dir_lock&& other) noexcept;
  data_dir_lock& operator=(data_dir_lock&& other) noexcept;
  data_dir_lock(const data_dir_lock&) = delete;
  data_dir_lock& operator=(const data_dir_lock&) = delete;

  // Creates the lock file if needed and locks it without waiting. Returns
  // std::errc::resource_unavailable_try_again when another process (or another data_dir_lock)
  // holds it, or the error that prevented opening or locking the file.
  std::error_code lock(const std::string& dir);
  bool held() const noexcept { return fd_ >= 0; }

  static bool in_use(const std::error_code& ec) noexcept {
    return ec == std::errc::resource_unavailable_try_again || ec == std::errc::operation_would_block;
  }

 private:
  int fd_ = -1;
};

}  // namespace edgemq::persistence
