package dev.tally.identity;

import dev.tally.common.app.ServiceRunner;
import dev.tally.common.auth.CallerInterceptor;
import dev.tally.common.auth.CallerSigner;
import dev.tally.common.config.Env;
import dev.tally.common.db.Database;
import dev.tally.common.grpc.GrpcServer;
import dev.tally.common.kafka.KafkaClients;
import dev.tally.common.kafka.OutboxRelay;
import dev.tally.common.kafka.TransactionalConsumer;
import dev.tally.identity.audit.AuditIntake;
import dev.tally.common.kafka.Topics;
import dev.tally.identity.crypto.SecretBox;
import dev.tally.identity.webhooks.WebhookEndpoints;
import dev.tally.identity.webhooks.WebhookFanout;
import dev.tally.identity.webhooks.WebhookSender;
import dev.tally.common.metrics.Metrics;
import dev.tally.identity.access.Access;
import dev.tally.identity.audit.AuditLog;
import dev.tally.identity.audit.AuditQueries;
import dev.tally.identity.config.IdentityConfig;
import dev.tally.identity.db.ApiKeyDao;
import dev.tally.identity.db.AuditDao;
import dev.tally.identity.db.InvitationDao;
import dev.tally.identity.db.TeamDao;
import dev.tally.identity.db.UserDao;
import dev.tally.identity.events.IdentityEvents;
import dev.tally.identity.grpc.IdentityGrpcService;
import dev.tally.identity.invitations.InvitationMailer;
import dev.tally.identity.invitations.InvitationManager;
import dev.tally.identity.keys.ApiKeyManager;
import dev.tally.identity.mail.MailRelay;
import dev.tally.identity.mail.OutboxInvitationMailer;
import dev.tally.identity.keys.Secrets;
import dev.tally.identity.teams.TeamManager;
import dev.tally.identity.users.UserManager;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;

/** The identity service as its own process, configured by environment variables (what the Helm chart runs). */
public final class IdentityServiceMain {
  private IdentityServiceMain() {}

  public static void main(String[] args) {
    ServiceRunner.main("identity-service", () -> {
      // The migration Job has the database's settings only: read nothing else before it is done.
      if (ServiceRunner.migrateOnly(args, dev.tally.common.db.DatabaseConfig.fromEnv(Env.system(), "identity"), "identity")) {
        return;
      }
      IdentityConfig config = IdentityConfig.fromEnv(Env.system());
      ServiceRunner runner = new ServiceRunner();
      runner.manage(start(config, runner));
      runner.awaitShutdown();
    });
  }

  /** Starts the service on its database and Kafka; everything it opens is managed by {@code runner}. */
  public static GrpcServer start(IdentityConfig config, ServiceRunner runner) throws IOException {
    PrometheusMeterRegistry registry = Metrics.newRegistry("identity");
    Database db = runner.manage(Database.open(config.database(), "identity", registry));
    KafkaClients kafka = new KafkaClients(config.kafka(), registry);
    kafka.ensureTopics(Topics.ALL);
    OutboxRelay relay = runner.manage(
        new OutboxRelay(db, runner.manage(kafka.producer("identity-outbox")), Duration.ofSeconds(1), "identity"));
    relay.wakeOnAppends();
    relay.metrics(registry).start();
    InvitationMailer mailer = InvitationMailer.NONE;
    if (config.smtp().enabled()) {
      OutboxInvitationMailer outboxMailer = new OutboxInvitationMailer(config.secretPepper());
      MailRelay mailRelay = runner.manage(new MailRelay(db, config.smtp(), outboxMailer));
      db.afterCommit(mailRelay::wake);
      mailRelay.start();
      mailer = outboxMailer;
    }
    TransactionalConsumer auditIntake = runner.manage(new TransactionalConsumer(db, kafka, "identity-audit",
        Topics.AUDIT, "identity-audit", new AuditIntake(new AuditDao()))).start();
    // Webhooks: wallet and identity events queued per endpoint in the consumers' transactions, then posted.
    SecretBox webhookSecrets = new SecretBox("tally-webhook-secrets", config.secretPepper());
    WebhookSender sender = runner.manage(new WebhookSender(db, webhookSecrets, Clock.systemUTC(),
        Duration.ofSeconds(1), 8)).start();
    WebhookFanout fanout = new WebhookFanout(sender::wake);
    TransactionalConsumer walletHooks = runner.manage(new TransactionalConsumer(db, kafka, "identity-webhooks-wallet",
        Topics.WALLET, "identity-webhooks-wallet", fanout::apply)).start();
    TransactionalConsumer identityHooks = runner.manage(new TransactionalConsumer(db, kafka,
        "identity-webhooks-identity", Topics.IDENTITY, "identity-webhooks-identity", fanout::apply)).start();
    IdentityGrpcService identity = service(config, db, mailer, new WebhookEndpoints(webhookSecrets, new TeamDao(),
        new AuditLog(new AuditDao())));
    return GrpcServer.builder("identity", config.server(), registry)
        .addInterceptor(new CallerInterceptor(new CallerSigner(config.internalAuthKey(), Clock.systemUTC())))
        .consumersHealthy(auditIntake, walletHooks, identityHooks)
        .addService(identity)
        .addService(identity.internal())
        .start();
  }

  /** Wires the managers over their DAOs. */
  static IdentityGrpcService service(IdentityConfig config, Database db, InvitationMailer mailer,
      WebhookEndpoints webhooks) {
    UserDao userDao = new UserDao();
    TeamDao teamDao = new TeamDao();
    InvitationDao invitationDao = new InvitationDao();
    ApiKeyDao apiKeyDao = new ApiKeyDao();
    AuditDao auditDao = new AuditDao();
    Access access = new Access(teamDao);
    AuditLog audit = new AuditLog(auditDao);
    IdentityEvents events = new IdentityEvents();
    Secrets secrets = new Secrets(config.secretPepper());
    ApiKeyManager keys = new ApiKeyManager(apiKeyDao, teamDao, access, secrets, audit, events, config.policy());
    TeamManager teams = new TeamManager(teamDao, invitationDao, access, keys, audit, events, config.policy());
    InvitationManager invitations = new InvitationManager(invitationDao, teamDao, userDao, access, teams, secrets,
        audit, config.policy(), mailer);
    return new IdentityGrpcService(db, new UserManager(userDao, events), teams, invitations, keys,
        new dev.tally.identity.keys.KeyRestrictions(apiKeyDao, teamDao, keys, access, audit, events),
        new AuditQueries(auditDao, access, teamDao), webhooks);
  }
}
