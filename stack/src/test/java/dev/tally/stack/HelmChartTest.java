package dev.tally.stack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.common.config.Env;
import dev.tally.gateway.config.GatewayConfig;
import dev.tally.identity.config.IdentityConfig;
import dev.tally.metering.config.MeteringConfig;
import dev.tally.wallet.config.WalletConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * The Helm chart, rendered with the real helm binary (installed by bin/test into .tools/): what it sets is
 * what the services read, and bad values fail to render with a message naming the value.
 */
class HelmChartTest {
  private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();
  private static final Path HELM = ROOT.resolve(".tools/helm/helm");
  private static final List<String> TRIAL = List.of("--set", "postgresql.url=jdbc:postgresql://pg:5432/tally",
      "--set", "postgresql.password=pw", "--set", "kafka.bootstrapServers=kafka:9092",
      "--set", "platformToken.value=0123456789abcdef", "--set", "internalAuthKey.value=0123456789abcdef",
      "--set", "secretPepper.value=0123456789abcdef");
  /** Read by the JVM and logback rather than the service's configuration. */
  private static final Set<String> RUNTIME = Set.of("JAVA_TOOL_OPTIONS", "TALLY_LOG_FORMAT", "TALLY_LOG_LEVEL");

  private record Rendered(int exit, String out, String err) {}

  private static Rendered template(List<String> args) throws IOException, InterruptedException {
    assertTrue(Files.isExecutable(HELM), "helm is missing: run ./bin/test (it installs helm into .tools/)");
    List<String> cmd = new ArrayList<>(List.of(HELM.toString(), "template", "t", ROOT.resolve("helm/tally").toString()));
    cmd.addAll(args);
    Process p = new ProcessBuilder(cmd).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    return new Rendered(p.exitValue(), out, err);
  }

  @Test
  void theEnvironmentTheChartSetsIsWhatEachServiceReads() throws Exception {
    for (List<String> values : List.of(TRIAL, List.of("-f", ROOT.resolve("helm/tally/values-production.yaml").toString()))) {
      Rendered r = template(values);
      assertEquals(0, r.exit(), r.err());
      Map<String, Map<String, String>> envs = deploymentEnvs(r.out());
      assertEquals(Set.of("gateway", "identity", "wallet", "metering"), envs.keySet());
      check("gateway", envs.get("gateway"), e -> GatewayConfig.fromEnv(e));
      check("identity", envs.get("identity"), e -> IdentityConfig.fromEnv(e));
      check("wallet", envs.get("wallet"), e -> WalletConfig.fromEnv(e));
      check("metering", envs.get("metering"), e -> MeteringConfig.fromEnv(e));
    }
  }

  private static void check(String service, Map<String, String> env, Consumer<Env> config) {
    Set<String> read = new TreeSet<>();
    config.accept(Env.recording(env, read::add));
    Set<String> unread = new TreeSet<>(env.keySet());
    unread.removeAll(read);
    unread.removeAll(RUNTIME);
    assertEquals(Set.of(), unread, service + ": the chart sets variables the service never reads");
    for (String required : List.of("TALLY_GRPC_PORT", "TALLY_METRICS_PORT", "TALLY_KAFKA_BOOTSTRAP",
        "TALLY_INTERNAL_AUTH_KEY")) {
      assertTrue(env.containsKey(required), service + " lacks " + required);
    }
    if (!service.equals("gateway")) {
      assertEquals(service, env.get("TALLY_DB_SCHEMA"));
      assertTrue(env.containsKey("TALLY_DB_URL") && env.containsKey("TALLY_DB_PASSWORD"), service);
    }
  }

  /** Each Deployment's container env; values from Secrets become placeholders of the right shape. */
  @SuppressWarnings("unchecked")
  private static Map<String, Map<String, String>> deploymentEnvs(String yaml) {
    Map<String, Map<String, String>> out = new HashMap<>();
    for (Object doc : new Yaml().loadAll(yaml)) {
      if (!(doc instanceof Map<?, ?> m) || !"Deployment".equals(m.get("kind"))) {
        continue;
      }
      Map<String, Object> spec = (Map<String, Object>) ((Map<String, Object>) ((Map<String, Object>) m.get("spec"))
          .get("template")).get("spec");
      Map<String, Object> container = ((List<Map<String, Object>>) spec.get("containers")).getFirst();
      Map<String, String> env = new HashMap<>();
      for (Map<String, Object> e : (List<Map<String, Object>>) container.get("env")) {
        Object value = e.get("value");
        env.put((String) e.get("name"), value == null ? "from-a-secret-0123456789" : value.toString());
      }
      out.put((String) container.get("name"), env);
    }
    return out;
  }

