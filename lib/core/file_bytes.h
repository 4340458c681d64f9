// Whole-file read and write for small files (tables, exports, .npy, reports), and an
// append-only file for journals and prediction logs. Errors name the path and carry errno's
// text ("No space left on device", "File too large"), so a user can act on them.
//
// Writers never leave half a file behind: write_file_bytes writes "<path>.tmp", syncs it and
// renames it over <path> (the previous file stays intact until the rename, and the temporary
// is removed when anything fails); AppendFile::append either appends all of its text or cuts
// the file back to where it was.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace cokv {

// The file's bytes; throws cokv::Error "<path>: cannot open ..." when unreadable, and refuses
// anything but a regular file (a FIFO or a device would block or never end).
std::string read_file_bytes(const std::string& path);
// Throws "<path>: <what>: expected a regular file, got a FIFO" (directory, device, ...) for
// an existing path that is not a regular file; does nothing for a regular or missing one.
// Never opens the path, so it cannot block.
void require_regular_file(const std::string& path, const std::string& what);
// Writes `content` to `path` via "<path>.tmp" + fsync + rename (see above).
void write_file_bytes(const std::string& path, const std::string& content);
// The temporary name write_file_bytes (and the plots' renderer) uses for `path`.
std::string temp_path_for(const std::string& path);
// Renames a finished temporary over `path`; on failure removes the temporary and throws
// naming `path` and errno.
void commit_temp_file(const std::string& temp, const std::string& path);

// An append-only file (O_APPEND). Appends are all or nothing: a failed write truncates the
// file back to its size before the call and throws naming the file and errno.
class AppendFile {
 public:
  enum class Mode { Truncate, Keep };  // start empty, or append to what is there (created if missing)
  AppendFile(const std::string& path, Mode mode);
  ~AppendFile();
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  // sync: fsync before returning (journals: the lines survive a crash of the machine).
  void append(std::string_view text, bool sync);
  // Cuts the file to `size` bytes (drops a last line a crash left unfinished).
  void truncate(uint64_t size);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace cokv
