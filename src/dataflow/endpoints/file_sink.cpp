#include "dataflow/endpoints/file_sink.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataflow/endpoints/record_json.hpp"

namespace edgemq::dataflow {

std::string file_prefix(const std::string& data_destination, const std::string& dataflow) {
  std::string p = data_destination.empty() ? dataflow : data_destination;
  for (auto& c : p)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) c = '_';
  return p.empty() ? "dataflow" : p;
}

namespace {

std::string errno_text(const char* what, const std::string& path, int err) {
  return std::string(what) + " " + path + ": " + std::strerror(err);
}

// The writer's state: touched only on the sink's own thread.
class writer {
 public:
  writer(file_settings s, std::string prefix, wall_clock now)
      : s_(std::move(s)), prefix_(std::move(prefix)), now_(std::move(now)) {}
  ~writer() { close(); }

  // Appends `lines` (complete lines) durably; "" on success, else why (the file is left as before).
  std::string write(const std::string& lines) {
    const auto now = now_();
    if (fd_ >= 0 && (now - opened_at_ >= std::chrono::seconds(s_.rotate_seconds) ||
                     (size_ > 0 && size_ + lines.size() > s_.max_file_bytes)))
      close();
    if (fd_ < 0) {
      if (auto err = open(now); !err.empty()) return err;
    }
    std::size_t done = 0;
    while (done < lines.size()) {
      const auto n = ::write(fd_, lines.data() + done, lines.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return undo(errno_text("write", path_, errno));
      done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd_) != 0) return undo(errno_text("fsync", path_, errno));
    size_ += lines.size();
    return {};
  }

 private:
  std::string open(std::chrono::system_clock::time_point now) {
    std::error_code ec;
    std::filesystem::create_directories(s_.directory, ec);
    if (ec) return "create directory " + s_.directory + ": " + ec.message();
    const auto t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    for (;;) {
      char seq[24];
      std::snprintf(seq, sizeof seq, "%06llu", static_cast<unsigned long long>(++seq_));
      path_ = (std::filesystem::path(s_.directory) / (prefix_ + "-" + stamp + "-" + seq + ".jsonl")).string();
      // O_EXCL: never append to a file of an earlier run (or another sink with the same prefix).
      fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
      if (fd_ >= 0) break;
      if (errno != EEXIST) return errno_text("open", path_, errno);
    }
    // The new name must be durable too, or a crash could lose a file whose records were acknowledged.
    if (const int dfd = ::open(s_.directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
      const int rc = ::fsync(dfd);
      const int err = errno;
      ::close(dfd);
      if (rc != 0) {
        const auto why = errno_text("fsync directory", s_.directory, err);
        close();
        return why;
      }
    }
    opened_at_ = now;
    size_ = 0;
    return {};
  }

  // A failed write or fsync may have left part of the batch in the file: cut it off so the file
  // stays whole JSON Lines, and start a new file next time (the state of this one is uncertain).
  std::string undo(std::string why) {
    if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) why += " (and truncating it back failed)";
    close();
    return why;
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  file_settings s_;
  std::string prefix_;
  wall_clock now_;
  int fd_ = -1;
  std::string path_;
  std::uint64_t size_ = 0;
  std::uint64_t seq_ = 0;
  std::chrono::system_clock::time_point opened_at_;
};

struct shared_state {
  explicit shared_state(writer w) : w(std::move(w)) {}
  writer w;
  bool stopped = false;  // I/O thread only
};

class file_sink final : public sink {
 public:
  file_sink(file_settings s, std::string prefix, boost::asio::io_context& io, std::shared_ptr<spdlog::logger> log,
            wall_clock now)
      : io_(io),
        log_(std::move(log)),
        max_batch_(s.max_messages),
        state_(std::make_shared<shared_state>(writer(std::move(s), std::move(prefix), std::move(now)))) {}
  ~file_sink() override {
    stop();
    pool_.join();  // the write in flight (bounded by the disk) finishes before the writer goes
  }

  void start() override {}
  std::size_t max_batch() const override { return max_batch_; }

  void send(std::span<const record> batch, std::function<void(send_result)> done) override {
    std::string lines;
    for (const auto& r : batch) {
      lines += record_to_json(r).dump();
      lines += '\n';
    }
    boost::asio::post(pool_,
                      [st = state_, lines = std::move(lines), done = std::move(done), &io = io_, log = log_]() mutable {
                        auto err = st->w.write(lines);
                        boost::asio::post(io, [st, err = std::move(err), done = std::move(done), log]() {
                          if (st->stopped) return;
                          send_result r;
                          r.ok = err.empty();
                          r.error = std::move(err);
                          if (!r.ok && log) log->warn("file sink: {}", r.error);
                          done(std::move(r));
                        });
                      });
  }

  void stop() override { state_->stopped = true; }

 private:
  boost::asio::io_context& io_;
  std::shared_ptr<spdlog::logger> log_;
  std::size_t max_batch_;
  std::shared_ptr<shared_state> state_;
  boost::asio::thread_pool pool_{1};
};

}  // namespace

std::unique_ptr<sink> make_file_sink(file_settings settings, std::string prefix, boost::asio::io_context& io,
                                     std::shared_ptr<spdlog::logger> log, wall_clock now) {
  if (!now) now = [] { return std::chrono::system_clock::now(); };
  return std::make_unique<file_sink>(std::move(settings), std::move(prefix), io, std::move(log), std::move(now));
}

}  // namespace edgemq::dataflow
