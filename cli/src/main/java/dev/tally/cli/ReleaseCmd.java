package dev.tally.cli;

import dev.tally.proto.admission.v1.ReleaseHoldRequest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

@Command(name = "release", description = "Give back a hold whose request was not served (platform token).",
    mixinStandardHelpOptions = true)
final class ReleaseCmd implements Runnable {
  @ParentCommand Tally root;
  @Parameters(paramLabel = "HOLD") String hold;

  @Override
  public void run() {
    var r = root.c.admission().releaseHold(ReleaseHoldRequest.newBuilder().setHold(hold).build());
    root.c.print(r, () -> System.out.println("released " + hold));
  }
}
