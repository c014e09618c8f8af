#include "processing/extraction/storage/stored_file.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "processing/extraction/extraction_errors.hpp"
#include "processing/extraction/storage/storage_path.hpp"

namespace processing {
namespace {

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Opens a canonical path refusing symlinks in every component: the path was
// resolved without any, so one found now was swapped in meanwhile (a race
// with whoever writes the storage). Falls back to O_NOFOLLOW (last component
// only) on kernels without openat2. O_NONBLOCK: a FIFO must not block us.
int open_canonical(const std::filesystem::path& path) {
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  const long fd = ::syscall(SYS_openat2, AT_FDCWD, path.c_str(), &how, sizeof how);
  if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) return static_cast<int>(fd);
  return ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
}

[[noreturn]] void fail_open(int error_number, std::string_view relative_path) {
  switch (error_number) {
    case ENOENT:
    case ENOTDIR:
      throw extraction_error(ErrorKind::missing_file, relative_path,
                             "the file does not exist in the storage root");
    case ELOOP:
      throw extraction_error(ErrorKind::path_escape, relative_path,
                             "the path was changed into a symbolic link while it was opened");
    default:
      throw extraction_error(
          ErrorKind::storage_unavailable, relative_path,
          std::string("the file cannot be opened (") + std::strerror(error_number) + ")");
  }
}

std::uint64_t regular_file_size(int fd, std::string_view relative_path) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) fail_open(errno, relative_path);
  if (!S_ISREG(info.st_mode)) {
    throw extraction_error(ErrorKind::invalid_input, relative_path, "it is not a regular file");
  }
  return static_cast<std::uint64_t>(info.st_size);
}

[[noreturn]] void fail_too_large(std::string_view relative_path, const ExtractionLimits& limits) {
  throw extraction_error(
      ErrorKind::too_large, relative_path,
      "the file is larger than the limit of " + std::to_string(limits.max_file_bytes) + " bytes");
}

// Reads at most max_file_bytes + 1 bytes, so a file that grew is still caught.
std::string read_all(int fd, std::uint64_t expected_size, std::string_view relative_path,
                     const ExtractionLimits& limits) {
  std::string content;
  content.resize(expected_size);
  std::uint64_t filled = 0;
  while (true) {
    if (filled == content.size()) {
      if (filled > limits.max_file_bytes) fail_too_large(relative_path, limits);
      content.resize(filled + 64 * 1024);
    }
    const ssize_t got = ::read(fd, content.data() + filled, content.size() - filled);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      throw extraction_error(ErrorKind::storage_unavailable, relative_path,
                             std::string("the file cannot be read (") + std::strerror(errno) + ")");
    }
    if (got == 0) break;
    filled += static_cast<std::uint64_t>(got);
  }
  content.resize(filled);
  if (filled > limits.max_file_bytes) fail_too_large(relative_path, limits);
  return content;
}

}  // namespace

StoredFile load_stored_file(const std::filesystem::path& storage_root,
                            std::string_view relative_path, const ExtractionLimits& limits) {
  StoredFile file;
  file.path = resolve_storage_path(storage_root, relative_path);
  FileDescriptor fd(open_canonical(file.path));
  if (fd.get() < 0) fail_open(errno, relative_path);
  const std::uint64_t size = regular_file_size(fd.get(), relative_path);
  if (size > limits.max_file_bytes) fail_too_large(relative_path, limits);
  file.content = read_all(fd.get(), size, relative_path, limits);
  return file;
}

}  // namespace processing
