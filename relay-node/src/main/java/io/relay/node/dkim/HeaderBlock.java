package io.relay.node.dkim;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * A message's header block split into fields, top to bottom. Lines end in CRLF (a bare LF
 * is taken as a line end too, so a test message typed with LF still parses); a line that
 * starts with a space or tab continues the field above. The block ends at the first empty
 * line or at the end of the input.
 */
public final class HeaderBlock {
    /** Beyond this a header block is not mail; a bound so a broken spool file cannot fill the heap. */
    static final int MAX_BYTES = 4 * 1024 * 1024;

    private final List<HeaderField> fields;

    private HeaderBlock(List<HeaderField> fields) {
        this.fields = List.copyOf(fields);
    }

    public List<HeaderField> fields() {
        return fields;
    }

    /** The fields of {@code block}, which may or may not include the empty line that ends it. */
    public static HeaderBlock parse(byte[] block) {
        try {
            return read(new java.io.ByteArrayInputStream(block));
        } catch (IOException e) {
            throw new IllegalStateException("a byte array cannot fail to read", e);
        }
    }

    /**
     * Reads the header block from the start of a message and leaves {@code in} at the first
     * byte of the body (after the empty line). {@code in} should be buffered: this reads a
     * byte at a time so as not to read past the block.
     */
    public static HeaderBlock read(InputStream in) throws IOException {
        List<HeaderField> fields = new ArrayList<>();
        ByteArrayOutputStream field = new ByteArrayOutputStream();
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        long total = 0;
        while (true) {
            line.reset();
            int b;
            while ((b = in.read()) >= 0) {
                line.write(b);
                if (b == '\n') {
                    break;
                }
            }
            total += line.size();
            if (total > MAX_BYTES) {
                throw new IOException("header block longer than " + MAX_BYTES + " bytes");
            }
            byte[] l = line.toByteArray();
            boolean empty = l.length == 0 || (l.length == 1 && l[0] == '\n') || (l.length == 2 && l[0] == '\r' && l[1] == '\n');
            if (empty) {
                break;
            }
            boolean continuation = l[0] == ' ' || l[0] == '\t';
            if (!continuation && field.size() > 0) {
                fields.add(HeaderField.of(field.toByteArray()));
                field.reset();
            }
            field.write(l, 0, l.length);
            if (b < 0) {
                break;
            }
        }
        if (field.size() > 0) {
            byte[] last = field.toByteArray();
            if (last[last.length - 1] != '\n') {
                // a block cut at its last field: on the wire that field ends in CRLF
                field.write('\r');
                field.write('\n');
            }
            fields.add(HeaderField.of(field.toByteArray()));
        }
        return new HeaderBlock(fields);
    }
}
