package dev.tally.gateway.admission;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import dev.tally.proto.wallet.v1.WalletServiceGrpc;
import java.io.IOException;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The calls that change a wallet's admission rules (limits, quotas, windows, discount, mode), seen as the
 * gateway forwards them: once the wallet answered OK, this gateway's leases of that wallet are given back
 * before the caller hears it, so every Admit here after the change is decided by the new rules. Other
 * gateways learn it from wallet.v1 ({@link WalletStates#onPolicyChange}).
 */
public final class RuleChanges {
  static final Set<String> METHODS = Set.of(
      WalletServiceGrpc.getSetSpendingLimitMethod().getFullMethodName(),
      WalletServiceGrpc.getApproveLimitRequestMethod().getFullMethodName(),
      WalletServiceGrpc.getSetQuotaMethod().getFullMethodName(),
      WalletServiceGrpc.getSetBillingPeriodMethod().getFullMethodName(),
      WalletServiceGrpc.getSetDiscountMethod().getFullMethodName(),
      WalletServiceGrpc.getSetAdmissionModeMethod().getFullMethodName(),
      WalletServiceGrpc.getSetPlanMethod().getFullMethodName());

  private RuleChanges() {}

  /** A hook for {@code Forwarder.forward}: tells {@code changed} the wallet of each rule change made. */
  public static java.util.function.BiConsumer<String, byte[]> watch(Consumer<String> changed) {
    return (method, request) -> {
      if (METHODS.contains(method)) {
        String wallet = walletOf(request);
        if (wallet != null) {
          changed.accept(wallet);
        }
      }
    };
  }

  /**
   * {@code wallets/{w}} from field 1 of each of these requests: the wallet itself, or a name under it (a
   * limit request's).
   */
  static String walletOf(byte[] request) {
    try {
      CodedInputStream in = CodedInputStream.newInstance(request);
      int tag;
      while ((tag = in.readTag()) != 0) {
        if (tag == (1 << 3 | WireFormat.WIRETYPE_LENGTH_DELIMITED)) { // field 1, a string
          String name = in.readStringRequireUtf8();
          int under = name.indexOf('/', "wallets/".length());
          return !name.startsWith("wallets/") ? null : under < 0 ? name : name.substring(0, under);
        }
        in.skipField(tag);
      }
    } catch (IOException e) {
      return null; // the wallet accepted it, so this cannot happen; nothing to give back
    }
    return null;
  }
}
