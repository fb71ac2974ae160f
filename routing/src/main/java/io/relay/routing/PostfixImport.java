package io.relay.routing;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns a Postfix relay setup (main.cf, master.cf and the tables they reference) into our
 * configuration tree, and lists every setting it did not carry over with the reason.
 * Pure: the caller reads the files; this class only parses.
 *
 * <p>Strategy: main.cf is parsed into name → value (comments, whitespace-led
 * continuation lines, last assignment wins), {@code $name}/{@code ${name}}/{@code $(name)}
 * expanded with Postfix's defaults for unset parameters. master.cf services whose command
 * is {@code smtp} and that the transport table (or default_transport) names become
 * {@code smtp.transports.<name>}, their {@code -o} overrides mapped like main.cf's smtp_*
 * settings. Tables written {@code hash:}, {@code texthash:}, {@code btree:}, {@code lmdb:},
 * {@code cdb:}, {@code dbm:} or as a plain path are read from their text source; other
 * table types are not carried. The mapping is listed in routing/README.md.
 */
public final class PostfixImport {
    private static final Pattern PARAM = Pattern.compile("\\$(?:\\{([A-Za-z0-9_]+)}|\\(([A-Za-z0-9_]+)\\)|([A-Za-z0-9_]+))");
    private static final Set<String> TEXT_TABLE_TYPES = Set.of("hash", "texthash", "btree", "lmdb", "cdb", "dbm", "sdbm", "cidr");
    /** Table types Postfix knows; a "type:" prefix outside this set is part of a value (e.g. fe80::/10). */
    private static final Set<String> OTHER_TABLE_TYPES = Set.of("regexp", "pcre", "ldap", "mysql", "pgsql", "sqlite",
            "proxy", "static", "inline", "unix", "memcache", "socketmap", "tcp", "nis", "nisplus", "netinfo",
            "environ", "fail", "pipemap", "randmap", "unionmap", "mongodb");
    private static final Set<String> POSTFIX_INTERNAL = Set.of(
            "compatibility_level", "queue_directory", "command_directory", "daemon_directory", "data_directory",
            "mail_owner", "setgid_group", "sendmail_path", "newaliases_path", "mailq_path", "html_directory",
            "manpage_directory", "sample_directory", "readme_directory", "meta_directory", "shlib_directory",
            "mail_spool_directory", "debug_peer_level", "debugger_command", "unknown_local_recipient_reject_code",
            "biff", "append_dot_mydomain", "smtputf8_enable", "mail_name", "syslog_name",
            "maillog_file", "smtp_tls_session_cache_database", "smtpd_tls_session_cache_database");
    private static final Set<String> LOCAL_DELIVERY = Set.of(
            "mydestination", "alias_maps", "alias_database", "home_mailbox", "mailbox_command", "mailbox_size_limit",
            "local_recipient_maps", "local_transport", "virtual_alias_maps", "virtual_mailbox_domains",
            "virtual_mailbox_maps", "recipient_delimiter", "mailbox_transport", "fallback_transport");
    private static final Set<String> STANDARD_SERVICES = Set.of(
            "pickup", "cleanup", "qmgr", "oqmgr", "tlsmgr", "rewrite", "bounce", "defer", "trace", "verify", "flush",
            "proxymap", "proxywrite", "showq", "error", "retry", "discard", "local", "virtual", "lmtp", "anvil",
            "scache", "postlog", "postscreen", "smtpd", "dnsblog", "tlsproxy");

    /** -o overrides of a named smtp service that are mapped (or implied) by smtpSettings. */
    private static final Set<String> CARRIED_OVERRIDES = Set.of("smtp_tls_security_level", "smtp_use_tls",
            "smtp_enforce_tls", "smtp_tls_CAfile", "smtp_tls_CApath", "smtp_sasl_auth_enable", "smtp_sasl_password_maps",
            "smtp_fallback_relay");

    private final Map<String, String> main = new LinkedHashMap<>();
    private final Set<String> consumed = new LinkedHashSet<>();
    private final List<NotCarried> notCarried = new ArrayList<>();
    private final List<String> tablesRead = new ArrayList<>();
    private final PostfixFiles files;

    private PostfixImport(PostfixFiles files) {
        this.files = files;
    }

    /**
     * Imports one setup. Throws IllegalArgumentException when a referenced table cannot
     * be read or parsed (naming the file), since a silently dropped table would change
     * where mail goes.
     */
    public static ImportResult run(PostfixFiles files) {
        return new PostfixImport(files).importAll();
    }

