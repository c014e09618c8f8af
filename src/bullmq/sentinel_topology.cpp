#include "bullmq/sentinel_topology.hpp"

#include <algorithm>
#include <charconv>
#include <sstream>

#include "bullmq/clock.hpp"
#include "bullmq/logger.hpp"
#include "bullmq/redis_error_reply.hpp"
#include "bullmq/spawn.hpp"
#include "bullmq/strings.hpp"

namespace bullmq {

namespace {

std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || p != text.data() + text.size() || value == 0 || value > 65535)
    return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

std::vector<std::string> words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

}  // namespace

SentinelTopology::SentinelTopology(asio::any_io_executor executor, RedisOptions options)
    : executor_(std::move(executor)), options_(std::move(options)) {
  sentinel_options_ = options_;
  sentinel_options_.username = options_.sentinel_username;
  sentinel_options_.password = options_.sentinel_password;
  sentinel_options_.db = 0;
  sentinels_ = options_.seeds;
  problem_ = "the master of '" + options_.master_name + "' has not been asked for yet";
}

// One listener per sentinel: the failover's leader announces first, and a
// sentinel that is down or partitioned must not hide the news.
void SentinelTopology::start() {
  if (!subscribers_.empty()) return;
  for (const RedisAddress& sentinel : sentinels_) {
    auto subscriber = std::make_shared<RedisConnection>(executor_, sentinel_options_, "sentinel",
                                                        std::make_shared<FixedRoute>(sentinel));
    subscriber->set_push_handler([this, alive = std::weak_ptr<int>(alive_)](const Reply& m) {
      if (!alive.expired()) on_message(m);
    });
    subscriber->set_connect_hook([this](RedisConnection& c) { return subscribe(c); });
    subscriber->start();
    subscribers_.push_back(std::move(subscriber));
  }
}

void SentinelTopology::stop() {
  for (auto& subscriber : subscribers_) subscriber->stop();
  subscribers_.clear();
}

awaitable<void> SentinelTopology::subscribe(RedisConnection& connection) {
  for (const char* channel : {"+switch-master", "+promoted-slave"}) {
    Reply r = co_await connection.handshake_command(strings("SUBSCRIBE", channel));
    if (r.is_error())
      throw ServerError("sentinel SUBSCRIBE " + std::string(channel) + ": " + r.str);
  }
  // Switches announced while nobody listened: ask once now (at start the
  // data connections ask anyway).
  if (!master_) co_return;
  auto self = shared_from_this();
  spawn(
      executor_, [self]() { return self->recheck(); }, "sentinel master recheck");
}

awaitable<void> SentinelTopology::recheck() {
  try {
    RedisAddress reported = co_await ask_sentinels();
    if (!master_) {
      master_ = reported;
    } else if (!(*master_ == reported)) {
      switch_master(reported, "the sentinels report it");
    }
  } catch (const std::exception&) {
    // problem_ says why; the connections keep asking on their own.
  }
}

awaitable<RedisAddress> SentinelTopology::ask_sentinels() {
  const std::vector<RedisAddress> sentinels = sentinels_;
  std::string errors;
  for (const RedisAddress& sentinel : sentinels) {
    std::string why;
    try {
      Reply r = co_await query_once(
          executor_, sentinel_options_, sentinel,
          strings("SENTINEL", "get-master-addr-by-name", options_.master_name), "sentinel query");
      if (r.is_array() && r.elements.size() == 2 && r.elements[0].is_string() &&
          r.elements[1].is_string()) {
        auto port = parse_port(r.elements[1].str);
        if (port && old_master_ && *old_master_ == RedisAddress{r.elements[0].str, *port} &&
            now_ms() < old_master_until_ms_) {
          why =
              "still names " + old_master_->describe() + ", which the sentinels switched away from";
        } else if (port) {
          // The sentinel that answered is asked first next time.
          auto it = std::find(sentinels_.begin(), sentinels_.end(), sentinel);
          if (it != sentinels_.end()) std::rotate(sentinels_.begin(), it, it + 1);
          problem_.clear();
          co_return RedisAddress{r.elements[0].str, *port};
        } else {
          why = "answered " + r.describe();
        }
      } else if (r.is_nil()) {
        why = "does not monitor a master named '" + options_.master_name + "'";
      } else {
        why = r.is_error() ? r.str : "answered " + r.describe();
      }
    } catch (const std::exception& e) {
      why = e.what();
    }
    errors += (errors.empty() ? "" : "; ") + sentinel.describe() + " " + why;
  }
  problem_ = "no sentinel named the master of '" + options_.master_name + "': " + errors;
  throw ConnectionError(problem_);
}

