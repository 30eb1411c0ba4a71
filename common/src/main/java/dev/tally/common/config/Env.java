package dev.tally.common.config;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Typed reads of environment variables with defaults for local use. Every malformed value fails with a
 * {@link ConfigException} that names the variable, so a bad deployment fails at start-up, not at first use.
 */
public final class Env {
  private static final Pattern SIMPLE_DURATION = Pattern.compile("(\\d+)(ms|s|m|h|d)");

  private final Map<String, String> vars;
  private final java.util.function.Consumer<String> onRead;

  private Env(Map<String, String> vars, java.util.function.Consumer<String> onRead) {
    this.vars = Map.copyOf(vars);
    this.onRead = onRead;
  }

  public static Env system() {
    return new Env(System.getenv(), name -> {});
  }

  public static Env of(Map<String, String> vars) {
    return new Env(vars, name -> {});
  }

  /** An environment that reports every variable read (the Helm chart's test checks what it sets against it). */
  public static Env recording(Map<String, String> vars, java.util.function.Consumer<String> onRead) {
    return new Env(vars, onRead);
  }

  /** This environment with {@code forced} values in place of (or beside) its own; reads are still reported. */
  public Env with(Map<String, String> forced) {
    Map<String, String> merged = new java.util.HashMap<>(vars);
    merged.putAll(forced);
    return new Env(merged, onRead);
  }

  /** The raw value when set and not blank. */
  public Optional<String> optional(String name) {
    onRead.accept(name);
    String value = vars.get(name);
    return value == null || value.isBlank() ? Optional.empty() : Optional.of(value.trim());
  }

  /**
   * A secret the process cannot run without (a signing key, a pepper, a token): required, at least 16
   * characters. There is no development fallback: a key written in the source signs for anyone who reads it.
   */
  public String secret(String name) {
    String v = optional(name).orElseThrow(() -> new ConfigException(name
        + " is required (a secret of at least 16 characters; the local stack generates its own)"));
    if (v.length() < 16) {
      throw new ConfigException(name + " must have at least 16 characters");
    }
    return v;
  }

  public String string(String name, String defaultValue) {
    return optional(name).orElse(defaultValue);
  }

  public String required(String name) {
    return optional(name).orElseThrow(() -> new ConfigException(name + " is required but not set"));
  }

  public int integer(String name, int defaultValue, int min, int max) {
    return (int) longValue(name, defaultValue, min, max);
  }

  public long longValue(String name, long defaultValue, long min, long max) {
    Optional<String> raw = optional(name);
    if (raw.isEmpty()) {
      return defaultValue;
    }
    long value;
    try {
      value = Long.parseLong(raw.get().replace("_", ""));
    } catch (NumberFormatException e) {
      throw new ConfigException(name + " must be an integer, got '" + raw.get() + "'");
    }
    if (value < min || value > max) {
      throw new ConfigException(name + " must be between " + min + " and " + max + ", got " + value);
    }
    return value;
  }

  /** A TCP port; 0 asks the OS for a free one. */
  public int port(String name, int defaultValue) {
    return integer(name, defaultValue, 0, 65_535);
  }

  public boolean bool(String name, boolean defaultValue) {
    Optional<String> raw = optional(name);
    if (raw.isEmpty()) {
      return defaultValue;
    }
    return switch (raw.get().toLowerCase(Locale.ROOT)) {
      case "true", "yes", "1", "on" -> true;
      case "false", "no", "0", "off" -> false;
      default -> throw new ConfigException(name + " must be true or false, got '" + raw.get() + "'");
    };
  }

  /** A duration as {@code 500ms}, {@code 30s}, {@code 5m}, {@code 2h}, {@code 7d} or ISO-8601 ({@code PT30S}). */
  public Duration duration(String name, Duration defaultValue, Duration min, Duration max) {
    Optional<String> raw = optional(name);
    if (raw.isEmpty()) {
      return defaultValue;
    }
    Duration value = parseDuration(name, raw.get());
    if (value.compareTo(min) < 0 || value.compareTo(max) > 0) {
      throw new ConfigException(name + " must be between " + min + " and " + max + ", got " + raw.get());
    }
    return value;
  }

  public <E extends Enum<E>> E enumValue(String name, Class<E> type, E defaultValue) {
    Optional<String> raw = optional(name);
    if (raw.isEmpty()) {
      return defaultValue;
    }
    for (E constant : type.getEnumConstants()) {
      if (constant.name().equalsIgnoreCase(raw.get())) {
        return constant;
      }
    }
    throw new ConfigException(
        name + " must be one of " + java.util.Arrays.toString(type.getEnumConstants()).toLowerCase(Locale.ROOT)
            + ", got '" + raw.get() + "'");
  }

  private static Duration parseDuration(String name, String raw) {
    Matcher m = SIMPLE_DURATION.matcher(raw);
    if (m.matches()) {
      long n = Long.parseLong(m.group(1));
      return switch (m.group(2)) {
        case "ms" -> Duration.ofMillis(n);
        case "s" -> Duration.ofSeconds(n);
        case "m" -> Duration.ofMinutes(n);
        case "h" -> Duration.ofHours(n);
        default -> Duration.ofDays(n);
      };
    }
    try {
      return Duration.parse(raw);
    } catch (DateTimeParseException e) {
      throw new ConfigException(name + " must be a duration like 500ms, 30s, 5m, 2h, 7d, got '" + raw + "'");
    }
  }
}
