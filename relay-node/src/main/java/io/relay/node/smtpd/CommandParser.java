package io.relay.node.smtpd;

import io.relay.node.log.Printable;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Parses one SMTP command line (CRLF already removed) into an {@link SmtpCommand}.
 *
 * <p>Strategy: a hand-written scanner over RFC 5321's path grammar (no regex on the hot
 * path). Tolerates what Postfix tolerates by default: case-insensitive verbs and a space
 * after {@code MAIL FROM:} / {@code RCPT TO:}. Source routes {@code <@a,@b:u@d>} are parsed
 * and dropped. Non-ASCII in an address is accepted only with SMTPUTF8 (on the MAIL command
 * itself, or on the transaction for RCPT). A HELO/EHLO argument with a character that
 * {@link Printable} would mask (a bare CR inside the line, NUL, ESC, bidi controls) is refused
 * with 501 5.5.2: it would otherwise be copied into our Received header. Never throws: every
 * malformed input gives a {@link SmtpCommand.SyntaxError} or {@link SmtpCommand.Unknown}.
 */
public final class CommandParser {
    static final String BAD_SYNTAX = "500 5.5.2 Error: bad syntax";
    static final String BAD_SENDER = "501 5.1.7 Bad sender address syntax";
    static final String BAD_RECIPIENT = "501 5.1.3 Bad recipient address syntax";
    static final String NEED_UTF8 = "553 5.6.7 Must declare SMTPUTF8 to send unicode address";

    /**
     * @param line        the command line without CRLF
     * @param utf8Session whether the current transaction declared SMTPUTF8 (for RCPT)
     */
    public SmtpCommand parse(String line, boolean utf8Session) {
        int sp = line.indexOf(' ');
        String verb = (sp < 0 ? line : line.substring(0, sp)).toUpperCase(Locale.ROOT);
        String rest = sp < 0 ? "" : line.substring(sp + 1);
        switch (verb) {
            case "EHLO":
            case "HELO": {
                String domain = rest.trim();
                if (domain.isEmpty() || domain.indexOf(' ') >= 0) {
                    return new SmtpCommand.SyntaxError(verb.toLowerCase(Locale.ROOT), "501 5.5.4 Syntax: " + verb + " hostname");
                }
                if (!Printable.isPrintable(domain)) {
                    // a bare CR, NUL, ESC or bidi override would reach our Received header and the log
                    return new SmtpCommand.SyntaxError(verb.toLowerCase(Locale.ROOT),
                            "501 5.5.2 Error: control characters in " + verb + " argument");
                }
                return verb.equals("EHLO") ? new SmtpCommand.Ehlo(domain) : new SmtpCommand.Helo(domain);
            }
            case "MAIL":
                return parseMail(rest);
            case "RCPT":
                return parseRcpt(rest, utf8Session);
            case "DATA":
                return noArgs(rest, "data", new SmtpCommand.Data(), "DATA");
            case "RSET":
                return noArgs(rest, "rset", new SmtpCommand.Rset(), "RSET");
            case "QUIT":
                return noArgs(rest, "quit", new SmtpCommand.Quit(), "QUIT");
            case "STARTTLS":
                return noArgs(rest, "starttls", new SmtpCommand.StartTls(), "STARTTLS");
            case "AUTH": {
                String[] args = rest.trim().split(" +");
                if (rest.isBlank() || args.length > 2) {
                    return new SmtpCommand.SyntaxError("auth", "501 5.5.4 Syntax: AUTH mechanism");
                }
                return new SmtpCommand.Auth(args[0].toUpperCase(Locale.ROOT), args.length == 2 ? args[1] : null);
            }
            case "NOOP":
                return new SmtpCommand.Noop(); // RFC 5321 4.1.1.9: a parameter is allowed and ignored
            case "HELP":
                return new SmtpCommand.Help();
            case "VRFY": {
                String arg = rest.trim();
                if (arg.isEmpty()) {
                    return new SmtpCommand.SyntaxError("vrfy", "501 5.5.4 Syntax: VRFY address");
                }
                return new SmtpCommand.Vrfy(arg);
            }
            default:
                if (line.isBlank()) {
                    return new SmtpCommand.SyntaxError("unknown", BAD_SYNTAX);
                }
                return new SmtpCommand.Unknown(verb);
        }
    }

