// MessagePack arguments the BullMQ scripts take (protocol reference §2.5):
// the claim options map, the finish options map, string arrays, and JSON
// objects converted to maps (job scheduler options). Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bullmq/job_options.hpp"

namespace bullmq {

struct RateLimit {
  std::int64_t max = 0;
  std::int64_t duration_ms = 0;
  bool operator==(const RateLimit&) const = default;
};

// What every claim needs: `{token, lockDuration, limiter?, name?}`.
struct ClaimOptions {
  std::string token;
  std::int64_t lock_duration_ms = 30000;
  std::optional<RateLimit> limiter;
  std::string worker_name;  // empty = not sent
  bool operator==(const ClaimOptions&) const = default;
};

std::string pack_claim_options(const ClaimOptions& claim);

// moveToFinished's map: claim options plus keepJobs, attempts, maxMetricsSize.
std::string pack_finish_options(const ClaimOptions& claim, const KeepJobs& keep_jobs, int attempts,
                                std::optional<std::int64_t> max_metrics_size);

// pack_finish_options() kept while its inputs repeat: a slot sends the same
// token, lock settings and keepJobs job after job, so the map is packed when
// one of them changes, not once per job. One per slot; not thread-safe.
class PackedFinishOptions {
 public:
  std::string_view get(const ClaimOptions& claim, const KeepJobs& keep_jobs, int attempts,
                       std::optional<std::int64_t> max_metrics_size);

 private:
  bool packed_ = false;
  ClaimOptions claim_;
  KeepJobs keep_jobs_;
  int attempts_ = 0;
  std::optional<std::int64_t> max_metrics_size_;
  std::string bytes_;
};

// A flat array of strings (field/value lists, token and job id lists).
std::string pack_string_array(const std::vector<std::string>& items);

// Converts a JSON object (text) into a msgpack map, keys kept as they are.
// Returns false when `json` is not a JSON object.
bool pack_json_object(std::string_view json, std::string& out);

// Converts any JSON value (text) into msgpack as Node's msgpackr packs the
// same value (null -> nil). Returns false when `json` is not valid JSON.
bool pack_json(std::string_view json, std::string& out);

// Decodes what the pack_* functions produce back to JSON (tests, debugging).
std::string msgpack_to_json(std::string_view packed);

}  // namespace bullmq
