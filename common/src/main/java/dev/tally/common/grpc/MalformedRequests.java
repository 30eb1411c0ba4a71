package dev.tally.common.grpc;

import dev.tally.common.error.TallyException;
import io.grpc.MethodDescriptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import java.io.InputStream;

/**
 * Malformed request bytes (not protobuf, or a string field that is not UTF-8) fail inside grpc-java's
 * parsing, before any interceptor, and reach the client as {@code UNKNOWN}. This wraps each method's request
 * marshaller so that a parse failure yields {@code null}, which {@link ErrorMappingInterceptor} answers with
 * {@code INVALID_ARGUMENT} on field {@code request}.
 */
final class MalformedRequests {
  private MalformedRequests() {}

  static ServerServiceDefinition tolerate(ServerServiceDefinition service) {
    ServiceDescriptor old = service.getServiceDescriptor();
    ServiceDescriptor.Builder descriptor = ServiceDescriptor.newBuilder(old.getName())
        .setSchemaDescriptor(old.getSchemaDescriptor());
    java.util.List<ServerMethodDefinition<?, ?>> methods = new java.util.ArrayList<>();
    for (ServerMethodDefinition<?, ?> m : service.getMethods()) {
      ServerMethodDefinition<?, ?> wrapped = wrap(m);
      descriptor.addMethod(wrapped.getMethodDescriptor());
      methods.add(wrapped);
    }
    ServerServiceDefinition.Builder b = ServerServiceDefinition.builder(descriptor.build());
    methods.forEach(b::addMethod);
    return b.build();
  }

  private static <Q, R> ServerMethodDefinition<Q, R> wrap(ServerMethodDefinition<Q, R> m) {
    MethodDescriptor<Q, R> d = m.getMethodDescriptor();
    MethodDescriptor.Marshaller<Q> parse = d.getRequestMarshaller();
    MethodDescriptor.Marshaller<Q> tolerant = new MethodDescriptor.Marshaller<>() {
      @Override
      public InputStream stream(Q value) {
        return parse.stream(value);
      }

      @Override
      public Q parse(InputStream stream) {
        try {
          return parse.parse(stream);
        } catch (RuntimeException e) {
          return null;
        }
      }
    };
    return ServerMethodDefinition.create(d.toBuilder(tolerant, d.getResponseMarshaller()).build(),
        m.getServerCallHandler());
  }

  /** The failure for a request that could not be parsed. */
  static TallyException malformed() {
    return TallyException.invalidArgument("request", "is not a valid protobuf message of this method's request type "
        + "(or has a string field that is not UTF-8)");
  }

  /** True for the marker {@link #tolerate} passes on for unparsable bytes. */
  static boolean isMalformed(Object message) {
    return message == null;
  }
}
