package dev.tally.gateway.admission;

import dev.tally.common.auth.Caller;
import dev.tally.common.auth.CallerSigner;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import dev.tally.common.money.MoneyBounds;
import dev.tally.common.money.Pricing;
import dev.tally.proto.metering.v1.ListPricesRequest;
import dev.tally.proto.metering.v1.MeteringServiceGrpc;
import dev.tally.proto.metering.v1.Price;
import io.grpc.Channel;
import java.time.Clock;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Current list prices for pricing estimates, loaded from metering and refreshed in the background every
 * {@value #REFRESH_MILLIS} ms (Caffeine): calls are answered from the known prices meanwhile, also while
 * metering is unreachable; only the very first load waits for it.
 */
public final class PriceCache {
  static final long REFRESH_MILLIS = 30_000;

  private final MeteringServiceGrpc.MeteringServiceBlockingStub metering;
  private final Clock clock;
  private final com.github.benmanes.caffeine.cache.LoadingCache<String, Map<String, Price>> prices;

  public PriceCache(Channel meteringChannel, CallerSigner signer, Clock clock) {
    this.metering = MeteringServiceGrpc.newBlockingStub(meteringChannel)
        .withCallCredentials(signer.credentials(Caller.PLATFORM));
    this.clock = clock;
    this.prices = com.github.benmanes.caffeine.cache.Caffeine.newBuilder()
        .ticker(() -> TimeUnit.MILLISECONDS.toNanos(clock.millis()))
        .refreshAfterWrite(java.time.Duration.ofMillis(REFRESH_MILLIS)).build(k -> load());
  }

  /** The current list price of a meter (and model, else the meter's default), or NOT_FOUND UNKNOWN_METER. */
  public Price price(String meter, String model) {
    String id = meter.startsWith("meters/") ? meter.substring("meters/".length()) : meter;
    Map<String, Price> current = current();
    Price p = current.getOrDefault("meters/" + id + "|" + model, current.get("meters/" + id + "|"));
    if (p == null) {
      throw new TallyException(io.grpc.Status.Code.NOT_FOUND, Reasons.UNKNOWN_METER, "meter " + meter
          + " does not exist (ListMeters)", java.util.Map.of("field", "meter"), java.util.List.of());
    }
    return p;
  }

  /** Whether prices were loaded once: from then on {@link #cost} never waits. */
  public boolean loaded() {
    return prices.getIfPresent("all") != null;
  }

  /** The list price of {@code quantity} units, rounded half-even as metering does. */
  public long cost(String meter, String model, long quantity) {
    Price p = price(meter, model);
    long cost = Pricing.costWithin(quantity, p.getPriceNanos(), p.getPerQuantity(), MoneyBounds.MAX_USAGE_COST_NANOS);
    if (cost < 0) {
      throw TallyException.invalidArgument("estimated_quantity", "costs more than one usage record may ($1,000,000)");
    }
    return cost;
  }

  private Map<String, Price> current() {
    return prices.get("all");
  }

  private Map<String, Price> load() {
    Map<String, Price> m = new HashMap<>();
    for (Price p : metering.withDeadlineAfter(5, TimeUnit.SECONDS).listPrices(ListPricesRequest.getDefaultInstance())
        .getPricesList()) {
      m.put(p.getMeter() + "|" + p.getModel(), p);
    }
    return m;
  }
}