    private static SmtpCommand noArgs(String rest, String verb, SmtpCommand ok, String name) {
        return rest.isBlank() ? ok : new SmtpCommand.SyntaxError(verb, "501 5.5.4 Syntax: " + name);
    }

    private SmtpCommand parseMail(String rest) {
        if (!startsWithIgnoreCase(rest, "FROM:")) {
            return new SmtpCommand.SyntaxError("mail", "501 5.5.4 Syntax: MAIL FROM:<address>");
        }
        Cursor c = new Cursor(rest, 5);
        c.skipSpaces(); // "MAIL FROM: <a@b>", tolerated as Postfix does
        Map<String, String> params;
        String address;
        int pathEnd = pathEnd(rest, c.pos);
        if (pathEnd < 0) {
            return new SmtpCommand.SyntaxError("mail", BAD_SENDER);
        }
        params = parseParams(rest, pathEnd);
        if (params == null) {
            return new SmtpCommand.SyntaxError("mail", "501 5.5.4 Bad MAIL parameter syntax");
        }
        boolean utf8 = params.containsKey("SMTPUTF8");
        String path = rest.substring(c.pos, pathEnd);
        if (path.equals("<>")) {
            address = "";
        } else {
            address = parsePath(path, utf8);
            if (address == null) {
                return new SmtpCommand.SyntaxError("mail", BAD_SENDER);
            }
            if (address == NON_ASCII) {
                return new SmtpCommand.SyntaxError("mail", NEED_UTF8);
            }
        }
        return new SmtpCommand.Mail(new SmtpCommand.ReversePath(address), params);
    }

    private SmtpCommand parseRcpt(String rest, boolean utf8) {
        if (!startsWithIgnoreCase(rest, "TO:")) {
            return new SmtpCommand.SyntaxError("rcpt", "501 5.5.4 Syntax: RCPT TO:<address>");
        }
        Cursor c = new Cursor(rest, 3);
        c.skipSpaces();
        int pathEnd = pathEnd(rest, c.pos);
        if (pathEnd < 0) {
            return new SmtpCommand.SyntaxError("rcpt", BAD_RECIPIENT);
        }
        Map<String, String> params = parseParams(rest, pathEnd);
        if (params == null) {
            return new SmtpCommand.SyntaxError("rcpt", "501 5.5.4 Bad RCPT parameter syntax");
        }
        String path = rest.substring(c.pos, pathEnd);
        String address;
        if (path.length() > 2 && path.substring(1, path.length() - 1).equalsIgnoreCase("postmaster")) {
            address = path.substring(1, path.length() - 1); // RFC 5321 4.5.1: <Postmaster> without domain
        } else {
            address = parsePath(path, utf8);
        }
        if (address == null || address.isEmpty()) {
            return new SmtpCommand.SyntaxError("rcpt", BAD_RECIPIENT);
        }
        if (address == NON_ASCII) {
            return new SmtpCommand.SyntaxError("rcpt", NEED_UTF8);
        }
        return new SmtpCommand.Rcpt(new SmtpCommand.ForwardPath(address), params);
    }

    /** Index just past the closing '>' of a path starting at {@code from}, honouring quoted strings; -1 if none. */
    private static int pathEnd(String s, int from) {
        if (from >= s.length() || s.charAt(from) != '<') {
            return -1;
        }
        boolean quoted = false;
        for (int i = from + 1; i < s.length(); i++) {
            char ch = s.charAt(i);
            if (quoted) {
                if (ch == '\\') {
                    i++;
                } else if (ch == '"') {
                    quoted = false;
                }
            } else if (ch == '"') {
                quoted = true;
            } else if (ch == '>') {
                return i + 1;
            }
        }
        return -1;
    }

