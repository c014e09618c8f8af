#include "bullmq/cron_expression.hpp"

#include <cctz/civil_time.h>
#include <cctz/time_zone.h>
#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

namespace bullmq {

namespace {

// ---------------------------------------------------------------------------
// Parsing

enum class Field { kSecond, kMinute, kHour, kDayOfMonth, kMonth, kDayOfWeek };

struct FieldSpec {
  const char* name;
  int min;
  int max;
};

FieldSpec spec_of(Field f) {
  switch (f) {
    case Field::kSecond:
      return {"second", 0, 59};
    case Field::kMinute:
      return {"minute", 0, 59};
    case Field::kHour:
      return {"hour", 0, 23};
    case Field::kDayOfMonth:
      return {"day-of-month", 1, 31};
    case Field::kMonth:
      return {"month", 1, 12};
    case Field::kDayOfWeek:
      return {"day-of-week", 0, 7};
  }
  return {"?", 0, 0};
}

bool allows_last(Field f) {
  return f == Field::kDayOfMonth || f == Field::kDayOfWeek;
}

constexpr std::size_t kMaxPatternLength = 1024;  // as cron-parser
constexpr std::size_t kMaxFieldValues = 256;     // as cron-parser
constexpr std::array<int, 12> kDaysInMonth = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

// What one field parses to, before it is folded into bitsets. `numbers` keeps
// duplicates (they are an error) and, for day-of-week ranges, the value 7.
struct FieldValues {
  std::vector<long long> numbers;
  std::vector<std::string> strings;  // `L` forms: "L", "5L"
};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return is_digit(c); });
}

