package io.relay.node.dkim;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Which header fields a signature covers, and the h= tag that says so.
 *
 * <p>Strategy: each name of the list is signed as many times as it occurs, and the names
 * in {@code oversigned} once more. RFC 6376 §5.4.2: several instances of a name are signed
 * bottom-up (the first h= entry takes the last instance); an entry with no instance left
 * signs "no such field", so a From added above ours after signing breaks the signature
 * instead of being shown to the reader as the sender (§8.15). Names absent from the
 * message are not listed, except the over-signed ones, so a list manager adding, say,
 * List-Unsubscribe does not break our signature.
 */
public final class HeaderSelection {
    /** The fields that carry what a reader sees and what changes the meaning of the body. */
    public static final List<String> DEFAULT_NAMES = List.of("From", "Reply-To", "Subject", "Date", "To", "Cc",
            "Message-ID", "In-Reply-To", "References", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
            "Content-Disposition", "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "List-Help", "List-Post",
            "List-Subscribe", "List-Owner", "List-Archive", "Sender", "Feedback-ID");

    /** From is what DMARC checks and what the reader trusts; it is signed once more than it occurs. */
    public static final Set<String> DEFAULT_OVERSIGNED = Set.of("From");

    private static final HeaderSelection DEFAULT = new HeaderSelection(DEFAULT_NAMES, DEFAULT_OVERSIGNED);

    /** The fields to sign, in h= order (null where an over-signed entry has no field), and the h= value. */
    record Selected(List<HeaderField> fields, List<String> names) {
        String hTag() {
            return String.join(":", names);
        }
    }

    private final List<String> names;
    private final Set<String> oversignedLower;

    /**
     * @param names      the names to sign, each once, in the order h= lists them; From must be one
     * @param oversigned names signed once more than present (a subset of {@code names})
     */
    public HeaderSelection(List<String> names, Set<String> oversigned) {
        Set<String> lower = names.stream().map(n -> n.toLowerCase(Locale.ROOT)).collect(Collectors.toSet());
        if (lower.size() != names.size()) {
            throw new IllegalArgumentException("a DKIM header name is listed twice: " + names);
        }
        if (!lower.contains("from")) {
            throw new IllegalArgumentException("the DKIM header list must contain From (RFC 6376 §5.4)");
        }
        for (String n : names) {
            if (n.isEmpty() || !n.chars().allMatch(c -> c > 32 && c < 127 && c != ':')) {
                throw new IllegalArgumentException("not a header name: '" + n + "'");
            }
        }
        Set<String> over = oversigned.stream().map(n -> n.toLowerCase(Locale.ROOT)).collect(Collectors.toSet());
        if (!lower.containsAll(over)) {
            throw new IllegalArgumentException("an over-signed header is not in the DKIM header list: " + oversigned);
        }
        this.names = List.copyOf(names);
        this.oversignedLower = Set.copyOf(over);
    }

    public static HeaderSelection defaults() {
        return DEFAULT;
    }

    public List<String> names() {
        return names;
    }

    Selected select(HeaderBlock block) {
        Map<String, List<HeaderField>> byName = new HashMap<>();
        for (HeaderField f : block.fields()) {
            byName.computeIfAbsent(f.lowerName(), k -> new ArrayList<>()).add(f);
        }
        List<HeaderField> fields = new ArrayList<>();
        List<String> hNames = new ArrayList<>();
        for (String name : names) {
            String lower = name.toLowerCase(Locale.ROOT);
            List<HeaderField> present = byName.getOrDefault(lower, List.of());
            for (int i = present.size() - 1; i >= 0; i--) {
                fields.add(present.get(i));
                hNames.add(name);
            }
            if (oversignedLower.contains(lower)) {
                fields.add(null);
                hNames.add(name);
            }
        }
        return new Selected(java.util.Collections.unmodifiableList(fields), List.copyOf(hNames));
    }
}
