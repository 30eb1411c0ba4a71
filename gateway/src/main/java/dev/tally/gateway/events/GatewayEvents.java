package dev.tally.gateway.events;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.tally.common.kafka.KafkaClients;
import dev.tally.common.kafka.Topics;
import dev.tally.gateway.admission.WalletStates;
import dev.tally.gateway.auth.KeyVerifier;
import dev.tally.proto.events.v1.IdentityEvent;
import dev.tally.proto.events.v1.WalletEvent;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps one gateway's caches current: every replica reads every partition of identity.v1 and wallet.v1
 * (manual assignment, no group, from the end), so each sees every revocation and every wallet change.
 * {@link #positionAtEnd()} runs before the wallet snapshot is loaded, so no change falls between the two.
 */
public final class GatewayEvents implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(GatewayEvents.class);

  private final KafkaConsumer<String, byte[]> consumer;
  private final KeyVerifier keys;
  private final WalletStates states;
  private final Thread thread;
  private final AtomicBoolean running = new AtomicBoolean(true);
  private volatile long applied;
  private volatile long skipped;
  /** How often the identity.v1 end offsets are asked for, and how recent a catch-up counts as current. */
  private static final long CHECK_NANOS = 500_000_000L;
  private static final long CURRENT_NANOS = 10_000_000_000L;
  private final List<TopicPartition> identityPartitions = new ArrayList<>();
  /** The identity.v1 end offsets asked for at {@link #endsAskedAt}: once applied up to them, current as of then. */
  private Map<TopicPartition, Long> ends = Map.of();
  private long endsAskedAt;
  private volatile long identityCurrentAt = System.nanoTime() - 2 * CURRENT_NANOS;
  /** What was last logged: currentness is lost by time passing, so a transition is found against this. */
  private boolean loggedCurrent;

  public GatewayEvents(KafkaClients kafka, String clientId, KeyVerifier keys, WalletStates states) {
    this.consumer = kafka.consumer(clientId, null);
    this.keys = keys;
    this.states = states;
    this.thread = Thread.ofPlatform().name("gateway-events").daemon().unstarted(this::loop);
  }

  public void positionAtEnd() {
    List<TopicPartition> partitions = new ArrayList<>();
    for (String topic : List.of(Topics.IDENTITY, Topics.WALLET)) {
      for (PartitionInfo p : consumer.partitionsFor(topic, Duration.ofSeconds(30))) {
        partitions.add(new TopicPartition(topic, p.partition()));
      }
    }
    partitions.stream().filter(tp -> tp.topic().equals(Topics.IDENTITY)).forEach(identityPartitions::add);
    consumer.assign(partitions);
    consumer.seekToEnd(partitions);
    partitions.forEach(tp -> consumer.position(tp, Duration.ofSeconds(30)));
  }

  public GatewayEvents start() {
    thread.start();
    return this;
  }

  public long applied() {
    return applied;
  }

  /**
   * Never dies: an unreadable or unexpected record is counted and logged (the caches it would refresh expire
   * on their own TTL), and any failure of the poll itself is retried after a pause.
   */
  private void loop() {
    try {
      while (running.get()) {
        try {
          for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(100))) {
            applyOne(r);
          }
          checkIdentityCurrent();
        } catch (WakeupException e) {
          if (running.get()) {
            log.warn("gateway events: unexpected wakeup, continuing");
          }
        } catch (RuntimeException e) {
          log.warn("gateway events: poll failed, retrying in 1 s: {}", e.toString());
          sleep(1_000);
        }
      }
    } finally {
      try {
        consumer.close(Duration.ofSeconds(5));
      } catch (RuntimeException e) {
        log.warn("gateway events: close failed: {}", e.toString());
      }
    }
  }

  private void applyOne(ConsumerRecord<String, byte[]> r) {
    try {
      if (Topics.IDENTITY.equals(r.topic())) {
        identity(IdentityEvent.parseFrom(r.value()));
      } else {
        wallet(WalletEvent.parseFrom(r.value()));
      }
      applied++;
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      skipped++;
      if (Topics.IDENTITY.equals(r.topic())) {
        keys.invalidateAll(); // it may have been a revocation: trust nothing cached
      }
      log.error("gateway events: skipping record {}-{}@{} it cannot apply: {}", r.topic(), r.partition(), r.offset(),
          e.toString());
    }
  }

  /**
   * Whether every identity.v1 event that existed at some moment in the last 10 seconds has been applied here
   * (asked of the broker, so an unreachable broker or a reader that fell behind is not current for long):
   * then a revocation or membership change is at most those seconds late, and the key cache may serve
   * answers past their TTL.
   */
  public boolean identityCurrent() {
    return System.nanoTime() - identityCurrentAt < CURRENT_NANOS;
  }

  private void checkIdentityCurrent() {
    long now = System.nanoTime();
    if (now - endsAskedAt < CHECK_NANOS || identityPartitions.isEmpty()) {
      return;
    }
    boolean caughtUp = !ends.isEmpty()
        && ends.entrySet().stream().allMatch(e -> consumer.position(e.getKey()) >= e.getValue());
    if (caughtUp) {
      identityCurrentAt = endsAskedAt;
    }
    if (loggedCurrent != identityCurrent()) {
      loggedCurrent = !loggedCurrent;
      log.info("gateway events: identity.v1 {}", !loggedCurrent
          ? "not current (behind, or the broker does not answer): the key cache's TTL is strict"
          : "current: known keys are served past the key cache's TTL while re-verified");
    }
    endsAskedAt = now;
    try {
      ends = consumer.endOffsets(identityPartitions, Duration.ofSeconds(2));
    } catch (RuntimeException e) {
      ends = Map.of(); // the broker did not answer: not current until it does
    }
  }

  /** Records this gateway could not apply (no database to park them in: they only refresh caches). */
  public long skipped() {
    return skipped;
  }

  private void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      running.set(false);
    }
  }

  private void identity(IdentityEvent e) {
    switch (e.getChangeCase()) {
      case API_KEY_STATE_CHANGED -> keys.invalidateKey(e.getApiKeyStateChanged().getApiKey());
      case API_KEY_ROTATED -> keys.invalidateKey(e.getApiKeyRotated().getApiKey());
      case MEMBER_REMOVED -> keys.invalidateTeam(e.getMemberRemoved().getTeam());
      case MEMBER_LEFT -> keys.invalidateTeam(e.getMemberLeft().getTeam());
      case MEMBER_ROLE_CHANGED -> keys.invalidateTeam(e.getMemberRoleChanged().getTeam());
      case TEAM_DELETED -> keys.invalidateTeam(e.getTeamDeleted().getTeam());
      case KEY_RESTRICTIONS_CHANGED -> {
        if (e.getKeyRestrictionsChanged().getApiKey().isEmpty()) {
          keys.invalidateTeam(e.getKeyRestrictionsChanged().getTeam());
        } else {
          keys.invalidateKey(e.getKeyRestrictionsChanged().getApiKey());
        }
      }
      default -> {}
    }
  }

  private void wallet(WalletEvent e) {
    if (e.hasStateChanged()) {
      states.apply(e.getWallet(), e.getStateChanged());
    }
  }

  @Override
  public void close() {
    if (!running.getAndSet(false)) {
      return;
    }
    consumer.wakeup();
    try {
      thread.join(5_000);
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
    }
  }
}
