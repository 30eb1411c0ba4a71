package dev.tally.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs the README's run command and the CLI as real processes. */
final class Processes {
  /** The repository root (the cli module's parent). */
  static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();

  private Processes() {}

  /** The outcome of one CLI run. */
  record Result(int exit, String out, String err) {}

  static int freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Runs {@code tally args...} with the CLI's own runtime classpath. */
  static Result tally(Map<String, String> env, List<String> args) {
    try {
      String cp = ROOT.resolve("cli/target/classes") + java.io.File.pathSeparator
          + Files.readString(ROOT.resolve("cli/target/cli.classpath")).trim();
      List<String> cmd = new ArrayList<>(List.of(javaBin(), "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
          "-cp", cp, "dev.tally.cli.Tally"));
      cmd.addAll(args);
      ProcessBuilder pb = new ProcessBuilder(cmd);
      pb.environment().putAll(env);
      Process p = pb.start();
      p.getOutputStream().close();
      var out = p.getInputStream().readAllBytes();
      var err = p.getErrorStream().readAllBytes();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AssertionError("tally " + args + " did not finish");
      }
      return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8), new String(err, StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  static String javaBin() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }
}
