package dev.tally.common.grpc;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Duration;
import com.google.protobuf.MapEntry;
import com.google.protobuf.Message;
import com.google.protobuf.Timestamp;
import dev.tally.common.error.ErrorMapper;
import dev.tally.common.error.TallyException;
import dev.tally.proto.options.v1.Options;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One rule for every field of every request, whatever its contract says: what storage cannot hold is refused
 * at the edge with {@code INVALID_ARGUMENT} naming the field, so it never reaches PostgreSQL, a Kafka topic
 * or a consumer. Strings must be free of NUL and other control characters (tab, line feed and carriage
 * return are text) and at most {@link #MAX_STRING_CHARS} long; invalid UTF-8 is refused when the request is
 * parsed. Timestamps lie in years 1–9999 (what {@code google.protobuf.Timestamp} defines and both Java and
 * PostgreSQL hold), durations within ±10,000 years. Tighter rules per field are protovalidate's.
 */
public final class InputGuard {
  /** The longest string any field may carry unless its contract says less. */
  public static final int MAX_STRING_CHARS = 4_096;
  static final long MIN_TIMESTAMP_SECONDS = -62_135_596_800L; // 0001-01-01T00:00:00Z
  static final long MAX_TIMESTAMP_SECONDS = 253_402_300_799L; // 9999-12-31T23:59:59Z
  static final long MAX_DURATION_SECONDS = 315_576_000_000L; // 10,000 years

  private InputGuard() {}

  /** Throws {@link TallyException} ({@code INVALID_ARGUMENT}) naming the first field that breaks the rule. */
  public static void check(Message message) {
    List<TallyException.FieldViolation> identifiers = checkStorage(message);
    if (!identifiers.isEmpty()) {
      throw invalid(identifiers.getFirst().field(), identifiers.getFirst().description());
    }
  }

  /**
   * Throws {@link TallyException} naming the first field storage cannot hold; returns the identifier fields
   * that break their character rule (for the caller to report with the other rules' violations).
   */
  public static List<TallyException.FieldViolation> checkStorage(Message message) {
    List<TallyException.FieldViolation> identifiers = new ArrayList<>(0);
    check(message, Path.ROOT, identifiers);
    return identifiers;
  }

  /**
   * Where a value sits in the request, spelled ({@code records[3].attributes["k"]}) only when it is refused:
   * a request of 500 records walks thousands of fields, and naming each one cost more than checking it.
   */
  private record Path(Path parent, String field, int index, String key) {
    static final Path ROOT = new Path(null, null, -1, null);

    Path field(String name) {
      return new Path(this, name, -1, null);
    }

    Path index(int i) {
      return new Path(this, null, i, null);
    }

    Path key(Object k) {
      return new Path(this, null, -1, String.valueOf(k));
    }

    @Override
    public String toString() {
      if (parent == null) {
        return "";
      }
      String before = parent.toString();
      if (field != null) {
        return before.isEmpty() ? field : before + "." + field;
      }
      return index >= 0 ? before + "[" + index + "]" : before + "[\"" + key + "\"]";
    }
  }

  /** The problem with {@code s} as a stored string, or {@code null} when it is fine. */
  public static String stringProblem(String s) {
    if (s.length() > MAX_STRING_CHARS) {
      return "must be at most " + MAX_STRING_CHARS + " characters";
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == 0) {
        return "must not contain NUL characters";
      }
      if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
        return "must not contain control characters";
      }
    }
    return null;
  }

  private static void check(Message message, Path path, List<TallyException.FieldViolation> identifiers) {
    if (message instanceof Timestamp t) {
      if (t.getSeconds() < MIN_TIMESTAMP_SECONDS || t.getSeconds() > MAX_TIMESTAMP_SECONDS
          || t.getNanos() < 0 || t.getNanos() > 999_999_999) {
        throw invalid(path.toString(), "must be a time between years 1 and 9999");
      }
      return;
    }
    if (message instanceof Duration d) {
      if (Math.abs(d.getSeconds()) > MAX_DURATION_SECONDS || Math.abs(d.getNanos()) > 999_999_999) {
        throw invalid(path.toString(), "must be a duration within 10,000 years");
      }
      return;
    }
    for (FieldRead read : fieldsRead(message.getDescriptorForType())) {
      FieldDescriptor f = read.field();
      if (f.isRepeated()) {
        int n = message.getRepeatedFieldCount(f);
        if (n == 0) {
          continue;
        }
        Path name = path.field(f.getName());
        for (int i = 0; i < n; i++) {
          Object value = message.getRepeatedField(f, i);
          if (f.isMapField()) {
            checkMapEntry((Message) value, name, identifiers);
          } else {
            checkValue(value, read.identifier(), name.index(i), identifiers);
          }
        }
      } else if (f.getJavaType() == FieldDescriptor.JavaType.STRING || message.hasField(f)) {
        checkValue(message.getField(f), read.identifier(), path.field(f.getName()), identifiers); // unset: ""
      }
    }
  }

  /** A field the rule reads, and whether the contract declares it {@code (tally.options.v1.field).identifier}. */
  private record FieldRead(FieldDescriptor field, boolean identifier) {}

  /**
   * Per message type, the fields the rule reads (strings and messages, maps and lists of them), found once:
   * walking every field of every message ({@code getAllFields}, a sorted map each) cost more than the checks.
   */
  private static final Map<Descriptor, FieldRead[]> FIELDS_READ = new ConcurrentHashMap<>();

  private static FieldRead[] fieldsRead(Descriptor type) {
    return FIELDS_READ.computeIfAbsent(type, t -> t.getFields().stream()
        .filter(f -> f.getJavaType() == FieldDescriptor.JavaType.STRING
            || f.getJavaType() == FieldDescriptor.JavaType.MESSAGE)
        .map(f -> new FieldRead(f, f.getOptions().getExtension(Options.field).getIdentifier()))
        .toArray(FieldRead[]::new));
  }

  /**
   * Whether {@code s} has only ASCII letters, digits and {@code . _ : -} (the empty string too: presence and
   * length are protovalidate's). A loop: RE2J matching {@code ^[A-Za-z0-9._:-]*$} cost more than every other
   * rule of a usage record together.
   */
  static boolean isIdentifier(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_'
          || c == ':' || c == '-')) {
        return false;
      }
    }
    return true;
  }

  private static void checkMapEntry(Message entry, Path name, List<TallyException.FieldViolation> identifiers) {
    Object key = entry instanceof MapEntry<?, ?> me ? me.getKey()
        : entry.getField(entry.getDescriptorForType().findFieldByNumber(1));
    Object value = entry instanceof MapEntry<?, ?> me ? me.getValue()
        : entry.getField(entry.getDescriptorForType().findFieldByNumber(2));
    if (key instanceof String k) {
      String problem = stringProblem(k);
      if (problem != null) {
        throw invalid(name.toString(), "key " + problem);
      }
    }
    Path entryName = name.key(key);
    checkValue(value, false, entryName, identifiers);
  }

  private static void checkValue(Object value, boolean identifier, Path name,
      List<TallyException.FieldViolation> identifiers) {
    if (value instanceof String s) {
      String problem = stringProblem(s);
      if (problem != null) {
        throw invalid(name.toString(), problem);
      }
      if (identifier && !isIdentifier(s)) {
        identifiers.add(new TallyException.FieldViolation(ErrorMapper.clip(name.toString(), 200),
            "must contain only letters, digits and the characters . _ : -"));
      }
    } else if (value instanceof Message m) {
      check(m, name, identifiers);
    }
  }

  private static TallyException invalid(String field, String description) {
    return TallyException.invalidArgument(ErrorMapper.clip(field, 200), description);
  }
}
