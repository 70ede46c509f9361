#include "field_cipher.hpp"

#include <cstring>
#include <stdexcept>
#include <vector>

#include <boost/json.hpp>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

namespace porthole::loadtest {

namespace {

constexpr std::size_t kKey = 32, kNonce = 12, kTag = 16;
constexpr std::size_t kMaxFields = 10000;
constexpr std::size_t kMaxPublicKey = 133;  // an uncompressed P-521 point would be the largest
constexpr FieldCurve kCurves[] = {FieldCurve::P256, FieldCurve::P384, FieldCurve::X25519};

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
  void operator()(EVP_KDF* k) const { EVP_KDF_free(k); }
  void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;
using PKey = std::unique_ptr<EVP_PKEY, CtxDeleter>;
using PKeyCtx = std::unique_ptr<EVP_PKEY_CTX, CtxDeleter>;
using Kdf = std::unique_ptr<EVP_KDF, CtxDeleter>;
using KdfCtx = std::unique_ptr<EVP_KDF_CTX, CtxDeleter>;
using Bytes = std::vector<unsigned char>;

// Key material that is wiped when it goes.
struct SecretKey {
  unsigned char bytes[kKey];
  ~SecretKey() { OPENSSL_cleanse(bytes, sizeof bytes); }
};

std::string base64(const unsigned char* data, std::size_t n) {
  std::string out(4 * ((n + 2) / 3), '\0');
  const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(len));
  return out;
}

std::optional<Bytes> unbase64(std::string_view s) {
  if (s.size() % 4 != 0 || s.empty()) return std::nullopt;
  Bytes out(s.size() / 4 * 3);
  const int len = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  if (len < 0) return std::nullopt;
  std::size_t pad = 0;
  if (s.back() == '=') ++pad;
  if (s.size() > 1 && s[s.size() - 2] == '=') ++pad;
  out.resize(static_cast<std::size_t>(len) - pad);
  return out;
}

const EVP_CIPHER* cipher_of(FieldAlgorithm a) {
  return a == FieldAlgorithm::Aes256Gcm ? EVP_aes_256_gcm() : EVP_chacha20_poly1305();
}

// OpenSSL's key type and group for a curve.
const char* key_type(FieldCurve c) { return c == FieldCurve::X25519 ? "X25519" : "EC"; }
const char* group_name(FieldCurve c) { return c == FieldCurve::P384 ? "P-384" : "P-256"; }

PKey generate(FieldCurve c) {
  EVP_PKEY* k = c == FieldCurve::X25519 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519")
                                        : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", group_name(c));
  if (!k) throw std::runtime_error(std::string("field encryption: OpenSSL could not generate a ") + to_string(c) + " key");
  return PKey(k);
}

Bytes public_bytes(EVP_PKEY* k) {
  unsigned char* raw = nullptr;
  const std::size_t n = EVP_PKEY_get1_encoded_public_key(k, &raw);
  if (n == 0 || !raw) throw std::runtime_error("field encryption: OpenSSL could not encode a public key");
  Bytes out(raw, raw + n);
  OPENSSL_free(raw);
  return out;
}

// A public key on `c` from its encoding; nullptr if it is not a valid key on that curve.
PKey public_key_from(FieldCurve c, const Bytes& encoded) {
  if (encoded.empty() || encoded.size() > kMaxPublicKey) return nullptr;
  PKeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, key_type(c), nullptr));
  Bytes copy = encoded;  // OSSL_PARAM wants a non-const pointer
  std::string group = group_name(c);
  OSSL_PARAM params[3];
  std::size_t n = 0;
  if (c != FieldCurve::X25519) params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group.data(), 0);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, copy.data(), copy.size());
  params[n] = OSSL_PARAM_construct_end();
  EVP_PKEY* k = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 || EVP_PKEY_fromdata(ctx.get(), &k, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    return nullptr;
  }
  return PKey(k);
}

// ECDH; nullopt if OpenSSL refuses the peer key.
std::optional<Bytes> shared_secret(EVP_PKEY* own, EVP_PKEY* peer) {
  PKeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, own, nullptr));
  std::size_t n = 0;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_derive_set_peer(ctx.get(), peer) != 1 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &n) != 1) {
    return std::nullopt;
  }
  Bytes out(n);
  if (EVP_PKEY_derive(ctx.get(), out.data(), &n) != 1) return std::nullopt;
  out.resize(n);
  return out;
}

