// Test support: a real Debian mosquitto started by the test (`mosquitto -c conf` on a free port,
// optionally with TLS), its certificates made with the openssl CLI, mosquitto_sub/mosquitto_pub
// as the third-party clients, and a loop that runs an io_context until a condition holds.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace edgemq::dataflow::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

inline bool port_open(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// Polls `pred` (every 10 ms) until it holds or `limit` passes.
inline bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// Runs `io` until `pred` holds or `limit` passes.
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& pred,
                      std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.restart();
    io.run_one_for(20ms);
  }
  return true;
}

inline void run(const std::string& cmd) {
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
}

inline std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A temporary directory, removed with its contents.
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string tmpl = (fs::temp_directory_path() / "edgemq-mqttep-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
    fs::permissions(path, fs::perms(0755));  // mosquitto started as root reads as user `mosquitto`
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// Lets mosquitto (which drops root for user `mosquitto`) read the test's files, keys included.
inline void readable_by_all(const fs::path& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir))
    fs::permissions(e.path(), e.is_directory() ? fs::perms(0755) : fs::perms(0644));
}

// A CA, a server certificate for 127.0.0.1/localhost and a client certificate, as tests/integration's
// tls_pki makes them (EC P-256, openssl CLI).
inline void make_pki(const fs::path& dir) {
  const auto d = dir.string();
  const std::string quiet = " >/dev/null 2>&1";
  run("cd " + d +
      " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt "
      "-days 2 -subj /CN=test-ca" +
      quiet);
  std::ofstream(dir / "san.ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
  for (const std::string name : {"server", "client"}) {
    run("cd " + d + " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + name +
        ".key -out " + name + ".csr -subj /CN=" + name + quiet);
    run("cd " + d + " && openssl x509 -req -in " + name + ".csr -CA ca.crt -CAkey ca.key -CAcreateserial -out " + name +
        ".crt -days 2" + (name == "server" ? " -extfile san.ext" : "") + quiet);
  }
  // An unrelated CA, for the verification failure.
  run("cd " + d +
      " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout other.key -out "
      "other.crt -days 2 -subj /CN=other-ca" +
      quiet);
}

class mosquitto_process {
 public:
  // `extra`: more configuration lines for the listener (TLS files, password file, ...).
  explicit mosquitto_process(fs::path dir, std::uint16_t port = 0, std::string extra = "allow_anonymous true\n")
      : dir_(std::move(dir)), port_(port ? port : free_port()), extra_(std::move(extra)) {}
  ~mosquitto_process() { kill(SIGKILL); }

  std::uint16_t port() const { return port_; }

  void start() {
    readable_by_all(dir_);
    const auto conf = dir_ / ("mosquitto-" + std::to_string(port_) + ".conf");
    std::ofstream(conf) << "per_listener_settings false\npersistence false\nlog_type all\n"
                        << "listener " << port_ << " 127.0.0.1\n"
                        << extra_;
    const auto log = dir_ / ("mosquitto-" + std::to_string(port_) + ".log");
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execlp("mosquitto", "mosquitto", "-c", conf.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    if (!wait_for([&] { return port_open(port_); }))
      throw std::runtime_error("mosquitto did not listen on " + std::to_string(port_) + ": " + slurp(log));
  }

  void kill(int sig = SIGTERM) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  std::string log() const { return slurp(dir_ / ("mosquitto-" + std::to_string(port_) + ".log")); }

 private:
  fs::path dir_;
  std::uint16_t port_;
  std::string extra_;
  pid_t pid_ = -1;
};

// A background command (mosquitto_sub) whose output goes to a file.
class background {
 public:
  background(const std::string& cmd, fs::path out) : out_(std::move(out)) {
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(fd, 1);
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~background() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  std::string output() const { return slurp(out_); }
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    std::istringstream in(output());
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }

 private:
  fs::path out_;
  pid_t pid_ = -1;
};

}  // namespace edgemq::dataflow::testing

namespace edgemq::dataflow::testing {

// The edgemq daemon as a remote broker with a TCP and a ws:// listener (for the WebSocket test).
class edgemq_process {
 public:
  explicit edgemq_process(fs::path dir) : dir_(std::move(dir)) {}
  ~edgemq_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  void start(const std::string& bin) {
    if (::access(bin.c_str(), X_OK) != 0)
      throw std::runtime_error(bin + " is not built (cmake --build build --target edgemq)");
    const auto out = dir_ / "edgemq.out";
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      const auto data = (dir_ / "edgemq-data").string();
      ::execl(bin.c_str(), bin.c_str(), "--listen", "127.0.0.1:0", "--listen", "ws://127.0.0.1:0/mqtt", "--data-dir",
              data.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // "ready: MQTT on 127.0.0.1:P1, ws://127.0.0.1:P2/mqtt (data dir ...)"
    if (!wait_for([&] { return slurp(out).find("ready: MQTT on ") != std::string::npos; }))
      throw std::runtime_error("edgemq did not start: " + slurp(out));
    const auto text = slurp(out);
    const auto at = text.find("ready: MQTT on 127.0.0.1:") + std::string("ready: MQTT on 127.0.0.1:").size();
    tcp_port_ = static_cast<std::uint16_t>(std::stoul(text.substr(at)));
    const auto ws = text.find("ws://127.0.0.1:", at) + std::string("ws://127.0.0.1:").size();
    ws_port_ = static_cast<std::uint16_t>(std::stoul(text.substr(ws)));
  }
  std::string output() const { return slurp(dir_ / "edgemq.out"); }
  std::uint16_t tcp_port() const { return tcp_port_; }
  std::uint16_t ws_port() const { return ws_port_; }

 private:
  fs::path dir_;
  pid_t pid_ = -1;
  std::uint16_t tcp_port_ = 0, ws_port_ = 0;
};

}  // namespace edgemq::dataflow::testing
