// Expected instants were produced by Node 20 with cron-parser 5.10.3 (the
// version BullMQ 6.7.0 pins): CronExpressionParser.parse(pattern,
// {currentDate: new Date(after), tz}).next().
#include "bullmq/cron_expression.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

namespace {

using bullmq::CronExpression;

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// "2026-03-01T10:00:00.500Z" -> ms since the epoch.
std::int64_t ms(const std::string& iso) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, milli = 0;
  REQUIRE(std::sscanf(iso.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &y, &mo, &d, &h, &mi, &s, &milli) >= 6);
  return ((days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 24 + h) * 60 +
          mi) *
             60000 +
         s * 1000 + milli;
}

// ms since the epoch -> "2026-03-01T10:00:00Z" (".mmm" only when non-zero).
std::string iso(std::int64_t t) {
  std::int64_t days = t / 86400000;
  std::int64_t rem = t % 86400000;
  if (rem < 0) {
    rem += 86400000;
    --days;
  }
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2);
  char buf[64];
  const int milli = static_cast<int>(rem % 1000);
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d", static_cast<long long>(y), m, d,
                static_cast<int>(rem / 3600000), static_cast<int>(rem / 60000 % 60),
                static_cast<int>(rem / 1000 % 60));
  std::string out = buf;
  if (milli != 0) {
    std::snprintf(buf, sizeof buf, ".%03d", milli);
    out += buf;
  }
  return out + "Z";
}

// The next run as an ISO string, "none" when there is none, "error: ..."
// when the pattern or time zone is rejected.
std::string next(const std::string& pattern, const std::string& tz, const std::string& after) {
  std::string error;
  auto cron = CronExpression::parse(pattern, &error);
  if (!cron) return "error: " + error;
  std::string tz_error;
  auto t = cron->next_after(ms(after), tz, &tz_error);
  if (!tz_error.empty()) return "error: " + tz_error;
  if (!t) return "none";
  return iso(*t);
}

std::string parse_error(const std::string& pattern) {
  std::string error;
  auto cron = CronExpression::parse(pattern, &error);
  if (cron) return "accepted";
  return error.empty() ? "(no message)" : error;
}