bool seal(const unsigned char* key, FieldAlgorithm a, std::string_view field_name, std::string_view plaintext,
          std::string& out_base64) {
  std::vector<unsigned char> out(kNonce + plaintext.size() + kTag);
  if (RAND_bytes(out.data(), kNonce) != 1) return false;
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0, fin = 0;
  if (!ctx || EVP_EncryptInit_ex2(ctx.get(), cipher_of(a), key, out.data(), nullptr) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(field_name.data()),
                        static_cast<int>(field_name.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data() + kNonce, &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + kNonce + len, &fin) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, kTag, out.data() + kNonce + plaintext.size()) != 1) {
    return false;
  }
  out_base64 = base64(out.data(), out.size());
  return true;
}

std::optional<std::string> open(const unsigned char* key, FieldAlgorithm a, std::string_view field_name,
                                std::string_view sealed) {
  auto raw = unbase64(sealed);
  if (!raw || raw->size() < kNonce + kTag) return std::nullopt;
  const std::size_t n = raw->size() - kNonce - kTag;
  std::string out(n, '\0');
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0, fin = 0;
  if (!ctx || EVP_DecryptInit_ex2(ctx.get(), cipher_of(a), key, raw->data(), nullptr) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(field_name.data()),
                        static_cast<int>(field_name.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, raw->data() + kNonce,
                        static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, kTag, raw->data() + kNonce + n) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &fin) != 1) {
    return std::nullopt;
  }
  return out;
}

}  // namespace

std::optional<FieldAlgorithm> parse_field_algorithm(std::string_view name) {
  if (name == "aes-256-gcm") return FieldAlgorithm::Aes256Gcm;
  if (name == "chacha20-poly1305") return FieldAlgorithm::ChaCha20Poly1305;
  return std::nullopt;
}

const char* to_string(FieldAlgorithm a) {
  return a == FieldAlgorithm::Aes256Gcm ? "aes-256-gcm" : "chacha20-poly1305";
}

std::optional<FieldCurve> parse_field_curve(std::string_view name) {
  if (name == "p-256") return FieldCurve::P256;
  if (name == "p-384") return FieldCurve::P384;
  if (name == "x25519") return FieldCurve::X25519;
  if (name == "none") return FieldCurve::None;
  return std::nullopt;
}

const char* to_string(FieldCurve c) {
  switch (c) {
    case FieldCurve::None: return "none";
    case FieldCurve::P256: return "p-256";
    case FieldCurve::P384: return "p-384";
    case FieldCurve::X25519: return "x25519";
  }
  return "none";
}

struct FieldCipher::Keys {
  SecretKey aes;
  SecretKey chacha;
  PKey pairs[3];  // the static key pair per curve, in kCurves order
  Kdf hkdf;       // fetched once: fetching per document would take OpenSSL's provider locks
  const unsigned char* of(FieldAlgorithm a) const { return a == FieldAlgorithm::Aes256Gcm ? aes.bytes : chacha.bytes; }
  EVP_PKEY* pair(FieldCurve c) const {
    for (std::size_t i = 0; i < std::size(kCurves); ++i) {
      if (kCurves[i] == c) return pairs[i].get();
    }
    return nullptr;
  }

  // HKDF-SHA256(shared, salt = the ephemeral public key, info = label + cipher name).
  bool field_key(const Bytes& shared, const Bytes& ephemeral_public, FieldAlgorithm a, SecretKey& out) const {
    KdfCtx ctx(EVP_KDF_CTX_new(hkdf.get()));
    std::string digest = "SHA256";
    std::string info = std::string("porthole-demo field key ") + to_string(a);
    Bytes secret = shared, salt = ephemeral_public;  // OSSL_PARAM wants non-const pointers
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest.data(), 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, secret.data(), secret.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt.data(), salt.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
        OSSL_PARAM_construct_end()};
    const bool ok = ctx && EVP_KDF_derive(ctx.get(), out.bytes, kKey, params) == 1;
    OPENSSL_cleanse(secret.data(), secret.size());
    return ok;
  }
};

FieldCipher::FieldCipher() : keys_(std::make_unique<Keys>()) {
  if (RAND_bytes(keys_->aes.bytes, kKey) != 1 || RAND_bytes(keys_->chacha.bytes, kKey) != 1) {
    throw std::runtime_error("field encryption: OpenSSL could not generate a key (RAND_bytes failed)");
  }
  for (std::size_t i = 0; i < std::size(kCurves); ++i) keys_->pairs[i] = generate(kCurves[i]);
  keys_->hkdf.reset(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!keys_->hkdf) throw std::runtime_error("field encryption: OpenSSL has no HKDF");
}