awaitable<RedisAddress> SentinelTopology::locate() {
  if (master_) co_return *master_;
  RedisAddress address = co_await ask_sentinels();
  if (!master_) master_ = address;
  co_return *master_;
}

awaitable<void> SentinelTopology::verify(RedisConnection& connection, const RedisAddress& address) {
  Reply r = co_await connection.handshake_command(strings("ROLE"));
  if (r.is_error()) {
    // A user without ROLE: trust the sentinels (READONLY still catches a replica).
    if (classify_error_reply(r.str).kind == RedisErrorKind::kNoPerm) co_return;
    throw ServerError("ROLE on " + address.describe() + ": " + r.str, true);
  }
  const std::string role =
      r.is_array() && !r.elements.empty() && r.elements[0].is_string() ? r.elements[0].str : "?";
  if (role != "master") {
    if (master_ && *master_ == address) master_.reset();
    throw ConnectionError(address.describe() + " is a " + role + ", not the master of '" +
                          options_.master_name + "'; asking the sentinels again");
  }
  if (master_ && !(*master_ == address)) {
    throw ConnectionError("the master of '" + options_.master_name + "' moved to " +
                          master_->describe() + " while connecting to " + address.describe());
  }
}

void SentinelTopology::unreachable(const RedisAddress& address, const std::string& why) {
  if (master_ && *master_ == address) {
    master_.reset();
    problem_ = "master " + address.describe() + " unreachable: " + why;
  }
}

void SentinelTopology::demoted(const RedisAddress& address) {
  if (master_ && *master_ == address) {
    master_.reset();
    problem_ = address.describe() + " is no longer the master";
  }
}

void SentinelTopology::attach(RedisConnection* connection) {
  attached_.push_back(connection);
}

void SentinelTopology::detach(RedisConnection* connection) {
  attached_.erase(std::remove(attached_.begin(), attached_.end(), connection), attached_.end());
}

void SentinelTopology::on_message(const Reply& message) {
  if (message.elements.size() < 3) return;
  const std::string& channel = message.elements[1].str;
  const auto w = words(message.elements[2].str);
  if (channel == "+switch-master") {
    // <name> <old ip> <old port> <new ip> <new port>
    if (w.size() < 5 || w[0] != options_.master_name) return;
    if (auto port = parse_port(w[4])) switch_master(RedisAddress{w[3], *port}, "+switch-master");
  } else if (channel == "+promoted-slave") {
    // slave <ip:port> <ip> <port> @ <name> <master ip> <master port>
    if (w.size() < 6 || w[4] != "@" || w[5] != options_.master_name) return;
    if (auto port = parse_port(w[3])) switch_master(RedisAddress{w[2], *port}, "+promoted-slave");
  }
}

void SentinelTopology::switch_master(const RedisAddress& to, const std::string& why) {
  if (master_ && *master_ == to) return;
  const std::string from = master_ ? master_->describe() : "";
  if (master_) {
    old_master_ = *master_;
    old_master_until_ms_ = now_ms() + 60'000;
  }
  master_ = to;
  problem_.clear();
  ++switches_;
  logger().warn(
      "redis.master_switch", "the sentinels named a new master; moving every connection",
      {{"master_name", options_.master_name}, {"from", from}, {"to", to.describe()}, {"via", why}});
  const auto connections = attached_;
  for (RedisConnection* c : connections) {
    if (!(c->address() == to))
      c->relocate("the sentinels named " + to.describe() + " master of '" + options_.master_name +
                  "' (" + why + ")");
  }
}

}  // namespace bullmq
