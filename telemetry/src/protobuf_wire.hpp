// The protobuf wire format (varints, tags, length-delimited fields) as far as OTLP needs it:
// a bounds-checked field reader that skips what it does not know, and append-only writers.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace porthole::telemetry::wire {

enum WireType : std::uint32_t { kVarint = 0, kFixed64 = 1, kLen = 2, kStartGroup = 3, kEndGroup = 4, kFixed32 = 5 };

// One field as read from the wire; which member is meaningful depends on `type`.
struct Field {
  std::uint32_t number = 0;
  std::uint32_t type = 0;
  std::uint64_t number_value = 0;  // varint, fixed64, fixed32
  std::string_view bytes;          // length-delimited
};

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool at_end() const { return pos_ >= data_.size(); }

  // Reads the next field. Groups (deprecated, unused by OTLP) are skipped whole, up to
  // `max_group_depth` deep. Returns false with `error` set on malformed input.
  // Inline for the common shapes (one-byte tags and lengths, every OTLP field): the decoder calls
  // this once per field, millions of times a second.
  bool next(Field& field, std::string& error, std::size_t max_group_depth = 16) {
    std::uint64_t tag;
    if (pos_ < data_.size() && static_cast<std::uint8_t>(data_[pos_]) < 0x80) {
      tag = static_cast<std::uint8_t>(data_[pos_++]);
    } else if (!varint(tag)) {
      error = "truncated field tag";
      return false;
    }
    const auto number = tag >> 3;
    if (number == 0 || number > 0x1fffffff) return invalid_field_number(number, error);
    field.number = static_cast<std::uint32_t>(number);
    field.type = static_cast<std::uint32_t>(tag & 7);
    field.number_value = 0;
    field.bytes = {};
    if (field.type == kLen && pos_ < data_.size() && static_cast<std::uint8_t>(data_[pos_]) < 0x80) {
      const std::size_t length = static_cast<std::uint8_t>(data_[pos_]);
      if (length < data_.size() - pos_) {
        field.bytes = data_.substr(pos_ + 1, length);
        pos_ += 1 + length;
        return true;
      }
    }
    return value(field.type, field, error, max_group_depth);
  }

 private:
  bool varint(std::uint64_t& out);
  bool fixed(std::size_t n, std::uint64_t& out);
  bool skip_group(std::uint32_t number, std::size_t depth_left, std::string& error);
  bool value(std::uint32_t type, Field& field, std::string& error, std::size_t max_group_depth);
  static bool invalid_field_number(std::uint64_t number, std::string& error);

  std::string_view data_;
  std::size_t pos_ = 0;
};

inline void put_varint(std::string& out, std::uint64_t v) {
  if (v < 0x80) {  // tags and most lengths
    out.push_back(static_cast<char>(v));
    return;
  }
  char bytes[10];
  std::size_t n = 0;
  while (v >= 0x80) {
    bytes[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  bytes[n++] = static_cast<char>(v);
  out.append(bytes, n);
}
inline void put_tag(std::string& out, std::uint32_t number, WireType type) {
  put_varint(out, (static_cast<std::uint64_t>(number) << 3) | type);
}
inline void put_fixed64(std::string& out, std::uint32_t number, std::uint64_t v) {
  put_tag(out, number, kFixed64);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline void put_fixed32(std::string& out, std::uint32_t number, std::uint32_t v) {
  put_tag(out, number, kFixed32);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline void put_bytes(std::string& out, std::uint32_t number, std::string_view v) {
  put_tag(out, number, kLen);
  put_varint(out, v.size());
  out.append(v);
}
// int32/enum values are sign-extended to 64 bits, as protobuf does.
inline void put_int(std::string& out, std::uint32_t number, std::int64_t v) {
  put_tag(out, number, kVarint);
  put_varint(out, static_cast<std::uint64_t>(v));
}

// proto3 leaves out default values (outside oneofs).
inline void put_bytes_if(std::string& out, std::uint32_t number, std::string_view v) {
  if (!v.empty()) put_bytes(out, number, v);
}
inline void put_int_if(std::string& out, std::uint32_t number, std::int64_t v) {
  if (v != 0) put_int(out, number, v);
}
inline void put_fixed64_if(std::string& out, std::uint32_t number, std::uint64_t v) {
  if (v != 0) put_fixed64(out, number, v);
}
inline void put_fixed32_if(std::string& out, std::uint32_t number, std::uint32_t v) {
  if (v != 0) put_fixed32(out, number, v);
}

// Writes a length-delimited sub-message whose body `write(out)` appends. The body is written in
// place after one byte reserved for its length, which is all most sub-messages (attributes,
// values) need; a longer body gets the extra length bytes inserted before it, so only large
// sub-messages move.
template <class Write>
void put_message(std::string& out, std::uint32_t number, Write&& write) {
  put_tag(out, number, kLen);
  const std::size_t at = out.size();
  out.push_back('\0');
  write(out);
  const std::size_t length = out.size() - at - 1;
  if (length < 0x80) {
    out[at] = static_cast<char>(length);
    return;
  }
  char prefix[10];
  std::size_t n = 0;
  std::uint64_t v = length;
  while (v >= 0x80) {
    prefix[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  prefix[n++] = static_cast<char>(v);
  out.replace(at, 1, prefix, n);
}

}  // namespace porthole::telemetry::wire
