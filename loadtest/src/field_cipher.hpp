// The demo workload's field encryption: the classic enclave job of encrypting the fields of a
// JSON document with a key that never leaves the enclave. AEAD via OpenSSL 3 EVP (AES-256-GCM
// by default, ChaCha20-Poly1305 on request), one key per algorithm generated at start, a random
// 96-bit nonce per field and the field name as associated data (a ciphertext cannot be moved to
// another field). The key and the payloads are never logged.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace porthole::loadtest {

enum class FieldAlgorithm { Aes256Gcm, ChaCha20Poly1305 };
std::optional<FieldAlgorithm> parse_field_algorithm(std::string_view name);  // "aes-256-gcm", "chacha20-poly1305"
const char* to_string(FieldAlgorithm a);

class FieldCipher {
 public:
  // Generates the keys; throws std::runtime_error if OpenSSL cannot.
  FieldCipher();
  ~FieldCipher();
  FieldCipher(const FieldCipher&) = delete;
  FieldCipher& operator=(const FieldCipher&) = delete;

  // base64(nonce | ciphertext | tag). Thread-safe.
  std::string encrypt(FieldAlgorithm a, std::string_view field_name, std::string_view plaintext) const;
  // The inverse; nullopt if the input is not base64 or does not authenticate.
  std::optional<std::string> decrypt(FieldAlgorithm a, std::string_view field_name, std::string_view sealed) const;

  // {"fields": {...}} (any other members are copied): every string value of "fields" encrypted.
  // Returns the response body, or nullopt with `error` set for a bad document.
  std::optional<std::string> encrypt_document(FieldAlgorithm a, std::string_view json, std::string& error) const;

 private:
  struct Keys;
  std::unique_ptr<Keys> keys_;
};

}  // namespace porthole::loadtest
