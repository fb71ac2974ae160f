package io.relay.node.dkim;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.relay.node.testing.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The independent DKIM verifiers the tests ask: python3-dkim (Debian's dkimpy, Ed25519
 * through python3-nacl), fed the zone-file lines we printed in place of DNS; and OpenDKIM's
 * {@code opendkim-testmsg}, which asks real DNS through the C library's resolver. That
 * resolver only speaks to port 53 from /etc/resolv.conf, so opendkim runs in a private
 * network and mount namespace ({@code unshare}) where a dnsmasq on that namespace's own
 * 127.0.0.1:53 serves the TXT records and a bind-mounted resolv.conf points at it; the
 * machine's DNS and ports are untouched.
 */
public final class Verifiers {
    private Verifiers() {
    }

    private static final String PY = String.join("\n",
            "import sys, re",
            "import dkim",
            "records = {}",
            "for line in open(sys.argv[1]).read().splitlines():",
            "    if line.strip():",
            "        records[line.split()[0].rstrip('.').lower()] = ''.join(re.findall(r'\"([^\"]*)\"', line)).encode()",
            "def dnsfunc(name, timeout=5):",
            "    n = name.decode() if isinstance(name, bytes) else name",
            "    return records.get(n.rstrip('.').lower())",
            "for f in sys.argv[2:]:",
            "    msg = open(f, 'rb').read()",
            "    headers, body = dkim.rfc822_parse(msg)",
            "    n = sum(1 for k, v in headers if k.lower() == b'dkim-signature')",
            "    d = dkim.DKIM(msg, minkey=1024)",
            "    out = []",
            "    for i in range(n):",
            "        try:",
            "            out.append('pass' if d.verify(idx=i, dnsfunc=dnsfunc) else 'fail')",
            "        except dkim.ValidationError as e:",
            "            out.append('fail:body-hash' if str(e).startswith('body hash mismatch') else 'error:' + str(e))",
            "        except Exception as e:",
            "            out.append('error:' + type(e).__name__)",
            "    print(' '.join(out) if out else 'none')",
            "");

    /**
     * python3-dkim's verdict on each message: per message one line, per signature (top to
     * bottom) {@code pass}, {@code fail} or {@code error:...}; {@code none} without any.
     */
    public static List<String> python(Path dir, List<String> zoneLines, List<Path> messages) throws Exception {
        Tools.requirePythonModule("dkim");
        Tools.requirePythonModule("nacl");
        Path script = dir.resolve("verify.py");
        Files.writeString(script, PY);
        Path zone = dir.resolve("zone-python.txt");
        Files.write(zone, zoneLines);
        List<String> cmd = new ArrayList<>(List.of(Tools.PYTHON3, script.toString(), zone.toString()));
        messages.forEach(m -> cmd.add(m.toString()));
        Tools.Run r = Tools.run(Duration.ofSeconds(120), cmd.toArray(String[]::new));
        List<String> lines = r.output().lines().toList();
        if (r.exit() != 0 || lines.size() != messages.size()) {
            throw new AssertionError("python3-dkim verifier failed (exit " + r.exit() + "): " + r.output());
        }
        return lines;
    }

    /** Zone-line TXT strings to one text, as a resolver hands them over. */
    static String txtOf(String zoneLine) {
        Matcher m = Pattern.compile("\"([^\"]*)\"").matcher(zoneLine);
        StringBuilder b = new StringBuilder();
        while (m.find()) {
            b.append(m.group(1));
        }
        return b.toString();
    }

    /**
     * opendkim-testmsg's verdict on each message, {@code pass} (exit 0, silent) or what it
     * printed, with the records of {@code zoneLines} served by DNS.
     */
    static List<String> opendkim(Path dir, List<String> zoneLines, List<Path> messages) throws Exception {
        Tools.require(Tools.OPENDKIM_TESTMSG, Tools.DNSMASQ, Tools.UNSHARE, Tools.IP, "/usr/bin/mount");
        boolean root = "root".equals(System.getProperty("user.name"));
        List<String> unshare = new ArrayList<>(List.of(Tools.UNSHARE));
        if (!root) {
            unshare.add("-r"); // a user namespace makes us root over the new network and mounts
        }
        unshare.addAll(List.of("-n", "-m"));
        List<String> probe = new ArrayList<>(unshare);
        probe.add("/bin/true");
        Tools.Run p = Tools.run(Duration.ofSeconds(20), probe.toArray(String[]::new));
        assumeTrue(p.exit() == 0, "skipped: cannot make a network namespace here (" + p.output().strip()
                + "); opendkim-testmsg needs its resolver on port 53");

        StringBuilder sh = new StringBuilder("set -u\n");
        sh.append(Tools.IP).append(" link set lo up || exit 90\n");
        sh.append("echo 'nameserver 127.0.0.1' > '").append(dir).append("/resolv.conf'\n");
        sh.append("mount --bind '").append(dir).append("/resolv.conf' /etc/resolv.conf || exit 91\n");
        sh.append(Tools.DNSMASQ).append(" --port=53 --listen-address=127.0.0.1 --bind-interfaces --no-resolv")
                .append(" --no-hosts --conf-file=/dev/null --user=root --pid-file='").append(dir)
                .append("/dnsmasq.pid'");
        for (String line : zoneLines) {
            String name = line.split("\\s+")[0].replaceAll("\\.$", "");
            // the text whole, unquoted (dnsmasq would keep quotes on its command line); it
            // cuts the strings at 255 itself
            sh.append(" '--txt-record=").append(name).append(",").append(txtOf(line)).append("'");
        }
        sh.append(" || exit 92\n");
        sh.append("trap 'kill $(cat \"").append(dir).append("/dnsmasq.pid\")' EXIT\n");
        sh.append("for i in 1 2 3 4 5 6 7 8 9 10; do [ -s '").append(dir)
                .append("/dnsmasq.pid' ] && break; sleep 0.1; done\n");
        for (Path m : messages) {
            sh.append("out=$(").append(Tools.OPENDKIM_TESTMSG).append(" < '").append(m).append("' 2>&1); rc=$?\n");
            sh.append("if [ $rc = 0 ] && [ -z \"$out\" ]; then echo pass; else echo \"fail rc=$rc $out\" | tr '\\n' ' '; echo; fi\n");
        }
        Path script = dir.resolve("opendkim.sh");
        Files.writeString(script, sh.toString());
        List<String> cmd = new ArrayList<>(unshare);
        cmd.addAll(List.of("/bin/sh", script.toString()));
        Tools.Run r = Tools.run(Duration.ofSeconds(120), cmd.toArray(String[]::new));
        List<String> lines = r.output().lines().toList();
        if (r.exit() != 0 || lines.size() != messages.size()) {
            throw new AssertionError("opendkim run failed (exit " + r.exit() + "): " + r.output());
        }
        return lines;
    }

    static Path write(Path dir, String name, byte[] message) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, message);
        return p;
    }
}
