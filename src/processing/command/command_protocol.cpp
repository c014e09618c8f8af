#include "processing/command/command_protocol.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <csignal>
#include <cstring>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

#include "processing/sandbox/child_process.hpp"
#include "processing/support/utf8.hpp"

namespace processing {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr std::size_t kReasonLines = 5;
constexpr std::size_t kReasonBytes = 2000;
constexpr std::size_t kShownStdoutBytes = 200;

// Appends the parts: GCC 12 (Release) reports a false -Wrestrict on
// "literal" + std::string&&.
std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view part : parts) out.append(part);
  return out;
}

bool is_json(std::string_view text) {
  rapidjson::Document document;
  document.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  return !document.HasParseError();
}

void write_string(Writer& writer, std::string_view text) {
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

// JSON text as it is, or as a string when it is not JSON.
void write_json_or_string(Writer& writer, std::string_view text) {
  if (is_json(text)) {
    writer.RawValue(text.data(), text.size(), rapidjson::kObjectType);
  } else {
    write_string(writer, text);
  }
}

std::string finish(rapidjson::StringBuffer& buffer) {
  std::string line(buffer.GetString(), buffer.GetSize());
  line += '\n';
  return line;
}

std::string serialize(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  Writer writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string text_of(const rapidjson::Value& value) {
  return std::string(value.GetString(), value.GetStringLength());
}

const rapidjson::Value* member(const rapidjson::Value& object, const char* name) {
  auto it = object.FindMember(name);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

const rapidjson::Value& required(const rapidjson::Value& object, const char* op, const char* name) {
  const rapidjson::Value* value = member(object, name);
  if (value == nullptr) {
    throw std::invalid_argument(std::string(op) + " needs \"" + name + "\"");
  }
  return *value;
}

std::string required_string(const rapidjson::Value& object, const char* op, const char* name) {
  const rapidjson::Value& value = required(object, op, name);
  if (!value.IsString()) {
    throw std::invalid_argument(std::string(op) + ": \"" + name + "\" must be a string");
  }
  return text_of(value);
}

std::int64_t required_ms(const rapidjson::Value& object, const char* op) {
  const rapidjson::Value& value = required(object, op, "ms");
  if (!value.IsInt64() || value.GetInt64() < 0) {
    throw std::invalid_argument(std::string(op) + ": \"ms\" must be an integer of at least 0");
  }
  return value.GetInt64();
}

bool optional_bool(const rapidjson::Value& object, const char* op, const char* name) {
  const rapidjson::Value* value = member(object, name);
  if (value == nullptr || value->IsNull()) return false;
  if (!value->IsBool()) {
    throw std::invalid_argument(std::string(op) + ": \"" + name + "\" must be true or false");
  }
  return value->GetBool();
}

struct OpName {
  const char* name;
  CommandOp op;
};

constexpr OpName kOps[] = {
    {"progress", CommandOp::progress},
    {"log", CommandOp::log},
    {"update-data", CommandOp::update_data},
    {"delay", CommandOp::delay},
    {"wait", CommandOp::wait},
    {"waiting-children", CommandOp::waiting_children},
    {"rate-limit", CommandOp::rate_limit},
    {"add-job", CommandOp::add_job},
    {"dependencies", CommandOp::dependencies},
    {"dependency-counts", CommandOp::dependency_counts},
    {"children-values", CommandOp::children_values},
    {"ignored-children-failures", CommandOp::ignored_children_failures},
    {"remove-unprocessed-children", CommandOp::remove_unprocessed_children},
    {"fail", CommandOp::fail},
};

void parse_add_job(const rapidjson::Value& object, CommandRequest& request) {
  bullmq_worker::NewJob& job = request.new_job;
  job.name = required_string(object, "add-job", "name");
  if (const rapidjson::Value* data = member(object, "data")) job.data = serialize(*data);
  if (const rapidjson::Value* opts = member(object, "opts"); opts != nullptr && !opts->IsNull()) {
    if (!opts->IsObject()) throw std::invalid_argument("add-job: \"opts\" must be an object");
    job.opts = serialize(*opts);
  }
  if (const rapidjson::Value* queue = member(object, "queue");
      queue != nullptr && !queue->IsNull()) {
    if (!queue->IsString()) throw std::invalid_argument("add-job: \"queue\" must be a string");
    job.queue = text_of(*queue);
  }
  job.as_child = optional_bool(object, "add-job", "child");
}

// The last kReasonLines non-empty lines of `text`, at most kReasonBytes.
std::string last_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty() && lines.size() < kReasonLines) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    if (text.empty()) break;
    const std::size_t start = text.rfind('\n');
    const std::size_t begin = start == std::string_view::npos ? 0 : start + 1;
    std::string_view line = text.substr(begin);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (!line.empty()) lines.push_back(line);
    text = text.substr(0, begin);
  }
  std::string out;
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if (!out.empty()) out += '\n';
    out.append(*it);
  }
  if (out.size() > kReasonBytes) out.erase(0, out.size() - kReasonBytes);
  return out;
}

