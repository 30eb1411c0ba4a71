package dev.tally.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * CPU of this JVM's platform threads by name with numbers blanked ({@code grpc-default-worker-ELG-N-N}), so a
 * phase's CPU can be told apart by component (virtual threads count in the carrier threads that ran them).
 */
record ThreadCpu(Map<Long, String> names, Map<Long, Long> nanos, long gcMillis, long jitMillis) {
  static ThreadCpu now() {
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    Map<Long, String> names = new HashMap<>();
    Map<Long, Long> nanos = new HashMap<>();
    for (var info : mx.getThreadInfo(mx.getAllThreadIds())) {
      if (info == null) {
        continue;
      }
      long cpu = mx.getThreadCpuTime(info.getThreadId());
      if (cpu >= 0) {
        names.put(info.getThreadId(), info.getThreadName().replaceAll("\\d+", "N"));
        nanos.put(info.getThreadId(), cpu);
      }
    }
    return new ThreadCpu(names, nanos, nativeCpuMillis("VM Thread", "GC Thread", "G1 "),
        nativeCpuMillis("C1 CompilerThre", "C2 CompilerThre"));
  }

  /** CPU of this process's threads whose name ({@code /proc/self/task/N/comm}) starts with one of {@code prefixes}. */
  private static long nativeCpuMillis(String... prefixes) {
    long ticks = 0;
    try (var tasks = java.nio.file.Files.list(java.nio.file.Path.of("/proc/self/task"))) {
      for (var task : tasks.toList()) {
        try {
          String comm = java.nio.file.Files.readString(task.resolve("comm")).trim();
          if (java.util.Arrays.stream(prefixes).anyMatch(comm::startsWith)) {
            String stat = java.nio.file.Files.readString(task.resolve("stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]);
          }
        } catch (java.io.IOException | RuntimeException gone) {
          // the thread ended
        }
      }
    } catch (java.io.IOException e) {
      return 0;
    }
    return ticks * 10; // USER_HZ is 100 on Linux
  }

  /**
   * The groups that took at least {@code minShare} of the Java threads' CPU since {@code start}, then the CPU
   * of garbage collection and of JIT compilation (native threads), each as ms per 1,000 of {@code ops}.
   */
  String since(ThreadCpu start, long ops, double minShare) {
    Map<String, Long> byGroup = new HashMap<>();
    nanos.forEach((id, cpu) -> byGroup.merge(names.get(id), cpu - start.nanos.getOrDefault(id, 0L), Long::sum));
    long total = byGroup.values().stream().mapToLong(Long::longValue).sum();
    return byGroup.entrySet().stream().filter(e -> e.getValue() >= total * minShare)
        .sorted(Map.Entry.<String, Long>comparingByValue().reversed())
        .map(e -> String.format("%s %.1f", e.getKey(), e.getValue() / 1e3 / ops))
        .collect(Collectors.joining(", ")) + String.format(" | gc %.1f, jit %.1f",
            (gcMillis - start.gcMillis) * 1e3 / ops, (jitMillis - start.jitMillis) * 1e3 / ops);
  }
}
