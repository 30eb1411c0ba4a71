package dev.tally.common.ids;

import java.security.SecureRandom;
import java.util.UUID;

/** Time-ordered identifiers (UUIDv7): index-friendly, sortable by creation, unguessable in their tail. */
public final class Ids {
  private static final SecureRandom RANDOM = new SecureRandom();

  private Ids() {}

  public static String newId() {
    return uuidV7(System.currentTimeMillis()).toString();
  }

  /**
   * A UUIDv7-shaped id derived from a fact rather than drawn at random: the time part is {@code time}, the
   * rest a hash of {@code name}. The same fact always yields the same id (so a unique index turns a
   * redelivery into a no-op), and ids still sort by time.
   */
  public static String derived(java.time.Instant time, String name) {
    byte[] h;
    try {
      h = java.security.MessageDigest.getInstance("SHA-256").digest(name.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    long msb = (time.toEpochMilli() & 0xFFFF_FFFF_FFFFL) << 16;
    msb |= 0x7000L | ((h[0] & 0x0FL) << 8) | (h[1] & 0xFFL);
    long lsb = 0;
    for (int i = 2; i < 10; i++) {
      lsb = (lsb << 8) | (h[i] & 0xFFL);
    }
    lsb = (lsb & 0x3FFF_FFFF_FFFF_FFFFL) | 0x8000_0000_0000_0000L;
    return new UUID(msb, lsb).toString();
  }

  static UUID uuidV7(long epochMillis) {
    byte[] r = new byte[10];
    RANDOM.nextBytes(r);
    long msb = (epochMillis & 0xFFFF_FFFF_FFFFL) << 16;
    msb |= 0x7000L; // version 7
    msb |= ((r[0] & 0x0FL) << 8) | (r[1] & 0xFFL);
    long lsb = 0x8000_0000_0000_0000L; // IETF variant
    for (int i = 2; i < 10; i++) {
      lsb |= (r[i] & 0xFFL) << (8 * (9 - i));
    }
    lsb = (lsb & 0x3FFF_FFFF_FFFF_FFFFL) | 0x8000_0000_0000_0000L;
    return new UUID(msb, lsb);
  }
}
