package io.relay.node;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.util.Locale;

/**
 * The node cannot start because something its configuration names cannot be opened: a
 * listen address that cannot be bound, a spool directory or log file that cannot be
 * written. The message is the one line an operator reads, key first, then the address or
 * path, then the reason: {@code cluster.listen 127.0.0.1:5701: address already in use}.
 * The cause (kept for the diagnostic log at DEBUG) never reaches the console.
 */
public final class StartFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private StartFailure(String line, Throwable cause) {
        super(line, cause);
    }

    /** A listener of {@code key} could not bind {@code address}. */
    static StartFailure listen(String key, Object address, Throwable cause) {
        return new StartFailure(key + " " + address + ": " + reason(cause), cause);
    }

    /** The file or directory {@code path} of {@code key} cannot be used. */
    static StartFailure path(String key, Object path, String reason, Throwable cause) {
        return new StartFailure(key + " " + path + ": " + reason, cause);
    }

    /** Whether a bind failure is among the causes (Netty and Hazelcast wrap it in their own). */
    static boolean isBind(Throwable e) {
        for (Throwable t = e; t != null && t.getCause() != t; t = t.getCause()) {
            if (t instanceof java.net.BindException) {
                return true;
            }
        }
        return false;
    }

    /** {@code host:port} as the configuration writes it ({@code [v6]:port}). */
    static String text(java.net.InetSocketAddress a) {
        String host = a.getHostString();
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
    }

    /**
     * The operating system's words for the failure, as Postfix prints them
     * ({@code address already in use}), from the innermost I/O error of the chain.
     * Hazelcast and Netty wrap the JDK's BindException in their own exceptions.
     */
    static String reason(Throwable cause) {
        IOException io = null;
        for (Throwable t = cause; t != null && t.getCause() != t; t = t.getCause()) {
            if (t instanceof IOException e) {
                io = e;
            }
        }
        if (io == null) {
            return cause == null ? "failed" : String.valueOf(cause.getMessage());
        }
        if (io instanceof java.nio.file.FileAlreadyExistsException) {
            return "exists and is not a directory";
        }
        String text = io instanceof FileSystemException fs && fs.getReason() != null ? fs.getReason()
                : io.getMessage() != null ? io.getMessage() : io.getClass().getSimpleName();
        String reason = text.isEmpty() ? text : text.substring(0, 1).toLowerCase(Locale.ROOT) + text.substring(1);
        if (reason.startsWith("permission denied") && io instanceof java.net.SocketException) {
            return reason + " (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
        }
        if (reason.startsWith("cannot assign requested address")) {
            return reason + " (not an address of this host)";
        }
        return reason;
    }
}
