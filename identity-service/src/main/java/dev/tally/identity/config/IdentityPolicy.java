package dev.tally.identity.config;

import dev.tally.common.config.Env;
import java.time.Duration;

/**
 * Deployment policies of the identity service.
 *
 * @param maxOwnedTeams teams one user may own; 0 = unlimited ({@code TALLY_MAX_OWNED_TEAMS}; 1 reproduces Tensorix)
 * @param archivePersonalKeysOnJoin joining a team archives the user's personal keys and leaving the last team
 *     restores them ({@code TALLY_ARCHIVE_PERSONAL_KEYS_ON_JOIN})
 * @param movePaidBalanceOnJoin creating or joining a team moves the user's paid personal balance to the team
 *     wallet; carried on the events for the wallet ({@code TALLY_MOVE_BALANCE_ON_JOIN})
 * @param invitationTtl default invitation lifetime ({@code TALLY_INVITATION_TTL}, default 7d)
 * @param acceptUrlTemplate accept link, {@code {token}} replaced ({@code TALLY_INVITATION_URL_TEMPLATE})
 * @param maxKeysPerOwner live keys per owner and team ({@code TALLY_MAX_KEYS_PER_OWNER})
 * @param assignKeyOnJoin joining a team creates a team key owned by the new member, whose secret the accept
 *     answer carries once ({@code TALLY_ASSIGN_KEY_ON_JOIN}; the Algorithmia policy)
 */
public record IdentityPolicy(
    int maxOwnedTeams,
    boolean archivePersonalKeysOnJoin,
    boolean movePaidBalanceOnJoin,
    Duration invitationTtl,
    String acceptUrlTemplate,
    int maxKeysPerOwner,
    boolean assignKeyOnJoin) {

  public static IdentityPolicy defaults() {
    return new IdentityPolicy(0, false, false, Duration.ofDays(7),
        "http://localhost:3000/invitations/accept?token={token}", 100, false);
  }

  public static IdentityPolicy fromEnv(Env env) {
    IdentityPolicy d = defaults();
    String template = env.string("TALLY_INVITATION_URL_TEMPLATE", d.acceptUrlTemplate());
    if (!template.contains("{token}")) {
      throw new dev.tally.common.config.ConfigException(
          "TALLY_INVITATION_URL_TEMPLATE must contain {token}, got '" + template + "'");
    }
    return new IdentityPolicy(
        env.integer("TALLY_MAX_OWNED_TEAMS", d.maxOwnedTeams(), 0, 1_000_000),
        env.bool("TALLY_ARCHIVE_PERSONAL_KEYS_ON_JOIN", d.archivePersonalKeysOnJoin()),
        env.bool("TALLY_MOVE_BALANCE_ON_JOIN", d.movePaidBalanceOnJoin()),
        env.duration("TALLY_INVITATION_TTL", d.invitationTtl(), Duration.ofMinutes(1), Duration.ofDays(90)),
        template,
        env.integer("TALLY_MAX_KEYS_PER_OWNER", d.maxKeysPerOwner(), 1, 100_000),
        env.bool("TALLY_ASSIGN_KEY_ON_JOIN", d.assignKeyOnJoin()));
  }

  public IdentityPolicy withMaxOwnedTeams(int n) {
    return new IdentityPolicy(n, archivePersonalKeysOnJoin, movePaidBalanceOnJoin, invitationTtl,
        acceptUrlTemplate, maxKeysPerOwner, assignKeyOnJoin);
  }

  public IdentityPolicy withArchivePersonalKeysOnJoin(boolean on) {
    return new IdentityPolicy(maxOwnedTeams, on, movePaidBalanceOnJoin, invitationTtl, acceptUrlTemplate,
        maxKeysPerOwner, assignKeyOnJoin);
  }

  public IdentityPolicy withAssignKeyOnJoin(boolean on) {
    return new IdentityPolicy(maxOwnedTeams, archivePersonalKeysOnJoin, movePaidBalanceOnJoin, invitationTtl,
        acceptUrlTemplate, maxKeysPerOwner, on);
  }
}