    private record Service(String name, String type, String command, int line, Map<String, String> overrides) { }

    private ImportResult importAll() {
        for (TableLines.Line l : TableLines.split(files.mainCf())) {
            int eq = l.text().indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("main.cf:" + l.number() + ": not 'name = value': " + l.text());
            }
            main.put(l.text().substring(0, eq).trim(), l.text().substring(eq + 1).trim());
        }
        List<Service> services = parseMaster(files.masterCf());

        Map<String, Object> smtpd = new LinkedHashMap<>();
        Map<String, Object> smtp = new LinkedHashMap<>();
        Map<String, Object> queue = new LinkedHashMap<>();

        main("myhostname").ifPresent(v -> smtpd.put("hostname", v));
        List<PostfixListeners.Inet> inet = services.stream().filter(s -> s.type().equals("inet"))
                .map(s -> new PostfixListeners.Inet(s.name(), s.command(), s.line(), s.overrides().keySet())).toList();
        PostfixListeners.Result listeners = PostfixListeners.of(main("inet_interfaces"), main("inet_protocols"), inet,
                !files.masterCf().isBlank());
        if (!listeners.listen().isEmpty()) {
            smtpd.put("listen", listeners.listen());
        }
        notCarried.addAll(listeners.notes());
        main("mynetworks").ifPresent(v -> {
            List<String> nets = new ArrayList<>();
            for (String item : TableLines.items(v)) {
                if (isTable(item)) {
                    tableEntries("mynetworks", item).forEach((k, val) -> nets.add(network(k)));
                } else {
                    nets.add(network(item));
                }
            }
            smtpd.put("mynetworks", nets);
        });
        main("mynetworks_style").ifPresent(v -> skip("mynetworks_style", v,
                "only explicit networks are carried; list them in smtpd.mynetworks"));
        if (main("mynetworks").isEmpty() && main("mynetworks_style").isEmpty()) {
            // Postfix would then trust every subnet of the host (mynetworks_style = subnet);
            // we keep the node's loopback-only default, which is safer, and say so.
            skip("mynetworks", "(unset; Postfix default mynetworks_style = subnet)",
                    "not carried: the relay trusts only loopback until smtpd.mynetworks lists your networks");
        }
        main("relay_domains").ifPresent(v -> {
            List<String> domains = new ArrayList<>();
            for (String item : TableLines.items(v)) {
                if (isTable(item)) {
                    domains.addAll(tableEntries("relay_domains", item).keySet());
                } else {
                    domains.add(item.toLowerCase(Locale.ROOT));
                }
            }
            smtpd.put("relay-domains", domains);
        });
        main("message_size_limit").ifPresent(v -> smtpd.put("message-size-limit", Long.parseLong(v)));
        main("smtpd_recipient_limit").ifPresent(v -> smtpd.put("recipient-limit", Integer.parseInt(v)));
        main("line_length_limit").ifPresent(v -> smtpd.put("line-length-limit", Integer.parseInt(v)));
        main("hopcount_limit").ifPresent(v -> smtpd.put("hopcount-limit", Integer.parseInt(v)));
        duration("smtpd_timeout", "s").ifPresent(d -> smtpd.put("timeout", d));
        main("smtpd_tls_cert_file").filter(f -> !f.isEmpty()).ifPresent(cert -> {
            smtpd.put("tls-cert-file", cert);
            // Postfix's default smtpd_tls_key_file is $smtpd_tls_cert_file: key and chain in one file
            smtpd.put("tls-key-file", main("smtpd_tls_key_file").filter(k -> !k.isEmpty()).orElse(cert));
        });

        main("relayhost").ifPresent(v -> {
            List<String> hops = TableLines.items(v);
            if (!hops.isEmpty()) {
                NextHop.parse(hops.get(0));
                smtp.put("relayhost", hops.get(0));
                if (hops.size() > 1) {
                    skip("relayhost", v, "only the first relayhost is carried; put the others in smtp.fallback-relay");
                }
            }
        });
        smtp.put("default-transport", "smtp");
        main("default_transport").ifPresent(v -> {
            if (!v.equals("smtp")) {
                skip("default_transport", v, "the import sets smtp.default-transport to smtp");
            }
        });
        main("relay_transport").ifPresent(v -> {
            if (!v.equals("relay")) {
                skip("relay_transport", v, "relay domains are delivered by the built-in relay (smtp) transport");
            }
        });
        smtpSettings(smtp, Map.of(), "main.cf");
        concurrency("smtp", Map.of()).ifPresent(c -> smtp.put("destination-concurrency-limit", c));
        rate("smtp", Map.of()).ifPresent(r -> {
            smtp.put("destination-rate", List.of(r));
            smtp.putIfAbsent("destination-concurrency-limit", 1);
        });

