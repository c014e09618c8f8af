#include "processing/extraction/archive/zip_archive.hpp"

#include <zip.h>

#include <array>
#include <memory>

#include "processing/extraction/extraction_errors.hpp"

namespace processing {
namespace {

constexpr std::size_t kInflateChunkBytes = 64 * 1024;

std::string libzip_message(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string message = zip_error_strerror(&error);
  zip_error_fini(&error);
  return message;
}

bool is_password_error(int code) {
  return code == ZIP_ER_NOPASSWD || code == ZIP_ER_WRONGPASSWD || code == ZIP_ER_ENCRNOTSUPP;
}

struct ZipFileCloser {
  void operator()(zip_file_t* file) const { zip_fclose(file); }
};

}  // namespace

ZipArchive::ZipArchive(std::string_view data, std::string relative_path)
    : relative_path_(std::move(relative_path)) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(data.data(), data.size(), 0, &error);
  if (source != nullptr) {
    archive_ = zip_open_from_source(source, ZIP_RDONLY, &error);
    if (archive_ == nullptr) zip_source_free(source);
  }
  if (archive_ == nullptr) {
    const std::string cause =
        std::string("it is not a readable ZIP archive (") + zip_error_strerror(&error) + ")";
    zip_error_fini(&error);
    throw extraction_error(ErrorKind::corrupt, relative_path_, cause);
  }
  zip_error_fini(&error);
}

ZipArchive::~ZipArchive() {
  if (archive_ != nullptr) zip_discard(archive_);
}

std::uint64_t ZipArchive::entry_count() const {
  const zip_int64_t count = zip_get_num_entries(archive_, 0);
  return count < 0 ? 0 : static_cast<std::uint64_t>(count);
}

ZipEntry ZipArchive::entry(std::uint64_t index) const {
  zip_stat_t stat;
  zip_stat_init(&stat);
  if (zip_stat_index(archive_, index, 0, &stat) != 0) {
    throw extraction_error(
        ErrorKind::corrupt, relative_path_,
        "ZIP entry " + std::to_string(index) + " cannot be read (" + zip_strerror(archive_) + ")");
  }
  ZipEntry entry;
  entry.index = index;
  if ((stat.valid & ZIP_STAT_NAME) && stat.name != nullptr) entry.name = stat.name;
  if (stat.valid & ZIP_STAT_SIZE) entry.size = stat.size;
  if (stat.valid & ZIP_STAT_COMP_SIZE) entry.compressed_size = stat.comp_size;
  if (stat.valid & ZIP_STAT_COMP_METHOD) entry.compression_method = stat.comp_method;
  if (stat.valid & ZIP_STAT_ENCRYPTION_METHOD) {
    entry.encrypted = stat.encryption_method != ZIP_EM_NONE;
  }
  return entry;
}

std::optional<ZipEntry> ZipArchive::find(std::string_view name) const {
  const std::string wanted(name);
  const zip_int64_t index = zip_name_locate(archive_, wanted.c_str(), 0);
  if (index < 0) return std::nullopt;
  return entry(static_cast<std::uint64_t>(index));
}

void ZipArchive::inflate(const ZipEntry& entry,
                         const std::function<void(std::string_view chunk)>& on_chunk) const {
  if (entry.encrypted) {
    throw extraction_error(ErrorKind::corrupt, relative_path_,
                           "ZIP entry '" + entry.name + "' is encrypted");
  }
  std::unique_ptr<zip_file_t, ZipFileCloser> file(zip_fopen_index(archive_, entry.index, 0));
  if (!file) {
    const int code = zip_error_code_zip(zip_get_error(archive_));
    const std::string cause = is_password_error(code)
                                  ? "is encrypted"
                                  : "cannot be opened (" + libzip_message(code) + ")";
    throw extraction_error(ErrorKind::corrupt, relative_path_,
                           "ZIP entry '" + entry.name + "' " + cause);
  }
  std::array<char, kInflateChunkBytes> buffer;
  while (true) {
    const zip_int64_t got = zip_fread(file.get(), buffer.data(), buffer.size());
    if (got < 0) {
      throw extraction_error(
          ErrorKind::corrupt, relative_path_,
          "ZIP entry '" + entry.name + "' has broken data (" + zip_file_strerror(file.get()) + ")");
    }
    if (got == 0) return;
    on_chunk(std::string_view(buffer.data(), static_cast<std::size_t>(got)));
  }
}

}  // namespace processing
