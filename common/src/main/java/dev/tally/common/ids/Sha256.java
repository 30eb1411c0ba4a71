package dev.tally.common.ids;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/** SHA-256 of bytes: request fingerprints, payload hashes and cache keys of secrets (never a stored secret). */
public final class Sha256 {
  private Sha256() {}

  public static byte[] of(byte[] data) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(data);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
