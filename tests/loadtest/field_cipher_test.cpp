#include "field_cipher.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace porthole::loadtest {
namespace {

TEST(FieldCipher, SealsAndOpensWithBothAlgorithms) {
  FieldCipher c;
  for (auto a : {FieldAlgorithm::Aes256Gcm, FieldAlgorithm::ChaCha20Poly1305}) {
    const auto sealed = c.encrypt(a, "f00", "secret value");
    EXPECT_EQ(sealed.find("secret"), std::string::npos);
    EXPECT_EQ(c.decrypt(a, "f00", sealed), "secret value");
    EXPECT_NE(c.encrypt(a, "f00", "secret value"), sealed);  // fresh nonce every time
    EXPECT_FALSE(c.decrypt(a, "f01", sealed));                // bound to the field name
    auto tampered = sealed;
    tampered[20] = tampered[20] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(c.decrypt(a, "f00", tampered));
    EXPECT_EQ(c.decrypt(a, "e", c.encrypt(a, "e", "")), "");
  }
  FieldCipher other;  // a different key
  EXPECT_FALSE(other.decrypt(FieldAlgorithm::Aes256Gcm, "f", c.encrypt(FieldAlgorithm::Aes256Gcm, "f", "x")));
}

TEST(FieldCipher, EncryptsEveryFieldOfADocument) {
  FieldCipher c;
  std::string error;
  const auto out = c.encrypt_document(FieldAlgorithm::ChaCha20Poly1305,
                                      R"({"id": 7, "fields": {"a": "alpha", "b": "beta"}})", error);
  ASSERT_TRUE(out) << error;
  const auto doc = boost::json::parse(*out);
  EXPECT_EQ(doc.at("id").as_int64(), 7);
  EXPECT_EQ(doc.at("cipher").as_string(), "chacha20-poly1305");
  EXPECT_EQ(c.decrypt(FieldAlgorithm::ChaCha20Poly1305, "b", doc.at("fields").at("b").as_string()), "beta");
  EXPECT_EQ(out->find("alpha"), std::string::npos);
}

TEST(FieldCipher, RejectsBadDocumentsWithoutEchoingThem) {
  FieldCipher c;
  std::string error;
  EXPECT_FALSE(c.encrypt_document(FieldAlgorithm::Aes256Gcm, "{not json secret", error));
  EXPECT_NE(error.find("invalid JSON"), std::string::npos);
  EXPECT_EQ(error.find("secret"), std::string::npos);
  EXPECT_FALSE(c.encrypt_document(FieldAlgorithm::Aes256Gcm, R"({"fields": {"a": 1}})", error));
  EXPECT_EQ(error, "fields.a: must be a string");
  EXPECT_FALSE(c.encrypt_document(FieldAlgorithm::Aes256Gcm, R"({"nofields": 1})", error));
  EXPECT_TRUE(parse_field_algorithm("aes-256-gcm"));
  EXPECT_FALSE(parse_field_algorithm("des"));
}

}  // namespace
}  // namespace porthole::loadtest
