package dev.tally.identity.mail;

import dev.tally.common.config.Env;

/**
 * Where invitation mails go. Mail is off unless {@code TALLY_SMTP_HOST} is set.
 *
 * @param host {@code TALLY_SMTP_HOST}
 * @param port {@code TALLY_SMTP_PORT} (default 587)
 * @param user {@code TALLY_SMTP_USER} (empty: no authentication)
 * @param password {@code TALLY_SMTP_PASSWORD} (a secret)
 * @param from sender address ({@code TALLY_SMTP_FROM})
 * @param startTls require STARTTLS ({@code TALLY_SMTP_STARTTLS}, default true)
 */
public record SmtpConfig(String host, int port, String user, String password, String from, boolean startTls) {
  public static final SmtpConfig DISABLED = new SmtpConfig("", 0, "", "", "", false);

  public static SmtpConfig fromEnv(Env env) {
    String host = env.string("TALLY_SMTP_HOST", "");
    if (host.isEmpty()) {
      return DISABLED;
    }
    return new SmtpConfig(host, env.port("TALLY_SMTP_PORT", 587), env.string("TALLY_SMTP_USER", ""),
        env.string("TALLY_SMTP_PASSWORD", ""), env.required("TALLY_SMTP_FROM"), env.bool("TALLY_SMTP_STARTTLS", true));
  }

  public boolean enabled() {
    return !host.isEmpty();
  }

  @Override
  public String toString() {
    return "SmtpConfig[host=" + host + ", port=" + port + ", user=" + user + ", from=" + from + "]";
  }
}
