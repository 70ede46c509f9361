#include "field_cipher.hpp"

#include <cstring>
#include <stdexcept>
#include <vector>

#include <boost/json.hpp>
#include <openssl/evp.h>
#include <openssl/rand.h>

namespace porthole::loadtest {

namespace {

constexpr std::size_t kKey = 32, kNonce = 12, kTag = 16;
constexpr std::size_t kMaxFields = 10000;

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

std::string base64(const unsigned char* data, std::size_t n) {
  std::string out(4 * ((n + 2) / 3), '\0');
  const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(len));
  return out;
}

std::optional<std::vector<unsigned char>> unbase64(std::string_view s) {
  if (s.size() % 4 != 0 || s.empty()) return std::nullopt;
  std::vector<unsigned char> out(s.size() / 4 * 3);
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

}  // namespace

std::optional<FieldAlgorithm> parse_field_algorithm(std::string_view name) {
  if (name == "aes-256-gcm") return FieldAlgorithm::Aes256Gcm;
  if (name == "chacha20-poly1305") return FieldAlgorithm::ChaCha20Poly1305;
  return std::nullopt;
}

const char* to_string(FieldAlgorithm a) {
  return a == FieldAlgorithm::Aes256Gcm ? "aes-256-gcm" : "chacha20-poly1305";
}

struct FieldCipher::Keys {
  unsigned char aes[kKey];
  unsigned char chacha[kKey];
  ~Keys() {
    OPENSSL_cleanse(aes, sizeof aes);
    OPENSSL_cleanse(chacha, sizeof chacha);
  }
  const unsigned char* of(FieldAlgorithm a) const { return a == FieldAlgorithm::Aes256Gcm ? aes : chacha; }
};

FieldCipher::FieldCipher() : keys_(std::make_unique<Keys>()) {
  if (RAND_bytes(keys_->aes, kKey) != 1 || RAND_bytes(keys_->chacha, kKey) != 1) {
    throw std::runtime_error("field encryption: OpenSSL could not generate a key (RAND_bytes failed)");
  }
}

FieldCipher::~FieldCipher() = default;

std::string FieldCipher::encrypt(FieldAlgorithm a, std::string_view field_name, std::string_view plaintext) const {
  std::vector<unsigned char> out(kNonce + plaintext.size() + kTag);
  if (RAND_bytes(out.data(), kNonce) != 1) throw std::runtime_error("RAND_bytes failed");
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0, fin = 0;
  if (!ctx || EVP_EncryptInit_ex2(ctx.get(), cipher_of(a), keys_->of(a), out.data(), nullptr) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(field_name.data()),
                        static_cast<int>(field_name.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data() + kNonce, &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + kNonce + len, &fin) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, kTag, out.data() + kNonce + plaintext.size()) != 1) {
    throw std::runtime_error("field encryption failed in OpenSSL");
  }
  return base64(out.data(), out.size());
}

std::optional<std::string> FieldCipher::decrypt(FieldAlgorithm a, std::string_view field_name,
                                                std::string_view sealed) const {
  auto raw = unbase64(sealed);
  if (!raw || raw->size() < kNonce + kTag) return std::nullopt;
  const std::size_t n = raw->size() - kNonce - kTag;
  std::string out(n, '\0');
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0, fin = 0;
  if (!ctx || EVP_DecryptInit_ex2(ctx.get(), cipher_of(a), keys_->of(a), raw->data(), nullptr) != 1 ||
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

std::optional<std::string> FieldCipher::encrypt_document(FieldAlgorithm a, std::string_view json,
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
    kv.value() = encrypt(a, kv.key(), kv.value().as_string());
  }
  doc.as_object()["cipher"] = to_string(a);
  return boost::json::serialize(doc);
}

}  // namespace porthole::loadtest
