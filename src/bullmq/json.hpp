// JSON on the per-job path without heap traffic. RapidJSON's default
// Document allocates a 64 KiB pool chunk on its first value, and freeing
// that chunk makes glibc consolidate its fast bins: too dear for the tiny
// documents of every job (`{"attempts":0}`). SmallJsonDocument parses into a
// buffer that lives inside it (on the caller's stack) and only falls back to
// the heap when a document outgrows it; is_json() validates without building
// a DOM at all. Values are rapidjson::Value, as with a plain Document.
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <string_view>

namespace bullmq {

// True when `text` is one complete JSON value.
bool is_json(std::string_view text);

class SmallJsonDocument {
 public:
  using Document = rapidjson::GenericDocument<rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>,
                                              rapidjson::MemoryPoolAllocator<>>;

  SmallJsonDocument()
      : values_(value_buffer_, sizeof value_buffer_),
        stack_(stack_buffer_, sizeof stack_buffer_),
        doc_(&values_, sizeof stack_buffer_ / 2, &stack_) {}
  SmallJsonDocument(const SmallJsonDocument&) = delete;
  SmallJsonDocument& operator=(const SmallJsonDocument&) = delete;

  // Parses `text`; check doc().HasParseError() afterwards.
  Document& parse(std::string_view text) {
    doc_.Parse(text.data(), text.size());
    return doc_;
  }
  Document& doc() { return doc_; }

 private:
  alignas(std::max_align_t) char value_buffer_[2048];
  alignas(std::max_align_t) char stack_buffer_[1024];
  rapidjson::MemoryPoolAllocator<> values_;
  rapidjson::MemoryPoolAllocator<> stack_;
  Document doc_;
};

}  // namespace bullmq
