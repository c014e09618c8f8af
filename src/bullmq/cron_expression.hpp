// Cron patterns of BullMQ job schedulers (`repeat.pattern`): parsing and
// "next run time" computation that reproduces what Node BullMQ 6.7.0 gets
// from the npm package cron-parser 5.10.3, the version it pins
// (`CronExpressionParser.parse(pattern, {...opts, currentDate}).next()`, a
// fresh parse for every computation). Checked against cron-parser on random
// patterns, references and zones (DST changes included).
//
// Accepted syntax (that of cron-parser 5.10.3, non-strict mode):
//   * 6 fields "sec min hour dom month dow" or fewer: missing leading fields
//     are taken from "0 * * * * *", so 5 fields are "min hour dom month dow"
//     with second 0 (and cron-parser's 1-4 fields work the same way).
//   * per field: `*` or `?`, numbers, ranges `a-b`, steps `*/n`, `a-b/n`
//     and `a/n` (= `a-max/n`), lists `a,b,c`. Ranges: sec/min 0-59, hour
//     0-23, dom 1-31, month 1-12, dow 0-7 (0 and 7 are Sunday). Duplicate
//     values are an error (`1,1`, `0,7`), as in cron-parser.
//   * names JAN..DEC and SUN..SAT, any case, in month and day-of-week.
//   * `L` in day-of-month (last day of the month; may be listed: `15,L`),
//     `nL` in day-of-week (last weekday n of the month: `5L`, `FRIL`),
//     `n#k` in day-of-week (k-th weekday n of the month, k 1..5, alone).
//   * the whole pattern being @yearly @annually @monthly @weekly @daily
//     @hourly @minutely @secondly @weekdays @weekends (exact, lower case).
//   Rejected although cron-parser takes them: Jenkins-style `H` hashes
//   (cron-parser draws them from an unseeded random source in BullMQ, so no
//   worker can reproduce them) and the empty pattern (cron-parser reads it
//   as "0 * * * * *"; BullMQ never passes one). Like cron-parser, a day the
//   only listed month lacks (`0 0 30 2 *`) is a parse error when the
//   day-of-week is `*`/`?`; with several months (`0 0 31 4,6 *`) the
//   pattern parses and simply never matches.
//
// Day matching (cron-parser's rule): a field is a "wildcard" only when its
// text is exactly `*` or `?` (so `*/1` or `1-31` are restrictions). When both
// day-of-month and day-of-week are restricted, a day matches if EITHER
// matches; otherwise the restricted one decides (both wildcards: every day).
//
// Time zones and DST (see next_after()): wall-clock matching in the zone,
// with cron-parser's conventions where a wall-clock time is missing or
// repeated (they fall out of how its walk over the calendar steps):
//   * spring-forward gap: when the hour field is not all 24 hours and a
//     skipped hour is scheduled, its minute/second values fire in the hour
//     the clock lands on (02:30 Berlin -> 03:30 CEST), but only when the
//     search starts before the gap. A gap at midnight (America/Santiago) is
//     noticed only when crossed from hour 23 of a matching previous day;
//     otherwise that day's midnight job is skipped, as in cron-parser.
//   * fall-back overlap: when the hour field is not all 24 hours, a repeated
//     wall-clock time fires only on its first occurrence, unless the search
//     starts inside the repeated stretch; with all 24 hours both
//     occurrences fire. A repeated midnight (America/Havana) is usually
//     entered at its second occurrence, as cron-parser/luxon do.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bullmq {

class CronExpression {
 public:
  // Parses `pattern`. On failure returns nullopt and, when `error` is not
  // null, stores a message naming the offending field.
  static std::optional<CronExpression> parse(std::string_view pattern, std::string* error);

  // Checks that `tz` names a time zone next_after() can use. Accepted: an
  // IANA name of the system tz database ("Europe/Berlin", any case, as Intl
  // does), "UTC" / "GMT", fixed offsets "UTC+3" / "UTC-05:30" (luxon
  // syntax), and "" / "local" / "system" for the process's local zone (TZ
  // environment variable, else /etc/localtime, else UTC). Empty mirrors Node:
  // without `tz` in the repeat options cron-parser uses the local zone of the
  // Node process; in containers both are usually UTC, so producer and worker
  // agree as long as they run with the same TZ.
  static bool is_valid_time_zone(const std::string& tz, std::string* error);

  // The first instant strictly after `after_ms` (ms since the Unix epoch)
  // whose wall-clock time in time zone `tz` matches the pattern, in ms,
  // always a whole second. Returns nullopt when there is none within the
  // next 400 years (a full Gregorian cycle; cron-parser gives up after
  // 10000 steps, which only differs for matches decades away) or before the
  // end of the JS Date range (8.64e15 ms), and when `tz` is unknown (then
  // `error`, if not null, is set; it is left alone otherwise). Bounded work.
  //
  // startDate/endDate of the repeat options are the caller's business. To
  // match BullMQ 6.7.0 use after_ms = max(millis, startDate) (not
  // startDate - 1: a match exactly at startDate is skipped there too) and
  // drop a result > endDate (one equal to endDate is kept).
  std::optional<std::int64_t> next_after(std::int64_t after_ms, const std::string& tz,
                                         std::string* error = nullptr) const;

 private:
  friend class CronMatcher;
  CronExpression() = default;

  std::bitset<60> seconds_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;  // bit d = day d (1..31)
  bool last_day_of_month_ = false;
  std::bitset<13> months_;        // bit m = month m (1..12)
  std::bitset<7> days_of_week_;   // bit 0 = Sunday
  std::bitset<7> last_weekdays_;  // `nL`: bit n = last weekday n of the month
  bool dow_has_last_ = false;     // an `L` appears in the day-of-week text
  int nth_weekday_ = 0;           // `#k`, 0 = none
  bool dom_wildcard_ = false;     // text exactly "*" or "?"
  bool dow_wildcard_ = false;
};

}  // namespace bullmq
