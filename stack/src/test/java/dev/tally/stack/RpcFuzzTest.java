package dev.tally.stack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.MethodDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.Message;
import dev.tally.common.testing.TestInfra;
import dev.tally.gateway.config.GatewayConfig;
import dev.tally.proto.admission.v1.AdmissionServiceGrpc;
import dev.tally.proto.identity.v1.*;
import dev.tally.proto.metering.v1.MeteringServiceGrpc;
import dev.tally.proto.wallet.v1.DepositRequest;
import dev.tally.proto.wallet.v1.WalletServiceGrpc;
import io.grpc.CallCredentials;
import io.grpc.CallOptions;
import io.grpc.MethodDescriptor.MethodType;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.ProtoServiceDescriptorSupplier;
import io.grpc.stub.ClientCalls;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every RPC of every public service, generated from the descriptors, through the gateway: each request is a
 * plausible one (real team, wallet, key and user names) with one field made hostile — a string with NUL,
 * 1 MB long or not UTF-8, an integer at its extremes, a timestamp at ±2^63 s, a map key of 1 MB — plus
 * bytes that are not protobuf at all. No answer may be INTERNAL or UNKNOWN: bad input is the caller's
 * mistake and is named as such.
 */
class RpcFuzzTest {
  private static final String NOT_UTF8_MARK = "Zq9Z"; // replaced by 4 bytes that are not UTF-8
  private static final byte[] NOT_UTF8 = {(byte) 0xff, (byte) 0xfe, (byte) 0xc3, (byte) 0x28};
  private static final String MEGABYTE = "a".repeat(1 << 20);

  private static TallyStack stack;
  private static GatewayClient gw;
  private static Map<String, String> seeds;

  @BeforeAll
  static void start() throws Exception {
    stack = TallyStack.start(new StackConfig(Files.createTempDirectory("tally-fuzz"), true, 0, 0, 0, 0, 0, -1, "", ""),
        TestInfra.newDatabase(RpcFuzzTest.class, "identity"), TestInfra.kafka());
    gw = new GatewayClient(stack.gatewayPort(), GatewayConfig.DEV_PLATFORM_TOKEN);
    var identity = IdentityServiceGrpc.newBlockingStub(gw.channel).withDeadlineAfter(20, TimeUnit.SECONDS);
    User owner = identity.withCallCredentials(gw.platform()).upsertUser(UpsertUserRequest.newBuilder()
        .setExternalId("fuzz|owner").setEmail("owner@fuzz.test").build()).getUser();
    Team team = identity.withCallCredentials(gw.asUser(owner.getName())).createTeam(CreateTeamRequest.newBuilder()
        .setDisplayName("Fuzz").build()).getTeam();
    CreateApiKeyResponse key = identity.withCallCredentials(gw.asUser(owner.getName())).createApiKey(
        CreateApiKeyRequest.newBuilder().setKind(ApiKeyKind.API_KEY_KIND_TEAM).setTeam(team.getName())
            .setDisplayName("fuzz").build());
    WalletServiceGrpc.newBlockingStub(gw.channel).withCallCredentials(gw.platform())
        .withDeadlineAfter(20, TimeUnit.SECONDS).deposit(DepositRequest.newBuilder().setWallet(team.getWallet())
            .setAmountNanos(1_000_000_000L).setCurrencyCode("USD").setExternalReference("fuzz-pay").build());
    seeds = new TreeMap<>(Map.ofEntries(
        Map.entry("team", team.getName()), Map.entry("parent", team.getName()), Map.entry("wallet", team.getWallet()),
        Map.entry("user", owner.getName()), Map.entry("principal", owner.getName()),
        Map.entry("api_key", key.getApiKey().getName()), Map.entry("api_key_secret", key.getSecret()),
        Map.entry("email", "someone@fuzz.test"), Map.entry("meter", "input_tokens"),
        Map.entry("currency_code", "USD"), Map.entry("display_name", "Fuzzed"), Map.entry("external_id", "fuzz|x"),
        Map.entry("subject", team.getName()), Map.entry("role", "roles/member")));
  }

  @AfterAll
  static void stop() {
    gw.close();
    stack.close();
  }

