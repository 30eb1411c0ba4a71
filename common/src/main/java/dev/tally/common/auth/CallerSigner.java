package dev.tally.common.auth;

import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import io.grpc.CallCredentials;
import io.grpc.Metadata;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.util.Base64;
import java.util.concurrent.Executor;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Signs and verifies the caller header that the gateway sends to the services: an HMAC-SHA256 over the
 * caller, the full name of the one method it is for, and an expiry, with a key shared inside the cluster
 * ({@code TALLY_INTERNAL_AUTH_KEY}). A caller cannot forge it; a captured header works for no other RPC and
 * stops working after {@value #LIFETIME_SECONDS} s.
 */
public final class CallerSigner {
  public static final Metadata.Key<String> CALLER_HEADER =
      Metadata.Key.of("x-tally-caller", Metadata.ASCII_STRING_MARSHALLER);
  static final long LIFETIME_SECONDS = 30;
  private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();
  private static final Base64.Decoder B64D = Base64.getUrlDecoder();

  private final SecretKeySpec key;
  private final Clock clock;

  public CallerSigner(String secret, Clock clock) {
    if (secret == null || secret.length() < 16) {
      throw new IllegalArgumentException("the internal auth key must have at least 16 characters");
    }
    this.key = new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256");
    this.clock = clock;
  }

  /**
   * Header value for a call of {@code fullMethod}: {@code user;team;apiKey;platform;expiry;signature}, fields
   * base64url-encoded; the method is signed but not sent (the receiver knows which method it serves).
   */
  public String sign(Caller caller, String fullMethod) {
    long expiry = clock.instant().getEpochSecond() + LIFETIME_SECONDS;
    String body = String.join(";", enc(caller.user()), enc(caller.team()), enc(caller.apiKey()),
        caller.platform() ? "1" : "0", Long.toString(expiry));
    return body + ";" + B64.encodeToString(mac(fullMethod + "|" + body));
  }

  /** The caller of a call of {@code fullMethod}; UNAUTHENTICATED when the header was not signed for it. */
  public Caller verify(String header, String fullMethod) {
    String[] parts = header == null ? new String[0] : header.split(";", -1);
    if (parts.length != 6) {
      throw unauthenticated();
    }
    String body = String.join(";", parts[0], parts[1], parts[2], parts[3], parts[4]);
    byte[] given;
    try {
      given = B64D.decode(parts[5]);
    } catch (IllegalArgumentException e) {
      throw unauthenticated();
    }
    if (!MessageDigest.isEqual(mac(fullMethod + "|" + body), given)) {
      throw unauthenticated();
    }
    long expiry;
    try {
      expiry = Long.parseLong(parts[4]);
    } catch (NumberFormatException e) {
      throw unauthenticated();
    }
    if (clock.instant().getEpochSecond() > expiry) {
      throw unauthenticated();
    }
    return new Caller(dec(parts[0]), dec(parts[1]), dec(parts[2]), "1".equals(parts[3]));
  }

  /** Call credentials that attach a freshly signed header for {@code caller} to every call. */
  public CallCredentials credentials(Caller caller) {
    return new CallCredentials() {
      @Override
      public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
        Metadata headers = new Metadata();
        headers.put(CALLER_HEADER, sign(caller, info.getMethodDescriptor().getFullMethodName()));
        applier.apply(headers);
      }
    };
  }

  private byte[] mac(String body) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(key);
      return mac.doFinal(body.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException | InvalidKeyException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String enc(String s) {
    return B64.encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }

  private static String dec(String s) {
    try {
      return new String(B64D.decode(s), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw unauthenticated();
    }
  }

  private static TallyException unauthenticated() {
    return new TallyException(Status.Code.UNAUTHENTICATED, Reasons.UNAUTHENTICATED,
        "missing or invalid caller credentials");
  }
}
