package dev.tally.common.auth;

import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import io.grpc.Context;

/**
 * Who is calling, as established by the gateway and passed to the services signed ({@link CallerSigner}).
 *
 * @param user {@code users/{id}} for a person (directly or through their key); empty for a service key
 * @param team {@code teams/{id}} for a service key (the team it belongs to)
 * @param apiKey {@code apiKeys/{id}} when the caller authenticated with a key
 * @param platform true for the platform's own backend acting without a user (operator calls)
 */
public record Caller(String user, String team, String apiKey, boolean platform) {
  public static final Context.Key<Caller> CONTEXT = Context.key("tally-caller");
  public static final Caller PLATFORM = new Caller("", "", "", true);

  public Caller {
    user = user == null ? "" : user;
    team = team == null ? "" : team;
    apiKey = apiKey == null ? "" : apiKey;
  }

  public static Caller user(String user) {
    return new Caller(user, "", "", false);
  }

  public static Caller userWithKey(String user, String apiKey) {
    return new Caller(user, "", apiKey, false);
  }

  public static Caller serviceKey(String team, String apiKey) {
    return new Caller("", team, apiKey, false);
  }

  /** The caller of the current call. */
  public static Caller current() {
    Caller caller = CONTEXT.get();
    if (caller == null) {
      throw TallyException.unauthenticated(Reasons.UNAUTHENTICATED, "the call carries no caller");
    }
    return caller;
  }

  public boolean isUser() {
    return !user.isEmpty();
  }

  /** The user's id (without {@code users/}); fails for callers that are not users. */
  public String userId() {
    if (!isUser()) {
      throw TallyException.permissionDenied(Reasons.ROLE_FORBIDDEN, "this call needs a signed-in user");
    }
    return user.substring("users/".length());
  }

  /** Stable text form, used to scope idempotency keys and in audit events. */
  public String key() {
    if (platform) {
      return "platform";
    }
    return isUser() ? (apiKey.isEmpty() ? user : user + "|" + apiKey) : team + "|" + apiKey;
  }
}
