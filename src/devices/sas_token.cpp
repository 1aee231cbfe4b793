// SharedAccessSignature tokens as IoT Hub issues and checks them (hub.hpp).
#include <charconv>
#include <cstring>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "devices/dialect.hpp"
#include "devices/hub.hpp"
#include "text/text.hpp"

namespace edgemq::devices {
std::optional<sas_token> parse_sas_token(std::string_view text) {
  constexpr std::string_view prefix = "SharedAccessSignature ";
  if (text.substr(0, prefix.size()) != prefix) return std::nullopt;
  text.remove_prefix(prefix.size());
  sas_token t;
  while (!text.empty()) {
    const auto amp = text.find('&');
    const auto field = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view{} : text.substr(amp + 1);
    const auto eq = field.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    const auto name = field.substr(0, eq);
    const auto val = field.substr(eq + 1);
    if (name == "sr") {
      t.sr = std::string(val);  // signed as sent
    } else if (name == "sig") {
      auto d = url_decode(val);
      if (!d) return std::nullopt;
      t.sig = std::move(*d);
    } else if (name == "se") {
      t.se = std::string(val);
    } else if (name == "skn") {
      t.skn = std::string(val);
    }
  }
  if (t.sr.empty() || t.sig.empty() || t.se.empty()) return std::nullopt;
  return t;
}

bool verify_sas(const sas_token& t, const std::string& key_b64, std::uint64_t now_s) {
  std::uint64_t expiry = 0;
  const auto [end, ec] = std::from_chars(t.se.data(), t.se.data() + t.se.size(), expiry);
  if (ec != std::errc{} || end != t.se.data() + t.se.size() || expiry <= now_s) return false;
  const auto key = text::base64_decode(key_b64);
  const auto sig = text::base64_decode(t.sig);
  if (!key || !sig || key->empty()) return false;
  const std::string to_sign = t.sr + "\n" + t.se;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (!HMAC(EVP_sha256(), key->data(), static_cast<int>(key->size()),
            reinterpret_cast<const unsigned char*>(to_sign.data()), to_sign.size(), mac, &mac_len))
    return false;
  return sig->size() == mac_len && CRYPTO_memcmp(sig->data(), mac, mac_len) == 0;
}

}  // namespace edgemq::devices