  @Test
  void badValuesFailToRenderWithAClearMessage() throws Exception {
    Rendered wrongType = template(concat(TRIAL, "--set", "gateway.replicas=two"));
    assertNotEquals(0, wrongType.exit());
    assertTrue(wrongType.err().contains("gateway.replicas: Invalid type. Expected: integer"), wrongType.err());

    Rendered unknownKey = template(concat(TRIAL, "--set", "gateway.replica=2"));
    assertNotEquals(0, unknownKey.exit());
    assertTrue(unknownKey.err().contains("Additional property replica is not allowed"), unknownKey.err());

    Rendered noDatabase = template(List.of("--set", "postgresql.password=pw", "--set", "kafka.bootstrapServers=k:9092",
        "--set", "platformToken.value=0123456789abcdef", "--set", "internalAuthKey.value=0123456789abcdef",
        "--set", "secretPepper.value=0123456789abcdef"));
    assertNotEquals(0, noDatabase.exit());
    assertTrue(noDatabase.err().contains("postgresql.url (or postgresql.services."), noDatabase.err());

    Rendered noKafka = template(concat(TRIAL, "--set", "kafka.bootstrapServers="));
    assertNotEquals(0, noKafka.exit());
    assertTrue(noKafka.err().contains("kafka.bootstrapServers is required"), noKafka.err());

    Rendered weakToken = template(concat(TRIAL, "--set", "platformToken.value=short"));
    assertNotEquals(0, weakToken.exit());
    assertTrue(weakToken.err().contains("platformToken: set platformToken.existingSecret"), weakToken.err());

    Rendered badEnum = template(concat(TRIAL, "--set", "kafka.securityProtocol=TELNET"));
    assertNotEquals(0, badEnum.exit());
    assertTrue(badEnum.err().contains("kafka.securityProtocol"), badEnum.err());
  }

  @Test
  void disruptionBudgetsOnlyForMoreThanOneReplicaAndMigrationsAsAHook() throws Exception {
    Rendered single = template(concat(TRIAL, "--set", "gateway.replicas=1", "--set", "identity.replicas=1",
        "--set", "wallet.replicas=1", "--set", "metering.replicas=1"));
    assertEquals(0, single.exit(), single.err());
    assertTrue(!single.out().contains("kind: PodDisruptionBudget"), "no PDB for single replicas");
    Rendered two = template(TRIAL);
    assertTrue(two.out().contains("kind: PodDisruptionBudget"));
    assertTrue(two.out().contains("helm.sh/hook: pre-install,pre-upgrade"));
    assertTrue(two.out().contains("value: \"false\"") , "pods must not migrate when the hook Job does");
    Set<String> kinds = new HashSet<>();
    for (Object doc : new Yaml().loadAll(two.out())) {
      if (doc instanceof Map<?, ?> m) {
        kinds.add((String) m.get("kind"));
      }
    }
    assertTrue(kinds.containsAll(Set.of("Deployment", "Service", "Job", "Secret", "Pod")), kinds.toString());
  }

  /**
   * Hooks run before a release's ordinary resources: every Secret the pre-install migrations Job reads must be
   * an earlier hook itself (or provided from outside the chart), else a fresh install cannot start the Job.
   */
  @Test
  @SuppressWarnings("unchecked")
  void whatTheMigrationsHookReadsExistsBeforeItRuns() throws Exception {
    Rendered r = template(TRIAL);
    assertEquals(0, r.exit(), r.err());
    Map<String, Map<String, Object>> secrets = new java.util.HashMap<>();
    Map<String, Object> job = null;
    for (Object doc : new Yaml().loadAll(r.out())) {
      if (doc instanceof Map<?, ?> m) {
        Map<String, Object> meta = (Map<String, Object>) m.get("metadata");
        if ("Secret".equals(m.get("kind"))) {
          secrets.put((String) meta.get("name"), meta);
        } else if ("Job".equals(m.get("kind"))) {
          job = (Map<String, Object>) m;
        }
      }
    }
    assertTrue(job != null, "no migrations Job");
    Map<String, Object> jobMeta = (Map<String, Object>) job.get("metadata");
    int jobWeight = Integer.parseInt(String.valueOf(((Map<String, Object>) jobMeta.get("annotations"))
        .get("helm.sh/hook-weight")));
    Set<String> read = new TreeSet<>();
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("secretKeyRef=\\{name=([^,}]+)")
        .matcher(String.valueOf(job.get("spec")));
    while (m.find()) {
      read.add(m.group(1));
    }
    assertTrue(!read.isEmpty(), "the Job reads its credentials from Secrets");
    for (String name : read) {
      Map<String, Object> meta = secrets.get(name);
      assertTrue(meta != null, name + " is read by the Job but not rendered (and not an existingSecret)");
      Map<String, Object> annotations = (Map<String, Object>) meta.getOrDefault("annotations", Map.of());
      assertTrue(String.valueOf(annotations.get("helm.sh/hook")).contains("pre-install"),
          name + " must be a pre-install hook: the Job runs before ordinary resources exist");
      assertTrue(Integer.parseInt(String.valueOf(annotations.get("helm.sh/hook-weight"))) < jobWeight,
          name + " must come before the Job");
    }
  }

