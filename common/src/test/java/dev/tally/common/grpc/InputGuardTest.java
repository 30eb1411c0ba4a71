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
}
