package dev.tally.identity.mail;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/** AES-256-GCM for mail bodies waiting in the outbox; the key is derived from the service's secret pepper. */
final class MailCrypto {
  private final SecretKeySpec key;
  private final SecureRandom random = new SecureRandom();

  MailCrypto(String pepper) {
    try {
      byte[] k = MessageDigest.getInstance("SHA-256")
          .digest(("tally-mail-outbox\0" + pepper).getBytes(StandardCharsets.UTF_8));
      this.key = new SecretKeySpec(k, "AES");
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  record Sealed(byte[] nonce, byte[] ciphertext) {}

  Sealed seal(String plaintext) {
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

  String open(byte[] nonce, byte[] ciphertext) {
    try {
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(128, nonce));
      return new String(c.doFinal(ciphertext), StandardCharsets.UTF_8);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("a queued mail cannot be decrypted (was the pepper changed?)", e);
    }
  }
}