        Map<String, String> transportMap = new LinkedHashMap<>();
        main("transport_maps").ifPresent(v -> {
            for (String item : TableLines.items(v)) {
                Map<String, String> entries = tableEntries("transport_maps", item);
                entries.forEach(transportMap::putIfAbsent);
                TransportTable.of(entries);
            }
        });
        if (!transportMap.isEmpty()) {
            smtp.put("transport-maps", transportMap);
        }
        main("sender_dependent_relayhost_maps").ifPresent(v -> {
            Map<String, String> m = new LinkedHashMap<>();
            for (String item : TableLines.items(v)) {
                tableEntries("sender_dependent_relayhost_maps", item).forEach(m::putIfAbsent);
            }
            SenderRelayhostTable.of(m);
            smtp.put("sender-dependent-relayhost-maps", m);
        });

        Set<String> referenced = new LinkedHashSet<>();
        transportMap.values().forEach(r -> {
            int colon = r.indexOf(':');
            referenced.add((colon < 0 ? r : r.substring(0, colon)).trim().toLowerCase(Locale.ROOT));
        });
        Map<String, Object> transports = new LinkedHashMap<>();
        for (Service s : services) {
            importService(s, referenced, transports);
        }
        if (!transports.isEmpty()) {
            smtp.put("transports", transports);
        }

        duration("maximal_queue_lifetime", "d").ifPresent(d -> queue.put("maximal-queue-lifetime", d));
        duration("minimal_backoff_time", "s").ifPresent(d -> queue.put("minimal-backoff-time", d));
        duration("maximal_backoff_time", "s").ifPresent(d -> queue.put("maximal-backoff-time", d));
        // Postfix's 0 (its default) means no check, as ours does
        main("queue_minfree").ifPresent(v -> queue.put("min-free-bytes", Long.parseLong(v)));

