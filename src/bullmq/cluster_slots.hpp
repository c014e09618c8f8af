// Redis Cluster's key-to-slot arithmetic and slot map, as plain functions and
// values: the CRC16 slot of a key (honouring {hash tags}), whether every key
// of a BullMQ queue lands in one slot, and the slot map read from
// CLUSTER SLOTS. No I/O; ClusterTopology owns the live map.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bullmq/redis_options.hpp"
#include "bullmq/reply.hpp"

namespace bullmq {

constexpr int kClusterSlots = 16384;

// The part of `key` that is hashed: the text between the first '{' and the
// next '}' when that text is not empty, otherwise the whole key.
std::string_view hash_tag(std::string_view key);

// The cluster slot (0..16383) of `key`.
int key_slot(std::string_view key);

// BullMQ keys are `prefix:queue:suffix`. They share one slot only when a
// hash tag closes inside `prefix:queue:`; otherwise returns a message saying
// how to tag the queue (as BullMQ's docs require for Cluster).
std::optional<std::string> queue_hash_tag_problem(std::string_view prefix, std::string_view queue);

// One contiguous range of slots and the master serving it.
struct SlotRange {
  int first = 0;
  int last = 0;
  RedisAddress master;
};

// Parses a CLUSTER SLOTS reply. A master announced without an address
// (empty or "?") is the node that was asked: `asked`. Returns nullopt (and an
// error text in `error`) when the reply has another shape.
std::optional<std::vector<SlotRange>> parse_cluster_slots(const Reply& reply,
                                                          const RedisAddress& asked,
                                                          std::string& error);

}  // namespace bullmq
