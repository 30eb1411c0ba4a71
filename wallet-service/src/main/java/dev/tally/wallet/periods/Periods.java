package dev.tally.wallet.periods;

import java.time.DayOfWeek;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.time.temporal.TemporalAdjusters;

/** UTC period windows: a spend counts in the window containing its time; windows reset on their own. */
public final class Periods {
  public static final OffsetDateTime LIFETIME_START = OffsetDateTime.of(1970, 1, 1, 0, 0, 0, 0, ZoneOffset.UTC);
  public static final String[] ALL = {"day", "week", "month", "lifetime"};

  private Periods() {}

  public static OffsetDateTime windowStart(String period, Instant at) {
    OffsetDateTime t = at.atOffset(ZoneOffset.UTC);
    return switch (period) {
      case "day" -> t.truncatedTo(ChronoUnit.DAYS);
      case "week" -> t.truncatedTo(ChronoUnit.DAYS).with(TemporalAdjusters.previousOrSame(DayOfWeek.MONDAY));
      case "month" -> t.truncatedTo(ChronoUnit.DAYS).withDayOfMonth(1);
      case "lifetime" -> LIFETIME_START;
      default -> throw new IllegalArgumentException("unknown period " + period);
    };
  }

  /** When the window containing {@code at} ends; null for lifetime. */
  public static OffsetDateTime windowEnd(String period, Instant at) {
    OffsetDateTime start = windowStart(period, at);
    return switch (period) {
      case "day" -> start.plusDays(1);
      case "week" -> start.plusWeeks(1);
      case "month" -> start.plusMonths(1);
      default -> null;
    };
  }
}