        for (Map.Entry<String, String> e : main.entrySet()) {
            if (!consumed.contains(e.getKey())) {
                skip(e.getKey(), e.getValue(), reasonFor(e.getKey()));
            }
        }
        Map<String, Object> config = new LinkedHashMap<>();
        if (!smtpd.isEmpty()) {
            config.put("smtpd", smtpd);
        }
        config.put("smtp", smtp);
        if (!queue.isEmpty()) {
            config.put("queue", queue);
        }
        return new ImportResult(config, notCarried, tablesRead);
    }

    /**
     * Maps the smtp_* settings (main.cf values, shadowed by {@code overrides} for a
     * master.cf service) into {@code out}. For a named transport only overridden
     * settings are written, so the rest inherits from smtp.*.
     */
    private void smtpSettings(Map<String, Object> out, Map<String, String> overrides, String where) {
        boolean named = !where.equals("main.cf");
        java.util.function.Function<String, Optional<String>> get = name -> {
            if (overrides.containsKey(name)) {
                return Optional.of(expand(overrides.get(name), 0));
            }
            return named ? Optional.empty() : main(name);
        };
        Optional<String> level = get.apply("smtp_tls_security_level").filter(s -> !s.isEmpty());
        Optional<String> useTls = get.apply("smtp_use_tls");
        Optional<String> enforce = get.apply("smtp_enforce_tls");
        if (level.isPresent()) {
            out.put("tls-security-level", TlsLevel.parse(level.get()).postfixName());
            useTls.ifPresent(v -> skipAt(where, "smtp_use_tls", v, "obsolete; smtp_tls_security_level is carried"));
            enforce.ifPresent(v -> skipAt(where, "smtp_enforce_tls", v, "obsolete; smtp_tls_security_level is carried"));
        } else if (enforce.filter(PostfixImport::yes).isPresent()) {
            out.put("tls-security-level", "encrypt");
            useTls.ifPresent(v -> skipAt(where, "smtp_use_tls", v, "obsolete; smtp_enforce_tls carried as encrypt"));
        } else if (useTls.filter(PostfixImport::yes).isPresent()) {
            out.put("tls-security-level", "may");
        }
        get.apply("smtp_tls_CAfile").filter(s -> !s.isEmpty()).ifPresent(v -> out.put("tls-ca-file", v));
        get.apply("smtp_tls_CApath").filter(s -> !s.isEmpty()).ifPresent(v -> skipAt(where, "smtp_tls_CApath", v,
                "only a CA file is supported; concatenate the directory's certificates into smtp.tls-ca-file"));
        boolean authEnabled = get.apply("smtp_sasl_auth_enable").map(PostfixImport::yes)
                .orElseGet(() -> named && main("smtp_sasl_auth_enable").map(PostfixImport::yes).orElse(false));
        get.apply("smtp_sasl_password_maps").filter(s -> !s.isEmpty()).ifPresent(v -> {
            if (!authEnabled) {
                skipAt(where, "smtp_sasl_password_maps", v,
                        "smtp_sasl_auth_enable is not yes, so Postfix does not authenticate; the password map is not carried");
                return;
            }
            List<String> maps = TableLines.items(v);
            String path = tablePath(maps.get(0)).orElseThrow(() -> new IllegalArgumentException(
                    where + ": smtp_sasl_password_maps '" + v + "' is not a file-based table"));
            String text = readTable(path);
            SaslPasswordTable.parse(text, path);
            out.put("sasl-password-file", path);
            if (maps.size() > 1) {
                skipAt(where, "smtp_sasl_password_maps", v, "only the first table is carried");
            }
        });
        if (!named && !out.containsKey("tls-security-level")) {
            // Postfix's default smtp_tls_security_level is empty (no STARTTLS)
            if (out.containsKey("sasl-password-file")) {
                out.put("tls-security-level", "encrypt");
                notCarried.add(new NotCarried("main.cf: smtp_tls_security_level", "(unset: Postfix default none)",
                        "SASL credentials are configured: imported as encrypt so the password never crosses the network in clear text"));
            } else {
                notCarried.add(new NotCarried("main.cf: smtp_tls_security_level", "(unset: Postfix default none)",
                        "left to this relay's default, may (STARTTLS when offered)"));
            }
        }
        Optional<String> fallback = overrides.containsKey("smtp_fallback_relay")
                ? Optional.of(overrides.get("smtp_fallback_relay"))
                : named ? Optional.empty() : main("smtp_fallback_relay").or(() -> main("fallback_relay"));
        fallback.ifPresent(v -> {
            List<String> hops = TableLines.items(expand(v, 0));
            hops.forEach(NextHop::parse);
            out.put("fallback-relay", hops);
        });
        for (Map.Entry<String, String> o : overrides.entrySet()) {
            String key = o.getKey();
            boolean handled = CARRIED_OVERRIDES.contains(key) || key.endsWith("_destination_concurrency_limit")
                    || key.endsWith("_destination_rate_delay");
            if (!handled) {
                skipAt(where, key, o.getValue(), reasonFor(key));
            }
        }
    }

    private void importService(Service s, Set<String> referenced, Map<String, Object> transports) {
        String where = "master.cf " + s.name();
        String label = "master.cf:" + s.line() + ": " + s.name() + " " + s.type() + " " + s.command();
        boolean smtpClient = s.command().equals("smtp") && s.type().equals("unix");
        if (smtpClient && (s.name().equals("smtp") || s.name().equals("relay"))) {
            // built-in; their overrides would apply to all mail and are not carried
            s.overrides().forEach((k, v) -> skipAt(where, k, v, k.equals("syslog_name")
                    ? "ignored: the mail log name is log.syslog-name" : "overrides on the built-in " + s.name()
                    + " service are not carried; set the smtp.* key instead"));
            return;
        }
        if (smtpClient && referenced.contains(s.name())) {
            Map<String, Object> t = new LinkedHashMap<>();
            smtpSettings(t, s.overrides(), where);
            concurrency(s.name(), s.overrides()).ifPresent(c -> t.put("concurrency", c));
            rate(s.name(), s.overrides()).ifPresent(r -> {
                t.put("rate", List.of(r));
                t.putIfAbsent("concurrency", 1);
            });
            transports.put(s.name(), t);
            return;
        }
        if (smtpClient) {
            notCarried.add(new NotCarried(label, "", "not referenced by transport_maps: no mail would use it"));
        } else if (s.type().equals("inet") && (s.command().equals("smtpd") || s.command().equals("postscreen"))) {
            return; // PostfixListeners carries it to smtpd.listen or says why not
        } else if (s.command().equals("smtpd")) {
            notCarried.add(new NotCarried(label, String.join(" ", s.overrides().keySet()),
                    "ignored: connections reach smtpd only through the listeners in smtpd.listen"));
        } else if (STANDARD_SERVICES.contains(s.command()) || STANDARD_SERVICES.contains(s.name())) {
            notCarried.add(new NotCarried(label, "", "ignored: Postfix internal"));
        } else {
            notCarried.add(new NotCarried(label, "", "content filters and other programs are not run by this relay"));
        }
    }

    private Optional<Integer> concurrency(String service, Map<String, String> overrides) {
        String name = service + "_destination_concurrency_limit";
        Optional<String> v = overrides.containsKey(name) ? Optional.of(overrides.get(name)) : main(name);
        if (v.isEmpty() && service.equals("smtp")) {
            v = main("default_destination_concurrency_limit");
        }
        return v.map(s -> Integer.parseInt(expand(s, 0)));
    }

    /** Postfix's rate delay (one message per delay, one connection) as our N/unit rate. */
    private Optional<String> rate(String service, Map<String, String> overrides) {
        String name = service + "_destination_rate_delay";
        Optional<String> v = overrides.containsKey(name) ? Optional.of(overrides.get(name)) : main(name);
        if (v.isEmpty() && service.equals("smtp")) {
            v = main("default_destination_rate_delay");
        }
        if (v.isEmpty()) {
            return Optional.empty();
        }
        long seconds = seconds(expand(v.get(), 0), "s");
        if (seconds <= 0) {
            return Optional.empty();
        }
        String r;
        if (seconds == 1) {
            r = "1/s";
        } else if (60 % seconds == 0) {
            r = (60 / seconds) + "/m";
        } else if (3600 % seconds == 0) {
            r = (3600 / seconds) + "/h";
        } else {
            r = Math.max(1, 86400 / seconds) + "/d";
        }
        RateLimit.parse(r);
        return Optional.of(r);
    }

    private static long seconds(String text, String defaultUnit) {
        return PostfixDuration.parse(text, defaultUnit.charAt(0))
                .orElseThrow(() -> new IllegalArgumentException("'" + text + "' is not a Postfix time value"))
                .toSeconds();
    }

    private Optional<String> duration(String name, String defaultUnit) {
        return main(name).map(v -> {
            String t = v.trim();
            seconds(t, defaultUnit);
            return t.chars().allMatch(Character::isDigit) ? t + defaultUnit : t;
        });
    }

    private List<Service> parseMaster(String text) {
        List<Service> out = new ArrayList<>();
        for (TableLines.Line l : TableLines.split(text)) {
            String[] f = l.text().split("\\s+");
            if (f.length < 8) {
                throw new IllegalArgumentException("master.cf:" + l.number() + ": a service line needs 8 fields: " + l.text());
            }
            Map<String, String> overrides = new LinkedHashMap<>();
            for (int i = 8; i < f.length; i++) {
                if (f[i].equals("-o") && i + 1 < f.length) {
                    String o = f[++i];
                    int eq = o.indexOf('=');
                    if (eq <= 0) {
                        throw new IllegalArgumentException("master.cf:" + l.number() + ": -o " + o + " is not name=value");
                    }
                    overrides.put(o.substring(0, eq), o.substring(eq + 1));
                }
            }
            out.add(new Service(f[0], f[1], f[7], l.number(), overrides));
        }
        return out;
    }

    /** A main.cf parameter, expanded, marked as carried (or handled). */
    private Optional<String> main(String name) {
        if (!main.containsKey(name)) {
            return Optional.empty();
        }
        consumed.add(name);
        return Optional.of(expand(main.get(name), 0));
    }

    private String expand(String value, int depth) {
        if (depth > 10 || value.indexOf('$') < 0) {
            return value;
        }
        Matcher m = PARAM.matcher(value);
        StringBuilder b = new StringBuilder();
        while (m.find()) {
            String name = m.group(1) != null ? m.group(1) : m.group(2) != null ? m.group(2) : m.group(3);
            String v = main.containsKey(name) ? expand(main.get(name), depth + 1) : defaultOf(name, depth);
            m.appendReplacement(b, Matcher.quoteReplacement(v == null ? m.group() : v));
        }
        m.appendTail(b);
        return b.toString();
    }

    /** Postfix's defaults for parameters a value may reference; null when unknowable here. */
    private String defaultOf(String name, int depth) {
        return switch (name) {
            case "mydomain" -> {
                String host = main.containsKey("myhostname") ? expand(main.get("myhostname"), depth + 1) : null;
                yield host != null && host.contains(".") ? host.substring(host.indexOf('.') + 1) : null;
            }
            case "myorigin" -> main.containsKey("myhostname") ? expand(main.get("myhostname"), depth + 1) : null;
            case "config_directory" -> "/etc/postfix";
            case "mail_name" -> "Postfix";
            case "default_destination_concurrency_limit" -> "20";
            case "default_transport" -> "smtp";
            case "relay_transport" -> "relay";
            default -> null; // e.g. $myhostname (the machine's name): left as written
        };
    }

    private static boolean isTable(String item) {
        int colon = item.indexOf(':');
        String type = colon > 0 ? item.substring(0, colon) : "";
        return item.startsWith("/") || TEXT_TABLE_TYPES.contains(type) || OTHER_TABLE_TYPES.contains(type);
    }

    private static Optional<String> tablePath(String item) {
        if (item.startsWith("/")) {
            return Optional.of(item);
        }
        int colon = item.indexOf(':');
        if (colon > 0 && TEXT_TABLE_TYPES.contains(item.substring(0, colon))) {
            return Optional.of(item.substring(colon + 1));
        }
        return Optional.empty();
    }

    private String readTable(String path) {
        String text = files.tables().apply(path).orElseThrow(() -> new IllegalArgumentException(
                "table " + path + " could not be read (the text source of the table, not the .db)"));
        if (!tablesRead.contains(path)) {
            tablesRead.add(path);
        }
        return text;
    }

    /** The key → value pairs of a table; a table type we cannot read is listed as not carried. */
    private Map<String, String> tableEntries(String parameter, String item) {
        Map<String, String> out = new LinkedHashMap<>();
        Optional<String> path = tablePath(item);
        if (path.isEmpty()) {
            skip(parameter, item, "only file-based tables (hash:, texthash:, lmdb:, cdb:, plain files) are imported");
            return out;
        }
        String text = readTable(path.get());
        for (TableLines.Line l : TableLines.split(text)) {
            String[] kv = l.text().split("\\s+", 2);
            out.putIfAbsent(kv[0].toLowerCase(Locale.ROOT), kv.length > 1 ? kv[1].trim() : "");
        }
        return out;
    }

    private static String network(String entry) {
        return NetworkSet.parseOne(entry).toCanonicalString();
    }

    private static boolean yes(String v) {
        return v.trim().equalsIgnoreCase("yes") || v.trim().equalsIgnoreCase("true");
    }

    private void skip(String name, String value, String reason) {
        consumed.add(name);
        notCarried.add(new NotCarried("main.cf: " + name, value, reason));
    }

    private void skipAt(String where, String name, String value, String reason) {
        if (where.equals("main.cf")) {
            skip(name, value, reason);
        } else {
            notCarried.add(new NotCarried(where + ": -o " + name, value, reason));
        }
    }

    private static String reasonFor(String name) {
        if (POSTFIX_INTERNAL.contains(name)) {
            return "ignored: Postfix internal";
        }
        if (LOCAL_DELIVERY.contains(name)) {
            return "local delivery is not a relay's job";
        }
        return switch (name) {
            case "mydomain", "myorigin", "masquerade_domains" ->
                    "this relay does not rewrite addresses; web apps send fully qualified addresses";
            case "smtp_sasl_auth_enable" -> "implied: credentials are used when smtp.sasl-password-file has an entry";
            case "smtp_sasl_security_options", "smtp_sasl_tls_security_options" ->
                    "ignored: this relay never authenticates anonymously and offers only PLAIN/LOGIN";
            case "smtp_sasl_mechanism_filter" -> "ignored: this relay uses PLAIN (or LOGIN) as offered";
            case "smtp_tls_note_starttls_offer", "smtp_tls_loglevel" -> "ignored: logging detail";
            case "smtp_extra_recipient_limit" -> "ignored: Postfix internal (queue manager batching)";
            case "smtp_tls_mandatory_protocols", "smtp_tls_protocols", "smtp_tls_mandatory_ciphers" ->
                    "the JDK's TLS defaults apply (TLSv1.2 and later)";
            case "syslog_name" -> "ignored: the mail log name is log.syslog-name";
            default -> name.startsWith("smtpd_")
                    ? "inbound policy is fixed: permit smtpd.mynetworks and smtpd.relay-domains (no inbound SASL AUTH)"
                    : "no equivalent setting in this relay";
        };
    }
}
