package dev.tally.common.kafka;

import dev.tally.common.config.Env;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.common.config.SaslConfigs;
import org.apache.kafka.common.config.SslConfigs;

/**
 * How a service reaches Kafka. Security settings pass straight to the clients.
 *
 * @param bootstrapServers {@code TALLY_KAFKA_BOOTSTRAP}
 * @param securityProtocol PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL ({@code TALLY_KAFKA_SECURITY_PROTOCOL})
 * @param saslMechanism e.g. SCRAM-SHA-512 ({@code TALLY_KAFKA_SASL_MECHANISM})
 * @param saslJaasConfig ({@code TALLY_KAFKA_SASL_JAAS_CONFIG}; a secret)
 * @param truststoreLocation PEM or JKS truststore path ({@code TALLY_KAFKA_SSL_TRUSTSTORE_LOCATION})
 * @param truststoreType PEM, JKS or PKCS12 ({@code TALLY_KAFKA_SSL_TRUSTSTORE_TYPE})
 * @param topicPartitions partitions for topics this service creates ({@code TALLY_KAFKA_TOPIC_PARTITIONS})
 * @param replicationFactor replication for topics this service creates ({@code TALLY_KAFKA_REPLICATION_FACTOR})
 * @param consumerWorkers threads applying a parallel-safe consumer's partitions (the wallet's usage), each
 *     with its own transaction ({@code TALLY_KAFKA_CONSUMER_WORKERS}, default 2)
 */
public record KafkaConfig(
    String bootstrapServers,
    String securityProtocol,
    String saslMechanism,
    String saslJaasConfig,
    String truststoreLocation,
    String truststoreType,
    int topicPartitions,
    short replicationFactor,
    int consumerWorkers) {

  public static KafkaConfig fromEnv(Env env) {
    String protocol = env.string("TALLY_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").toUpperCase(java.util.Locale.ROOT);
    if (!java.util.Set.of("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL").contains(protocol)) {
      throw new dev.tally.common.config.ConfigException(
          "TALLY_KAFKA_SECURITY_PROTOCOL must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, got " + protocol);
    }
    return new KafkaConfig(
        env.string("TALLY_KAFKA_BOOTSTRAP", "localhost:9092"),
        protocol,
        env.string("TALLY_KAFKA_SASL_MECHANISM", ""),
        env.string("TALLY_KAFKA_SASL_JAAS_CONFIG", ""),
        env.string("TALLY_KAFKA_SSL_TRUSTSTORE_LOCATION", ""),
        env.string("TALLY_KAFKA_SSL_TRUSTSTORE_TYPE", ""),
        env.integer("TALLY_KAFKA_TOPIC_PARTITIONS", 4, 1, 1024),
        (short) env.integer("TALLY_KAFKA_REPLICATION_FACTOR", 1, 1, 7),
        env.integer("TALLY_KAFKA_CONSUMER_WORKERS", 2, 1, 64));
  }

  public static KafkaConfig plaintext(String bootstrapServers) {
    return new KafkaConfig(bootstrapServers, "PLAINTEXT", "", "", "", "", 4, (short) 1, 2);
  }

  /** Properties every client (producer, consumer, admin) shares. */
  public Map<String, Object> commonProperties() {
    Map<String, Object> p = new HashMap<>();
    p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    p.put(CommonClientConfigs.SECURITY_PROTOCOL_CONFIG, securityProtocol);
    if (!saslMechanism.isEmpty()) {
      p.put(SaslConfigs.SASL_MECHANISM, saslMechanism);
    }
    if (!saslJaasConfig.isEmpty()) {
      p.put(SaslConfigs.SASL_JAAS_CONFIG, saslJaasConfig);
    }
    if (!truststoreLocation.isEmpty()) {
      p.put(SslConfigs.SSL_TRUSTSTORE_LOCATION_CONFIG, truststoreLocation);
    }
    if (!truststoreType.isEmpty()) {
      p.put(SslConfigs.SSL_TRUSTSTORE_TYPE_CONFIG, truststoreType);
    }
    return p;
  }

  @Override
  public String toString() {
    return "KafkaConfig[bootstrapServers=" + bootstrapServers + ", securityProtocol=" + securityProtocol
        + ", saslMechanism=" + saslMechanism + ", saslJaasConfig=" + (saslJaasConfig.isEmpty() ? "" : "***") + "]";
  }
}
