package dev.tally.wallet.periods;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tally.common.error.TallyException;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class PeriodsTest {
  private static Instant t(String s) {
    return Instant.parse(s);
  }

  @Test
  void theDefaultIsTheCalendarInUtc() {
    Periods p = Periods.UTC_CALENDAR;
    Instant at = t("2026-11-10T12:00:00Z"); // a Tuesday
    assertEquals(t("2026-11-10T00:00:00Z"), p.windowStart("day", at).toInstant());
    assertEquals(t("2026-11-09T00:00:00Z"), p.windowStart("week", at).toInstant());
    assertEquals(t("2026-11-16T00:00:00Z"), p.windowEnd("week", at).toInstant());
    assertEquals(t("2026-11-01T00:00:00Z"), p.windowStart("month", at).toInstant());
    assertEquals(t("2026-12-01T00:00:00Z"), p.windowEnd("month", at).toInstant());
    assertEquals(Periods.LIFETIME_START, p.windowStart("lifetime", at));
    assertNull(p.windowEnd("lifetime", at));
  }

  @Test
  void aBillingDayStartsTheMonthOnThatDayInTheTeamsZone() {
    Periods p = Periods.of(15, "America/New_York");
    // Before the 15th: the month began on the 15th of the month before (EDT), and ends on the 15th (EST).
    assertEquals(t("2026-10-15T04:00:00Z"), p.windowStart("month", t("2026-11-10T12:00:00Z")).toInstant());
    assertEquals(t("2026-11-15T05:00:00Z"), p.windowEnd("month", t("2026-11-10T12:00:00Z")).toInstant());
    // 23:30 on the 14th in New York is still the old month; midnight starts the new one.
    assertEquals(t("2026-10-15T04:00:00Z"), p.windowStart("month", t("2026-11-15T04:30:00Z")).toInstant());
    assertEquals(t("2026-11-15T05:00:00Z"), p.windowStart("month", t("2026-11-15T05:00:00Z")).toInstant());
    // Across the year end.
    assertEquals(t("2026-12-15T05:00:00Z"), p.windowStart("month", t("2027-01-03T00:00:00Z")).toInstant());
  }

  @Test
  void daysAndWeeksStartAtLocalMidnightAndLastAsLongAsTheLocalDay() {
    Periods p = Periods.of(1, "America/New_York");
    // 1 November 2026: clocks go back, the local day lasts 25 hours.
    assertEquals(t("2026-11-01T04:00:00Z"), p.windowStart("day", t("2026-11-01T12:00:00Z")).toInstant());
    assertEquals(t("2026-11-02T05:00:00Z"), p.windowEnd("day", t("2026-11-01T12:00:00Z")).toInstant());
    // Sunday evening in New York is Monday in UTC: still the week that began the Monday before.
    assertEquals(t("2026-11-02T05:00:00Z"), p.windowStart("week", t("2026-11-09T03:00:00Z")).toInstant());
    Periods tokyo = Periods.of(1, "Asia/Tokyo");
    assertEquals(t("2026-10-31T15:00:00Z"), tokyo.windowStart("month", t("2026-11-10T12:00:00Z")).toInstant());
  }

  @Test
  void billingDaysEveryMonthHasAndRealZonesOnly() {
    assertEquals("billing_day", assertThrows(TallyException.class, () -> Periods.of(29, "UTC")).metadata().get("field"));
    assertEquals("billing_day", assertThrows(TallyException.class, () -> Periods.of(0, "UTC")).metadata().get("field"));
    assertEquals("time_zone", assertThrows(TallyException.class, () -> Periods.of(1, "Mars/Olympus")).metadata()
        .get("field"));
  }
}
