package dev.tally.gateway.auth;

import dev.tally.common.auth.Caller;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import dev.tally.proto.identity.v1.VerifyApiKeyResponse;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.regex.Pattern;

/**
 * Authenticates every call to the gateway: {@code authorization: Bearer tly_...} (an API key: its user, or
 * its team for a service key) or the platform token, optionally with {@code x-tally-user: users/{id}} for
 * the platform's backend acting for a signed-in user. Anything else is UNAUTHENTICATED. An address that keeps
 * failing has its unknown credentials verified slowly ({@link AuthThrottle}); a key already known to be valid
 * is never held back by what others at its address did. An identity outage is UNAVAILABLE, never a failed
 * login.
 */
public final class GatewayAuthInterceptor implements ServerInterceptor {
  static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<String> ACTING_USER = Metadata.Key.of("x-tally-user", Metadata.ASCII_STRING_MARSHALLER);
  private static final Pattern USER = Pattern.compile("users/[A-Za-z0-9_-]{1,64}");

  private final byte[] platformToken;
  private final KeyGate gate;
  private final AuthThrottle throttle;

  public GatewayAuthInterceptor(String platformToken, KeyGate gate, AuthThrottle throttle) {
    this.platformToken = platformToken.getBytes(StandardCharsets.UTF_8);
    this.gate = gate;
    this.throttle = throttle;
  }

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
      ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
    String address = address(call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
    Caller caller = platform(headers);
    if (caller == null) {
      // The platform's own backend is never throttled: its customers' traffic shares its address.
      caller = apiKey(headers, address);
    }
    return Contexts.interceptCall(Context.current().withValue(Caller.CONTEXT, caller), call, headers, next);
  }

  /** Whether the call carries the platform token (a comparison: nothing is verified, nothing waits). */
  public boolean isPlatform(Metadata headers) {
    String token = bearer(headers);
    return token != null && MessageDigest.isEqual(platformToken, token.getBytes(StandardCharsets.UTF_8));
  }

  /** The platform (or a user it acts for) when the bearer is the platform token; null otherwise. */
  private Caller platform(Metadata headers) {
    if (!isPlatform(headers)) {
      return null;
    }
    String user = headers.get(ACTING_USER);
    if (user == null) {
      return Caller.PLATFORM;
    }
    if (!USER.matcher(user).matches()) {
      throw TallyException.invalidArgument("x-tally-user", "must look like users/{user}");
    }
    return Caller.user(user);
  }

  private Caller apiKey(Metadata headers, String address) {
    String token = bearer(headers);
    if (token == null || !token.startsWith("tly_")) {
      if (!throttle.mayVerify(address)) {
        throw KeyGate.throttled();
      }
      throttle.failed(address);
      throw unauthenticated(token == null ? "send authorization: Bearer <API key or platform token>"
          : "the bearer token is neither an API key nor the platform token");
    }
    VerifyApiKeyResponse v;
    try {
      v = gate.verify(token, address);
    } catch (StatusRuntimeException e) {
      // Every key refusal authenticates nobody; the reason (KEY_REVOKED, ...) is kept for the client.
      throw TallyException.unauthenticated(Reasons.of(e, Reasons.KEY_INVALID), e.getStatus().getDescription());
    }
    String apiKey = v.getApiKey().getName();
    return v.getPrincipal().getUser().isEmpty() ? Caller.serviceKey(v.getPrincipal().getTeam(), apiKey)
        : Caller.userWithKey(v.getPrincipal().getUser(), apiKey);
  }

  private static String bearer(Metadata headers) {
    String authorization = headers.get(AUTHORIZATION);
    if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return null;
    }
    return authorization.substring(7).trim();
  }

  private static TallyException unauthenticated(String message) {
    return TallyException.unauthenticated(Reasons.UNAUTHENTICATED, message);
  }

  private static String address(SocketAddress a) {
    return a instanceof InetSocketAddress inet ? inet.getAddress().getHostAddress() : String.valueOf(a);
  }
}