// parseInt(s, 10) of JavaScript for the characters a field may hold: the
// leading run of digits, nullopt (NaN) when there is none. Saturates.
std::optional<long long> leading_int(std::string_view s) {
  if (s.empty() || !is_digit(s[0])) return std::nullopt;
  long long v = 0;
  for (char c : s) {
    if (!is_digit(c)) break;
    if (v < 1'000'000'000LL) v = v * 10 + (c - '0');
  }
  return v;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    std::size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Month and day names. cron-parser resolves a name in either table whatever
// the field (so `JAN` in day-of-week is 1); we do the same.
std::optional<int> alias_value(std::string_view name3) {
  static constexpr std::array<const char*, 12> kMonths = {"jan", "feb", "mar", "apr", "may", "jun",
                                                          "jul", "aug", "sep", "oct", "nov", "dec"};
  static constexpr std::array<const char*, 7> kDays = {"sun", "mon", "tue", "wed",
                                                       "thu", "fri", "sat"};
  std::string l;
  for (char c : name3) l.push_back(lower(c));
  for (std::size_t i = 0; i < kMonths.size(); ++i)
    if (l == kMonths[i]) return static_cast<int>(i) + 1;
  for (std::size_t i = 0; i < kDays.size(); ++i)
    if (l == kDays[i]) return static_cast<int>(i);
  return std::nullopt;
}

class FieldParser {
 public:
  FieldParser(Field field, std::string* error)
      : field_(field), spec_(spec_of(field)), error_(error) {}

  bool parse(std::string_view raw, FieldValues* out) {
    std::string text;
    // 1. names -> numbers (every run of three letters, left to right)
    if (field_ == Field::kMonth || field_ == Field::kDayOfWeek) {
      for (std::size_t i = 0; i < raw.size();) {
        if (i + 3 <= raw.size() && is_alpha(raw[i]) && is_alpha(raw[i + 1]) &&
            is_alpha(raw[i + 2])) {
          auto v = alias_value(raw.substr(i, 3));
          if (!v) return fail("unknown name \"" + std::string(raw.substr(i, 3)) + "\"");
          text += std::to_string(*v);
          i += 3;
        } else {
          text.push_back(raw[i++]);
        }
      }
    } else {
      text = std::string(raw);
    }
    // 2. character set
    for (char c : text) {
      if (c == 'H') return fail("hashed values (H) are not supported");
      bool ok = is_digit(c) || c == ',' || c == '-' || c == '/' || c == '*' || c == '?' ||
                (c == 'L' && allows_last(field_));
      if (!ok) return fail("invalid character '" + std::string(1, c) + "' in \"" + text + "\"");
    }
    // 3. every `*` / `?` stands for min-max (textually, as cron-parser)
    std::string expanded;
    for (char c : text) {
      if (c == '*' || c == '?') {
        expanded += std::to_string(spec_.min) + "-" + std::to_string(spec_.max);
      } else {
        expanded.push_back(c);
      }
    }
    // 4. list items
    for (std::string_view item : split(expanded, ',')) {
      if (out->numbers.size() + out->strings.size() > kMaxFieldValues)
        return fail("too many values");
      if (item.empty()) return fail("empty list item in \"" + text + "\"");
      if (!parse_item(item, out)) return false;
    }
    return validate(*out);
  }

 private:
  bool fail(const std::string& msg) {
    if (error_) *error_ = std::string(spec_.name) + " field: " + msg;
    return false;
  }

  bool parse_item(std::string_view item, FieldValues* out) {
    auto parts = split(item, '/');
    if (parts.size() > 2) return fail("invalid step expression \"" + std::string(item) + "\"");
    if (parts.size() == 2) {
      std::string base(parts[0]);
      if (base.find('-') == std::string::npos) base += "-" + std::to_string(spec_.max);
      auto step = leading_int(parts[1]);
      return parse_range(base, step, out);
    }
    return parse_range(item, 1LL, out);
  }

  bool parse_range(std::string_view text, std::optional<long long> step, FieldValues* out) {
    auto bounds = split(text, '-');
    if (bounds.size() <= 1) {  // a single value
      if (all_digits(text)) return add_number(*leading_int(text), out);
      if (allows_last(field_) && text.find('L') != std::string_view::npos) {
        out->strings.emplace_back(text);
        return true;
      }
      return fail("invalid value \"" + std::string(text) + "\"");
    }
    // cron-parser reads the first two bounds with parseInt and ignores the rest
    auto lo = leading_int(bounds[0]);
    auto hi = leading_int(bounds[1]);
    if (!lo || !hi || *lo < spec_.min || *hi > spec_.max)
      return fail("range \"" + std::string(text) + "\" is outside " + std::to_string(spec_.min) +
                  "-" + std::to_string(spec_.max));
    if (*lo > *hi) return fail("range \"" + std::string(text) + "\" has min > max");
    if (!step || *step <= 0) return fail("step must be a positive number");
    std::vector<long long> values;
    if (field_ == Field::kDayOfWeek && *hi % 7 == 0 && (*hi - *lo) % *step == 0)
      values.push_back(0);
    for (long long v = *lo; v <= *hi; v += *step) {
      if (std::find(values.begin(), values.end(), v) == values.end()) values.push_back(v);
    }
    out->numbers.insert(out->numbers.end(), values.begin(), values.end());
    return true;
  }

  bool add_number(long long v, FieldValues* out) {
    if (v < spec_.min || v > spec_.max)
      return fail("value " + std::to_string(v) + " is outside " + std::to_string(spec_.min) + "-" +
                  std::to_string(spec_.max));
    out->numbers.push_back(field_ == Field::kDayOfWeek ? v % 7 : v);
    return true;
  }

  bool validate(const FieldValues& v) {
    for (const std::string& s : v.strings) {
      // ^\d{0,2}L$
      bool ok = s.size() >= 1 && s.size() <= 3 && s.back() == 'L' &&
                std::all_of(s.begin(), s.end() - 1, [](char c) { return is_digit(c); });
      if (!ok) return fail("invalid value \"" + s + "\"");
      if (field_ == Field::kDayOfWeek && s == "L")
        return fail("L needs a weekday before it (e.g. 5L)");
    }
    for (std::size_t i = 0; i < v.numbers.size(); ++i)
      for (std::size_t j = i + 1; j < v.numbers.size(); ++j)
        if (v.numbers[i] == v.numbers[j])
          return fail("duplicate value " + std::to_string(v.numbers[i]));
    for (std::size_t i = 0; i < v.strings.size(); ++i)
      for (std::size_t j = i + 1; j < v.strings.size(); ++j)
        if (v.strings[i] == v.strings[j]) return fail("duplicate value " + v.strings[i]);
    return true;
  }

  Field field_;
  FieldSpec spec_;
  std::string* error_;
};

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view predefined(std::string_view pattern) {
  static constexpr std::array<std::pair<const char*, const char*>, 10> kPredefined = {{
      {"@yearly", "0 0 0 1 1 *"},
      {"@annually", "0 0 0 1 1 *"},
      {"@monthly", "0 0 0 1 * *"},
      {"@weekly", "0 0 0 * * 0"},
      {"@daily", "0 0 0 * * *"},
      {"@hourly", "0 0 * * * *"},
      {"@minutely", "0 * * * * *"},
      {"@secondly", "* * * * * *"},
      {"@weekdays", "0 0 0 * * 1-5"},
      {"@weekends", "0 0 0 * * 0,6"},
  }};
  for (const auto& [name, expansion] : kPredefined)
    if (pattern == name) return expansion;
  return pattern;
}

// ---------------------------------------------------------------------------
// Time zones

constexpr std::int64_t kMaxJsDateMs = 8'640'000'000'000'000LL;

std::string lowered(const std::string& s) {
  std::string l;
  for (char c : s) l.push_back(lower(c));
  return l;
}

// `name` with each path component spelled as in the zoneinfo directory,
// matching case-insensitively ("america/new_york" -> "America/New_York").
std::optional<std::string> canonical_zone_name(const std::string& name) {
  const char* tzdir = std::getenv("TZDIR");
  std::filesystem::path dir = (tzdir && *tzdir) ? tzdir : "/usr/share/zoneinfo";
  std::string result;
  for (std::string_view part : split(name, '/')) {
    std::error_code ec;
    std::optional<std::string> found;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string file = it->path().filename().string();
      if (lowered(file) == lowered(std::string(part))) {
        found = file;
        break;
      }
    }
    if (ec || !found) return std::nullopt;
    result += (result.empty() ? "" : "/") + *found;
    dir /= *found;
  }
  return result;
}

bool load_zone(const std::string& name, cctz::time_zone* tz, std::string* error) {
  const std::string l = lowered(name);
  if (name.empty() || l == "local" || l == "system") {
    *tz = cctz::local_time_zone();
    return true;
  }
  if (l == "utc" || l == "gmt") {
    *tz = cctz::utc_time_zone();
    return true;
  }
  // luxon fixed offsets: utc+H, utc-HH, utc+H:MM
  if (l.size() > 4 && l.compare(0, 3, "utc") == 0 && (l[3] == '+' || l[3] == '-')) {
    std::string_view rest(l);
    rest.remove_prefix(4);
    std::string_view hh = rest.substr(0, rest.find(':'));
    std::string_view mm = rest.size() > hh.size() ? rest.substr(hh.size() + 1) : std::string_view{};
    bool ok = all_digits(hh) && hh.size() <= 2 &&
              (rest.size() == hh.size() || (all_digits(mm) && mm.size() == 2));
    if (ok) {
      long long secs = *leading_int(hh) * 3600 + (mm.empty() ? 0 : *leading_int(mm) * 60);
      *tz = cctz::fixed_time_zone(std::chrono::seconds(l[3] == '-' ? -secs : secs));
      return true;
    }
  }
  // IANA names only: keep the loader away from arbitrary paths.
  bool safe = !name.empty() && name[0] != '/' && name.find("..") == std::string::npos &&
              std::all_of(name.begin(), name.end(), [](char c) {
                return is_alpha(c) || is_digit(c) || c == '/' || c == '_' || c == '-' || c == '+';
              });
  if (safe && cctz::load_time_zone(name, tz)) return true;
  if (safe) {  // Intl (hence luxon) takes IANA names in any case
    if (auto canonical = canonical_zone_name(name);
        canonical && cctz::load_time_zone(*canonical, tz))
      return true;
  }
  if (error) *error = "unknown time zone \"" + name + "\"";
  return false;
}

using Seconds = cctz::time_point<cctz::seconds>;

std::int64_t to_unix(const Seconds& tp) {
  return tp.time_since_epoch().count();
}

Seconds from_unix(std::int64_t s) {
  return Seconds(cctz::seconds(s));
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int days_in_month(const cctz::civil_day& d) {
  const cctz::civil_day first(d.year(), d.month(), 1);
  return static_cast<int>(cctz::civil_day(cctz::civil_month(first) + 1) - first);
}

int weekday_index(const cctz::civil_day& d) {  // 0 = Sunday
  switch (cctz::get_weekday(d)) {
    case cctz::weekday::sunday:
      return 0;
    case cctz::weekday::monday:
      return 1;
    case cctz::weekday::tuesday:
      return 2;
    case cctz::weekday::wednesday:
      return 3;
    case cctz::weekday::thursday:
      return 4;
    case cctz::weekday::friday:
      return 5;
    case cctz::weekday::saturday:
      return 6;
  }
  return 0;
}

}  // namespace

// The search for next_after(). It works on the calendar: day by day, then the
// scheduled hours of a day, resolving wall-clock times to instants with the
// zone's rules plus cron-parser's DST conventions (see the header).
class CronMatcher {
 public:
  CronMatcher(const CronExpression& e, const cctz::time_zone& tz, std::int64_t after_ms)
      : e_(e),
        tz_(tz),
        after_ms_(after_ms),
        min_s_(floor_div(after_ms, 1000) + 1),
        all_hours_(e.hours_.all()),
        day_floor_(min_s_) {
    for (int v = 0; v < 60; ++v) {
      if (e.minutes_.test(static_cast<std::size_t>(v))) minutes_.push_back(v);
      if (e.seconds_.test(static_cast<std::size_t>(v))) seconds_.push_back(v);
    }
  }

  std::optional<std::int64_t> run() {
    const cctz::civil_second start = cctz::convert(from_unix(min_s_), tz_);
    cctz::civil_day day = cctz::civil_day(start) - 1;
    const cctz::civil_day limit = day + 400 * 366;
    while (day <= limit) {
      if (!e_.months_.test(static_cast<std::size_t>(day.month()))) {
        day = cctz::civil_day(cctz::civil_month(day) + 1);
        continue;
      }
      if (day_matches(day)) {
        if (auto found = first_on_day(day)) return found;
      }
      ++day;
    }
    return std::nullopt;
  }

 private:
  bool day_matches(const cctz::civil_day& d) const {
    if (!e_.months_.test(static_cast<std::size_t>(d.month()))) return false;
    const int dom = d.day();
    const int last = days_in_month(d);
    const int dow = weekday_index(d);
    const bool dom_match = e_.days_of_month_.test(static_cast<std::size_t>(dom)) ||
                           (e_.last_day_of_month_ && dom == last);
    const bool dow_match = (e_.days_of_week_.test(static_cast<std::size_t>(dow)) &&
                            (e_.nth_weekday_ == 0 || (dom + 6) / 7 == e_.nth_weekday_)) ||
                           (e_.dow_has_last_ && dom > last - 7 &&
                            e_.last_weekdays_.test(static_cast<std::size_t>(dow)));
    if (!e_.dom_wildcard_ && !e_.dow_wildcard_) return dom_match || dow_match;
    if (e_.dow_wildcard_) return dom_match;
    return dow_match;
  }

  // Instant of wall-clock time `cs` for one pass over it (0 = first
  // occurrence, 1 = the repeat of a fall-back overlap); nullopt when the
  // time does not exist in that pass or cron-parser would not fire it.
  std::optional<std::int64_t> resolve(const cctz::civil_second& cs, int pass) const {
    const auto lk = tz_.lookup(cs);
    switch (lk.kind) {
      case cctz::time_zone::civil_lookup::UNIQUE:
        if (pass == 0) return to_unix(lk.pre);
        return std::nullopt;
      case cctz::time_zone::civil_lookup::REPEATED:
        if (pass == 0) return to_unix(lk.pre);
        // cron-parser skips the repeated stretch when its walk steps into it
        // (hour field not all 24 hours); a walk starting inside it is fine.
        if (all_hours_ || after_ms_ >= to_unix(lk.trans) * 1000 || day_floor_ > min_s_)
          return to_unix(lk.post);
        return std::nullopt;
      case cctz::time_zone::civil_lookup::SKIPPED:
        return std::nullopt;
    }
    return std::nullopt;
  }

  // Smallest instant >= min_s_ among the scheduled minute/second values of
  // civil hour `h` of `d`, in pass `pass`. Instants grow with (m, s) within a
  // pass, which lets the scan skip whole minutes.
  std::optional<std::int64_t> first_in_hour(const cctz::civil_day& d, int h, int pass) const {
    auto at = [&](int m, int s) {
      return resolve(cctz::civil_second(d.year(), d.month(), d.day(), h, m, s), pass);
    };
    const std::int64_t floor = std::max(min_s_, day_floor_);
    for (int m : minutes_) {
      auto last = at(m, seconds_.back());
      if (last && *last < floor) continue;
      for (int s : seconds_) {
        auto t = at(m, s);
        if (t && *t >= floor) return t;
      }
    }
    return std::nullopt;
  }

  // A fall-back overlap that repeats midnight (America/Havana): cron-parser
  // reaches day `d` either by rolling over from hour 23 of the previous day
  // (first midnight) or by a day/month step from some earlier position P:
  // luxon moves P's wall time a day/month on, then back to 00:00, keeping the
  // offset it found there, which is the later one unless that wall time is
  // still before the overlap ends. From the second midnight on, the first
  // pass is gone and the repeat fires normally.
  bool enters_on_second_midnight(const cctz::civil_day& d, const Seconds& second_midnight) const {
    const cctz::civil_day prev = d - 1;
    const bool prev_matches = day_matches(prev);
    if (prev_matches && e_.hours_.test(23)) return false;  // rollover
    if (prev_matches) return true;  // left `prev` after its last scheduled hour
    const cctz::civil_second ref = cctz::convert(from_unix(floor_div(after_ms_, 1000)), tz_);
    cctz::civil_second landing;  // P's wall time moved by the step
    if (e_.months_.test(static_cast<std::size_t>(prev.month()))) {
      if (cctz::civil_day(ref) != prev) return false;  // P = 00:00 of `prev`
      landing = cctz::civil_second(d) + (ref - cctz::civil_second(prev));
    } else {
      if (d.day() != 1 || cctz::civil_month(ref) != cctz::civil_month(prev)) return false;
      const int dom = std::min(ref.day(), days_in_month(d));
      landing =
          cctz::civil_second(d.year(), d.month(), dom, ref.hour(), ref.minute(), ref.second());
    }
    const auto lk = tz_.lookup(landing);
    if (lk.kind != cctz::time_zone::civil_lookup::UNIQUE) return false;
    return tz_.lookup(lk.pre).offset == tz_.lookup(second_midnight).offset;
  }

  std::optional<std::int64_t> first_on_day(const cctz::civil_day& d) {
    day_floor_ = min_s_;
    const auto midnight = tz_.lookup(cctz::civil_second(d));
    if (midnight.kind == cctz::time_zone::civil_lookup::REPEATED &&
        after_ms_ < to_unix(midnight.pre) * 1000 && enters_on_second_midnight(d, midnight.post)) {
      day_floor_ = to_unix(midnight.post);
    }
    std::optional<std::int64_t> best;
    auto consider = [&best](std::optional<std::int64_t> t) {
      if (t && (!best || *t < *best)) best = t;
    };
    for (int h = 0; h < 24; ++h) {
      if (!e_.hours_.test(static_cast<std::size_t>(h))) continue;
      // the first pass precedes the repeat of the same wall-clock hour,
      // which precedes the next hour: stop at the first hit.
      auto t = first_in_hour(d, h, 0);
      consider(t);
      if (t) break;
      t = first_in_hour(d, h, 1);
      consider(t);
      if (t) break;
    }
    if (!all_hours_) consider(first_after_gap(d));
    return best;
  }

  // Spring-forward gaps that end on day `d`: cron-parser fires the
  // minute/second values of a skipped scheduled hour in the hour the clock
  // lands on, when its walk steps over the gap with a sub-day step, i.e. the
  // search starts before the gap and reaches it within a day (a gap at
  // midnight is only crossed from hour 23 of a matching previous day).
  std::optional<std::int64_t> first_after_gap(const cctz::civil_day& d) const {
    std::optional<std::int64_t> best;
    Seconds tp = tz_.lookup(cctz::civil_second(d - 1)).pre;
    cctz::time_zone::civil_transition tr;
    for (int guard = 0; guard < 8 && tz_.next_transition(tp, &tr); ++guard) {
      const Seconds trans = tz_.lookup(tr.to).trans;  // the instant of the change
      if (trans <= tp) break;
      tp = trans;
      const cctz::civil_day landing_day(tr.to);
      if (landing_day > d) break;
      if (landing_day < d || tr.to <= tr.from) continue;
      if (after_ms_ >= to_unix(trans) * 1000) continue;
      const int landing_hour = tr.to.hour();
      bool skipped_scheduled = false;
      for (int h = tr.from.hour(); h != landing_hour; h = (h + 1) % 24)
        if (e_.hours_.test(static_cast<std::size_t>(h))) skipped_scheduled = true;
      if (!skipped_scheduled) continue;
      const bool within_day = cctz::civil_day(tr.from) == d && tr.from > cctz::civil_second(d);
      if (!within_day && !(e_.hours_.test(23) && day_matches(d - 1))) continue;
      for (int m : minutes_) {
        for (int s : seconds_) {
          const auto lk =
              tz_.lookup(cctz::civil_second(d.year(), d.month(), d.day(), landing_hour, m, s));
          if (lk.kind == cctz::time_zone::civil_lookup::SKIPPED) continue;
          const std::int64_t t = to_unix(lk.pre);
          if (t >= std::max(min_s_, day_floor_) && (!best || t < *best)) best = t;
        }
        if (best) break;
      }
    }
    return best;
  }

  const CronExpression& e_;
  const cctz::time_zone& tz_;
  std::int64_t after_ms_;
  std::int64_t min_s_;
  bool all_hours_;
  std::int64_t day_floor_;  // per day: no instant before this one
  std::vector<int> minutes_;
  std::vector<int> seconds_;
};

std::optional<CronExpression> CronExpression::parse(std::string_view pattern, std::string* error) {
  auto fail = [error](const std::string& msg) -> std::optional<CronExpression> {
    if (error) *error = msg;
    return std::nullopt;
  };
  if (pattern.size() > kMaxPatternLength) return fail("pattern longer than 1024 characters");
  pattern = predefined(pattern);

  std::vector<std::string_view> atoms;
  for (std::size_t i = 0; i < pattern.size();) {
    if (is_space(pattern[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < pattern.size() && !is_space(pattern[j])) ++j;
    atoms.push_back(pattern.substr(i, j - i));
    i = j;
  }
  if (atoms.empty()) return fail("empty pattern");
  if (atoms.size() > 6) return fail("too many fields (at most 6: sec min hour dom month dow)");
  static constexpr std::array<std::string_view, 6> kDefaults = {"0", "*", "*", "*", "*", "*"};
  std::array<std::string_view, 6> raw;
  const std::size_t missing = 6 - atoms.size();
  for (std::size_t i = 0; i < 6; ++i) raw[i] = i < missing ? kDefaults[i] : atoms[i - missing];
  const std::string_view raw_dom = raw[3];
  const std::string_view raw_dow = raw[5];

  CronExpression e;
  FieldValues sec, min, hour, dom, month, dow;
  if (!FieldParser(Field::kSecond, error).parse(raw[0], &sec)) return std::nullopt;
  if (!FieldParser(Field::kMinute, error).parse(raw[1], &min)) return std::nullopt;
  if (!FieldParser(Field::kHour, error).parse(raw[2], &hour)) return std::nullopt;
  if (!FieldParser(Field::kMonth, error).parse(raw[4], &month)) return std::nullopt;
  if (!FieldParser(Field::kDayOfMonth, error).parse(raw_dom, &dom)) return std::nullopt;

  // `n#k`: k-th weekday n of the month
  std::string_view dow_text = raw_dow;
  if (raw_dow.find('#') != std::string_view::npos) {
    auto parts = split(raw_dow, '#');
    if (raw_dow.find_first_of(",-/") != std::string_view::npos)
      return fail("day-of-week field: '#' cannot be combined with ',', '-' or '/'");
    const std::string_view k = parts.back();
    if (parts.size() > 2 || !all_digits(k) || *leading_int(k) < 1 || *leading_int(k) > 5)
      return fail("day-of-week field: occurrence after '#' must be 1-5");
    e.nth_weekday_ = static_cast<int>(*leading_int(k));
    dow_text = parts[0];
  }
  if (!FieldParser(Field::kDayOfWeek, error).parse(dow_text, &dow)) return std::nullopt;

  // cron-parser drops days the only listed month lacks (unless none is left)
  if (month.numbers.size() == 1) {
    const long long dim = kDaysInMonth[static_cast<std::size_t>(month.numbers[0] - 1)];
    std::vector<long long> kept;
    for (long long d : dom.numbers)
      if (d <= dim) kept.push_back(d);
    if (!kept.empty() || !dom.strings.empty()) dom.numbers = kept;
  }

  for (long long v : sec.numbers) e.seconds_.set(static_cast<std::size_t>(v));
  for (long long v : min.numbers) e.minutes_.set(static_cast<std::size_t>(v));
  for (long long v : hour.numbers) e.hours_.set(static_cast<std::size_t>(v));
  for (long long v : month.numbers) e.months_.set(static_cast<std::size_t>(v));
  for (long long v : dom.numbers) e.days_of_month_.set(static_cast<std::size_t>(v));
  e.last_day_of_month_ = raw_dom.find('L') != std::string_view::npos;
  for (long long v : dow.numbers) {
    if (v < 7) e.days_of_week_.set(static_cast<std::size_t>(v));
    e.last_weekdays_.set(static_cast<std::size_t>(std::to_string(v)[0] - '0') % 7);
  }
  for (const std::string& s : dow.strings)
    e.last_weekdays_.set(static_cast<std::size_t>(s[0] - '0') % 7);
  e.dow_has_last_ = raw_dow.find('L') != std::string_view::npos;
  e.dom_wildcard_ = raw_dom == "*" || raw_dom == "?";
  e.dow_wildcard_ = raw_dow == "*" || raw_dow == "?";

  if (month.numbers.size() == 1 && !e.last_day_of_month_ && e.dow_wildcard_ &&
      !dom.numbers.empty()) {
    const long long smallest = *std::min_element(dom.numbers.begin(), dom.numbers.end());
    if (smallest > kDaysInMonth[static_cast<std::size_t>(month.numbers[0] - 1)])
      return fail("day-of-month field: no such day in the given month");
  }
  return e;
}

bool CronExpression::is_valid_time_zone(const std::string& tz, std::string* error) {
  cctz::time_zone zone;
  return load_zone(tz, &zone, error);
}

std::optional<std::int64_t> CronExpression::next_after(std::int64_t after_ms, const std::string& tz,
                                                       std::string* error) const {
  cctz::time_zone zone;
  if (!load_zone(tz, &zone, error)) return std::nullopt;
  if (after_ms >= kMaxJsDateMs || after_ms < -kMaxJsDateMs) return std::nullopt;
  auto next_s = CronMatcher(*this, zone, after_ms).run();
  if (!next_s || *next_s > kMaxJsDateMs / 1000) return std::nullopt;
  return *next_s * 1000;
}

}  // namespace bullmq
