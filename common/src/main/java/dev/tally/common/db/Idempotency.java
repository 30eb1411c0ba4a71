package dev.tally.common.db;

import static dev.tally.common.db.jooq.Tables.REQUEST_LOG;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import dev.tally.common.db.jooq.tables.records.RequestLogRecord;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.function.Function;
import org.jooq.DSLContext;

/**
 * Makes a mutating RPC idempotent on the client's {@code request_id}: inside the RPC's transaction, a
 * replay with the same payload returns the stored first response, and the same id with another payload
 * fails with {@code ALREADY_EXISTS IDEMPOTENCY_KEY_REUSED}. Concurrent first attempts are serialised by a
 * transaction-scoped advisory lock on the key, so exactly one does the work.
 */
public final class Idempotency {
  private Idempotency() {}

  /**
   * Runs {@code work} once per (principal, method, requestId) within the caller's transaction {@code tx}.
   * An empty {@code requestId} means the client opted out: {@code work} always runs.
   */
  public static <Q extends Message, R extends Message> R once(
      DSLContext tx, String principal, String method, String requestId, Q request, Parser<R> parser,
      Function<DSLContext, R> work) {
    if (requestId == null || requestId.isEmpty()) {
      return work.apply(tx);
    }
    byte[] requestHash = sha256(deterministicBytes(request));
    tx.execute("select pg_advisory_xact_lock(?)", lockKey(principal, method, requestId));
    RequestLogRecord existing = tx.selectFrom(REQUEST_LOG)
        .where(REQUEST_LOG.PRINCIPAL.eq(principal), REQUEST_LOG.METHOD.eq(method),
            REQUEST_LOG.REQUEST_ID.eq(requestId))
        .fetchOne();
    if (existing != null) {
      if (!Arrays.equals(existing.getRequestHash(), requestHash)) {
        throw TallyException.alreadyExists(Reasons.IDEMPOTENCY_KEY_REUSED,
            "request_id " + requestId + " was already used with a different request");
      }
      try {
        return parser.parseFrom(existing.getResponse());
      } catch (InvalidProtocolBufferException e) {
        throw new IllegalStateException("stored response of " + method + " cannot be read", e);
      }
    }
    R response = work.apply(tx);
    tx.insertInto(REQUEST_LOG)
        .set(REQUEST_LOG.PRINCIPAL, principal)
        .set(REQUEST_LOG.METHOD, method)
        .set(REQUEST_LOG.REQUEST_ID, requestId)
        .set(REQUEST_LOG.REQUEST_HASH, requestHash)
        .set(REQUEST_LOG.RESPONSE, response.toByteArray())
        .execute();
    return response;
  }

  /** Protobuf bytes with map entries in a stable order, so equal messages hash equally. */
  public static byte[] deterministicBytes(Message message) {
    // Straight into an array of the exact size (a stream would allocate a 4 KiB buffer per message).
    byte[] bytes = new byte[message.getSerializedSize()];
    CodedOutputStream out = CodedOutputStream.newInstance(bytes);
    out.useDeterministicSerialization();
    try {
      message.writeTo(out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    out.checkNoSpaceLeft();
    return bytes;
  }

  public static byte[] sha256(byte[] data) {
    return dev.tally.common.ids.Sha256.of(data);
  }

  private static long lockKey(String principal, String method, String requestId) {
    byte[] h = sha256((principal + '\0' + method + '\0' + requestId).getBytes(java.nio.charset.StandardCharsets.UTF_8));
    return ByteBuffer.wrap(h).getLong();
  }
}
