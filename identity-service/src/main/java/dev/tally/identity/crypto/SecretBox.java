package dev.tally.identity.crypto;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * AES-256-GCM for secrets the service must read back (mail bodies waiting in the outbox, webhook signing
 * secrets): never stored in clear. The key is derived from the service's secret pepper and a purpose, so each
 * use has its own key.
 */
public final class SecretBox {
  private final SecretKeySpec key;
  private final SecureRandom random = new SecureRandom();

  public SecretBox(String purpose, String pepper) {
    try {
      byte[] k = MessageDigest.getInstance("SHA-256")
          .digest((purpose + "\0" + pepper).getBytes(StandardCharsets.UTF_8));
      this.key = new SecretKeySpec(k, "AES");
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  public record Sealed(byte[] nonce, byte[] ciphertext) {}

  public Sealed seal(String plaintext) {
    byte[] nonce = new byte[12];
    random.nextBytes(nonce);
    try {
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(128, nonce));
      return new Sealed(nonce, c.doFinal(plaintext.getBytes(StandardCharsets.UTF_8)));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  public String open(byte[] nonce, byte[] ciphertext) {
    try {
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(128, nonce));
      return new String(c.doFinal(ciphertext), StandardCharsets.UTF_8);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("a sealed secret cannot be decrypted (was the pepper changed?)", e);
    }
  }
}
