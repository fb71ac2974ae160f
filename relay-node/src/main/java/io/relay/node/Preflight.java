package io.relay.node;

import io.relay.node.admin.AdminToken;
import io.relay.node.config.ConfigException;
import io.relay.node.config.ConfigLoader;
import io.relay.node.config.HostPort;
import io.relay.node.config.OpenRelayGuard;
import io.relay.node.config.Problems;
import io.relay.node.config.RelayConfig;
import io.relay.node.config.RoutingConfigs;
import io.relay.node.tls.TlsMaterial;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * Every check a configuration must pass before a node starts, in one place, so that
 * {@code relay-node check} and the start cannot drift apart: the loader's rules
 * ({@link ConfigLoader#problems}), the routing tables, credentials and transport names
 * ({@link RoutingConfigs#build}), CA bundles, the STARTTLS and admin certificate pairs, the
 * admin token file and its mode ({@link AdminToken#load}), the spool and log directories, and,
 * for {@code check} only, whether each listener's address can be bound (the start binds them
 * for real). Each problem is one line naming the file and the key; all are collected.
 *
 * <p>Warnings: a default transport that delivers nothing ({@code file:}, {@code discard:}), an
 * open relay allowed by {@code smtpd.allow-open-relay}, and (for {@code check}) credential files
 * that others can read, which the start's own routing logs to the mail log.
 */
final class Preflight {
    /** What {@code check} prints: problems (the start refuses on any) and warnings, each a whole line. */
    record Findings(List<String> problems, List<String> warnings) {
    }

    private Preflight() {
    }

    /** The start's checks: the first problem is a {@link ConfigException}; the warnings go to {@code warn}. */
    static void atStart(RelayConfig cfg, Consumer<String> warn) {
        Findings f = run(cfg, false);
        if (!f.problems().isEmpty()) {
            throw new ConfigException(Problems.firstOf(f.problems()));
        }
        f.warnings().forEach(warn);
    }

    /**
     * @param probeListeners also bind and release each listener address (for {@code check}; the start binds for real)
     */
    static Findings run(RelayConfig cfg, boolean probeListeners) {
        Problems p = new Problems();
        p.addAll(ConfigLoader.problems(cfg));
        List<String> warnings = new ArrayList<>();
        List<String> credentialWarnings = new ArrayList<>();
        RoutingConfigs.Built routing = RoutingConfigs.build(cfg, credentialWarnings::add);
        p.addAll(routing.problems());
        p.addAll(routing.undefinedTransports());
        caFile(p, "smtp.tls-ca-file", cfg.smtp.tlsCaFile);
        cfg.smtp.transports.forEach((name, t) -> caFile(p, "smtp.transports." + name + ".tls-ca-file", t.tlsCaFile));
        if (cfg.smtpd.tlsCertFile != null && cfg.smtpd.tlsKeyFile != null && readable(cfg.smtpd.tlsCertFile, cfg.smtpd.tlsKeyFile)) {
            try {
                TlsMaterial.serverContext(cfg.smtpd.tlsCertFile, cfg.smtpd.tlsKeyFile, "localhost", null);
            } catch (IllegalArgumentException e) {
                p.add("smtpd.tls-cert-file", e.getMessage());
            }
        }
        boolean admin = cfg.admin.tokenFile != null;
        if (admin) {
            adminToken(p, cfg.admin.tokenFile);
            if (cfg.admin.tls.certFile != null && cfg.admin.tls.keyFile != null
                    && readable(cfg.admin.tls.certFile, cfg.admin.tls.keyFile)) {
                try {
                    TlsMaterial.adminContext(cfg.admin.tls.certFile, cfg.admin.tls.keyFile);
                } catch (IllegalArgumentException e) {
                    p.add("admin.tls.cert-file", e.getMessage());
                }
            }
        }
        if (cfg.queue.spoolDir != null) {
            writableDirectory(p, "queue.spool-dir", cfg.queue.spoolDir);
        }
        if (cfg.log.file != null) {
            writableFile(p, "log.file", cfg.log.file);
        }
        if (probeListeners) {
            for (int i = 0; i < cfg.smtpd.listen.size(); i++) {
                bindable(p, "smtpd.listen[" + i + "]", cfg.smtpd.listen.get(i));
            }
            for (int i = 0; i < cfg.smtpd.submission.listen.size(); i++) {
                bindable(p, "smtpd.submission.listen[" + i + "]", cfg.smtpd.submission.listen.get(i));
            }
            for (int i = 0; i < cfg.smtpd.submissions.listen.size(); i++) {
                bindable(p, "smtpd.submissions.listen[" + i + "]", cfg.smtpd.submissions.listen.get(i));
            }
            bindable(p, "health.listen", cfg.health.listen);
            if (admin) {
                bindable(p, "admin.listen", cfg.admin.listen);
            }
            bindable(p, "cluster.listen", cfg.cluster.listen);
        }

        String transport = cfg.smtp.defaultTransport == null ? "" : cfg.smtp.defaultTransport.trim();
        String kind = transport.toLowerCase(Locale.ROOT);
        if (kind.startsWith("file:")) {
            warnings.add("smtp.default-transport is '" + transport + "': mail is written to "
                    + transport.substring(5).trim() + " as .eml files, not delivered (set smtp.default-transport: smtp)");
        } else if (kind.equals("discard") || kind.startsWith("discard:")) {
            warnings.add("smtp.default-transport is '" + transport + "': mail is thrown away, not delivered"
                    + " (set smtp.default-transport: smtp)");
        }
        warnings.addAll(OpenRelayGuard.warnings(cfg.smtpd));
        if (probeListeners) {
            warnings.addAll(credentialWarnings);
        }
        String prefix = cfg.source() == null ? "" : cfg.source() + ": ";
        return new Findings(p.list().stream().map(l -> prefix + l).toList(),
                warnings.stream().map(w -> prefix + w).toList());
    }

    private static boolean readable(Path... files) {
        for (Path f : files) {
            if (!Files.isReadable(f)) {
                return false; // the loader has said so, naming the key
            }
        }
        return true;
    }

    /** A CA bundle must hold at least one PEM or DER certificate (verify/secure trust nothing else). */
    private static void caFile(Problems p, String key, Path file) {
        if (file == null || !Files.isReadable(file) || Files.isDirectory(file)) {
            return;
        }
        try (InputStream in = Files.newInputStream(file)) {
            if (CertificateFactory.getInstance("X.509").generateCertificates(in).isEmpty()) {
                p.add(key, file + " holds no certificate");
            }
        } catch (IOException | CertificateException e) {
            p.add(key, file + " is not a PEM certificate bundle (" + e.getClass().getSimpleName() + ")");
        }
    }

    private static void adminToken(Problems p, Path file) {
        try {
            AdminToken.load(file);
        } catch (ConfigException e) {
            // AdminToken names the key and the file as "admin.token-file FILE ..."
            p.add("admin.token-file", e.getMessage().replaceFirst("^admin\\.token-file ", ""));
        }
    }

    /** The directory exists and is writable, or it can be created: its nearest existing parent is writable. */
    private static void writableDirectory(Problems p, String key, Path dir) {
        Path d = dir.toAbsolutePath();
        if (Files.exists(d)) {
            if (Files.isDirectory(d)) {
                p.check(key, Files.isWritable(d), d + " is not writable");
            } // a file here is the loader's problem
            return;
        }
        Path parent = d.getParent();
        while (parent != null && !Files.exists(parent)) {
            parent = parent.getParent();
        }
        if (parent == null || !Files.isDirectory(parent)) {
            p.add(key, "cannot create " + d + ": " + parent + " is not a directory");
        } else {
            p.check(key, Files.isWritable(parent), "cannot create " + d + ": " + parent + " is not writable");
        }
    }

    private static void writableFile(Problems p, String key, Path file) {
        Path f = file.toAbsolutePath();
        if (Files.isDirectory(f)) {
            p.add(key, f + " is a directory");
        } else if (Files.exists(f)) {
            p.check(key, Files.isWritable(f), f + " is not writable");
        } else if (f.getParent() != null) {
            writableDirectory(p, key, f.getParent());
        }
    }

    private static void bindable(Problems p, String key, HostPort address) {
        if (address == null) {
            return;
        }
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true); // a port in TIME_WAIT binds at start too
            s.bind(address.toSocketAddress());
        } catch (IOException | RuntimeException e) {
            String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            p.add(key, address + ": " + why.toLowerCase(Locale.ROOT).replaceFirst(" \\(bind failed\\)$", ""));
        }
    }
}
