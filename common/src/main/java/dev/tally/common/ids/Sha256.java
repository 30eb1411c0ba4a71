package dev.tally.common.ids;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/** SHA-256 of bytes: request fingerprints, payload hashes and cache keys of secrets (never a stored secret). */
public final class Sha256 {
  private Sha256() {}

  /** Cloned per use: looking the algorithm up in the providers cost more than hashing a short message. */
  private static final MessageDigest PROTOTYPE = newDigest();

  public static byte[] of(byte[] data) {
    MessageDigest digest;
    try {
      digest = (MessageDigest) PROTOTYPE.clone();
    } catch (CloneNotSupportedException e) {
      digest = newDigest();
    }
    return digest.digest(data);
  }

  private static MessageDigest newDigest() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
