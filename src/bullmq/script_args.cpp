#include "bullmq/script_args.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <msgpack.hpp>

namespace bullmq {
namespace {

// Packs straight into a std::string: msgpack::sbuffer starts with an 8 KiB
// allocation, which on the per-job path made glibc consolidate its fastbins.
struct StringSink {
  std::string& out;
  void write(const char* data, std::size_t size) { out.append(data, size); }
};
using Packer = msgpack::packer<StringSink>;

void pack_str(Packer& p, std::string_view s) {
  p.pack_str(static_cast<std::uint32_t>(s.size()));
  p.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

std::size_t claim_entries(const ClaimOptions& c) {
  return 2 + (c.limiter ? 1 : 0) + (c.worker_name.empty() ? 0 : 1);
}

void pack_claim_entries(Packer& p, const ClaimOptions& c) {
  pack_str(p, "token");
  pack_str(p, c.token);
  pack_str(p, "lockDuration");
  p.pack(c.lock_duration_ms);
  if (c.limiter) {
    pack_str(p, "limiter");
    p.pack_map(2);
    pack_str(p, "max");
    p.pack(c.limiter->max);
    pack_str(p, "duration");
    p.pack(c.limiter->duration_ms);
  }
  if (!c.worker_name.empty()) {
    pack_str(p, "name");
    pack_str(p, c.worker_name);
  }
}

void pack_json_value(Packer& p, const rapidjson::Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      p.pack_nil();
      break;
    case rapidjson::kFalseType:
      p.pack_false();
      break;
    case rapidjson::kTrueType:
      p.pack_true();
      break;
    case rapidjson::kStringType:
      pack_str(p, std::string_view(v.GetString(), v.GetStringLength()));
      break;
    case rapidjson::kNumberType:
      if (v.IsInt64())
        p.pack(v.GetInt64());
      else if (v.IsUint64())
        p.pack(v.GetUint64());
      else
        p.pack(v.GetDouble());
      break;
    case rapidjson::kArrayType:
      p.pack_array(v.Size());
      for (const auto& e : v.GetArray()) pack_json_value(p, e);
      break;
    case rapidjson::kObjectType:
      p.pack_map(v.MemberCount());
      for (const auto& m : v.GetObject()) {
        pack_str(p, std::string_view(m.name.GetString(), m.name.GetStringLength()));
        pack_json_value(p, m.value);
      }
      break;
  }
}

}  // namespace

std::string pack_claim_options(const ClaimOptions& claim) {
  std::string out;
  out.reserve(96);
  StringSink sink{out};
  Packer p(sink);
  p.pack_map(static_cast<std::uint32_t>(claim_entries(claim)));
  pack_claim_entries(p, claim);
  return out;
}

std::string pack_finish_options(const ClaimOptions& claim, const KeepJobs& keep_jobs, int attempts,
                                std::optional<std::int64_t> max_metrics_size) {
  std::string out;
  out.reserve(96);
  StringSink sink{out};
  Packer p(sink);
  p.pack_map(static_cast<std::uint32_t>(claim_entries(claim) + 3));
  pack_claim_entries(p, claim);
  pack_str(p, "keepJobs");
  std::uint32_t keep_entries =
      (keep_jobs.count ? 1 : 0) + (keep_jobs.age_seconds ? 1 : 0) + (keep_jobs.limit ? 1 : 0);
  p.pack_map(keep_entries);
  if (keep_jobs.count) {
    pack_str(p, "count");
    p.pack(*keep_jobs.count);
  }
  if (keep_jobs.age_seconds) {
    pack_str(p, "age");
    p.pack(*keep_jobs.age_seconds);
  }
  if (keep_jobs.limit) {
    pack_str(p, "limit");
    p.pack(*keep_jobs.limit);
  }
  pack_str(p, "attempts");
  p.pack(attempts);
  pack_str(p, "maxMetricsSize");
  if (max_metrics_size)
    p.pack(*max_metrics_size);
  else
    pack_str(p, "");
  return out;
}

std::string_view PackedFinishOptions::get(const ClaimOptions& claim, const KeepJobs& keep_jobs,
                                          int attempts,
                                          std::optional<std::int64_t> max_metrics_size) {
  if (!packed_ || attempts != attempts_ || max_metrics_size != max_metrics_size_ ||
      keep_jobs != keep_jobs_ || claim != claim_) {
    bytes_ = pack_finish_options(claim, keep_jobs, attempts, max_metrics_size);
    claim_ = claim;
    keep_jobs_ = keep_jobs;
    attempts_ = attempts;
    max_metrics_size_ = max_metrics_size;
    packed_ = true;
  }
  return bytes_;
}

std::string pack_string_array(const std::vector<std::string>& items) {
  std::string out;
  out.reserve(96);
  StringSink sink{out};
  Packer p(sink);
  p.pack_array(static_cast<std::uint32_t>(items.size()));
  for (const auto& s : items) pack_str(p, s);
  return out;
}

bool pack_json_object(std::string_view json, std::string& out) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return false;
  out.clear();
  StringSink sink{out};
  Packer p(sink);
  pack_json_value(p, doc);
  return true;
}

bool pack_json(std::string_view json, std::string& out) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) return false;
  out.clear();
  StringSink sink{out};
  Packer p(sink);
  pack_json_value(p, doc);
  return true;
}

std::string msgpack_to_json(std::string_view packed) {
  msgpack::object_handle oh = msgpack::unpack(packed.data(), packed.size());
  std::ostringstream os;
  os << oh.get();
  return os.str();
}

}  // namespace bullmq
