#include "processing/extraction/extraction_protocol.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <functional>
#include <map>
#include <optional>
#include <sstream>

#include "processing/extraction/extraction_errors.hpp"
#include "processing/extraction/json_writer.hpp"

namespace processing {
namespace {

[[noreturn]] void bad_usage(std::string_view relative_path, const std::string& cause) {
  throw extraction_error(ErrorKind::invalid_input, relative_path,
                         "the extract-file command was called wrongly (" + cause + ")");
}

std::uint64_t parse_unsigned(std::string_view flag, std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    bad_usage("", std::string(flag) + " needs a whole number, not '" + std::string(text) + "'");
  }
  return value;
}

double parse_ratio(std::string_view flag, std::string_view text) {
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || !(value > 0)) {
    bad_usage("", std::string(flag) + " needs a positive number, not '" + std::string(text) + "'");
  }
  return value;
}

std::string number_text(double value) {
  std::ostringstream text;
  text.precision(17);
  text << value;
  return text.str();
}

using FlagSetter = std::function<void(ExtractCommand&, std::string_view flag, std::string_view)>;

const std::map<std::string, FlagSetter, std::less<>>& flag_setters() {
  static const std::map<std::string, FlagSetter, std::less<>> setters = {
      {"--root", [](ExtractCommand& c, auto, auto v) { c.storage_root = std::string(v); }},
      {"--path", [](ExtractCommand& c, auto, auto v) { c.relative_path = std::string(v); }},
      {"--max-file-bytes",
       [](ExtractCommand& c, auto f, auto v) { c.limits.max_file_bytes = parse_unsigned(f, v); }},
      {"--max-text-chars",
       [](ExtractCommand& c, auto f, auto v) { c.limits.max_text_chars = parse_unsigned(f, v); }},
      {"--max-archive-entries",
       [](ExtractCommand& c, auto f, auto v) {
         c.limits.max_archive_entries = parse_unsigned(f, v);
       }},
      {"--max-uncompressed-bytes",
       [](ExtractCommand& c, auto f, auto v) {
         c.limits.max_uncompressed_bytes = parse_unsigned(f, v);
       }},
      {"--max-compression-ratio",
       [](ExtractCommand& c, auto f, auto v) {
         c.limits.max_compression_ratio = parse_ratio(f, v);
       }},
      {"--max-preview-rows",
       [](ExtractCommand& c, auto f, auto v) { c.limits.max_preview_rows = parse_unsigned(f, v); }},
      {"--time-limit-ms",
       [](ExtractCommand& c, auto f, auto v) {
         c.limits.time_limit = std::chrono::milliseconds(parse_unsigned(f, v));
       }},
      {"--memory-limit-bytes",
       [](ExtractCommand& c, auto f, auto v) {
         c.memory_limit_bytes = parse_unsigned(f, v);
         c.limits.max_memory_bytes = c.memory_limit_bytes;
       }},
      {"--cpu-limit-seconds",
       [](ExtractCommand& c, auto f, auto v) { c.cpu_limit_seconds = parse_unsigned(f, v); }},
      {"--serve",
       [](ExtractCommand& c, auto f, auto v) { c.serve_documents = parse_unsigned(f, v); }},
  };
  return setters;
}

const rapidjson::Value* member(const rapidjson::Value& object, const char* name) {
  if (!object.IsObject()) return nullptr;
  const auto found = object.FindMember(name);
  return found == object.MemberEnd() ? nullptr : &found->value;
}

std::string serialise(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

[[noreturn]] void unreadable(std::string_view relative_path, const std::string& cause) {
  throw extraction_error(
      ErrorKind::extractor_unavailable, relative_path,
      "the extraction process answered with an unreadable message (" + cause + ")");
}

std::string string_member(const rapidjson::Value& object, const char* name,
                          std::string_view relative_path) {
  const rapidjson::Value* value = member(object, name);
  if (value == nullptr || !value->IsString()) unreadable(relative_path, std::string("no ") + name);
  return std::string(value->GetString(), value->GetStringLength());
}

std::int64_t integer_member(const rapidjson::Value& object, const char* name,
                            std::string_view relative_path) {
  const rapidjson::Value* value = member(object, name);
  if (value == nullptr || !value->IsInt64()) unreadable(relative_path, std::string("no ") + name);
  return value->GetInt64();
}

bool bool_member(const rapidjson::Value& object, const char* name, std::string_view relative_path) {
  const rapidjson::Value* value = member(object, name);
  if (value == nullptr || !value->IsBool()) unreadable(relative_path, std::string("no ") + name);
  return value->GetBool();
}

ExtractionResult decode_result(const rapidjson::Value& object, std::string_view relative_path) {
  const rapidjson::Value* raw = member(object, "json");
  if (raw == nullptr || !raw->IsObject()) unreadable(relative_path, "no json object");
  ExtractionResult result;
  result.json = serialise(*raw);
  result.kind = string_member(object, "kind", relative_path);
  result.mime_type = string_member(object, "mime_type", relative_path);
  result.sha256 = string_member(object, "sha256", relative_path);
  result.size_bytes =
      static_cast<std::uint64_t>(integer_member(object, "size_bytes", relative_path));
  result.pages = integer_member(object, "pages", relative_path);
  result.words = integer_member(object, "words", relative_path);
  result.truncated = bool_member(object, "truncated", relative_path);
  return result;
}

// The optional "timing" object of a success message; absent or malformed
// leaves the figures unmeasured (they decide nothing).
void decode_timing(const rapidjson::Value& message, ExtractionTiming& timing,
                   std::int64_t* child_ready_steady_ns) {
  const rapidjson::Value* object = member(message, "timing");
  if (object == nullptr) return;
  const rapidjson::Value* extract = member(*object, "extract_us");
  if (extract != nullptr && extract->IsInt64()) timing.extract_us = extract->GetInt64();
  const rapidjson::Value* ready = member(*object, "ready_ns");
  if (child_ready_steady_ns != nullptr && ready != nullptr && ready->IsInt64()) {
    *child_ready_steady_ns = ready->GetInt64();
  }
}

}  // namespace