std::string with_reason(std::string message, std::string_view stderr_tail) {
  const std::string reason = stderr_reason(stderr_tail);
  if (!reason.empty()) {
    message += ": ";
    message += reason;
  }
  return message;
}

}  // namespace

std::string job_document(const bullmq_worker::Job& job,
                         const std::map<std::string, std::string>& children_values) {
  rapidjson::StringBuffer buffer;
  Writer writer(buffer);
  writer.StartObject();
  writer.Key("id");
  write_string(writer, job.id);
  writer.Key("name");
  write_string(writer, job.name);
  writer.Key("queue");
  write_string(writer, job.queue);
  writer.Key("data");
  write_json_or_string(writer, job.data);
  writer.Key("opts");
  write_json_or_string(writer, job.opts_json);
  writer.Key("attemptsMade");
  writer.Int(job.attempts_made);
  writer.Key("attemptsStarted");
  writer.Int(job.attempts_started);
  writer.Key("attempt");
  writer.Int(job.attempt());
  writer.Key("timestamp");
  writer.Int64(job.timestamp_ms);
  writer.Key("processedOn");
  writer.Int64(job.processed_on_ms);
  writer.Key("parentKey");
  const std::size_t last_colon = job.parent_key.rfind(':');
  if (job.parent_key.empty() || last_colon == std::string::npos) {
    writer.Null();
    writer.Key("parent");
    writer.Null();
  } else {
    write_string(writer, job.parent_key);
    writer.Key("parent");
    writer.StartObject();
    writer.Key("id");
    write_string(writer, std::string_view(job.parent_key).substr(last_colon + 1));
    writer.Key("queueKey");
    write_string(writer, std::string_view(job.parent_key).substr(0, last_colon));
    writer.EndObject();
  }
  writer.Key("childrenValues");
  writer.StartObject();
  for (const auto& [key, value] : children_values) {
    write_string(writer, key);
    write_json_or_string(writer, value);
  }
  writer.EndObject();
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

CommandRequest parse_request(std::string_view line) {
  rapidjson::Document document;
  document.Parse<rapidjson::kParseValidateEncodingFlag>(line.data(), line.size());
  if (document.HasParseError()) {
    throw std::invalid_argument(std::string("a request must be one JSON object per line (") +
                                rapidjson::GetParseError_En(document.GetParseError()) +
                                " at offset " + std::to_string(document.GetErrorOffset()) + ")");
  }
  if (!document.IsObject()) throw std::invalid_argument("a request must be a JSON object");
  const rapidjson::Value* op_value = member(document, "op");
  if (op_value == nullptr || !op_value->IsString()) {
    throw std::invalid_argument("a request needs an \"op\" string");
  }
  const std::string op_name = text_of(*op_value);
  CommandRequest request;
  bool known = false;
  for (const OpName& entry : kOps) {
    if (op_name == entry.name) {
      request.op = entry.op;
      known = true;
    }
  }
  if (!known) throw std::invalid_argument("unknown op \"" + op_name + "\"");
  const char* op = op_name.c_str();
  switch (request.op) {
    case CommandOp::progress:
      request.json = serialize(required(document, op, "value"));
      break;
    case CommandOp::log:
      request.text = required_string(document, op, "line");
      break;
    case CommandOp::update_data:
      request.json = serialize(required(document, op, "data"));
      break;
    case CommandOp::delay:
    case CommandOp::rate_limit:
      request.ms = required_ms(document, op);
      break;
    case CommandOp::add_job:
      parse_add_job(document, request);
      break;
    case CommandOp::fail:
      request.text = required_string(document, op, "message");
      request.unrecoverable = optional_bool(document, op, "unrecoverable");
      break;
    default:
      break;
  }
  return request;
}

std::string reply_ok() {
  return "{\"ok\":true}\n";
}

std::string reply_error(std::string_view message) {
  rapidjson::StringBuffer buffer;
  Writer writer(buffer);
  writer.StartObject();
  writer.Key("ok");
  writer.Bool(false);
  writer.Key("error");
  write_string(writer, message);
  writer.EndObject();
  return finish(buffer);
}

std::string reply_job_id(std::string_view id) {
  rapidjson::StringBuffer buffer;
  Writer writer(buffer);
  writer.StartObject();
  writer.Key("ok");
  writer.Bool(true);
  writer.Key("id");
  write_string(writer, id);
  writer.EndObject();
  return finish(buffer);
}

std::string reply_parked(bool parked) {
  return parked ? "{\"ok\":true,\"parked\":true}\n" : "{\"ok\":true,\"parked\":false}\n";
}

std::string reply_dependencies(const bullmq_worker::Dependencies& dependencies) {
  rapidjson::StringBuffer buffer;
  Writer writer(buffer);
  writer.StartObject();
  writer.Key("ok");
  writer.Bool(true);
  writer.Key("processed");
  writer.StartObject();
  for (const auto& [key, value] : dependencies.processed) {
    write_string(writer, key);
    write_json_or_string(writer, value);
  }
  writer.EndObject();
  writer.Key("unprocessed");
  writer.StartArray();
  for (const auto& key : dependencies.unprocessed) write_string(writer, key);
  writer.EndArray();
  writer.Key("failed");
  writer.StartArray();
  for (const auto& key : dependencies.failed) write_string(writer, key);
  writer.EndArray();
  writer.Key("ignored");
  writer.StartObject();
  for (const auto& [key, reason] : dependencies.ignored) {
    write_string(writer, key);
    write_string(writer, reason);
  }
  writer.EndObject();
  writer.EndObject();
  return finish(buffer);
}

std::string reply_counts(const bullmq_worker::DependencyCounts& counts) {
  rapidjson::StringBuffer buffer;
  Writer writer(buffer);
  writer.StartObject();
  writer.Key("ok");
  writer.Bool(true);
  writer.Key("processed");
  writer.Int64(counts.processed);
  writer.Key("unprocessed");
  writer.Int64(counts.unprocessed);
  writer.Key("failed");
  writer.Int64(counts.failed);
  writer.Key("ignored");
  writer.Int64(counts.ignored);
  writer.EndObject();
  return finish(buffer);
}

std::string reply_map(std::string_view field, const std::map<std::string, std::string>& values,
                      bool values_are_json) {
  rapidjson::StringBuffer buffer;
  Writer writer(buffer);
  writer.StartObject();
  writer.Key("ok");
  writer.Bool(true);
  write_string(writer, field);
  writer.StartObject();
  for (const auto& [key, value] : values) {
    write_string(writer, key);
    if (values_are_json) {
      write_json_or_string(writer, value);
    } else {
      write_string(writer, value);
    }
  }
  writer.EndObject();
  writer.EndObject();
  return finish(buffer);
}

std::string stderr_reason(std::string_view stderr_tail) {
  return utf8::sanitize(last_lines(stderr_tail));
}

Outcome decide_outcome(const RunFacts& facts) {
  if (facts.move != CommandMove::none) return {OutcomeKind::moved, {}, facts.move};
  if (facts.cancelled) {
    return {OutcomeKind::cancelled,
            "the command was terminated: the job's lock was lost or the worker is shutting down",
            CommandMove::none};
  }
  if (facts.fail_message) {
    return {facts.fail_unrecoverable ? OutcomeKind::unrecoverable : OutcomeKind::failed,
            *facts.fail_message, CommandMove::none};
  }
  if (facts.timed_out) {
    return {OutcomeKind::failed,
            with_reason(cat({"the command did not finish within its time limit of ",
                             std::to_string(facts.timeout_ms), " ms and was terminated"}),
                        facts.stderr_tail),
            CommandMove::none};
  }
  if (!facts.overflow.empty()) {
    return {OutcomeKind::failed, "the command was terminated: " + facts.overflow,
            CommandMove::none};
  }
  if (!facts.exited) {
    std::string message;
    if (facts.signal == SIGXCPU) {
      message = cat({"the command used more than its CPU time limit of ",
                     std::to_string(facts.cpu_seconds), " s and was killed (SIGXCPU)"});
    } else {
      message = cat({"the command was killed by ", signal_name(facts.signal)});
    }
    return {OutcomeKind::failed, with_reason(std::move(message), facts.stderr_tail),
            CommandMove::none};
  }
  if (facts.exit_code == kUnrecoverableExitCode) {
    std::string reason = stderr_reason(facts.stderr_tail);
    if (reason.empty()) reason = "the command exited with status 65 (unrecoverable)";
    return {OutcomeKind::unrecoverable, std::move(reason), CommandMove::none};
  }
  if (facts.exit_code == 0) {
    std::string_view out = facts.stdout_text;
    while (!out.empty() && std::strchr(" \t\r\n", out.front()) != nullptr) out.remove_prefix(1);
    while (!out.empty() && std::strchr(" \t\r\n", out.back()) != nullptr) out.remove_suffix(1);
    if (out.empty()) return {OutcomeKind::completed, "null", CommandMove::none};
    if (is_json(out)) return {OutcomeKind::completed, std::string(out), CommandMove::none};
    std::string shown = utf8::sanitize(out.substr(0, kShownStdoutBytes));
    if (out.size() > kShownStdoutBytes) shown += "…";
    return {OutcomeKind::failed,
            "the command exited with status 0 but its stdout is not JSON (the return value must "
            "be one JSON value): " +
                shown,
            CommandMove::none};
  }
  std::string reason = stderr_reason(facts.stderr_tail);
  if (reason.empty())
    reason = cat({"the command exited with status ", std::to_string(facts.exit_code)});
  return {OutcomeKind::failed, std::move(reason), CommandMove::none};
}

}  // namespace processing
