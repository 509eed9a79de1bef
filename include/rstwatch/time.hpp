// Wall-clock times as log envelopes write them (a civil date and time with an optional UTC
// offset), and kernel uptimes; both parsed without allocation, converted to Unix time on demand.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string_view>

namespace rstwatch {

// A date and time as written in a log line. year 0 means the envelope had none (traditional
// syslog: see resolve_year). Without an offset the time is local time of the reading host.
struct civil_time {
  std::int32_t year = 0;
  std::uint8_t month = 0;  // 1..12
  std::uint8_t day = 0;    // 1..31
  std::uint8_t hour = 0;
  std::uint8_t minute = 0;
  std::uint8_t second = 0;  // 0..60 (leap second kept as written)
  std::uint32_t microsecond = 0;
  bool has_offset = false;
  std::int16_t offset_minutes = 0;  // east of UTC

  // Traditional syslog omits the year: use the year of a reference time (the --year option or
  // the file's modification time), and the year before when the line's month lies after the
  // reference month (a December line read in January).
  constexpr void resolve_year(std::int32_t reference_year, unsigned reference_month) noexcept {
    if (year != 0) return;
    year = month > reference_month ? reference_year - 1 : reference_year;
  }

  // Microseconds since the Unix epoch; nullopt without a year. Without an offset the local
  // time zone of this process decides (mktime), as syslog wrote it.
  std::optional<std::int64_t> unix_microseconds() const noexcept {
    if (year == 0 || month < 1 || month > 12) return std::nullopt;
    auto offset = utc_offset_seconds();
    if (!offset) return std::nullopt;
    std::int64_t local = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                         second;
    return (local - *offset) * 1000000 + microsecond;
  }

  // Seconds east of UTC in force at this time: the written offset, else the local zone's.
  // mktime() (zone rules, tzset) costs more than parsing a whole line, and zones change their
  // offset at most on the hour, so the local offset is cached per civil hour and thread, in a
  // direct-mapped table of 1024 hours (16 KiB): logs that interleave hours, days or months
  // (several merged files) still hit it.
  std::optional<std::int64_t> utc_offset_seconds() const noexcept {
    if (has_offset) return std::int64_t{offset_minutes} * 60;
    if (year == 0 || month < 1 || month > 12) return std::nullopt;
    struct hour_cache {
      std::int32_t year = 0;
      std::uint8_t month = 0, day = 0, hour = 0;
      std::int64_t offset = 0;
    };
    static thread_local hour_cache table[1024];
    const auto hours = static_cast<std::uint64_t>(days_from_civil(year, month, day) * 24 + hour);
    hour_cache& cache = table[(hours * 0x9e3779b97f4a7c15ull) >> 54];
    if (cache.year == year && cache.month == month && cache.day == day && cache.hour == hour)
      return cache.offset;
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_isdst = -1;
    std::time_t t = std::mktime(&tm);
    if (t == static_cast<std::time_t>(-1)) return std::nullopt;
    std::int64_t local = days_from_civil(year, month, day) * 86400 + hour * 3600;
    cache = {year, month, day, hour, local - static_cast<std::int64_t>(t)};
    return cache.offset;
  }

  // Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
  static constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
  }
};

// Seconds since boot as the kernel prints them ("[ 2347.180373]"), in microseconds.
struct kernel_uptime {
  std::uint64_t microseconds = 0;
  friend constexpr bool operator==(kernel_uptime a, kernel_uptime b) noexcept {
    return a.microseconds == b.microseconds;
  }
};

namespace detail {

inline constexpr std::string_view month_abbreviations[] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// 1..12 for "Jan".."Dec", 0 otherwise.
// One switch on the three bytes (this runs for every syslog line) rather than twelve
// string comparisons.
constexpr unsigned month_from_abbreviation(std::string_view s) noexcept {
  if (s.size() != 3) return 0;
  auto code = [](char a, char b, char c) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(a)) << 16 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(b)) << 8 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(c));
  };
  switch (code(s[0], s[1], s[2])) {
    case code('J', 'a', 'n'): return 1;
    case code('F', 'e', 'b'): return 2;
    case code('M', 'a', 'r'): return 3;
    case code('A', 'p', 'r'): return 4;
    case code('M', 'a', 'y'): return 5;
    case code('J', 'u', 'n'): return 6;
    case code('J', 'u', 'l'): return 7;
    case code('A', 'u', 'g'): return 8;
    case code('S', 'e', 'p'): return 9;
    case code('O', 'c', 't'): return 10;
    case code('N', 'o', 'v'): return 11;
    case code('D', 'e', 'c'): return 12;
    default: return 0;
  }
}

}  // namespace detail

}  // namespace rstwatch