    /** Parameters after the path: SP-separated {@code KEY[=VALUE]}; null when malformed. */
    private static Map<String, String> parseParams(String s, int from) {
        Map<String, String> out = new LinkedHashMap<>();
        int i = from;
        while (i < s.length()) {
            if (s.charAt(i) != ' ') {
                return null;
            }
            while (i < s.length() && s.charAt(i) == ' ') {
                i++;
            }
            if (i >= s.length()) {
                break;
            }
            int end = s.indexOf(' ', i);
            if (end < 0) {
                end = s.length();
            }
            String p = s.substring(i, end);
            int eq = p.indexOf('=');
            String key = eq < 0 ? p : p.substring(0, eq);
            String value = eq < 0 ? null : p.substring(eq + 1);
            if (key.isEmpty() || !isKeyword(key) || (value != null && !isParamValue(value))) {
                return null;
            }
            out.put(key.toUpperCase(Locale.ROOT), value);
            i = end;
        }
        return out;
    }

    private static boolean isKeyword(String k) {
        if (!isAlnum(k.charAt(0))) {
            return false;
        }
        for (int i = 1; i < k.length(); i++) {
            char c = k.charAt(i);
            if (!isAlnum(c) && c != '-') {
                return false;
            }
        }
        return true;
    }

    private static boolean isParamValue(String v) {
        if (v.isEmpty()) {
            return false;
        }
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            if (c < 33 || c > 126 || c == '=') {
                return c >= 0x80; // UTF-8 values of SMTPUTF8 sessions
            }
        }
        return true;
    }

    /** Marker result: the address is well-formed but non-ASCII without SMTPUTF8. */
    private static final String NON_ASCII = new String("non-ascii");

    /**
     * Parses {@code <[A-d-l:]mailbox>}; returns local@domain, {@link #NON_ASCII}, or null.
     */
    static String parsePath(String path, boolean utf8) {
        if (path.length() < 3 || path.charAt(0) != '<' || path.charAt(path.length() - 1) != '>') {
            return null;
        }
        String inner = path.substring(1, path.length() - 1);
        Cursor c = new Cursor(inner, 0);
        if (c.peek() == '@') { // source route: @a,@b: — parsed, then ignored (RFC 5321 4.1.1.3)
            while (true) {
                if (!c.eat('@') || !domain(c, true)) {
                    return null;
                }
                if (c.eat(',')) {
                    continue;
                }
                if (c.eat(':')) {
                    break;
                }
                return null;
            }
        }
        int start = c.pos;
        if (!localPart(c, true) || !c.eat('@')) {
            return null;
        }
        int at = c.pos - 1;
        if (c.peek() == '[') {
            if (!addressLiteral(c)) {
                return null;
            }
        } else if (!domain(c, true)) {
            return null;
        }
        if (!c.atEnd()) {
            return null;
        }
        String mailbox = inner.substring(start);
        if (at - start > 64 || mailbox.length() > 254) {
            return null;
        }
        if (!utf8) {
            for (int i = 0; i < mailbox.length(); i++) {
                if (mailbox.charAt(i) >= 0x80) {
                    return NON_ASCII;
                }
            }
        }
        return mailbox;
    }

    private static boolean localPart(Cursor c, boolean allowUtf8) {
        if (c.peek() == '"') {
            c.pos++;
            while (!c.atEnd()) {
                char ch = c.next();
                if (ch == '"') {
                    return true;
                }
                if (ch == '\\') {
                    if (c.atEnd()) {
                        return false;
                    }
                    char q = c.next();
                    if (q < 32 || q == 127) {
                        return false;
                    }
                } else if (ch < 32 || ch == 127) {
                    return false;
                }
            }
            return false;
        }
        return dotString(c);
    }

    private static boolean dotString(Cursor c) {
        if (!atom(c)) {
            return false;
        }
        while (c.peek() == '.') {
            c.pos++;
            if (!atom(c)) {
                return false;
            }
        }
        return true;
    }

    private static boolean atom(Cursor c) {
        int start = c.pos;
        while (!c.atEnd() && isAtext(c.peek())) {
            c.pos++;
        }
        return c.pos > start;
    }

    private static boolean isAtext(char ch) {
        return isAlnum(ch) || ch >= 0x80 || "!#$%&'*+-/=?^_`{|}~".indexOf(ch) >= 0;
    }

    private static boolean domain(Cursor c, boolean allowUtf8) {
        if (!subDomain(c)) {
            return false;
        }
        while (c.peek() == '.') {
            c.pos++;
            if (!subDomain(c)) {
                return false;
            }
        }
        return true;
    }

    private static boolean subDomain(Cursor c) {
        int start = c.pos;
        if (c.atEnd() || !(isAlnum(c.peek()) || c.peek() >= 0x80)) {
            return false;
        }
        while (!c.atEnd() && (isAlnum(c.peek()) || c.peek() == '-' || c.peek() >= 0x80)) {
            c.pos++;
        }
        return c.pos - start <= 63 && c.s.charAt(c.pos - 1) != '-';
    }

    private static boolean addressLiteral(Cursor c) {
        int close = c.s.indexOf(']', c.pos);
        if (close < 0) {
            return false;
        }
        String lit = c.s.substring(c.pos + 1, close);
        c.pos = close + 1;
        if (startsWithIgnoreCase(lit, "IPv6:")) {
            return ipv6(lit.substring(5));
        }
        return ipv4(lit);
    }

    static boolean ipv4(String s) {
        String[] parts = s.split("\\.", -1);
        if (parts.length != 4) {
            return false;
        }
        for (String p : parts) {
            if (p.isEmpty() || p.length() > 3) {
                return false;
            }
            for (int i = 0; i < p.length(); i++) {
                if (p.charAt(i) < '0' || p.charAt(i) > '9') {
                    return false;
                }
            }
            if (Integer.parseInt(p) > 255) {
                return false;
            }
        }
        return true;
    }

    static boolean ipv6(String s) {
        if (s.isEmpty() || s.length() > 45) {
            return false;
        }
        String hexPart = s;
        int groupsForV4 = 0;
        int lastColon = s.lastIndexOf(':');
        if (lastColon >= 0 && s.indexOf('.', lastColon) > 0) { // IPv6v4-full / -comp
            if (!ipv4(s.substring(lastColon + 1))) {
                return false;
            }
            hexPart = s.substring(0, lastColon + 1) + "0";
            groupsForV4 = 1;
        }
        int dbl = hexPart.indexOf("::");
        if (dbl >= 0 && hexPart.indexOf("::", dbl + 1) >= 0) {
            return false;
        }
        String[] groups = hexPart.replace("::", ":Z:").split(":", -1);
        int count = 0;
        for (String g : groups) {
            if (g.equals("Z")) {
                continue;
            }
            if (g.isEmpty()) {
                if (dbl < 0) {
                    return false;
                }
                continue;
            }
            if (g.length() > 4) {
                return false;
            }
            for (int i = 0; i < g.length(); i++) {
                if (Character.digit(g.charAt(i), 16) < 0) {
                    return false;
                }
            }
            count++;
        }
        int total = count + groupsForV4;
        return dbl >= 0 ? total <= 7 : total == 8;
    }

    private static boolean isAlnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    }

    private static boolean startsWithIgnoreCase(String s, String prefix) {
        return s.regionMatches(true, 0, prefix, 0, prefix.length());
    }

    private static final class Cursor {
        final String s;
        int pos;

        Cursor(String s, int pos) {
            this.s = s;
            this.pos = pos;
        }

        boolean atEnd() { return pos >= s.length(); }

        char peek() { return atEnd() ? '\0' : s.charAt(pos); }

        char next() { return s.charAt(pos++); }

        boolean eat(char ch) {
            if (peek() == ch && !atEnd()) {
                pos++;
                return true;
            }
            return false;
        }

        void skipSpaces() {
            while (peek() == ' ') {
                pos++;
            }
        }
    }
}
