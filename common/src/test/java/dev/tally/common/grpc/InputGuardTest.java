package dev.tally.common.grpc;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.protobuf.Timestamp;
import dev.tally.common.error.TallyException;
import dev.tally.proto.metering.v1.RecordUsageRequest;
import dev.tally.proto.metering.v1.UsageRecord;
import org.junit.jupiter.api.Test;

/** What storage cannot hold is refused naming the field where it sits, however deep. */
class InputGuardTest {

  private static UsageRecord.Builder fine(String id) {
    return UsageRecord.newBuilder().setEventId(id).setMeter("output_tokens").setQuantity(1)
        .setOccurredAt(Timestamp.newBuilder().setSeconds(1_700_000_000L));
  }

  private static String refusedField(RecordUsageRequest request) {
    TallyException e = assertThrows(TallyException.class, () -> InputGuard.check(request));
    assertEquals(io.grpc.Status.Code.INVALID_ARGUMENT, e.code());
    return e.metadata().get("field");
  }

  @Test
  void aCleanRequestPasses() {
    assertDoesNotThrow(() -> InputGuard.check(RecordUsageRequest.newBuilder().addRecords(fine("a"))
        .addRecords(fine("b").putAttributes("region", "eu\tw")).build()));
  }

  @Test
  void theRefusedFieldIsNamedWithItsIndexKeyAndNesting() {
    assertEquals("records[1].event_id", refusedField(RecordUsageRequest.newBuilder().addRecords(fine("a"))
        .addRecords(fine("b\u0000")).build()));
    assertEquals("records[0].attributes[\"region\"]", refusedField(RecordUsageRequest.newBuilder()
        .addRecords(fine("a").putAttributes("region", "eu\u0001")).build()));
    assertEquals("records[0].attributes", refusedField(RecordUsageRequest.newBuilder()
        .addRecords(fine("a").putAttributes("bad\u0000key", "v")).build()));
    assertEquals("records[2].occurred_at", refusedField(RecordUsageRequest.newBuilder().addRecords(fine("a"))
        .addRecords(fine("b")).addRecords(fine("c").setOccurredAt(Timestamp.newBuilder().setSeconds(-1L << 40)))
        .build()));
  }

  /** Identifiers (declared with the contracts' {@code identifier} option) hold only {@code [A-Za-z0-9._:-]}. */
  @Test
  void identifiersHoldOnlyTheirCharacters() {
    assertDoesNotThrow(() -> InputGuard.check(RecordUsageRequest.newBuilder()
        .addRecords(fine("Batch-7_run:3.a")).build()));
    for (String bad : new String[] {"a b", "fix-1~void-1", "é", "a/b", "a+b"}) {
      assertEquals("records[1].event_id", refusedField(RecordUsageRequest.newBuilder().addRecords(fine("ok"))
          .addRecords(fine(bad)).build()), bad);
    }
    assertEquals("request_id", fieldOf(() -> InputGuard.check(dev.tally.proto.metering.v1.CorrectUsageRequest
        .newBuilder().setEventId("e").setRequestId("r~1").build())));
    assertDoesNotThrow(() -> InputGuard.check(dev.tally.proto.metering.v1.CorrectUsageRequest.newBuilder()
        .setEventId("e").build()), "an empty identifier is protovalidate's to judge");
    // Fields without the option keep any text.
    assertDoesNotThrow(() -> InputGuard.check(RecordUsageRequest.newBuilder()
        .addRecords(fine("a").setModel("gpt 4o / mini ~ é")).build()));
  }

  private static String fieldOf(org.junit.jupiter.api.function.Executable call) {
    TallyException e = assertThrows(TallyException.class, call);
    return e.metadata().get("field");
  }
}
