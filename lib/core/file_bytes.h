// Whole-file read and write for small files (tables, exports, .npy): errors name the path.
#pragma once
#include <string>

namespace cokv {

// The file's bytes; throws cokv::Error "<path>: cannot open ..." when unreadable.
std::string read_file_bytes(const std::string& path);
// Writes `content` to `path` via "<path>.tmp" + rename, so a reader never sees half a file.
void write_file_bytes(const std::string& path, const std::string& content);

}  // namespace cokv
