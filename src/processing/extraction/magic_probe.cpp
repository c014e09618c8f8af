#include "processing/extraction/magic_probe.hpp"

#include <magic.h>

#include <memory>
#include <stdexcept>

namespace processing {
namespace {

struct MagicCloser {
  void operator()(magic_t handle) const { magic_close(handle); }
};
using MagicHandle = std::unique_ptr<std::remove_pointer_t<magic_t>, MagicCloser>;

MagicHandle open_magic() {
  MagicHandle handle(magic_open(MAGIC_NONE | MAGIC_ERROR));
  if (!handle) throw std::runtime_error("libmagic could not be initialised");
  if (magic_load(handle.get(), nullptr) != 0) {
    throw std::runtime_error(std::string("libmagic could not load its database: ") +
                             magic_error(handle.get()));
  }
  return handle;
}

magic_t thread_magic() {
  thread_local MagicHandle handle = open_magic();
  return handle.get();
}

std::string ask(magic_t handle, int flags, std::string_view data) {
  magic_setflags(handle, flags);
  const char* answer = magic_buffer(handle, data.data(), data.size());
  if (answer == nullptr) return {};
  return answer;
}

}  // namespace

MagicAnswer probe_magic(std::string_view data) {
  magic_t handle = thread_magic();
  MagicAnswer answer;
  answer.mime_type = ask(handle, MAGIC_MIME_TYPE | MAGIC_ERROR, data);
  answer.encoding = ask(handle, MAGIC_MIME_ENCODING | MAGIC_ERROR, data);
  if (answer.mime_type.empty()) answer.mime_type = "application/octet-stream";
  if (answer.encoding.empty()) answer.encoding = "binary";
  return answer;
}

}  // namespace processing
