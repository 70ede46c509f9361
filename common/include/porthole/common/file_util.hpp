// Small file helpers for the binaries.
#pragma once

#include <string>

namespace porthole {

// Writes `content` to `path` atomically (a temporary file in the same directory, then rename),
// so a reader polling for the file never sees it half-written. Throws std::runtime_error.
void write_file_atomically(const std::string& path, const std::string& content);

}  // namespace porthole
