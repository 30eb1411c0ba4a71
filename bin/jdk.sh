# Sourced by the scripts in bin/: selects a JDK 21 or newer (the newest installed) unless JAVA_HOME
# already points at one. Debian's default here is 17, which cannot build the project.
tally_java_major() {
  # The JDK's release file says it without starting a JVM (each start costs a CLI call ~0.1 s).
  if [ -f "$1/release" ]; then
    sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release"
  else
    "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | cut -d. -f1
  fi
}

if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ] && [ "$(tally_java_major "$JAVA_HOME")" -ge 21 ] 2>/dev/null; then
  :
else
  best="" best_major=0
  for candidate in /usr/lib/jvm/* /opt/java/* /opt/jdk*; do
    [ -x "$candidate/bin/javac" ] || continue
    major=$(tally_java_major "$candidate" 2>/dev/null || echo 0)
    if [ "${major:-0}" -gt "$best_major" ] 2>/dev/null; then best="$candidate" best_major=$major; fi
  done
  if [ "$best_major" -lt 21 ]; then
    echo "Tally needs JDK 21 or newer; set JAVA_HOME (found: ${best:-none})" >&2
    exit 1
  fi
  export JAVA_HOME="$best"
fi
export PATH="$JAVA_HOME/bin:$PATH"
