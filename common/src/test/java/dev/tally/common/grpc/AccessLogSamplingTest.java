package dev.tally.common.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The access log keeps every failed and slow call at INFO and samples the successful ones. */
class AccessLogSamplingTest {
  private static final long FAST = 2_000_000L; // 2 ms, in nanoseconds

  @Test
  void failedAndSlowCallsAreAlwaysLoggedAtInfo() {
    for (int draw = 0; draw < CallTelemetryInterceptor.OK_SAMPLE; draw++) {
      assertTrue(CallTelemetryInterceptor.logsAtInfo(Status.NOT_FOUND, FAST, draw));
      assertTrue(CallTelemetryInterceptor.logsAtInfo(Status.OK, CallTelemetryInterceptor.SLOW_NANOS, draw));
    }
  }

  @Test
  void oneFastSuccessInOneHundredIsLoggedAtInfo() {
    long atInfo = IntStream.range(0, CallTelemetryInterceptor.OK_SAMPLE)
        .filter(draw -> CallTelemetryInterceptor.logsAtInfo(Status.OK, FAST, draw)).count();
    assertEquals(1, atInfo);
  }
}
