#include "field_cipher.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace porthole::loadtest {
namespace {

constexpr FieldAlgorithm kCiphers[] = {FieldAlgorithm::Aes256Gcm, FieldAlgorithm::ChaCha20Poly1305};
constexpr FieldCurve kCurves[] = {FieldCurve::P256, FieldCurve::P384, FieldCurve::X25519, FieldCurve::None};

TEST(FieldCipher, SealsAndOpensWithBothAlgorithms) {
  FieldCipher c;
  for (auto a : kCiphers) {
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

TEST(FieldCipher, EnvelopeRoundTripsOnEveryCurveWithTheStaticPrivateKey) {
  FieldCipher c;
  for (auto curve : kCurves) {
    for (auto cipher : kCiphers) {
      SCOPED_TRACE(std::string(to_string(curve)) + " " + to_string(cipher));
      std::string error;
      const auto out = c.encrypt_document({cipher, curve}, R"({"id": 7, "fields": {"a": "alpha", "b": "beta"}})", error);
      ASSERT_TRUE(out) << error;
      EXPECT_EQ(out->find("alpha"), std::string::npos);
      const auto doc = boost::json::parse(*out);
      EXPECT_EQ(doc.at("id").as_int64(), 7);
      EXPECT_EQ(doc.at("cipher").as_string(), to_string(cipher));
      EXPECT_EQ(doc.at("curve").as_string(), to_string(curve));
      if (curve != FieldCurve::None) {
        // Uncompressed points (0x04 | x | y) for the NIST curves, 32 raw bytes for X25519, in base64.
        const std::size_t key_bytes = curve == FieldCurve::P256 ? 65 : curve == FieldCurve::P384 ? 97 : 32;
        EXPECT_EQ(doc.at("ephemeral_key").as_string().size(), 4 * ((key_bytes + 2) / 3));
      } else {
        EXPECT_FALSE(doc.as_object().contains("ephemeral_key"));
      }
      const auto opened = c.open_document(*out, error);
      ASSERT_TRUE(opened) << error;
      EXPECT_EQ(opened->at("a"), "alpha");
      EXPECT_EQ(opened->at("b"), "beta");

      // Another workload (other static keys) cannot open it.
      FieldCipher other;
      EXPECT_FALSE(other.open_document(*out, error));
    }
  }
}

TEST(FieldCipher, EveryDocumentHasItsOwnEphemeralKey) {
  FieldCipher c;
  std::string error;
  const std::string in = R"({"fields": {"a": "alpha"}})";
  const auto one = boost::json::parse(*c.encrypt_document({FieldAlgorithm::Aes256Gcm, FieldCurve::X25519}, in, error));
  const auto two = boost::json::parse(*c.encrypt_document({FieldAlgorithm::Aes256Gcm, FieldCurve::X25519}, in, error));
  EXPECT_NE(one.at("ephemeral_key"), two.at("ephemeral_key"));
  // A field moved between documents does not open with the other document's key.
  auto mixed = two;
  mixed.at("fields").as_object()["a"] = one.at("fields").at("a");
  EXPECT_FALSE(c.open_document(boost::json::serialize(mixed), error));
  EXPECT_EQ(error, "fields.a: does not authenticate");
}

TEST(FieldCipher, RejectsForgedEphemeralKeys) {
  FieldCipher c;
  std::string error;
  auto doc = boost::json::parse(
      *c.encrypt_document({FieldAlgorithm::Aes256Gcm, FieldCurve::P256}, R"({"fields": {"a": "x"}})", error));
  // A point that is not on the curve (0x04 | 64 bytes of 0x01).
  doc.as_object()["ephemeral_key"] = "BAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
  EXPECT_FALSE(c.open_document(boost::json::serialize(doc), error));
  EXPECT_NE(error.find("ephemeral_key"), std::string::npos);
  doc.as_object()["ephemeral_key"] = "not base64!";
  EXPECT_FALSE(c.open_document(boost::json::serialize(doc), error));
}

TEST(FieldCipher, RejectsBadDocumentsWithoutEchoingThem) {
  FieldCipher c;
  std::string error;
  const FieldScheme scheme;
  EXPECT_FALSE(c.encrypt_document(scheme, "{not json secret", error));
  EXPECT_NE(error.find("invalid JSON"), std::string::npos);
  EXPECT_EQ(error.find("secret"), std::string::npos);
  EXPECT_FALSE(c.encrypt_document(scheme, R"({"fields": {"a": 1}})", error));
  EXPECT_EQ(error, "fields.a: must be a string");
  EXPECT_FALSE(c.encrypt_document(scheme, R"({"nofields": 1})", error));
  EXPECT_TRUE(parse_field_algorithm("aes-256-gcm"));
  EXPECT_FALSE(parse_field_algorithm("des"));
  EXPECT_EQ(parse_field_curve("x25519"), FieldCurve::X25519);
  EXPECT_FALSE(parse_field_curve("P256"));
}

}  // namespace
}  // namespace porthole::loadtest