  @Test
  void noInputMakesAnyRpcAnswerInternalOrUnknown() {
    Map<Status.Code, Integer> byCode = new EnumMap<>(Status.Code.class);
    List<String> failures = new ArrayList<>();
    int calls = 0;
    for (io.grpc.ServiceDescriptor service : List.of(IdentityServiceGrpc.getServiceDescriptor(),
        WalletServiceGrpc.getServiceDescriptor(), MeteringServiceGrpc.getServiceDescriptor(),
        AdmissionServiceGrpc.getServiceDescriptor())) {
      ServiceDescriptor proto = ((ProtoServiceDescriptorSupplier) service.getSchemaDescriptor()).getServiceDescriptor();
      for (MethodDescriptor method : proto.getMethods()) {
        if (method.isServerStreaming() || method.isClientStreaming()) {
          continue;
        }
        String full = proto.getFullName() + "/" + method.getName();
        for (Case c : cases(method)) {
          for (CallCredentials who : List.of(gw.platform(), gw.asUser(seeds.get("user")))) {
            Status.Code code = call(full, c.bytes(), who);
            calls++;
            byCode.merge(code, 1, Integer::sum);
            if (code == Status.Code.INTERNAL || code == Status.Code.UNKNOWN) {
              failures.add(full + " " + c.label() + " -> " + code);
            }
          }
        }
      }
    }
    System.out.printf("RPC fuzz: %d calls, by status: %s%n", calls, byCode);
    assertTrue(calls > 1_000, "the fuzz covers every RPC: " + calls);
    assertEquals(List.of(), failures);
  }

  private record Case(String label, byte[] bytes) {}