// Sets TZ for the scope of one test, restoring it afterwards.
class ScopedTz {
 public:
  explicit ScopedTz(const char* value) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    ::setenv("TZ", value, 1);
  }
  ~ScopedTz() {
    if (old_) {
      ::setenv("TZ", old_->c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
  }

 private:
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("CronExpression test helpers round-trip") {
  CHECK(ms("1970-01-01T00:00:01Z") == 1000);
  CHECK(iso(ms("2028-02-29T23:59:59.250Z")) == "2028-02-29T23:59:59.250Z");
  CHECK(iso(ms("1969-12-31T23:00:00Z")) == "1969-12-31T23:00:00Z");
}

TEST_CASE("CronExpression: second and minute steps, strictly after the reference") {
  CHECK(next("* * * * * *", "UTC", "2026-03-01T10:00:00.500Z") == "2026-03-01T10:00:01Z");
  CHECK(next("* * * * * *", "UTC", "2026-03-01T10:00:00Z") == "2026-03-01T10:00:01Z");
  CHECK(next("*/15 * * * * *", "UTC", "2026-03-01T10:00:14.999Z") == "2026-03-01T10:00:15Z");
  CHECK(next("*/15 * * * * *", "UTC", "2026-03-01T10:00:45Z") == "2026-03-01T10:01:00Z");
  CHECK(next("0 */5 * * * *", "UTC", "2026-03-01T10:03:00Z") == "2026-03-01T10:05:00Z");
  CHECK(next("5/15 * * * * *", "UTC", "2026-03-01T10:00:06Z") == "2026-03-01T10:00:20Z");
  CHECK(next("0 1 1 * * *", "UTC", "2026-01-01T00:00:00Z") == "2026-01-01T01:01:00Z");
}

TEST_CASE("CronExpression: 5 fields are min hour dom month dow, fewer fields default") {
  CHECK(next("*/5 * * * *", "UTC", "2026-03-01T10:05:00Z") == "2026-03-01T10:10:00Z");
  CHECK(next("*/5 * * * *", "UTC", "2026-03-01T10:05:00.001Z") == "2026-03-01T10:10:00Z");
  CHECK(next("0 1 1 * *", "UTC", "2026-01-01T00:00:00Z") == "2026-01-01T01:00:00Z");
  // cron-parser fills missing leading fields from "0 * * * * *": "5" is
  // every minute on Fridays.
  CHECK(next("5", "UTC", "2026-01-01T00:00:00Z") == "2026-01-02T00:00:00Z");
}

TEST_CASE("CronExpression: weekdays at 09:00 New York across both DST changes") {
  // Fri 09:00 EST -> Mon 09:00 EDT (spring forward on Sun 2026-03-08)
  CHECK(next("0 9 * * MON-FRI", "America/New_York", "2026-03-06T14:00:00Z") ==
        "2026-03-09T13:00:00Z");
  // Fri 09:00 EDT -> Mon 09:00 EST (fall back on Sun 2026-11-01)
  CHECK(next("0 9 * * MON-FRI", "America/New_York", "2026-10-30T13:00:00Z") ==
        "2026-11-02T14:00:00Z");
}

TEST_CASE("CronExpression: spring-forward gap fires in the hour after the gap") {
  // Berlin 2026-03-29: 02:00 CET -> 03:00 CEST. 02:30 does not exist; the job
  // runs at 03:30 CEST (01:30Z).
  CHECK(next("0 30 2 * * *", "Europe/Berlin", "2026-03-28T02:00:00Z") == "2026-03-29T01:30:00Z");
  CHECK(next("0 30 2 * * *", "Europe/Berlin", "2026-03-29T01:30:00Z") == "2026-03-30T00:30:00Z");
  // a search starting after the gap (03:10 CEST) does not see it
  CHECK(next("0 30 2 * * *", "Europe/Berlin", "2026-03-29T01:10:00Z") == "2026-03-30T00:30:00Z");
  // BullMQ recomputes from the last run: 02:00 and 02:30 collapse into one
  // run at 03:00 CEST
  CHECK(next("0 0,30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z") == "2026-03-29T01:00:00Z");
  CHECK(next("0 0,30 2 * * *", "Europe/Berlin", "2026-03-29T01:00:00Z") == "2026-03-30T00:00:00Z");
  // every hour: 01:30 CET then 03:30 CEST
  CHECK(next("0 30 * * * *", "Europe/Berlin", "2026-03-29T00:30:00Z") == "2026-03-29T01:30:00Z");
}

TEST_CASE("CronExpression: fall-back overlap runs once unless every hour is scheduled") {
  // New York 2026-11-01: 02:00 EDT -> 01:00 EST, 01:xx happens twice.
  CHECK(next("0 30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z") ==
        "2026-11-01T05:30:00Z");  // 01:30 EDT
  CHECK(next("0 30 1 * * *", "America/New_York", "2026-11-01T05:30:00Z") ==
        "2026-11-02T06:30:00Z");  // not again at 01:30 EST
  // a search starting inside the repeated hour fires there
  CHECK(next("0 30 1 * * *", "America/New_York", "2026-11-01T06:10:00Z") == "2026-11-01T06:30:00Z");
  // with all 24 hours the repeated hour fires again: 01:30 EDT, 01:30 EST
  CHECK(next("0 30 * * * *", "America/New_York", "2026-11-01T05:30:00Z") == "2026-11-01T06:30:00Z");
}

TEST_CASE("CronExpression: midnight DST changes follow cron-parser 5.10.3") {
  // Santiago 2026-09-06 starts at 01:00 (midnight skipped): cron-parser
  // steps over that day, so we do too.
  CHECK(next("0 0 0 * * *", "America/Santiago", "2026-09-05T12:00:00Z") == "2026-09-07T03:00:00Z");
  // Havana 2026-11-01 01:00 CDT -> 00:00 CST: midnight is repeated and the
  // job runs at the second one (05:00Z), not at 04:00Z.
  CHECK(next("0 0 0 * * *", "America/Havana", "2026-10-31T12:00:00Z") == "2026-11-01T05:00:00Z");
}

TEST_CASE("CronExpression: L, nL and n#k") {
  CHECK(next("0 0 L * *", "UTC", "2026-02-10T00:00:00Z") == "2026-02-28T00:00:00Z");
  CHECK(next("0 0 L * *", "UTC", "2028-02-10T00:00:00Z") == "2028-02-29T00:00:00Z");
  CHECK(next("0 0 * * 5L", "UTC", "2026-01-01T00:00:00Z") == "2026-01-30T00:00:00Z");
  CHECK(next("0 0 * * FRIL", "UTC", "2026-01-01T00:00:00Z") == "2026-01-30T00:00:00Z");
  CHECK(next("0 0 * * 1#2", "UTC", "2026-01-01T00:00:00Z") == "2026-01-12T00:00:00Z");
  CHECK(next("0 0 0 * * sun#1", "UTC", "2026-01-01T00:00:00Z") == "2026-01-04T00:00:00Z");
  CHECK(next("0 0 0 15,L * *", "UTC", "2026-01-16T00:00:00Z") == "2026-01-31T00:00:00Z");
}

TEST_CASE("CronExpression: day-of-month and day-of-week") {
  // both restricted: the 13th OR a Friday
  CHECK(next("0 0 13 * 5", "UTC", "2026-01-01T00:00:00Z") == "2026-01-02T00:00:00Z");  // Fri
  CHECK(next("0 0 13 * 5", "UTC", "2026-01-09T00:00:00Z") == "2026-01-13T00:00:00Z");  // Tue 13
  CHECK(next("0 0 13 * 5", "UTC", "2026-01-13T00:00:00Z") == "2026-01-16T00:00:00Z");  // Fri
  // only the exact text "*" or "?" is a wildcard: "*/1" restricts (to every
  // day), so "every day OR Monday" is every day
  CHECK(next("0 0 */1 * 1", "UTC", "2026-01-01T00:00:00Z") == "2026-01-02T00:00:00Z");
  CHECK(next("0 0 ? * 1", "UTC", "2026-01-01T00:00:00Z") == "2026-01-05T00:00:00Z");
  CHECK(next("0 0 15 * ?", "UTC", "2026-01-01T00:00:00Z") == "2026-01-15T00:00:00Z");
}

TEST_CASE("CronExpression: month and day names, Sunday as 7") {
  CHECK(next("0 0 1 JAN,jul *", "UTC", "2026-01-01T00:00:00Z") == "2026-07-01T00:00:00Z");
  CHECK(next("0 12 * * SAT,sun", "UTC", "2026-01-01T00:00:00Z") == "2026-01-03T12:00:00Z");
  CHECK(next("0 0 0 * * 7", "UTC", "2026-01-01T00:00:00Z") == "2026-01-04T00:00:00Z");
  CHECK(next("0 0 0 * * 5-7", "UTC", "2026-01-03T00:00:00Z") == "2026-01-04T00:00:00Z");
}

TEST_CASE("CronExpression: predefined patterns") {
  CHECK(next("@daily", "UTC", "2026-01-01T10:00:00Z") == "2026-01-02T00:00:00Z");
  CHECK(next("@weekly", "UTC", "2026-01-01T10:00:00Z") == "2026-01-04T00:00:00Z");
  CHECK(next("@hourly", "UTC", "2026-01-01T10:00:00Z") == "2026-01-01T11:00:00Z");
  CHECK(next("@yearly", "UTC", "2026-01-01T00:00:00Z") == "2027-01-01T00:00:00Z");
  CHECK(next("@monthly", "Asia/Kolkata", "2026-01-01T00:00:00Z") == "2026-01-31T18:30:00Z");
  CHECK(parse_error("@DAILY") != "accepted");
  CHECK(parse_error("@reboot") != "accepted");
}

TEST_CASE("CronExpression: invalid patterns are rejected with a message") {
  CHECK(parse_error("") == "empty pattern");
  CHECK(parse_error("   ") == "empty pattern");
  CHECK(parse_error("* * * * * * *") == "too many fields (at most 6: sec min hour dom month dow)");
  CHECK(parse_error("60 * * * * *") == "second field: value 60 is outside 0-59");
  CHECK(parse_error("0 24 * * *") == "hour field: value 24 is outside 0-23");
  CHECK(parse_error("0 0 0 0 * *") == "day-of-month field: value 0 is outside 1-31");
  CHECK(parse_error("0 0 1 13 *") == "month field: value 13 is outside 1-12");
  CHECK(parse_error("0 0 * * 8") == "day-of-week field: value 8 is outside 0-7");
  CHECK(parse_error("*/0 * * * *") == "minute field: step must be a positive number");
  CHECK(parse_error("3-1 * * * *") == "minute field: range \"3-1\" has min > max");
  CHECK(parse_error("a * * * *") == "minute field: invalid character 'a' in \"a\"");
  CHECK(parse_error("0 0 * * MONDAY") == "day-of-week field: unknown name \"DAY\"");
  CHECK(parse_error("0 0 * * L") == "day-of-week field: L needs a weekday before it (e.g. 5L)");
  CHECK(parse_error("0 0 * * 1#6") == "day-of-week field: occurrence after '#' must be 1-5");
  CHECK(parse_error("0 0 * * 1#2,3") ==
        "day-of-week field: '#' cannot be combined with ',', '-' or '/'");
  CHECK(parse_error("1,1 * * * * *") == "second field: duplicate value 1");
  CHECK(parse_error("0 0 0 * * 0,7") == "day-of-week field: duplicate value 0");
  CHECK(parse_error("0 1,,2 * * *") == "hour field: empty list item in \"1,,2\"");
  CHECK(parse_error("0 0 L-5 * *") != "accepted");
  CHECK(parse_error("H * * * *") == "minute field: hashed values (H) are not supported");
  // a day the only listed month never has
  CHECK(parse_error("0 0 30 2 *") == "day-of-month field: no such day in the given month");
  CHECK(parse_error("0 0 31 2 *") == "day-of-month field: no such day in the given month");
  CHECK(parse_error(std::string(1025, '*')) == "pattern longer than 1024 characters");
  // no message pointer is fine
  CHECK_FALSE(CronExpression::parse("61 * * * * *", nullptr).has_value());
}

TEST_CASE("CronExpression: patterns that never match give no next run") {
  // cron-parser accepts it (two months) and then fails with "loop limit
  // exceeded", which BullMQ turns into "no next run".
  CHECK(next("0 0 0 31 4,6 *", "UTC", "2026-01-01T00:00:00Z") == "none");
  // 5th Monday of February: only in leap years starting on a Monday
  CHECK(next("0 0 0 * 2 1#5", "UTC", "2017-01-01T00:00:00Z") == "2044-02-29T00:00:00Z");
  // the JS Date range ends at 8.64e15 ms
  auto cron = CronExpression::parse("0 0 0 1 1 *", nullptr);
  REQUIRE(cron);
  CHECK_FALSE(cron->next_after(8'639'999'999'999'000LL, "UTC").has_value());
}

TEST_CASE("CronExpression: time zones") {
  CHECK(next("0 0 12 * * *", "utc+3", "2026-01-01T00:00:00Z") == "2026-01-01T09:00:00Z");
  CHECK(next("0 0 12 * * *", "GMT", "2026-01-01T00:00:00Z") == "2026-01-01T12:00:00Z");
  CHECK(next("0 0 12 * * *", "america/new_york", "2026-01-01T00:00:00Z") == "2026-01-01T17:00:00Z");
  CHECK(next("0 0 12 * * *", "Mars/Base", "2026-01-01T00:00:00Z") ==
        "error: unknown time zone \"Mars/Base\"");
  CHECK(next("0 0 12 * * *", "../../etc/passwd", "2026-01-01T00:00:00Z") ==
        "error: unknown time zone \"../../etc/passwd\"");

  std::string error;
  CHECK(CronExpression::is_valid_time_zone("Europe/Berlin", &error));
  CHECK(CronExpression::is_valid_time_zone("", &error));
  CHECK_FALSE(CronExpression::is_valid_time_zone("Europe/Nowhere", &error));
  CHECK(error == "unknown time zone \"Europe/Nowhere\"");
}

TEST_CASE("CronExpression: empty tz is the process's local zone, as in Node") {
  {
    ScopedTz tz("America/New_York");
    CHECK(next("0 0 12 * * *", "", "2026-07-01T00:00:00Z") == "2026-07-01T16:00:00Z");
  }
  {
    ScopedTz tz("UTC");
    CHECK(next("0 0 12 * * *", "", "2026-07-01T00:00:00Z") == "2026-07-01T12:00:00Z");
  }
}
