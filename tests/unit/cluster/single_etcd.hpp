// A single etcd member for the cluster unit tests, started on fresh loopback ports with a temp
// data dir (Debian's etcd-server; etcd_bin() is null where it is not installed: skip then).
// With tls files, it serves https:// only and asks clients for a certificate signed by the CA.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/etcd_client.hpp"

namespace edgemq::cluster::live {

inline int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

inline const char* etcd_bin() {
  for (const char* p : {"/usr/bin/etcd", "/usr/local/bin/etcd"})
    if (::access(p, X_OK) == 0) return p;
  return nullptr;
}

// A server certificate and key, and the CA its clients' certificates must be signed by.
struct etcd_tls_files {
  std::string cert, key, ca;
};

class single_etcd {
 public:
  explicit single_etcd(etcd_tls_files tls = {}) : client_port_(free_port()), peer_port_(free_port()), tls_(tls) {
    dir_ = std::filesystem::temp_directory_path() /
           ("edgemq-etcd-" + std::to_string(::getpid()) + "-" + std::to_string(client_port_));
  }
  ~single_etcd() {
    kill();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string url() const {
    return (tls_.cert.empty() ? "http://127.0.0.1:" : "https://127.0.0.1:") + std::to_string(client_port_);
  }
  void start() {
    const auto client = url();
    const auto peer = "http://127.0.0.1:" + std::to_string(peer_port_);
    const auto data = dir_.string();
    const auto initial = "default=" + peer;
    pid_ = ::fork();
    if (pid_ == 0) {
      const auto log = dir_.string() + ".log";
      std::freopen(log.c_str(), "a", stdout);
      std::freopen(log.c_str(), "a", stderr);
      std::vector<const char*> args = {"etcd",          "--data-dir",
                                       data.c_str(),    "--listen-client-urls",
                                       client.c_str(),  "--advertise-client-urls",
                                       client.c_str(),  "--listen-peer-urls",
                                       peer.c_str(),    "--initial-advertise-peer-urls",
                                       peer.c_str(),    "--initial-cluster",
                                       initial.c_str(), "--logger",
                                       "zap",           "--log-level",
                                       "error"};
      if (!tls_.cert.empty())
        for (const char* a : {"--cert-file", tls_.cert.c_str(), "--key-file", tls_.key.c_str(), "--trusted-ca-file",
                              tls_.ca.c_str(), "--client-cert-auth"})
          args.push_back(a);
      args.push_back(nullptr);
      ::execv(etcd_bin(), const_cast<char* const*>(args.data()));
      std::_Exit(127);
    }
  }
  void kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

 private:
  int client_port_, peer_port_;
  std::filesystem::path dir_;
  etcd_tls_files tls_;
  pid_t pid_ = -1;
};

// Polls etcd until it answers a range (it has no event to await when it starts).
inline bool wait_up(etcd_client& c, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!c.call_sync("/v3/kv/range", nlohmann::json{{"key", etcd_client::b64("probe")}}).first) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace edgemq::cluster::live
