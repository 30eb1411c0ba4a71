package dev.tally.cli;

import dev.tally.proto.admission.v1.AdmitRequest;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Option;

@Command(name = "admit", description = "May this key spend now? (platform token) Prints the hold to record usage with.",
    mixinStandardHelpOptions = true)
final class AdmitCmd implements Runnable {
  @ParentCommand Tally root;

  @Option(names = "--key-secret", required = true, description = "the customer's tly_ secret") String secret;
  @Option(names = "--meter", required = true) String meter;
  @Option(names = "--model", defaultValue = "") String model;

  static final class Estimate {
    @Option(names = "--quantity", description = "estimated quantity, priced by the catalog") Long quantity;
    @Option(names = "--cost", description = "estimated cost, e.g. 0.02") String cost;
  }

  @ArgGroup(exclusive = true, multiplicity = "1") Estimate estimate;

  @Override
  public void run() {
    var req = AdmitRequest.newBuilder().setApiKeySecret(secret).setMeter(meter).setModel(model);
    if (estimate.quantity != null) {
      req.setEstimatedQuantity(estimate.quantity);
    } else {
      req.setEstimatedCostNanos(Out.parseMoney(estimate.cost));
    }
    var r = root.c.admission().admit(req.build());
    root.c.print(r, () -> Out.fields("allowed", "yes", "key", r.getApiKey(), "billed to", r.getBillingAccount(),
        "estimate", Out.money(r.getEstimatedCostNanos()), "hold", r.getHold().isEmpty() ? "- (soft mode)" : r.getHold(),
        "available", Out.money(r.getAvailableNanos())));
  }
}