  /** The plausible request, then one hostile case per field and value, then malformed bytes. */
  private static List<Case> cases(MethodDescriptor method) {
    Descriptor input = method.getInputType();
    List<Case> cases = new ArrayList<>();
    cases.add(new Case("plausible", plausible(input).build().toByteArray()));
    cases.add(new Case("not protobuf", new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, 0x01, 0x0a}));
    cases.add(new Case("truncated", truncated(plausible(input).build().toByteArray())));
    for (FieldDescriptor f : input.getFields()) {
      for (Mutation m : mutations(f)) {
        DynamicMessage.Builder b = plausible(input);
        m.apply().apply(b);
        cases.add(new Case(f.getName() + " " + m.label(), bytesOf(b.build())));
      }
      if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE && !f.isMapField() && !wellKnown(f.getMessageType())) {
        for (FieldDescriptor inner : f.getMessageType().getFields()) {
          for (Mutation m : mutations(inner)) {
            DynamicMessage.Builder nested = plausible(f.getMessageType());
            m.apply().apply(nested);
            DynamicMessage.Builder b = plausible(input);
            if (f.isRepeated()) {
              b.clearField(f).addRepeatedField(f, nested.build());
            } else {
              b.setField(f, nested.build());
            }
            cases.add(new Case(f.getName() + "." + inner.getName() + " " + m.label(), bytesOf(b.build())));
          }
        }
      }
    }
    return cases;
  }

  private record Mutation(String label, Function<DynamicMessage.Builder, DynamicMessage.Builder> apply) {}

  private static List<Mutation> mutations(FieldDescriptor f) {
    List<Mutation> out = new ArrayList<>();
    if (f.isMapField()) {
      Descriptor entry = f.getMessageType();
      if (entry.findFieldByNumber(1).getJavaType() == FieldDescriptor.JavaType.STRING) {
        for (String k : List.of("k\0ey", MEGABYTE, NOT_UTF8_MARK)) {
          out.add(new Mutation("map key " + label(k), b -> b.addRepeatedField(f, DynamicMessage.newBuilder(entry)
              .setField(entry.findFieldByNumber(1), k).setField(entry.findFieldByNumber(2), defaultFor(entry
                  .findFieldByNumber(2))).build())));
        }
      }
      return out;
    }
    switch (f.getJavaType()) {
      case STRING -> {
        for (String v : List.of("x\0y", MEGABYTE, NOT_UTF8_MARK, "line\u0007bell")) {
          out.add(new Mutation(label(v), b -> set(b, f, v)));
        }
      }
      case LONG -> {
        for (long v : new long[] {Long.MIN_VALUE, Long.MAX_VALUE, -1}) {
          out.add(new Mutation(Long.toString(v), b -> set(b, f, v)));
        }
      }
      case INT -> {
        for (int v : new int[] {Integer.MIN_VALUE, Integer.MAX_VALUE, -1}) {
          out.add(new Mutation(Integer.toString(v), b -> set(b, f, v)));
        }
      }
      case MESSAGE -> {
        String type = f.getMessageType().getFullName();
        if (type.equals("google.protobuf.Timestamp") || type.equals("google.protobuf.Duration")) {
          for (long s : new long[] {Long.MIN_VALUE, Long.MAX_VALUE}) {
            out.add(new Mutation("seconds " + s, b -> set(b, f, DynamicMessage.newBuilder(f.getMessageType())
                .setField(f.getMessageType().findFieldByName("seconds"), s).build())));
          }
          out.add(new Mutation("nanos -1", b -> set(b, f, DynamicMessage.newBuilder(f.getMessageType())
              .setField(f.getMessageType().findFieldByName("nanos"), -1).build())));
        }
      }
      default -> {}
    }
    return out;
  }

  private static DynamicMessage.Builder set(DynamicMessage.Builder b, FieldDescriptor f, Object v) {
    if (f.isRepeated()) {
      return b.clearField(f).addRepeatedField(f, v);
    }
    return b.setField(f, v);
  }

  /** A request that would mostly pass: names of real things where the field name says what it holds. */
  private static DynamicMessage.Builder plausible(Descriptor type) {
    DynamicMessage.Builder b = DynamicMessage.newBuilder(type);
    for (FieldDescriptor f : type.getFields()) {
      if (f.getJavaType() == FieldDescriptor.JavaType.STRING && !f.isRepeated()) {
        String seed = f.getName().equals("request_id") || f.getName().endsWith("event_id")
            || f.getName().equals("external_reference") ? "fuzz-" + System.nanoTime()
            : f.getName().equals("name") ? (type.getFullName().startsWith("tally.wallet") ? seeds.get("wallet")
                : seeds.get("team"))
            : seeds.get(f.getName());
        if (seed != null) {
          b.setField(f, seed);
        }
      } else if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE && f.isRepeated() && !f.isMapField()
          && !wellKnown(f.getMessageType())) {
        b.addRepeatedField(f, plausible(f.getMessageType()).build());
      } else if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE && !f.isRepeated()
          && f.getMessageType().getFullName().equals("google.protobuf.Timestamp")) {
        b.setField(f, DynamicMessage.newBuilder(f.getMessageType()).setField(
            f.getMessageType().findFieldByName("seconds"), System.currentTimeMillis() / 1000).build());
      } else if (f.getJavaType() == FieldDescriptor.JavaType.LONG && f.getName().endsWith("_nanos")) {
        b.setField(f, 1_000L);
      }
    }
    return b;
  }

  private static boolean wellKnown(Descriptor d) {
    return d.getFullName().startsWith("google.protobuf.");
  }

  private static Object defaultFor(FieldDescriptor f) {
    return f.getJavaType() == FieldDescriptor.JavaType.STRING ? "v" : f.getDefaultValue();
  }

  private static String label(String v) {
    return v.length() > 100 ? "1 MB string" : v.equals(NOT_UTF8_MARK) ? "not UTF-8" : v.contains("\0") ? "NUL"
        : "control character";
  }

  /** The message's bytes with the marker swapped for bytes that are not UTF-8 (same length). */
  private static byte[] bytesOf(Message m) {
    byte[] bytes = m.toByteArray();
    byte[] mark = NOT_UTF8_MARK.getBytes(StandardCharsets.US_ASCII);
    for (int i = 0; i + mark.length <= bytes.length; i++) {
      if (java.util.Arrays.equals(bytes, i, i + mark.length, mark, 0, mark.length)) {
        System.arraycopy(NOT_UTF8, 0, bytes, i, NOT_UTF8.length);
      }
    }
    return bytes;
  }

  private static byte[] truncated(byte[] bytes) {
    return bytes.length < 2 ? new byte[] {0x0a, 0x05, 0x61} : java.util.Arrays.copyOf(bytes, bytes.length - 1);
  }

  private static Status.Code call(String fullMethod, byte[] request, CallCredentials who) {
    io.grpc.MethodDescriptor<byte[], byte[]> md = io.grpc.MethodDescriptor.<byte[], byte[]>newBuilder()
        .setType(MethodType.UNARY).setFullMethodName(fullMethod)
        .setRequestMarshaller(RAW).setResponseMarshaller(RAW).build();
    try {
      ClientCalls.blockingUnaryCall(gw.channel, md,
          CallOptions.DEFAULT.withCallCredentials(who).withDeadlineAfter(20, TimeUnit.SECONDS), request);
      return Status.Code.OK;
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode();
    }
  }

  private static final io.grpc.MethodDescriptor.Marshaller<byte[]> RAW = new io.grpc.MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }
  };
}
