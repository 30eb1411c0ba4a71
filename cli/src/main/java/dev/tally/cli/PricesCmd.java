package dev.tally.cli;

import dev.tally.proto.metering.v1.ListMetersRequest;
import dev.tally.proto.metering.v1.ListPricesRequest;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;

@Command(name = "prices", description = "Meters and current prices.", mixinStandardHelpOptions = true)
final class PricesCmd implements Runnable {
  @ParentCommand Tally root;

  @Override
  public void run() {
    var meters = root.c.metering().listMeters(ListMetersRequest.getDefaultInstance());
    var r = root.c.metering().listPrices(ListPricesRequest.getDefaultInstance());
    root.c.print(r, () -> {
      Out.Table t = new Out.Table("METER", "MODEL", "PRICE", "PER", "UNIT");
      r.getPricesList().forEach(p -> t.row(p.getMeter(), p.getModel().isEmpty() ? "*" : p.getModel(),
          Out.money(p.getPriceNanos()), p.getPerQuantity(), meters.getMetersList().stream()
              .filter(m -> m.getName().equals(p.getMeter())).findFirst().map(m -> m.getBaseUnitsPerDisplayUnit() > 1
              ? m.getBaseUnit() + " (" + m.getBaseUnitsPerDisplayUnit() + " per " + m.getDisplayUnit() + ")"
              : m.getBaseUnit()).orElse("")));
      t.print();
    });
  }
}
