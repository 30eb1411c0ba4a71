package dev.tally.identity.keys;

import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Generates API key secrets and invitation tokens, and their keyed hashes (HMAC-SHA256 with a server-side
 * pepper). A fast keyed hash, not bcrypt: the secrets carry 256 random bits, so they cannot be guessed, and
 * verification stays one hash plus one indexed lookup on the hot path; without the pepper a stolen table
 * is useless.
 */
public final class Secrets {
  public static final String KEY_PREFIX = "tly_";
  private static final char[] BASE62 =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".toCharArray();
  private static final int SHOWN_PREFIX = 12;

  private final SecureRandom random = new SecureRandom();
  private final SecretKeySpec pepper;

  public Secrets(String pepper) {
    this.pepper = new SecretKeySpec(pepper.getBytes(StandardCharsets.UTF_8), "HmacSHA256");
  }

  /** {@code tly_} followed by 43 base62 characters (256 bits). */
  public String newApiKeySecret() {
    StringBuilder sb = new StringBuilder(KEY_PREFIX);
    for (int i = 0; i < 43; i++) {
      sb.append(BASE62[random.nextInt(62)]);
    }
    return sb.toString();
  }

  /** A single-use invitation token: 256 random bits, URL-safe. */
  public String newInvitationToken() {
    byte[] bytes = new byte[32];
    random.nextBytes(bytes);
    return "inv_" + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  public byte[] hash(String secret) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(pepper);
      return mac.doFinal(secret.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException | InvalidKeyException e) {
      throw new IllegalStateException(e);
    }
  }

  /** What may be shown of a secret later: enough to recognise it, far too little to use it. */
  public static String shownPrefix(String secret) {
    return secret.substring(0, Math.min(SHOWN_PREFIX, secret.length()));
  }
}
