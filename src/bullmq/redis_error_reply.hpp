// What a Redis error reply means to the worker: a redirection to follow
// (MOVED, ASK, TRYAGAIN, READONLY or UNBLOCKED on a demoted master), a refusal
// that keeps the worker from claiming until an operator acts (MISCONF, OOM,
// NOAUTH, WRONGPASS, NOPERM, CLUSTERDOWN, …), or anything else. Pure
// functions over the reply text; no state.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "bullmq/redis_options.hpp"

namespace bullmq {

enum class RedisErrorKind {
  kOther,        // a script's own error, a wrong type, …
  kMoved,        // MOVED slot host:port: the slot lives on another node for good
  kAsk,          // ASK slot host:port: this one command goes to host:port (after ASKING)
  kTryAgain,     // TRYAGAIN: a slot is half migrated; the same command works a moment later
  kReadOnly,     // READONLY: connected to a replica (a master demoted by a failover)
  kUnblocked,    // UNBLOCKED: a blocked command was released (role change, slot moved)
  kClusterDown,  // CLUSTERDOWN: the cluster cannot serve the slot now
  kMasterDown,   // MASTERDOWN: a replica lost its master
  kLoading,      // LOADING: the dataset is still being loaded
  kBusy,         // BUSY: a script runs too long
  kMisconf,      // MISCONF: Redis cannot persist and refuses writes
  kOom,          // OOM: maxmemory reached, writes refused
  kNoAuth,       // NOAUTH: the connection is not authenticated
  kWrongPass,    // WRONGPASS: the credentials were refused
  kNoPerm,       // NOPERM: the ACL user lacks a command or key
  kNoScript,     // NOSCRIPT: the script cache is empty
  kCrossSlot,    // CROSSSLOT: keys of one command in several slots
};

struct RedisErrorReply {
  RedisErrorKind kind = RedisErrorKind::kOther;
  std::string code;     // the reply's first word ("MOVED", "ERR", …)
  int slot = -1;        // kMoved, kAsk
  RedisAddress target;  // kMoved, kAsk
};

// Classifies an error reply's text (without the leading '-'). A MOVED or ASK
// without a readable slot and target is kOther.
RedisErrorReply classify_error_reply(std::string_view text);

// The kind of an error by its code word alone ("MOVED", "OOM", …), as kept
// by ServerError::code().
RedisErrorKind error_kind_of_code(std::string_view code);

// Errors after which claiming cannot work until something outside the worker
// changes; /readyz reports them. Transient ones (TRYAGAIN, a followed MOVED)
// are not among them.
bool blocks_claiming(RedisErrorKind kind);

// Whether the same command can succeed later without the worker changing
// anything: redirections, outages and operator-fixable refusals are;
// a script's own error is not.
bool retryable_error(RedisErrorKind kind);

}  // namespace bullmq
