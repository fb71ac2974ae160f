package io.relay.node.config;

import io.relay.queue.ClusterSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The node's configuration: one YAML file, keys in kebab-case grouped as in Postfix's
 * main.cf (smtpd_* inbound, smtp_* outbound). Field defaults are those of a configuration
 * file (loopback listeners; {@code smtp} delivery, as Postfix); {@link ConfigLoader#embeddedDefaults()}
 * swaps in the developer's file: transport when there is no file. Every key is
 * documented in docs/configuration.md. {@link ConfigLoader} binds and validates it.
 */
public final class RelayConfig {
    public Smtpd smtpd = new Smtpd();
    public Smtp smtp = new Smtp();
    public Queue queue = new Queue();
    public Health health = new Health();
    public Cluster cluster = new Cluster();
    public Log log = new Log();
    public Admin admin = new Admin();
    public Dkim dkim = new Dkim();
    /** Where this configuration came from; not a field Jackson sees, so {@code source:} in YAML is an unknown key. */
    private String source = "embedded defaults";

    /** The file this configuration was read from, or "embedded defaults": every problem names it. */
    public String source() {
        return source;
    }

    void source(String source) {
        this.source = source;
    }

    /** Inbound SMTP: Postfix's smtpd_* settings. */
    public static final class Smtpd {
        public List<HostPort> listen = new ArrayList<>(List.of(new HostPort("127.0.0.1", 2525)));
        /** Our name in the greeting, EHLO reply and Received header (myhostname). Default: the machine's host name. */
        public String hostname;
        /** message_size_limit, bytes. */
        public long messageSizeLimit = 10L * 1024 * 1024;
        public List<String> mynetworks = new ArrayList<>(List.of("127.0.0.0/8", "::1/128"));
        /** Domains we accept mail for from any client (relay_domains). */
        public List<String> relayDomains = new ArrayList<>();
        /** smtpd_recipient_limit. */
        public int recipientLimit = 1000;
        /** Longest command line, CRLF included (Postfix line_length_limit). */
        public int lineLengthLimit = 2048;
        /** smtpd_timeout: idle time before the session is closed with 421. */
        public Duration timeout = Duration.ofSeconds(300);
        /** Concurrent SMTP connections per node (Postfix: the smtpd process limit). */
        public int maxConnections = 500;
        /**
         * smtpd_client_connection_count_limit: concurrent connections from one client address
         * (the PROXY source behind a load balancer); mynetworks and the load balancers are exempt; 0: off.
         */
        public int clientConnectionLimit = 50;
        /** Event-loop threads serving the SMTP listeners; 0: half the available cores, at least one. */
        public int ioThreads = 0;
        /** hopcount_limit: more Received headers than this is a mail loop (554 5.4.6). */
        public int hopcountLimit = 50;
        /** smtpd_forbid_bare_newline: normalize, reject or no (see smtpd.BareNewline). */
        public String forbidBareNewline = "normalize";
        /** Bytes of messages being received at once on this node; 0: a quarter of the maximum heap. */
        public long receiveMemoryLimit = 0;
        /** PEM certificate chain and key for STARTTLS; a self-signed pair is generated at first start when unset. */
        public Path tlsCertFile;
        public Path tlsKeyFile;
        /** PROXY protocol v1/v2 from load balancers (issue 5); off while trusted-networks is empty. */
        public ProxyProtocol proxyProtocol = new ProxyProtocol();
        /** Accept mynetworks / PROXY trusted networks that open relaying to the Internet ({@link OpenRelayGuard}). */
        public boolean allowOpenRelay = false;
        /** Submission (RFC 6409, port 587): STARTTLS, then AUTH required from anyone outside mynetworks. */
        public Submission submission = new Submission();
        /** Submissions (RFC 8314, port 465): implicit TLS, then AUTH required from anyone outside mynetworks. */
        public Submission submissions = new Submission();
        /** smtpd_sasl_auth_enable for the {@code listen} (port 25) listeners: offer AUTH there too, after STARTTLS. */
        public boolean saslAuthEnable = false;
        /** The first SASL users ({@code io.relay.node.auth.UsersFile}: NAME:HASH[:SENDERS[:RATES]]); seeds the cluster's users table. */
        public Path saslUsersFile;
        /** Failed AUTH attempts from one client address, cluster-wide, before it is locked out for the window; 0: never. */
        public int authFailureLimit = 5;
        /** The window of {@code auth-failure-limit}. */
        public Duration authFailureWindow = Duration.ofMinutes(5);

        public void setClientConnectionLimit(int n) {
            if (n < 0) {
                throw new IllegalArgumentException("must be 0 (no limit) or positive");
            }
            clientConnectionLimit = n;
        }
    }

    /** {@code smtpd.submission} / {@code smtpd.submissions}: the listeners of that role; none by default. */
    public static final class Submission {
        public List<HostPort> listen = new ArrayList<>();
    }

    /** {@code smtpd.proxy-protocol}: who may send a PROXY header, and whether every connection must. */
    public static final class ProxyProtocol {
        /** Peers allowed to send a PROXY header (CIDRs); empty turns PROXY protocol off. */
        public List<String> trustedNetworks = new ArrayList<>();
        /** Every connection must start with a PROXY header (as an NLB sends); false = optional. */
        public boolean required = true;
    }

    /** Outbound SMTP: Postfix's smtp_* settings. */
    public static final class Smtp {
        /** relayhost, e.g. {@code [email-smtp.us-east-1.amazonaws.com]:587}; empty means direct MX delivery. */
        public String relayhost = "";
        /** What the embedded developer defaults (no --config) deliver with: .eml files in var/mail. */
        public static final String EMBEDDED_DEFAULT_TRANSPORT = "file:var/mail";

        /**
         * default_transport: {@code smtp} (Postfix's default), or {@code file:DIR} (write each
         * message as .eml), {@code discard:}, {@code error:TEXT}, or a name in {@code transports}.
         * Only the embedded developer defaults use {@link #EMBEDDED_DEFAULT_TRANSPORT}.
         */
        public String defaultTransport = "smtp";
        /** none, may, encrypt, verify, secure. */
        public String tlsSecurityLevel = "may";
        public Path tlsCaFile;
        /** Postfix sasl_passwd text format: {@code [host]:port user:password} per line. */
        public Path saslPasswordFile;
        public Duration connectTimeout = Duration.ofSeconds(30);
        /** Bound on each reply wait (Postfix has one per stage; we use one). */
        public Duration replyTimeout = Duration.ofSeconds(300);
        /** smtp_destination_concurrency_limit, per next hop. */
        public int destinationConcurrencyLimit = 20;
        /** Rate limits per next hop, e.g. ["14/s", "50000/d"] (from smtp_destination_rate_delay on import). */
        public List<String> destinationRate = new ArrayList<>();
        /** Keep connections open between messages to the same next hop (smtp_connection_cache). */
        public boolean connectionReuse = true;
        /** transport_maps: an inline map (pattern: transport:nexthop) or the path of a Postfix transport file. */
        public Object transportMaps;
        /** Named SMTP transports (master.cf services with -o overrides), e.g. {@code ses}. */
        public Map<String, Transport> transports = new LinkedHashMap<>();
        /** smtp_fallback_relay: tried after the primary next hop fails with 4xx or a connection failure. */
        public List<String> fallbackRelay = new ArrayList<>();
        /** DNS servers for MX lookups (host:port); empty: the system's resolvers. */
        public List<HostPort> dnsServers = new ArrayList<>();
        /** sender_dependent_relayhost_maps: an inline map (sender or @domain: nexthop) or a file path. */
        public Object senderDependentRelayhostMaps;
        /** Reaction to unreachable next hops: circuit breaker and connection retries. */
        public Breaker breaker = new Breaker();
    }

    /**
     * {@code smtp.breaker}: a next hop is suspended after {@code failure-threshold} connection
     * failures in a row, for {@code open-time}, then probed once. The setters check the ranges,
     * so the loader names the key of a bad value.
     */
    public static final class Breaker {
        public int failureThreshold = 5;
        public Duration openTime = Duration.ofSeconds(30);
        /** Extra tries of a fresh connection that failed at connection level, after a jittered wait. */
        public int connectRetries = 2;

        public void setFailureThreshold(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("must be at least 1");
            }
            failureThreshold = n;
        }

        public void setOpenTime(Duration d) {
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("must be positive");
            }
            openTime = d;
        }

        public void setConnectRetries(int n) {
            if (n < 0 || n > 5) {
                throw new IllegalArgumentException("must be 0 to 5");
            }
            connectRetries = n;
        }
    }

    /** One named transport; an unset key inherits the smtp.* default. */
    public static final class Transport {
        public String nexthop;
        public String tlsSecurityLevel;
        public Path tlsCaFile;
        public Path saslPasswordFile;
        public Integer concurrency;
        public List<String> rate;
        /** An explicit empty list turns the fallback relay off for this transport. */
        public List<String> fallbackRelay;
        public Boolean connectionReuse;
        /** {@code off}: this transport sends unsigned; {@code on} (the default): DKIM signs where a key is. */
        public String dkim;

        /** Whether mail through this transport is DKIM-signed (dkim unset or on). */
        public boolean dkimSigns() {
            return dkim == null || !dkim.strip().equalsIgnoreCase("off");
        }
    }

    /** The queue: spool, backoff and lifetime, high-water marks. */
    public static final class Queue {
        public Path spoolDir = Path.of("var/spool");
        /** minimal_backoff_time */
        public Duration minimalBackoffTime = Duration.ofSeconds(300);
        /** maximal_backoff_time */
        public Duration maximalBackoffTime = Duration.ofSeconds(4000);
        /** maximal_queue_lifetime; after it a deferred message is returned to the sender. */
        public Duration maximalQueueLifetime = Duration.ofDays(5);
        /** Delivery threads on this node. */
        public int deliveryConcurrency = 40;
        public int backupCount = 1;
        /** A high-water mark in messages owned by this node; none by default (bodies are on disk). */
        public long maxMessages = Long.MAX_VALUE;
        /**
         * queue_minfree: below this many free bytes on the spool's file system new mail gets
         * 452 4.3.1 and /readyz 503; 0 turns the check off.
         */
        public long minFreeBytes = io.relay.queue.SpoolSpace.DEFAULT_MIN_FREE_BYTES;
        /**
         * A high-water mark in content bytes; none by default: bodies live on disk, bounded by
         * {@link #minFreeBytes} as Postfix's queue is by queue_minfree.
         */
        public long maxBytes = Long.MAX_VALUE;
        /**
         * The index-memory mark: the heap the queue's index may take here (the one mark that
         * follows -Xmx); unset ({@link #AUTO}), 70% of the maximum heap
         * ({@link io.relay.queue.QueueSettings#defaultMaxIndexMemory}).
         */
        public long maxIndexMemory = AUTO;

        /** {@code queue.max-index-memory} not written: derived from the heap at validation. */
        public static final long AUTO = Long.MIN_VALUE;
    }

    public static final class Health {
        public HostPort listen = new HostPort("127.0.0.1", 8080);
        /**
         * After SIGTERM, /readyz answers 503 at once but the node keeps serving this long:
         * the load balancer's deregistration delay (300 s on AWS by default).
         */
        public Duration drainDelay = Duration.ofSeconds(30);
        /** Then open sessions get this long to finish (a session in DATA finishes its message). */
        public Duration drainTimeout = Duration.ofSeconds(60);
    }

    /** Hazelcast membership. Member traffic is unencrypted: it must stay on a private network. */
    public static final class Cluster {
        public String name = "relay";
        /** The member's bind and advertised address: an IP literal on a private network. */
        public HostPort listen = new HostPort("127.0.0.1", 5701);
        /** Static members ({@code host:port}) for {@code discovery: tcp}. */
        public List<String> members = new ArrayList<>();
        /** Readiness check {@code cluster-size}: the node is not ready while it sees fewer members. */
        public int minMembers = 1;
        /** Allow {@code listen} on a public address or on all interfaces (refused by default). */
        public boolean allowPublicBind = false;
        /** A member silent this long is dropped and its backups take over (hazelcast.max.no.heartbeat.seconds). */
        public Duration heartbeatTimeout = Duration.ofSeconds(60);
        /** Split-brain merge check: first run and interval (hazelcast.merge.*.run.delay.seconds). */
        public Duration mergeDelay = Duration.ofSeconds(120);
        /** tcp (static members), aws or kubernetes. */
        public String discovery = "tcp";
        /** Hazelcast AwsConfig properties for {@code discovery: aws}, e.g. region, tag-key, tag-value, hz-port. */
        public Map<String, String> aws = new LinkedHashMap<>();
        /** Hazelcast KubernetesConfig properties for {@code discovery: kubernetes}, e.g. namespace, service-name. */
        public Map<String, String> kubernetes = new LinkedHashMap<>();

        /** The member's settings (validated by {@link ConfigLoader} first). */
        public ClusterSettings settings(int backupCount) {
            ClusterSettings.Discovery how = switch (discovery) {
                case "aws" -> ClusterSettings.Discovery.aws(aws);
                case "kubernetes" -> ClusterSettings.Discovery.kubernetes(kubernetes);
                default -> ClusterSettings.Discovery.tcp();
            };
            return new ClusterSettings(name, listen.host(), listen.port(), members, backupCount, heartbeatTimeout,
                    mergeDelay, how);
        }
    }

    public static final class Log {
        /** The mail log; stdout when unset. */
        public Path file;
        /** The program name in mail log lines ({@code relay/smtpd[pid]}); pflogsumm takes it as --syslog-name. */
        public String syslogName = "relay";
    }

    /** {@code admin}: the admin API relayctl talks to (issue 6). Off while no token file is set. */
    public static final class Admin {
        public HostPort listen = new HostPort("127.0.0.1", 8025);
        /** The bearer token, one line; the file must not be readable by group or others (chmod 600). */
        public Path tokenFile;
        /** HTTPS on the admin port (TLSv1.2 and later); plain HTTP while unset. */
        public AdminTls tls = new AdminTls();
    }

    /** {@code admin.tls}: PEM certificate chain and PKCS#8 key for the admin port; both or neither. */
    public static final class AdminTls {
        public Path certFile;
        public Path keyFile;
    }

    /** {@code dkim}: DKIM signing (issue 21); the keys themselves live in the cluster's admin state. */
    public static final class Dkim {
        /**
         * 32 or more random bytes, the same file on every node (chmod 600): the DKIM private keys
         * are sealed under a key derived from it. Unset: {@code relayctl dkim generate} is refused.
         */
        public Path keyEncryptionKeyFile;
        /** Signs mail whose From: domain has no active key with this domain's key(s); unset: such mail goes unsigned. */
        public String fallbackDomain;
        /** From: domains never sent unsigned: without a usable key their mail is deferred (4.7.0). */
        public List<String> required = new ArrayList<>();
    }
}
