// SAS signatures computed with the openssl CLI: expected values independent of the code under test.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

namespace edgemq::devices {

// base64(HMAC-SHA256(base64decode(key), text)) by the openssl CLI: an implementation
// independent of the one under test.
inline std::string openssl_sig(const std::string& key_b64, const std::string& text) {
  const std::string hexkey_cmd = "printf '%s' '" + key_b64 + "' | base64 -d | od -An -tx1 | tr -d ' \\n'";
  std::string hexkey;
  {
    std::unique_ptr<FILE, int (*)(FILE*)> p(popen(hexkey_cmd.c_str(), "r"), pclose);
    char buf[256];
    while (fgets(buf, sizeof buf, p.get())) hexkey += buf;
  }
  const std::string cmd =
      "printf '%s' '" + text + "' | openssl dgst -sha256 -mac HMAC -macopt hexkey:" + hexkey + " -binary | base64 -w0";
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  char buf[256];
  while (fgets(buf, sizeof buf, p.get())) out += buf;
  return out;
}

}  // namespace edgemq::devices