FieldCipher::~FieldCipher() = default;

std::string FieldCipher::encrypt(FieldAlgorithm a, std::string_view field_name, std::string_view plaintext) const {
  std::string out;
  if (!seal(keys_->of(a), a, field_name, plaintext, out)) throw std::runtime_error("field encryption failed in OpenSSL");
  return out;
}

std::optional<std::string> FieldCipher::decrypt(FieldAlgorithm a, std::string_view field_name,
                                                std::string_view sealed) const {
  return open(keys_->of(a), a, field_name, sealed);
}

std::optional<std::string> FieldCipher::encrypt_document(FieldScheme scheme, std::string_view json,
                                                         std::string& error) const {
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(json, ec);
  if (ec) {
    error = "invalid JSON: " + ec.message();
    return std::nullopt;
  }
  if (!doc.is_object() || !doc.as_object().contains("fields") || !doc.as_object()["fields"].is_object()) {
    error = "want a JSON object with a \"fields\" object";
    return std::nullopt;
  }
  auto& fields = doc.as_object()["fields"].as_object();
  if (fields.size() > kMaxFields) {
    error = "at most 10000 fields";
    return std::nullopt;
  }
  for (auto& kv : fields) {
    if (!kv.value().is_string()) {
      error = "fields." + std::string(kv.key()) + ": must be a string";
      return std::nullopt;
    }
  }
  const unsigned char* key = keys_->of(scheme.cipher);
  SecretKey derived;
  if (scheme.curve != FieldCurve::None) {
    const PKey ephemeral = generate(scheme.curve);
    const Bytes ephemeral_public = public_bytes(ephemeral.get());
    const auto shared = shared_secret(ephemeral.get(), keys_->pair(scheme.curve));
    if (!shared || !keys_->field_key(*shared, ephemeral_public, scheme.cipher, derived)) {
      throw std::runtime_error("field encryption: key agreement failed in OpenSSL");
    }
    key = derived.bytes;
    doc.as_object()["ephemeral_key"] = base64(ephemeral_public.data(), ephemeral_public.size());
  }
  for (auto& kv : fields) {
    std::string sealed;
    if (!seal(key, scheme.cipher, kv.key(), kv.value().as_string(), sealed)) {
      throw std::runtime_error("field encryption failed in OpenSSL");
    }
    kv.value() = std::move(sealed);
  }
  doc.as_object()["cipher"] = to_string(scheme.cipher);
  doc.as_object()["curve"] = to_string(scheme.curve);
  return boost::json::serialize(doc);
}

std::optional<std::map<std::string, std::string>> FieldCipher::open_document(std::string_view json,
                                                                            std::string& error) const {
  boost::system::error_code ec;
  const boost::json::value doc = boost::json::parse(json, ec);
  if (ec || !doc.is_object()) {
    error = "not a JSON object";
    return std::nullopt;
  }
  const auto& o = doc.as_object();
  auto text = [&](const char* name) -> std::string {
    const auto* v = o.if_contains(name);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  const auto cipher = parse_field_algorithm(text("cipher"));
  const auto curve = parse_field_curve(text("curve"));
  const auto* fields = o.if_contains("fields");
  if (!cipher || !curve || !fields || !fields->is_object()) {
    error = "want cipher, curve and fields";
    return std::nullopt;
  }
  const unsigned char* key = keys_->of(*cipher);
  SecretKey derived;
  if (*curve != FieldCurve::None) {
    const auto ephemeral_public = unbase64(text("ephemeral_key"));
    const PKey peer = ephemeral_public ? public_key_from(*curve, *ephemeral_public) : nullptr;
    const auto shared = peer ? shared_secret(keys_->pair(*curve), peer.get()) : std::nullopt;
    if (!shared || !keys_->field_key(*shared, *ephemeral_public, *cipher, derived)) {
      error = "ephemeral_key: not a valid public key on " + std::string(to_string(*curve));
      return std::nullopt;
    }
    key = derived.bytes;
  }
  std::map<std::string, std::string> out;
  for (const auto& kv : fields->as_object()) {
    const auto plain = kv.value().is_string() ? open(key, *cipher, kv.key(), kv.value().as_string()) : std::nullopt;
    if (!plain) {
      error = "fields." + std::string(kv.key()) + ": does not authenticate";
      return std::nullopt;
    }
    out[std::string(kv.key())] = *plain;
  }
  return out;
}

}  // namespace porthole::loadtest
