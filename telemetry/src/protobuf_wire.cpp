#include "protobuf_wire.hpp"

namespace porthole::telemetry::wire {

bool Reader::varint(std::uint64_t& out) {
  out = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos_ >= data_.size()) return false;
    const auto byte = static_cast<std::uint8_t>(data_[pos_++]);
    out |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;  // more than 10 bytes
}

bool Reader::fixed(std::size_t n, std::uint64_t& out) {
  if (data_.size() - pos_ < n) return false;
  out = 0;
  for (std::size_t i = 0; i < n; ++i) {
    out |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(data_[pos_ + i])) << (8 * i);
  }
  pos_ += n;
  return true;
}

bool Reader::value(std::uint32_t type, Field& field, std::string& error, std::size_t max_group_depth) {
  switch (type) {
    case kVarint:
      if (!varint(field.number_value)) {
        error = "truncated or overlong varint";
        return false;
      }
      return true;
    case kFixed64:
      if (!fixed(8, field.number_value)) {
        error = "truncated fixed64";
        return false;
      }
      return true;
    case kFixed32:
      if (!fixed(4, field.number_value)) {
        error = "truncated fixed32";
        return false;
      }
      return true;
    case kLen: {
      std::uint64_t length = 0;
      if (!varint(length)) {
        error = "truncated length";
        return false;
      }
      if (length > data_.size() - pos_) {
        error = "length " + std::to_string(length) + " exceeds the " +
                std::to_string(data_.size() - pos_) + " bytes left";
        return false;
      }
      field.bytes = data_.substr(pos_, length);
      pos_ += length;
      return true;
    }
    case kStartGroup:
      return skip_group(field.number, max_group_depth, error);
    case kEndGroup:
      error = "end-group without start-group";
      return false;
    default:
      error = "invalid wire type " + std::to_string(type);
      return false;
  }
}

bool Reader::skip_group(std::uint32_t number, std::size_t depth_left, std::string& error) {
  if (depth_left == 0) {
    error = "groups nested too deeply";
    return false;
  }
  for (;;) {
    std::uint64_t tag = 0;
    if (!varint(tag)) {
      error = "unterminated group";
      return false;
    }
    const auto type = static_cast<std::uint32_t>(tag & 7);
    const auto inner = tag >> 3;
    if (inner == 0 || inner > 0x1fffffff) {
      error = "invalid field number in group";
      return false;
    }
    if (type == kEndGroup) {
      if (inner != number) {
        error = "mismatched end-group";
        return false;
      }
      return true;
    }
    Field ignored;
    ignored.number = static_cast<std::uint32_t>(inner);
    if (!value(type, ignored, error, depth_left - 1)) return false;
  }
}

bool Reader::invalid_field_number(std::uint64_t number, std::string& error) {
  error = "invalid field number " + std::to_string(number);
  return false;
}

}  // namespace porthole::telemetry::wire
