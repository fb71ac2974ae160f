package io.relay.node.dkim;

import io.relay.queue.MessageBody;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Clock;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * Chooses the key(s) for one outbound message and signs it as it will be sent: the signing
 * domain is the From: domain ({@link FromDomain}); without an active key there, the
 * {@code dkim.fallback-domain}'s keys sign; without either the message goes unsigned, unless
 * its From: domain is in {@code dkim.required}, where it is held back (4.7.0) rather than
 * sent unsigned. An RSA and an Ed25519 key of one domain give two signatures.
 *
 * <p>Strategy: the header block is read and parsed, the body streamed once through the
 * {@link BodyHasher} (a spooled 40 MB body is read from disk, never held), and the
 * DKIM-Signature fields are prepended to the content as it is stored (our Received,
 * Message-ID, Date included), before dot-stuffing: the SMTP client then sends exactly the
 * signed bytes. With no key in the cluster at all and nothing required, nothing is read.
 *
 * <p>Settings: dkim.fallback-domain, dkim.required; the keys come from the cluster
 * ({@code ClusterDkimKeys}: a map lookup, no cluster call).
 */
public final class MessageSigning {
    /** What signing did with one message. */
    public sealed interface Outcome {
        /** The content to send: the signatures, then the message. */
        record Signed(MessageBody content, String domain, List<DkimAlgorithm> algorithms) implements Outcome {
        }

        /** Sent as it is; {@code reason} is a metric label (no_key, transport_off). */
        record Unsigned(String reason, String domain) implements Outcome {
        }

        /** Not to be sent now: the domain requires a signature this node cannot make, or signing failed. */
        record Held(String dsn, String reason) implements Outcome {
        }
    }

    public static final String NO_KEY = "no_key";
    public static final String TRANSPORT_OFF = "transport_off";

    private final Function<String, List<DkimKey>> keys;
    private final Supplier<Boolean> anyKeys;
    private final Function<String, Optional<String>> problems;
    private final String fallbackDomain;
    private final Set<String> required;
    private final Clock clock;

    /**
     * @param keys           domain (lower-case) → its active keys on this node, empty when none
     * @param anyKeys        whether any domain has a key at all (false: nothing is read)
     * @param problems       domain → why its key in the cluster cannot be used here, if so
     * @param fallbackDomain dkim.fallback-domain, or null
     * @param required       dkim.required
     */
    public MessageSigning(Function<String, List<DkimKey>> keys, Supplier<Boolean> anyKeys,
            Function<String, Optional<String>> problems, String fallbackDomain, Set<String> required, Clock clock) {
        this.keys = keys;
        this.anyKeys = anyKeys;
        this.problems = problems;
        this.fallbackDomain = fallbackDomain == null || fallbackDomain.isBlank() ? null : normal(fallbackDomain);
        this.required = required.stream().map(MessageSigning::normal).collect(Collectors.toSet());
        this.clock = clock;
    }

    /** Signs {@code content} (CRLF lines, not dot-stuffed) if a key is there for it. */
    public Outcome sign(MessageBody content) {
        if (required.isEmpty() && !anyKeys.get()) {
            return new Outcome.Unsigned(NO_KEY, null);
        }
        String domain = null;
        try (InputStream in = new BufferedInputStream(content.open(), 64 * 1024)) {
            HeaderBlock headers = HeaderBlock.read(in);
            domain = FromDomain.of(headers).orElse(null);
            Choice choice = choose(domain);
            if (choice instanceof Choice.Refuse r) {
                return new Outcome.Held("4.7.0", r.reason());
            }
            if (choice instanceof Choice.None) {
                return new Outcome.Unsigned(NO_KEY, domain);
            }
            List<DkimKey> signing = ((Choice.Sign) choice).keys();
            DkimSigner signer = new DkimSigner(signing, clock);
            DkimSignatures sigs = signer.sign(headers, BodyHasher.of(Canonicalization.RELAXED, in));
            return new Outcome.Signed(prepend(sigs.bytes(), content), signing.get(0).domain(),
                    signing.stream().map(DkimKey::algorithm).toList());
        } catch (IOException | RuntimeException e) {
            String d = domain == null ? "message" : domain;
            return new Outcome.Held("4.3.0", "DKIM signing for " + d + " failed: "
                    + (e instanceof IOException ? e.getMessage() : e.getClass().getSimpleName()));
        }
    }

    /** The key choice for a From: domain (null: none found), pure logic. */
    sealed interface Choice {
        record Sign(List<DkimKey> keys) implements Choice {
        }

        record None() implements Choice {
        }

        record Refuse(String reason) implements Choice {
        }
    }

    Choice choose(String fromDomain) {
        if (fromDomain != null) {
            List<DkimKey> own = keys.apply(fromDomain);
            if (!own.isEmpty()) {
                return new Choice.Sign(own);
            }
            if (required.contains(fromDomain)) {
                // never unsigned, and never under another domain's name: the receiver's DMARC wants this one
                return new Choice.Refuse("DKIM signature required for " + fromDomain + " but "
                        + problems.apply(fromDomain).map(p -> "its key is unusable on this node")
                                .orElse("it has no active DKIM key"));
            }
        }
        if (fallbackDomain != null) {
            List<DkimKey> fallback = keys.apply(fallbackDomain);
            if (!fallback.isEmpty()) {
                return new Choice.Sign(fallback);
            }
        }
        return new Choice.None();
    }

    private static String normal(String domain) {
        String d = domain.strip().toLowerCase(Locale.ROOT);
        return d.endsWith(".") ? d.substring(0, d.length() - 1) : d;
    }

    private static MessageBody prepend(byte[] signatures, MessageBody content) {
        if (content instanceof MessageBody.OnDisk d) {
            return new MessageBody.OnDisk(concat(signatures, d.prefix()), d.file(), d.fileLength());
        }
        return new MessageBody.InMemory(concat(signatures, ((MessageBody.InMemory) content).bytes()));
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = new byte[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
