package dev.tally.gateway.forward;

import dev.tally.common.auth.Caller;
import dev.tally.common.auth.CallerSigner;
import dev.tally.common.grpc.RequestIds;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptors;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * Serves a service's methods by forwarding each call, as opaque bytes, to the service behind it (grpc-java's
 * proxy pattern): the request is not decoded, the deadline travels with the call's context, the caller goes
 * along signed, and the upstream's status with its error details comes back untouched. Only public services
 * are forwarded (whole); the internal ones (IdentityInternalService, WalletInternalService) are not served
 * here at all, so a call to one answers UNIMPLEMENTED.
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
  public ServerServiceDefinition forward(ServiceDescriptor service, Channel upstream) {
    return forward(service, upstream, (method, request) -> {});
  }

  /**
   * {@link #forward(ServiceDescriptor, Channel)}, telling {@code succeeded} of each unary call the upstream
   * answered OK — its method's full name and request bytes — before the caller gets the answer.
   */
  public ServerServiceDefinition forward(ServiceDescriptor service, Channel upstream,
      java.util.function.BiConsumer<String, byte[]> succeeded) {
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
      ServerCalls.UnaryMethod<byte[], byte[]> handler = (request, responses) -> {
        if (m.getType() == MethodDescriptor.MethodType.SERVER_STREAMING) {
          forwardStream(upstream, m, request, responses);
        } else {
          ClientCalls.asyncUnaryCall(upstreamCall(upstream, m), request, new StreamObserver<>() {
            @Override
            public void onNext(byte[] response) {
              succeeded.accept(m.getFullMethodName(), request);
              responses.onNext(response);
            }

            @Override
            public void onError(Throwable t) {
              responses.onError(t);
            }

            @Override
            public void onCompleted() {
              responses.onCompleted();
            }
          });
        }
      };
      definition.addMethod(m, m.getType() == MethodDescriptor.MethodType.SERVER_STREAMING
          ? ServerCalls.asyncServerStreamingCall(handler::invoke) : ServerCalls.asyncUnaryCall(handler));
    }
    return definition.build();
  }

  /**
   * A server stream relayed with flow control: the next message is asked of the upstream only when the client
   * can take one, so a slow client slows the export instead of filling the gateway's memory; a client that
   * goes away cancels the upstream call.
   */
  private void forwardStream(Channel upstream, MethodDescriptor<byte[], byte[]> method, byte[] request,
      StreamObserver<byte[]> responses) {
    ServerCallStreamObserver<byte[]> client = (ServerCallStreamObserver<byte[]>) responses;
    ClientCalls.asyncServerStreamingCall(upstreamCall(upstream, method), request,
        new ClientResponseObserver<byte[], byte[]>() {
          private ClientCallStreamObserver<byte[]> source;

          @Override
          public void beforeStart(ClientCallStreamObserver<byte[]> requestStream) {
            source = requestStream;
            requestStream.disableAutoRequestWithInitial(1);
            client.setOnReadyHandler(() -> {
              if (client.isReady()) {
                source.request(1);
              }
            });
            client.setOnCancelHandler(() -> source.cancel("the client cancelled", null));
          }

          @Override
          public void onNext(byte[] message) {
            client.onNext(message);
            if (client.isReady()) {
              source.request(1);
            }
          }

          @Override
          public void onError(Throwable t) {
            client.onError(t);
          }

          @Override
          public void onCompleted() {
            client.onCompleted();
          }
        });
  }

  private ClientCall<byte[], byte[]> upstreamCall(Channel upstream, MethodDescriptor<byte[], byte[]> method) {
    Caller caller = Caller.current();
    Metadata headers = new Metadata();
    headers.put(CallerSigner.CALLER_HEADER, signer.sign(caller, method.getFullMethodName()));
    String requestId = RequestIds.current();
    if (requestId != null) {
      headers.put(RequestIds.HEADER, requestId);
    }
    Channel withHeaders = ClientInterceptors.intercept(upstream, MetadataUtils.newAttachHeadersInterceptor(headers));
    return withHeaders.newCall(method, CallOptions.DEFAULT);
  }
}
