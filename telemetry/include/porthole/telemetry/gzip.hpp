// gzip (RFC 1952) compression of request bodies with zlib, for `Content-Encoding: gzip`.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace porthole::telemetry {

// The gzip member holding `data`; nullopt only if zlib fails (out of memory).
std::optional<std::string> gzip_compress(std::string_view data);

// The inverse, for tests and diagnostics; nullopt on corrupt input or if the output would
// exceed `max_output` bytes (a decompression bomb must not exhaust memory).
std::optional<std::string> gzip_decompress(std::string_view data, std::size_t max_output);

}  // namespace porthole::telemetry
