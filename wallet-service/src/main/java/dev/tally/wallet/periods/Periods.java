package dev.tally.wallet.periods;

import dev.tally.common.error.TallyException;
import java.time.DateTimeException;
import java.time.DayOfWeek;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.temporal.TemporalAdjusters;

/**
 * A wallet's period windows, anchored to its team's billing day (1–28) and time zone: a day starts at local
 * midnight, a week on local Monday, a month on the billing day. A spend counts in the window containing its
 * time (its usage's occurred_at); windows reset on their own. The default is the calendar month in UTC.
 */
public record Periods(int billingDay, ZoneId zone) {
  public static final OffsetDateTime LIFETIME_START = OffsetDateTime.of(1970, 1, 1, 0, 0, 0, 0, ZoneOffset.UTC);
  public static final String[] ALL = {"day", "week", "month", "lifetime"};
  public static final Periods UTC_CALENDAR = new Periods(1, ZoneOffset.UTC);
  /** The last billing day every month has. */
  public static final int MAX_BILLING_DAY = 28;

  public Periods {
    if (billingDay < 1 || billingDay > MAX_BILLING_DAY) {
      throw TallyException.invalidArgument("billing_day", "must be between 1 and " + MAX_BILLING_DAY);
    }
  }

  /** A wallet's anchor as stored ({@code time_zone} an IANA zone id such as {@code Europe/Berlin}). */
  public static Periods of(int billingDay, String timeZone) {
    try {
      return new Periods(billingDay, ZoneId.of(timeZone));
    } catch (DateTimeException e) {
      throw TallyException.invalidArgument("time_zone", "must be an IANA time zone such as Europe/Berlin or UTC");
    }
  }

  public OffsetDateTime windowStart(String period, Instant at) {
    if (period.equals("lifetime")) {
      return LIFETIME_START;
    }
    return utc(startDate(period, at));
  }

  /** When the window containing {@code at} ends; null for lifetime. */
  public OffsetDateTime windowEnd(String period, Instant at) {
    if (period.equals("lifetime")) {
      return null;
    }
    LocalDate start = startDate(period, at);
    return utc(switch (period) {
      case "day" -> start.plusDays(1);
      case "week" -> start.plusWeeks(1);
      default -> start.plusMonths(1);
    });
  }

  /** The local date the window containing {@code at} starts on. */
  private LocalDate startDate(String period, Instant at) {
    LocalDate date = at.atZone(zone).toLocalDate();
    return switch (period) {
      case "day" -> date;
      case "week" -> date.with(TemporalAdjusters.previousOrSame(DayOfWeek.MONDAY));
      case "month" -> date.getDayOfMonth() >= billingDay ? date.withDayOfMonth(billingDay)
          : date.minusMonths(1).withDayOfMonth(billingDay);
      default -> throw new IllegalArgumentException("unknown period " + period);
    };
  }

  /** The start of a local date (DST-safe: the first instant of that day in the zone) as a UTC timestamp. */
  private OffsetDateTime utc(LocalDate date) {
    return date.atStartOfDay(zone).toOffsetDateTime().withOffsetSameInstant(ZoneOffset.UTC);
  }
}
