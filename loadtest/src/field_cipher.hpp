// The demo workload's field encryption: the classic enclave job of encrypting the fields of a
// JSON document with keys that never leave the enclave, via OpenSSL 3 EVP.
//
// Envelope (ECIES-style), the default: per document an ephemeral key pair on the chosen curve
// (P-256, P-384 or X25519), ECDH with the workload's static key pair on that curve (generated at
// start), and HKDF-SHA256(secret = the shared secret, salt = the ephemeral public key as encoded
// on the wire, info = "porthole-demo field key " + cipher name) derives the document's 32-byte
// field key. Every field is then sealed with the chosen AEAD (AES-256-GCM or ChaCha20-Poly1305),
// a random 96-bit nonce per field and the field name as associated data (a ciphertext cannot be
// moved to another field). Curve "none" skips the key agreement and seals with a static AEAD key
// per algorithm. Keys and payloads are never logged.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace porthole::loadtest {

enum class FieldAlgorithm { Aes256Gcm, ChaCha20Poly1305 };
std::optional<FieldAlgorithm> parse_field_algorithm(std::string_view name);  // "aes-256-gcm", "chacha20-poly1305"
const char* to_string(FieldAlgorithm a);

enum class FieldCurve { None, P256, P384, X25519 };
std::optional<FieldCurve> parse_field_curve(std::string_view name);  // "p-256", "p-384", "x25519", "none"
const char* to_string(FieldCurve c);

struct FieldScheme {
  FieldAlgorithm cipher = FieldAlgorithm::Aes256Gcm;
  FieldCurve curve = FieldCurve::P256;
};

class FieldCipher {
 public:
  // Generates the static keys; throws std::runtime_error if OpenSSL cannot.
  FieldCipher();
  ~FieldCipher();
  FieldCipher(const FieldCipher&) = delete;
  FieldCipher& operator=(const FieldCipher&) = delete;

  // One field with the static AEAD key of `a` (curve none): base64(nonce | ciphertext | tag).
  // Thread-safe.
  std::string encrypt(FieldAlgorithm a, std::string_view field_name, std::string_view plaintext) const;
  // The inverse; nullopt if the input is not base64 or does not authenticate.
  std::optional<std::string> decrypt(FieldAlgorithm a, std::string_view field_name, std::string_view sealed) const;

  // {"fields": {...}} (any other members are copied): every string value of "fields" sealed, and
  // "cipher", "curve" and (with a curve) "ephemeral_key" (base64 of the ephemeral public key: an
  // uncompressed point for P-256/P-384, 32 raw bytes for X25519) added. Returns the response
  // body, or nullopt with `error` set for a bad document. Thread-safe.
  std::optional<std::string> encrypt_document(FieldScheme scheme, std::string_view json, std::string& error) const;

  // The inverse of encrypt_document with the static private keys: the plaintext of every field.
  // nullopt with `error` set if it is malformed or does not authenticate.
  std::optional<std::map<std::string, std::string>> open_document(std::string_view json, std::string& error) const;

 private:
  struct Keys;
  std::unique_ptr<Keys> keys_;
};

}  // namespace porthole::loadtest
