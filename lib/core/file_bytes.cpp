// Whole-file read/write and all-or-nothing appends; see file_bytes.h.
#include "core/file_bytes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/error.h"

namespace cokv {

namespace {

std::string errno_text(int err) { return std::strerror(err); }

const char* file_kind(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO (named pipe)";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

// Writes all of `text` to fd; returns 0 or the errno of the failure.
int write_all(int fd, std::string_view text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t w = ::write(fd, text.data() + done, text.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    done += size_t(w);
  }
  return 0;
}

}  // namespace

void require_regular_file(const std::string& path, const std::string& what) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return;  // missing: the caller's open says so
  if (!S_ISREG(st.st_mode)) fail(path, what, "a regular file", file_kind(st.st_mode));
}

std::string read_file_bytes(const std::string& path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; the fstat below refuses it.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw Error(path + ": cannot open for reading (" + errno_text(errno) + ")");
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw Error(path + ": cannot stat (" + errno_text(err) + ")");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "file", "a regular file", file_kind(st.st_mode));
  }
  std::string out;
  out.reserve(size_t(st.st_size));
  char buf[1 << 16];
  while (true) {
    const ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      const int err = errno;
      ::close(fd);
      throw Error(path + ": read error (" + errno_text(err) + ")");
    }
    if (r == 0) break;
    out.append(buf, size_t(r));
  }
  ::close(fd);
  return out;
}

std::string temp_path_for(const std::string& path) { return path + ".tmp"; }

void commit_temp_file(const std::string& temp, const std::string& path) {
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    throw Error(path + ": cannot rename the temporary file into place (" + errno_text(err) + ")");
  }
}

void write_file_bytes(const std::string& path, const std::string& content) {
  const std::string tmp = temp_path_for(path);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NONBLOCK, 0644);
  if (fd < 0) throw Error(path + ": cannot open " + tmp + " for writing (" + errno_text(errno) + ")");
  int err = write_all(fd, content);
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;  // NFS and quotas report late
  if (err != 0) {
    ::unlink(tmp.c_str());
    throw Error(path + ": cannot write " + std::to_string(content.size()) + " bytes (" + errno_text(err) +
                "); the previous file, if any, is unchanged");
  }
  commit_temp_file(tmp, path);
}

AppendFile::AppendFile(const std::string& path, Mode mode) : path_(path) {
  const int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK | (mode == Mode::Truncate ? O_TRUNC : 0);
  fd_ = ::open(path.c_str(), flags, 0644);
  if (fd_ < 0) throw Error(path + ": cannot open for appending (" + errno_text(errno) + ")");
  struct stat st;
  const bool regular = ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
  if (!regular) {
    ::close(fd_);
    fd_ = -1;
    fail(path, "file", "a regular file to append to", "something else");
  }
}

AppendFile::~AppendFile() {
  if (fd_ >= 0) ::close(fd_);
}

void AppendFile::append(std::string_view text, bool sync) {
  const off_t before = ::lseek(fd_, 0, SEEK_END);
  int err = before < 0 ? errno : write_all(fd_, text);
  if (err == 0 && sync && ::fsync(fd_) != 0) err = errno;
  if (err == 0) return;
  // Cut back what part of the text did reach the file, so it never ends in half a record.
  if (before >= 0 && ::ftruncate(fd_, before) != 0)
    throw Error(path_ + ": cannot append (" + errno_text(err) + "), and cannot cut the partial write back (" +
                errno_text(errno) + ")");
  throw Error(path_ + ": cannot append " + std::to_string(text.size()) + " bytes (" + errno_text(err) +
              "); the file is as it was before");
}

void AppendFile::truncate(uint64_t size) {
  if (::ftruncate(fd_, off_t(size)) != 0) throw Error(path_ + ": cannot truncate (" + errno_text(errno) + ")");
}

}  // namespace cokv
