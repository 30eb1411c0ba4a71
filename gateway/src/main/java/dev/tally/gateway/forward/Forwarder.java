package dev.tally.gateway.forward;

import dev.tally.common.auth.Caller;
import dev.tally.common.auth.CallerSigner;
import dev.tally.common.error.TallyException;
import dev.tally.common.grpc.RequestIds;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptors;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Set;

/**
 * Serves a service's methods by forwarding each call, as opaque bytes, to the service behind it (grpc-java's
 * proxy pattern): the request is not decoded, the deadline travels with the call's context, the caller goes
 * along signed, and the upstream's status with its error details comes back untouched. Internal methods
 * answer PERMISSION_DENIED here and are never forwarded.
 */
public final class Forwarder {
  /** Request and response bodies passed through untouched. */
  static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  };

  private final CallerSigner signer;

  public Forwarder(CallerSigner signer) {
    this.signer = signer;
  }

  /** A definition serving every method of {@code service} by forwarding it to {@code upstream}. */
  public ServerServiceDefinition forward(ServiceDescriptor service, Channel upstream, Set<String> internalMethods) {
    ServiceDescriptor.Builder descriptor = ServiceDescriptor.newBuilder(service.getName())
        .setSchemaDescriptor(service.getSchemaDescriptor());
    java.util.List<MethodDescriptor<byte[], byte[]>> methods = new java.util.ArrayList<>();
    for (MethodDescriptor<?, ?> m : service.getMethods()) {
      MethodDescriptor<byte[], byte[]> bytes = MethodDescriptor.newBuilder(BYTES, BYTES)
          .setFullMethodName(m.getFullMethodName()).setType(m.getType())
          .setSchemaDescriptor(m.getSchemaDescriptor()).build();
      descriptor.addMethod(bytes);
      methods.add(bytes);
    }
    ServerServiceDefinition.Builder definition = ServerServiceDefinition.builder(descriptor.build());
    for (MethodDescriptor<byte[], byte[]> m : methods) {
      boolean internal = internalMethods.contains(m.getBareMethodName());
      definition.addMethod(m, ServerCalls.asyncUnaryCall((request, responses) -> {
        if (internal) {
          throw TallyException.permissionDenied("INTERNAL_METHOD",
              m.getFullMethodName() + " is internal to Tally and not served by the gateway");
        }
        forward(upstream, m, request, responses);
      }));
    }
    return definition.build();
  }

  private void forward(Channel upstream, MethodDescriptor<byte[], byte[]> method, byte[] request,
      StreamObserver<byte[]> responses) {
    Caller caller = Caller.current();
    Metadata headers = new Metadata();
    headers.put(CallerSigner.CALLER_HEADER, signer.sign(caller, method.getFullMethodName()));
    String requestId = RequestIds.current();
    if (requestId != null) {
      headers.put(RequestIds.HEADER, requestId);
    }
    Channel withHeaders = ClientInterceptors.intercept(upstream, MetadataUtils.newAttachHeadersInterceptor(headers));
    ClientCall<byte[], byte[]> call = withHeaders.newCall(method, CallOptions.DEFAULT);
    ClientCalls.asyncUnaryCall(call, request, responses);
  }
}