  /** Alert rules and a dashboard ship with the chart when asked for, on the series the services export. */
  @Test
  @SuppressWarnings("unchecked")
  void alertRulesAndTheDashboardRenderWhenEnabled() throws Exception {
    Rendered r = template(concat(TRIAL, "--set", "prometheusRule.enabled=true", "--set",
        "grafanaDashboard.enabled=true"));
    assertEquals(0, r.exit(), r.err());
    Set<String> alerts = new TreeSet<>();
    String dashboard = null;
    for (Object doc : new Yaml().loadAll(r.out())) {
      if (doc instanceof Map<?, ?> m && "PrometheusRule".equals(m.get("kind"))) {
        for (Object g : (List<Object>) ((Map<String, Object>) m.get("spec")).get("groups")) {
          for (Object rule : (List<Object>) ((Map<String, Object>) g).get("rules")) {
            alerts.add((String) ((Map<String, Object>) rule).get("alert"));
          }
        }
      }
      if (doc instanceof Map<?, ?> m && "ConfigMap".equals(m.get("kind"))
          && ((Map<String, Object>) m.get("data")).containsKey("tally.json")) {
        dashboard = (String) ((Map<String, Object>) m.get("data")).get("tally.json");
      }
    }
    assertEquals(Set.of("TallyConsumerStalled", "TallyErrorRate", "TallyOutboxBacklogGrowing", "TallyParkedEvents"),
        alerts);
    assertTrue(dashboard != null, "no dashboard ConfigMap");
    Map<String, Object> json = new Yaml().load(dashboard); // JSON is YAML
    assertEquals(10, ((List<Object>) json.get("panels")).size());
    for (String series : List.of("tally_usage_records_total", "tally_usage_debited_total", "tally_consumer_backlog",
        "tally_outbox_backlog", "tally_holds_pending")) {
      assertTrue(dashboard.contains(series), series);
    }
    Rendered off = template(TRIAL);
    assertTrue(!off.out().contains("kind: PrometheusRule"), "off by default");
  }

  /**
   * Calls spread across replicas (headless Services, dns:/// targets, round robin in the clients), pods leave
   * endpoints before they drain, and the usual pod settings are values.
   */
  @Test
  @SuppressWarnings("unchecked")
  void callsSpreadAcrossReplicasAndPodsStopGracefully() throws Exception {
    Rendered r = template(concat(TRIAL, "--set", "podDefaults.podLabels.team=payments", "--set",
        "podDefaults.serviceAccountName=tally", "--set", "podDefaults.extraEnv[0].name=HTTPS_PROXY", "--set",
        "podDefaults.extraEnv[0].value=http://proxy:3128", "--set",
        "podDefaults.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
            + ".matchExpressions[0].key=pool", "--set", "podDefaults.affinity.nodeAffinity."
            + "requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists"));
    assertEquals(0, r.exit(), r.err());
    Set<String> headless = new TreeSet<>();
    int deployments = 0;
    for (Object doc : new Yaml().loadAll(r.out())) {
      if (!(doc instanceof Map<?, ?> m)) {
        continue;
      }
      Map<String, Object> spec = (Map<String, Object>) m.get("spec");
      if ("Service".equals(m.get("kind")) && "None".equals(spec.get("clusterIP"))) {
        headless.add((String) ((Map<String, Object>) m.get("metadata")).get("name"));
      }
      if ("Deployment".equals(m.get("kind"))) {
        deployments++;
        Map<String, Object> pod = (Map<String, Object>) ((Map<String, Object>) spec.get("template")).get("spec");
        Map<String, Object> labels = (Map<String, Object>) ((Map<String, Object>) ((Map<String, Object>)
            spec.get("template")).get("metadata")).get("labels");
        assertEquals("payments", labels.get("team"));
        assertEquals("tally", pod.get("serviceAccountName"));
        assertTrue(pod.containsKey("affinity"));
        Map<String, Object> container = ((List<Map<String, Object>>) pod.get("containers")).get(0);
        int sleep = (Integer) ((Map<String, Object>) ((Map<String, Object>) ((Map<String, Object>)
            container.get("lifecycle")).get("preStop")).get("sleep")).get("seconds");
        assertTrue((Integer) pod.get("terminationGracePeriodSeconds") > sleep + 20,
            "the grace covers preStop and the 20 s drain");
        List<Map<String, Object>> env = (List<Map<String, Object>>) container.get("env");
        assertTrue(env.stream().anyMatch(e -> "HTTPS_PROXY".equals(e.get("name"))));
        env.stream().filter(e -> String.valueOf(e.get("name")).endsWith("_TARGET")).forEach(e ->
            assertTrue(String.valueOf(e.get("value")).matches("dns:///t-tally-\\w+-headless:50051"), e.toString()));
      }
    }
    assertEquals(4, deployments);
    assertEquals(Set.of("t-tally-identity-headless", "t-tally-metering-headless", "t-tally-wallet-headless"),
        headless);
  }

  private static List<String> concat(List<String> a, String... b) {
    List<String> out = new ArrayList<>(a);
    out.addAll(List.of(b));
    return out;
  }
}