std::uint64_t cpu_seconds_for(std::chrono::milliseconds time_limit) {
  const auto milliseconds = time_limit.count() < 0 ? 0 : time_limit.count();
  return static_cast<std::uint64_t>((milliseconds + 999) / 1000) + 1;
}

namespace {

std::vector<std::string> limit_arguments(const ExtractionLimits& limits) {
  const auto time_limit_ms = limits.time_limit.count() < 0 ? 0 : limits.time_limit.count();
  return {"--max-file-bytes",         std::to_string(limits.max_file_bytes),
          "--max-text-chars",         std::to_string(limits.max_text_chars),
          "--max-archive-entries",    std::to_string(limits.max_archive_entries),
          "--max-uncompressed-bytes", std::to_string(limits.max_uncompressed_bytes),
          "--max-compression-ratio",  number_text(limits.max_compression_ratio),
          "--max-preview-rows",       std::to_string(limits.max_preview_rows),
          "--time-limit-ms",          std::to_string(time_limit_ms),
          "--memory-limit-bytes",     std::to_string(limits.max_memory_bytes),
          "--cpu-limit-seconds",      std::to_string(cpu_seconds_for(limits.time_limit))};
}

}  // namespace

std::vector<std::string> extract_command_arguments(const std::filesystem::path& storage_root,
                                                   std::string_view relative_path,
                                                   const ExtractionLimits& limits) {
  std::vector<std::string> arguments = {std::string(kExtractFileCommand), "--root",
                                        storage_root.string(), "--path",
                                        std::string(relative_path)};
  for (std::string& argument : limit_arguments(limits)) arguments.push_back(std::move(argument));
  return arguments;
}

std::vector<std::string> extract_server_arguments(const std::filesystem::path& storage_root,
                                                  const ExtractionLimits& limits,
                                                  std::uint64_t documents) {
  std::vector<std::string> arguments = {std::string(kExtractFileCommand), "--root",
                                        storage_root.string(), "--serve",
                                        std::to_string(documents)};
  for (std::string& argument : limit_arguments(limits)) arguments.push_back(std::move(argument));
  return arguments;
}

std::string serve_request(std::string_view relative_path) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(relative_path.data(), static_cast<rapidjson::SizeType>(relative_path.size()));
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::optional<std::string> parse_serve_request(std::string_view line) {
  rapidjson::Document document;
  document.Parse(line.data(), line.size());
  if (document.HasParseError() || !document.IsString()) return std::nullopt;
  return std::string(document.GetString(), document.GetStringLength());
}

ExtractCommand parse_extract_command(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) != kExtractFileCommand) {
    bad_usage("", "the first argument must be extract-file");
  }
  ExtractCommand command;
  bool has_root = false;
  bool has_path = false;
  for (int index = 2; index < argc; index += 2) {
    const std::string_view flag = argv[index];
    const auto setter = flag_setters().find(flag);
    if (setter == flag_setters().end()) bad_usage("", "unknown flag '" + std::string(flag) + "'");
    if (index + 1 >= argc) bad_usage("", std::string(flag) + " needs a value");
    setter->second(command, flag, argv[index + 1]);
    has_root = has_root || flag == "--root";
    has_path = has_path || flag == "--path";
  }
  if (!has_root || (!has_path && command.serve_documents == 0)) {
    bad_usage(command.relative_path, "--root and --path (or --serve N) are required");
  }
  return command;
}

std::string success_message(const ExtractionResult& result, std::int64_t ready_steady_ns) {
  JsonWriter out;
  out.begin_object();
  out.field("ok", true);
  out.key("result");
  out.begin_object();
  out.key("json");
  out.raw(result.json);
  out.field("kind", result.kind);
  out.field("mime_type", result.mime_type);
  out.field("sha256", result.sha256);
  out.field("size_bytes", result.size_bytes);
  out.field("pages", result.pages);
  out.field("words", result.words);
  out.field("truncated", result.truncated);
  out.end_object();
  if (ready_steady_ns >= 0) {
    out.key("timing");
    out.begin_object();
    out.field("ready_ns", ready_steady_ns);
    out.field("extract_us", result.timing.extract_us);
    out.end_object();
  }
  out.end_object();
  return out.str();
}

std::string failure_message(const ExtractionError& error) {
  JsonWriter out;
  out.begin_object();
  out.field("ok", false);
  out.field("error_type", error.error_type());
  out.field("retryable", error.retryable());
  out.field("message", std::string_view(error.what()));
  out.end_object();
  return out.str();
}

ExtractionResult decode_child_message(std::string_view message, std::string_view relative_path,
                                      std::int64_t* child_ready_steady_ns) {
  rapidjson::Document document;
  document.Parse<rapidjson::kParseIterativeFlag>(message.data(), message.size());
  if (document.HasParseError() || !document.IsObject()) unreadable(relative_path, "not JSON");
  if (bool_member(document, "ok", relative_path)) {
    const rapidjson::Value* result = member(document, "result");
    if (result == nullptr) unreadable(relative_path, "no result");
    ExtractionResult decoded = decode_result(*result, relative_path);
    decode_timing(document, decoded.timing, child_ready_steady_ns);
    return decoded;
  }
  throw ExtractionError(string_member(document, "error_type", relative_path),
                        bool_member(document, "retryable", relative_path),
                        string_member(document, "message", relative_path));
}

}  // namespace processing
