package dev.tally.metering.rollups;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tally.common.grpc.ProtoTime;
import dev.tally.proto.events.v1.UsageEvent;
import java.math.BigInteger;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class UsageDeltasSumsTest {
  private static final Instant T = Instant.parse("2026-12-06T10:00:30Z");

  private static UsageEvent event(String id, String key, long quantity, long cost, Instant at) {
    return UsageEvent.newBuilder().setEventId(id).setBillingAccount("wallets/team-a").setTeam("teams/a")
        .setApiKey(key).setUser("users/u").setMeter("requests").setQuantity(quantity).setCostNanos(cost)
        .setOccurredAt(ProtoTime.ts(at)).build();
  }

  @Test
  void oneRowPerMinuteAndKey() {
    List<UsageDeltas.Sums> rows = UsageDeltas.sums(List.of(event("1", "k1", 5, 10, T), event("2", "k1", 7, 20,
        T.plusSeconds(20)), event("3", "k2", 1, 1, T), event("4", "k1", 1, 1, T.plusSeconds(40))));
    assertEquals(3, rows.size(), rows.toString());
    assertEquals(new UsageDeltas.Sums(rows.get(0).key(), "teams/a", 2, 12, 30, 0), rows.get(0));
  }

  @Test
  void aKeyWhoseSumsWouldOverflowStartsAnotherRowAndLosesNothing() {
    List<UsageEvent> events = new ArrayList<>();
    for (int i = 0; i < 20; i++) { // 20 × 10^18 in one minute: no single bigint holds it
      events.add(event("e" + i, "k1", 1_000_000_000_000_000_000L, 1_000_000_000_000_000_000L, T));
    }
    List<UsageDeltas.Sums> rows = UsageDeltas.sums(events);
    assertEquals(3, rows.size(), rows.toString());
    BigInteger quantity = BigInteger.ZERO;
    long calls = 0;
    for (UsageDeltas.Sums r : rows) {
      quantity = quantity.add(BigInteger.valueOf(r.quantity()));
      calls += r.calls();
    }
    assertEquals(BigInteger.TEN.pow(18).multiply(BigInteger.valueOf(20)), quantity);
    assertEquals(20, calls);
  }
}
