package dev.tally.gateway.auth;

import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import dev.tally.proto.identity.v1.VerifyApiKeyResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/** Key verification behind the throttle: the one way the gateway turns a secret into a principal. */
public final class KeyGate {
  private final KeyVerifier keys;
  private final AuthThrottle throttle;

  static TallyException throttled() {
    return TallyException.resourceExhausted(Reasons.AUTH_THROTTLED,
        "too many failed authentications from here; unknown keys are checked slowly for a minute")
        .withRetryAfter(AuthThrottle.SLOW_LANE);
  }

  public KeyGate(KeyVerifier keys, AuthThrottle throttle) {
    this.keys = keys;
    this.throttle = throttle;
  }

  /** The secret's principal if it is known valid right now; never waits (the transport thread calls it). */
  public java.util.Optional<VerifyApiKeyResponse> known(String secret) {
    return keys.cachedValid(secret);
  }

  /**
   * Verifies {@code secret} for {@code source}: a key known valid passes at once; an unknown one is checked
   * unless the source is hot and out of its slow lane. Identity's refusals (KEY_INVALID, KEY_REVOKED, ...)
   * count against the source and are rethrown as they are; an identity outage is UNAVAILABLE and counts
   * nothing.
   */
  public VerifyApiKeyResponse verify(String secret, String source) {
    var known = keys.cachedValid(secret);
    if (known.isPresent()) {
      return known.get();
    }
    if (!throttle.mayVerify(source)) {
      throw throttled();
    }
    try {
      return keys.verify(secret);
    } catch (StatusRuntimeException e) {
      Status.Code code = e.getStatus().getCode();
      if (code != Status.Code.UNAUTHENTICATED && code != Status.Code.PERMISSION_DENIED) {
        throw new TallyException(Status.Code.UNAVAILABLE, Reasons.IDENTITY_UNAVAILABLE,
            "keys cannot be verified right now; retry");
      }
      throttle.failed(source);
      throw e;
    }
  }

}
