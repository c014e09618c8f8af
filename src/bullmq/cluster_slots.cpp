#include "bullmq/cluster_slots.hpp"

#include <array>

namespace bullmq {
namespace {

// CRC-16/XMODEM (polynomial 0x1021, initial value 0), the checksum Redis
// Cluster hashes keys with; the table is built at compile time.
constexpr std::array<std::uint16_t, 256> make_crc_table() {
  std::array<std::uint16_t, 256> table{};
  for (unsigned byte = 0; byte < 256; ++byte) {
    std::uint16_t crc = static_cast<std::uint16_t>(byte << 8);
    for (int bit = 0; bit < 8; ++bit)
      crc = static_cast<std::uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    table[byte] = crc;
  }
  return table;
}

constexpr auto kCrcTable = make_crc_table();

std::uint16_t crc16(std::string_view data) {
  std::uint16_t crc = 0;
  for (unsigned char c : data)
    crc = static_cast<std::uint16_t>((crc << 8) ^ kCrcTable[((crc >> 8) ^ c) & 0xff]);
  return crc;
}

}  // namespace

std::string_view hash_tag(std::string_view key) {
  auto open = key.find('{');
  if (open == std::string_view::npos) return key;
  auto close = key.find('}', open + 1);
  if (close == std::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

int key_slot(std::string_view key) {
  return crc16(hash_tag(key)) & (kClusterSlots - 1);
}

std::optional<std::string> queue_hash_tag_problem(std::string_view prefix, std::string_view queue) {
  // Every key starts with `prefix:queue:`; the tag is the same for all of
  // them exactly when the first '{' and the next '}' both lie in that part
  // with something between them.
  const std::string base = std::string(prefix) + ":" + std::string(queue) + ":";
  auto open = base.find('{');
  if (open != std::string::npos) {
    auto close = base.find('}', open + 1);
    if (close != std::string::npos && close > open + 1) return std::nullopt;
  }
  return "queue '" + std::string(queue) + "' with prefix '" + std::string(prefix) +
         "' has no hash tag, so its keys (" + base + "wait, " + base +
         "active, …) fall in different Cluster slots and BullMQ's scripts cannot run. "
         "Put a hash tag in braces in the prefix or in the queue name, in the worker and in "
         "the producer alike: e.g. --prefix '{" +
         std::string(prefix) + "}' (new Queue('" + std::string(queue) + "', { prefix: '{" +
         std::string(prefix) + "}' })) or --queue '{" + std::string(queue) + "}'";
}

std::optional<std::vector<SlotRange>> parse_cluster_slots(const Reply& reply,
                                                          const RedisAddress& asked,
                                                          std::string& error) {
  if (!reply.is_array()) {
    error = "CLUSTER SLOTS answered " + reply.describe();
    return std::nullopt;
  }
  std::vector<SlotRange> ranges;
  for (const Reply& entry : reply.elements) {
    if (!entry.is_array() || entry.elements.size() < 3 || !entry.elements[0].is_integer() ||
        !entry.elements[1].is_integer() || !entry.elements[2].is_array() ||
        entry.elements[2].elements.size() < 2 || !entry.elements[2].elements[1].is_integer()) {
      error = "CLUSTER SLOTS entry has an unexpected shape: " + entry.describe();
      return std::nullopt;
    }
    SlotRange range;
    range.first = static_cast<int>(entry.elements[0].integer);
    range.last = static_cast<int>(entry.elements[1].integer);
    if (range.first < 0 || range.last >= kClusterSlots || range.first > range.last) {
      error = "CLUSTER SLOTS has a bad slot range " + entry.describe();
      return std::nullopt;
    }
    const Reply& master = entry.elements[2];
    std::string host = master.elements[0].is_string() ? master.elements[0].str : "";
    const auto port = master.elements[1].integer;
    if (host.empty() || host == "?") host = asked.host;
    if (port <= 0 || port > 65535) {
      error = "CLUSTER SLOTS has a bad port in " + entry.describe();
      return std::nullopt;
    }
    range.master = RedisAddress{std::move(host), static_cast<std::uint16_t>(port)};
    ranges.push_back(std::move(range));
  }
  return ranges;
}

}  // namespace bullmq
