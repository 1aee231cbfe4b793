// Certificates for the cluster's TLS tests, made with the openssl command in a temp dir: a CA, a
// server certificate for 127.0.0.1 and localhost signed by it (server and client use: etcd's
// gateway shows it to etcd itself), one for another host, a client certificate signed by it, and
// a second, unrelated CA.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

namespace edgemq::cluster::live {

class test_pki {
 public:
  test_pki() {
    static int n = 0;
    dir_ = std::filesystem::temp_directory_path() /
           ("edgemq-pki-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::create_directories(dir_);
    std::ofstream(file("server.ext")) << "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                         "extendedKeyUsage=serverAuth,clientAuth\n";
    std::ofstream(file("client.ext")) << "extendedKeyUsage=clientAuth\n";
    std::ofstream(file("misnamed.ext")) << "subjectAltName=DNS:elsewhere.invalid\n"
                                           "extendedKeyUsage=serverAuth,clientAuth\n";
    ok_ = make_ca("ca") && make_ca("other-ca") && make_signed("server", "localhost") &&
          make_signed("client", "edgemq-node") && make_signed("misnamed", "elsewhere.invalid");
  }
  ~test_pki() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  bool ok() const { return ok_; }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  std::string ca() const { return file("ca.pem"); }
  std::string other_ca() const { return file("other-ca.pem"); }
  std::string server_cert() const { return file("server.pem"); }
  std::string server_key() const { return file("server.key"); }
  std::string client_cert() const { return file("client.pem"); }
  std::string client_key() const { return file("client.key"); }
  // Signed by the CA, but for another host (elsewhere.invalid) than the tests connect to.
  std::string misnamed_cert() const { return file("misnamed.pem"); }
  std::string misnamed_key() const { return file("misnamed.key"); }

 private:
  bool run(const std::string& cmd) const { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }
  bool make_ca(const std::string& name) const {
    return run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -noenc -days 2 -subj /CN=" + name +
               " -keyout " + file(name + ".key") + " -out " + file(name + ".pem"));
  }
  bool make_signed(const std::string& name, const std::string& cn) const {
    return run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -noenc -subj /CN=" + cn + " -keyout " +
               file(name + ".key") + " -out " + file(name + ".csr")) &&
           run("openssl x509 -req -days 2 -in " + file(name + ".csr") + " -CA " + ca() + " -CAkey " + file("ca.key") +
               " -CAcreateserial -extfile " + file(name + ".ext") + " -out " + file(name + ".pem"));
  }
  std::filesystem::path dir_;
  bool ok_ = false;
};

}  // namespace edgemq::cluster::live
