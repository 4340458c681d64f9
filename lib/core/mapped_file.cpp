#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/error.h"

namespace cokv {

MappedFile MappedFile::open(const std::string& path) {
  MappedFile f;
  f.path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, "file", "a readable file", std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "file", "a regular file");
  }
  f.size_ = static_cast<size_t>(st.st_size);
  if (f.size_ > 0) {
    void* m = mmap(nullptr, f.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    const int err = errno;
    ::close(fd);  // the mapping keeps the file alive
    if (m == MAP_FAILED) fail(path, "file", "a file that can be memory-mapped", std::strerror(err));
    f.map_ = m;
    f.base_ = static_cast<const uint8_t*>(m);
  } else {
    ::close(fd);
  }
  return f;
}

MappedFile MappedFile::from_buffer(std::vector<uint8_t> bytes, const std::string& name) {
  MappedFile f;
  f.path_ = name;
  f.buffer_ = std::move(bytes);
  f.base_ = f.buffer_.data();
  f.size_ = f.buffer_.size();
  return f;
}

MappedFile::MappedFile(MappedFile&& o) noexcept { *this = std::move(o); }

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  if (this == &o) return *this;
  if (map_) munmap(map_, size_);
  path_ = std::move(o.path_);
  map_ = std::exchange(o.map_, nullptr);
  buffer_ = std::move(o.buffer_);
  size_ = std::exchange(o.size_, 0);
  // A moved vector keeps its heap block, so base_ stays valid for buffers too.
  base_ = map_ ? static_cast<const uint8_t*>(map_) : buffer_.data();
  o.base_ = nullptr;
  return *this;
}

MappedFile::~MappedFile() {
  if (map_) munmap(map_, size_);
}

}  // namespace cokv
