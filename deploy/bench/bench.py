#!/usr/bin/python3
"""The relay beside Postfix, measured in one run on this machine (issue 8). Started by run.sh.

For each scenario the harness starts fresh processes, sends with smtp-source (throughput)
and with io.relay.bench.LatencyProbe (accept latency at half the measured rate), and
measures both systems under test the same way:

* messages/s accepted: N / (smtp-source's run time); end to end: N / (time until the
  mail log shows every recipient `status=sent` at the sink);
* accept latency: end-of-DATA -> 250, p50/p99 from LatencyProbe paced at half of the
  end-to-end rate just measured (the rate the system sustains), same message shape;
* CPU: every process of a system under test runs in its own cpuacct cgroup (v1, created
  under /sys/fs/cgroup/cpuacct/relay-bench-PID/): the relay JVM(s), or Postfix's master
  and every daemon it forks (smtpd, cleanup, qmgr, smtp, trivial-rewrite, ...), including
  the ones that exit during the run. CPU seconds per 1000 messages are the cgroup's
  cpuacct.usage over the throughput run (accept and delivery). Where cgroups cannot be
  made, /proc/PID/stat of the process tree is sampled every 200 ms instead (the table says
  "sampled": processes that live shorter than that are missed);
* peak RSS: the sum of VmRSS over the system's processes, sampled every 200 ms, and for a
  single JVM at least its VmHWM.

Postfix is Debian's package run as a private instance (config, queue and log under the
work directory; the system-wide /etc/postfix is neither read nor touched), relaying to the
same smtp-sink, with Postfix's defaults otherwise (fsync'd queue files, in_flow_delay 1s)
and the same destination concurrency (50) as the relay.

The bursts of issue 17 (only when named in --only): (f) 1,000,000 x 4 KB and (f100k) 100,000 x
100 KB sent to one node with -Xmx1g while the upstream is down, then drained; (r) (f)'s burst,
then the node restarted on the same spool (kill -9, then SIGTERM) and timed until it greets,
is ready and has replayed its spool, then drained with every message counted. Per burst: the
refusals (smtp-source -A's lines by reply code, beside the relay's own counts), accept and
drain rate (and over (a)'s end-to-end rate), the heap's peak and after-GC peak (-Xlog:gc) and
its live size after full GCs (jcmd GC.run + GC.heap_info) idle and with the queue full: bytes
of heap per queued message. Postfix's same bursts beside (f) and (f100k). See burst_relay.

Issue 18 (only when named in --only): (g) scale-out at equal CPU, 1, 2 and 3 nodes behind haproxy,
each JVM in a cgroup v1 cpu group with the same CFS quota for the measured run; see measure_scaleout.
A second Postfix, "postfix-system": Debian's system setup of ../shared/bench/postfix-peer.sh run as
a separate instance (SYSTEM_POSTFIX_MAIN), beside the private one; ratios against each.

Subcommands: `run` (the benchmark; needs root), `report` (table, CSV and PNG from a
bench.json), `selftest` (the parsing and report logic on canned input, for CI).
"""
import argparse
import csv
import http.client
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
JAR = os.path.join(ROOT, "relay-node", "target", "relay-node.jar")
PROBE_CP = os.path.join(ROOT, "deploy", "target", "classes")
HAPROXY_TEMPLATE = os.path.join(ROOT, "deploy", "haproxy", "haproxy.cfg")
SENDER = "sender@app.test"
RCPT = "rcpt@example.com"

# name -> (title, sessions, bytes, rcpts, reuse connections)
SCENARIOS = {
    "a": ("20 sessions, 4 KB, 1 msg/conn", 20, 4096, 1, False),
    "b": ("20 sessions reused (-d), 10 rcpt", 20, 4096, 10, True),
    "c": ("20 sessions, 100 KB", 20, 102400, 1, False),
    "d": ("3-node cluster behind haproxy (a)", 20, 4096, 1, False),
    "e": ("queue build-up, upstream down", 20, 4096, 1, True),
    "f": ("burst of 4 KB, -Xmx1g, upstream down", 20, 4096, 1, False),
    "f100k": ("burst of 100 KB, -Xmx1g, upstream down", 20, 102400, 1, False),
    "r": ("restart with the burst queued, -Xmx1g", 20, 4096, 1, False),
    "g": ("scale-out at equal CPU, 4 KB, 1 msg/conn", 20, 4096, 1, False),
    "g-reuse": ("scale-out at equal CPU, 4 KB, reused conn (-d)", 20, 4096, 1, True),
}
SHORT = {"a": "4 KB,\n1 msg/conn", "b": "reused conn,\n10 rcpt", "c": "100 KB", "d": "3 nodes +\nhaproxy", "e": "queue\nbuild-up",
         "f": "burst 4 KB\n-Xmx1g", "f100k": "burst 100 KB\n-Xmx1g", "r": "restart\nqueue full",
         "g": "scale-out\n1 msg/conn", "g-reuse": "scale-out\nreused conn"}
# g, g-reuse: messages per node (a run with N nodes sends N times as many, to last >= 20 s at the
# quota; raised after the first 1-node run when it was faster than that: G_SECONDS), and the
# warm-up per node (without the quota; see measure_scaleout)
FULL = {"a": 20000, "b": 10000, "c": 4000, "d": 20000, "e": 200000, "f": 1000000, "f100k": 100000, "r": 1000000,
        "g": 10000, "g-reuse": 12000, "g-warmup": 10000, "warmup": 20000, "probe": 20.0}
QUICK = {"a": 2000, "b": 1000, "c": 500, "d": 2000, "e": 10000, "f": 20000, "f100k": 2000, "r": 20000,
         "g": 300, "g-reuse": 300, "g-warmup": 300, "warmup": 500, "probe": 4.0}
# the burst scenarios (issue 17): one node, the upstream down while the burst is accepted
BURSTS = ("f", "f100k", "r")
# the relay's -Xmx per scenario (RELAY_BENCH_JVM_OPTS comes after it, so it can override it)
HEAP = {"f": "1g", "f100k": "1g", "r": "1g"}
# scale-out at equal CPU (issue 18), only when named in --only ("g" names both variants)
SCALEOUT = ("g", "g-reuse")
DEFAULT_QUOTA = 0.25  # CPUs per node (cpu.cfs_quota_us / cpu.cfs_period_us); deploy/README.md says why
G_SECONDS = 25  # the measured run's length (g) aimed at: messages per node >= the 1-node rate x this
DEFAULT_HEAP = "2g"
# The INFO line (on the node's stderr) that says the spool replay at start is finished
# (queue/.../SpoolReplay.java: "spool replay: N entries re-enqueued under epoch ..."); (r)
# times it. One constant, so a new wording after the queue's rebuild is a one-line change.
SPOOL_REPLAY_DONE = re.compile(r"spool replay: ")


def log(msg):
    print(time.strftime("%H:%M:%S ") + msg, file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# ---------------------------------------------------------------- measuring

class Group:
    """The processes of one system under test: a cpuacct cgroup, or a sampled process tree."""
    BASE = "/sys/fs/cgroup/cpuacct/relay-bench-%d" % os.getpid()
    usable = None

    def __init__(self, name):
        self.name = name
        self.roots = []
        self.seen_cpu = {}  # pid -> last utime+stime ticks (sampling mode)
        if Group.usable is None:
            try:
                os.makedirs(Group.BASE, exist_ok=True)
                Group.usable = os.path.exists(os.path.join(Group.BASE, "cpuacct.usage"))
            except OSError:
                Group.usable = False
        self.path = os.path.join(Group.BASE, name) if Group.usable else None
        if self.path:
            os.makedirs(self.path, exist_ok=True)

    @property
    def mode(self):
        return "cgroup" if self.path else "sampled"

    def wrap(self, cmd):
        """The command, started inside the group (its children stay in it)."""
        if not self.path:
            return cmd
        # and in the other hierarchies' groups of `also` (g: the load generator's cpu group)
        also = "".join("echo $$ > '%s/cgroup.procs' && " % p for p in getattr(self, "also", []))
        return ["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && %sexec "$@"' % also, self.path] + cmd

    def add_root(self, pid):
        self.roots.append(pid)

    def pids(self):
        if self.path:
            with open(os.path.join(self.path, "cgroup.procs")) as f:
                return [int(x) for x in f.read().split()]
        return process_tree(self.roots)

    def cpu_seconds(self):
        if self.path:
            with open(os.path.join(self.path, "cpuacct.usage")) as f:
                return int(f.read()) / 1e9
        self.sample_cpu()
        return sum(self.seen_cpu.values()) / os.sysconf("SC_CLK_TCK")

    def sample_cpu(self):
        for pid in self.pids():
            t = proc_cpu_ticks(pid)
            if t is not None:
                self.seen_cpu[pid] = max(self.seen_cpu.get(pid, 0), t)

    def memory_kb(self, with_pss=True):
        """(summed VmRSS, summed Pss or None) of the group's processes now."""
        rss = pss = 0
        for p in self.pids():
            rss += proc_status_kb(p, "VmRSS")
            if with_pss:
                pss += proc_pss_kb(p)
        return rss, pss if with_pss else None

    def kill_all(self):
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def remove(self):
        if not self.path or not os.path.isdir(self.path):
            return
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except OSError:
                self.kill_all()
                time.sleep(0.1)


class GroupSet:
    """Several Groups read as one (a cluster whose nodes each have their own cpuacct group, so that
    the CPU of each node can be told apart): the same interface as Group, summed."""

    def __init__(self, name, groups):
        self.name, self.groups = name, groups
        self.path = groups[0].path if groups else None

    @property
    def mode(self):
        return self.groups[0].mode

    def pids(self):
        return [p for g in self.groups for p in g.pids()]

    def cpu_seconds(self):
        return sum(self.cpu_each())

    def cpu_each(self):
        return [g.cpu_seconds() for g in self.groups]

    def sample_cpu(self):
        for g in self.groups:
            g.sample_cpu()

    def memory_kb(self, with_pss=True):
        rss = pss = 0
        for g in self.groups:
            r, p = g.memory_kb(with_pss)
            rss += r
            pss += p or 0
        return rss, pss if with_pss else None

    def remove(self):
        for g in self.groups:
            g.remove()


class CpuQuota:
    """A cgroup v1 `cpu` group with a CFS quota (/sys/fs/cgroup/cpu/relay-bench-PID/NAME; the cpu
    controller is mounted apart from cpuacct here, so a process is in both kinds of group at once),
    or without one (cpus None: the load generator's). A process written to its cgroup.procs moves
    with all its threads (v1 moves the thread group).

    The quota is a ceiling, not a guarantee: on a shared machine every runnable thread outside
    any group weighs as much as a whole group (1024), so a busy many-threaded JVM next door would
    keep the nodes below their quotas. relay-bench-PID gets cpu.shares BASE_SHARES: under
    contention this run's groups come first, up to their quotas (at most N x quota plus the load
    generator; the rest of the machine keeps what is left)."""
    BASE = "/sys/fs/cgroup/cpu/relay-bench-%d" % os.getpid()
    PERIOD_US = 100000
    BASE_SHARES = 10240

    def __init__(self, name, cpus):
        self.cpus = cpus
        self.path = os.path.join(CpuQuota.BASE, name)
        try:
            if not os.path.isdir(CpuQuota.BASE):
                os.makedirs(CpuQuota.BASE)
                write_file(os.path.join(CpuQuota.BASE, "cpu.shares"), str(CpuQuota.BASE_SHARES))
            os.makedirs(self.path, exist_ok=True)
            write_file(os.path.join(self.path, "cpu.cfs_period_us"), str(CpuQuota.PERIOD_US))
            if cpus is not None:
                write_file(os.path.join(self.path, "cpu.cfs_quota_us"), str(int(round(cpus * CpuQuota.PERIOD_US))))
        except OSError as e:
            raise BenchError("cannot make the cpu cgroup %s (cgroup v1 cpu controller at /sys/fs/cgroup/cpu): %s"
                             % (self.path, e))

    def move(self, pid):
        write_file(os.path.join(self.path, "cgroup.procs"), str(pid))

    def stat(self):
        """cpu.stat: nr_periods, nr_throttled, throttled_time (ns)."""
        out = {}
        for line in read_text(os.path.join(self.path, "cpu.stat")).splitlines():
            k, _, v = line.partition(" ")
            if v.strip().isdigit():
                out[k] = int(v)
        return out

    def remove(self):
        if not os.path.isdir(self.path):
            return
        for _ in range(100):
            try:
                os.rmdir(self.path)
                return
            except OSError:
                time.sleep(0.1)  # a process still leaving (the JVM's last threads)
        log("cannot remove %s" % self.path)


def write_file(path, text):
    with open(path, "w") as f:
        f.write(text)


def machine_cpu():
    """(busy, total) jiffies of the whole machine from /proc/stat (busy: all but idle and iowait)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    total = sum(fields[:8])  # guest time is already in user
    return total - fields[3] - fields[4], total


def remove_groups():
    """Removes this run's cgroups, ending any process still in one (all of them were started by this run)."""
    if not Group.usable or not os.path.isdir(Group.BASE):
        remove_quota_groups()
        return
    for name in os.listdir(Group.BASE):
        path = os.path.join(Group.BASE, name)
        if os.path.isdir(path):
            g = Group.__new__(Group)
            g.name, g.path, g.roots, g.seen_cpu = name, path, [], {}
            g.remove()
    try:
        os.rmdir(Group.BASE)
    except OSError as e:
        log("cannot remove %s: %s" % (Group.BASE, e))
    remove_quota_groups()


def remove_quota_groups():
    """This run's cpu groups (only this run's directory: other benchmarks' groups are theirs)."""
    if not os.path.isdir(CpuQuota.BASE):
        return
    for name in os.listdir(CpuQuota.BASE):
        path = os.path.join(CpuQuota.BASE, name)
        if os.path.isdir(path):
            q = CpuQuota.__new__(CpuQuota)
            q.path = path
            q.remove()  # its JVMs were ended with their cpuacct groups
    try:
        os.rmdir(CpuQuota.BASE)
    except OSError:
        pass


def process_tree(roots):
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], list(roots)
    while todo:
        p = todo.pop()
        if os.path.exists("/proc/%d" % p):
            out.append(p)
        todo.extend(children.get(p, []))
    return out


def proc_cpu_ticks(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime
    except (OSError, ValueError, IndexError):
        return None


def proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def thread_ticks(pids):
    """(pid, tid) -> (thread name, user ticks, system ticks) of every thread of these processes now."""
    out = {}
    for pid in pids:
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for tid in tids:
            try:
                with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                    name = f.read().strip()
                with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                out[(pid, tid)] = (name, int(fields[11]), int(fields[12]))
            except (OSError, ValueError, IndexError):
                continue
    return out


def java_thread_names(pid):
    """tid -> the Java thread's full name (the kernel keeps only 15 characters of it), from jcmd Thread.print."""
    try:
        r = subprocess.run(["jcmd", str(pid), "Thread.print"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return {}
    return {str(int(m.group(2), 16)): m.group(1) for m in re.finditer(r'^"(.*)" .*?nid=0x([0-9a-f]+)', r.stdout, re.M)}


def thread_group(name):
    """A thread's kind, from its name: numbers and Hazelcast's instance part dropped (hz.relay-127.0.0.1:5701.partition-operation.thread-3 -> hz.partition-operation.thread)."""
    name = re.sub(r"^hz\.[^.]*?(\.\d+)*(:\d+)?\.", "hz.", name)
    return re.sub(r"[-_.#]?\d+$", "", re.sub(r"(?<=\D)\d+(?=\D)", "N", name)) or "?"


def thread_cpu(before, after, messages, names=None):
    """CPU seconds per 1000 messages by thread kind between two thread_ticks() snapshots, largest first
    (threads that ended between them are not counted; the JVM keeps its pools, so that is little)."""
    hz = os.sysconf("SC_CLK_TCK")
    kinds = {}
    if names is None:
        names = {}
        for pid in {key[0] for key in after}:
            names.update({(pid, tid): n for tid, n in java_thread_names(pid).items()})
    for key, (name, user, system) in after.items():
        name = names.get(key, name)
        _, user0, system0 = before.get(key, (name, 0, 0))
        k = kinds.setdefault(thread_group(name), [0, 0])
        k[0] += user - user0
        k[1] += system - system0
    rows = [(kind, (u + s) / hz / messages * 1000, s / hz / messages * 1000) for kind, (u, s) in kinds.items() if u + s]
    return [{"threads": k, "cpu_per_1000": round(c, 3), "system_per_1000": round(sy, 3)}
            for k, c, sy in sorted(rows, key=lambda r: -r[1])]


def proc_pss_kb(pid):
    """Proportional set size: shared pages (libc, Postfix's libraries) counted once over the processes."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def proc_status_kb(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class Sampler(threading.Thread):
    """Peak summed RSS (and CPU in sampling mode) of the watched groups every 200 ms, PSS every 2 s
    (smaps_rollup walks every page table: at 5 reads a second of a few JVMs with 2 GB heaps and
    Postfix's hundred processes it took a few percent of the CPU the systems under test share)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.groups = {}
        self.peaks = {}
        self.pss_peaks = {}
        self.lock = threading.Lock()
        self.start()

    def watch(self, group):
        with self.lock:
            self.groups[group.name] = group
            self.peaks[group.name] = 0
            self.pss_peaks[group.name] = 0

    def unwatch(self, group):
        with self.lock:
            self.groups.pop(group.name, None)
        return self.peaks.get(group.name, 0)

    def peak_kb(self, group):
        return self.peaks.get(group.name, 0)

    def peak_pss_kb(self, group):
        return self.pss_peaks.get(group.name, 0)

    def run(self):
        tick = 0
        while True:
            with self.lock:
                groups = list(self.groups.values())
            for g in groups:
                try:
                    rss, pss = g.memory_kb(with_pss=tick % 10 == 0)
                    if not g.path:
                        g.sample_cpu()
                except OSError:
                    continue
                self.peaks[g.name] = max(self.peaks.get(g.name, 0), rss)
                if pss is not None:
                    self.pss_peaks[g.name] = max(self.pss_peaks.get(g.name, 0), pss)
            tick += 1
            time.sleep(0.2)


class LogCounter:
    """Counts lines containing a marker in a growing log file, reading only what is new."""

    def __init__(self, paths, marker):
        self.paths = paths if isinstance(paths, list) else [paths]
        self.marker = marker.encode()
        self.offsets = {p: 0 for p in self.paths}
        self.count = 0

    def update(self):
        for p in self.paths:
            try:
                with open(p, "rb") as f:
                    f.seek(self.offsets[p])
                    data = f.read()
            except FileNotFoundError:
                continue
            end = data.rfind(b"\n") + 1
            self.count += data[:end].count(self.marker)
            self.offsets[p] += end
        return self.count

    def wait_for(self, n, timeout, what, stall=None):
        """Until `n` lines; fails after `timeout` s, or after `stall` s without a new line."""
        deadline = time.time() + timeout
        last, moved = self.update(), time.time()
        while self.update() < n:
            now = time.time()
            if self.count != last:
                last, moved = self.count, now
            if now > deadline or (stall and now - moved > stall):
                raise BenchError("%s: only %d of %d within %ds" % (what, self.count, n, now - deadline + timeout))
            time.sleep(0.1)
        return time.time()


def gc_log_figures(text):
    """The heap's figures in MB from -Xlog:gc: `peak` (largest heap in use before a pause: what
    the heap had to hold, garbage included), `after_gc_peak` (largest heap in use after a pause:
    an upper bound of the live data, since a young pause leaves the old generation's garbage),
    `live` (after the last full GC: the live data then), `capacity` (largest heap size)."""
    unit = {"K": 1 / 1024, "M": 1, "G": 1024}
    out = {"peak": 0.0, "after_gc_peak": 0.0, "live": None, "capacity": 0.0, "pauses": 0}
    for m in re.finditer(r"(Pause \w+)[^\n]*? (\d+)([KMG])->(\d+)([KMG])\((\d+)([KMG])\)", text):
        before = int(m.group(2)) * unit[m.group(3)]
        after = int(m.group(4)) * unit[m.group(5)]
        out["peak"] = max(out["peak"], before)
        out["after_gc_peak"] = max(out["after_gc_peak"], after)
        out["capacity"] = max(out["capacity"], int(m.group(6)) * unit[m.group(7)])
        out["pauses"] += 1
        if m.group(1) == "Pause Full":
            out["live"] = after
    return out


def parse_gc_log(text):
    """(peak heap used before any GC, heap after the last full GC, capacity), in MB, from -Xlog:gc."""
    g = gc_log_figures(text)
    return g["peak"], g["live"], g["capacity"]


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def parse_heap_info(text):
    """Heap in use in KB from `jcmd PID GC.heap_info`: the sum of its "total NK, used NK" lines
    (G1 prints one for the whole heap; Serial and Parallel one per generation; Metaspace has no
    "total" and is not heap)."""
    used = [int(m.group(1)) for m in re.finditer(r"total \d+K, used (\d+)K", text)]
    return sum(used) if used else None


def live_heap_mb(pid):
    """The live heap now: a full collection (`jcmd PID GC.run`, System.gc(): a full stop-the-world
    GC under G1's defaults), then the heap in use (`GC.heap_info`, KB precision, where the GC log
    rounds to MB)."""
    subprocess.run(["jcmd", str(pid), "GC.run"], capture_output=True, timeout=300)
    r = subprocess.run(["jcmd", str(pid), "GC.heap_info"], capture_output=True, text=True, timeout=120)
    kb = parse_heap_info(r.stdout)
    return kb / 1024 if kb is not None else None


def parse_metric(text, name, labels=None):
    """Sum of the samples of one Prometheus family whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        m = re.match(r"([a-zA-Z_:]+)(\{[^}]*\})?\s+([0-9.eE+-]+|NaN)", line)
        if not m or m.group(1) != name:
            continue
        if labels and not all('%s="%s"' % kv in (m.group(2) or "") for kv in labels.items()):
            continue
        total += float(m.group(3))
    return total


# ---------------------------------------------------------------- processes

def free_port():
    for _ in range(200):
        p = random.randint(27000, 28999)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
                return p
            except OSError:
                continue
    raise BenchError("no free port in 27000-28999")


def greets(port, timeout=1.0):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(5)
            banner = s.recv(512)
            s.sendall(b"QUIT\r\n")
            return banner.startswith(b"220")
    except OSError:
        return False


def wait_greeting(port, proc, timeout, what):
    deadline = time.time() + timeout
    while not greets(port):
        if proc is not None and proc.poll() is not None:
            raise BenchError("%s exited with %s before greeting on port %d" % (what, proc.returncode, port))
        if time.time() > deadline:
            raise BenchError("%s did not greet on port %d within %ds" % (what, port, timeout))
        time.sleep(0.2)


def wait_ready(health_port, proc, timeout, what):
    """Until /readyz answers 200 (the SMTP listener accepts; behind a PROXY gate a plain greeting never comes)."""
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % health_port, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None:
            raise BenchError("%s exited with %s before it was ready" % (what, proc.returncode))
        if time.time() > deadline:
            raise BenchError("%s was not ready (/readyz on port %d) within %ds" % (what, health_port, timeout))
        time.sleep(0.3)


class Procs:
    """Everything the harness started, stopped in reverse order (also on Ctrl-C)."""

    def __init__(self):
        self.items = []

    def add(self, proc, stop=None):
        self.items.append((proc, stop))
        return proc

    def stop_all(self):
        while self.items:
            proc, stop = self.items.pop()
            try:
                if stop:
                    stop()
                elif proc.poll() is None:
                    proc.terminate()
                    try:
                        proc.wait(15)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
            except Exception as e:  # keep stopping the others
                log("stopping: %s" % e)


class Sink:
    def __init__(self, procs, work, port=None, group=None):
        self.port = port or free_port()
        self.out = open(os.path.join(work, "sink-%d.out" % self.port), "w")
        self.proc = None
        self.procs = procs
        self.group = group  # (g) measures the load generator's own CPU

    def start(self):
        cmd = ["smtp-sink", "-u", "nobody", "127.0.0.1:%d" % self.port, "512"]
        self.proc = self.procs.add(subprocess.Popen(
            self.group.wrap(cmd) if self.group else cmd,
            stdout=self.out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
        wait_greeting(self.port, self.proc, 10, "smtp-sink")


class RelayNodes:
    """One relay node, or a cluster of them, each in the same cgroup (per_node_groups: each node
    in a cgroup of its own, `group` their sum)."""

    def __init__(self, ctx, name, count, sink_port, extra_yaml="", gc_log=False, admin=False, proxy=False,
                 xmx=DEFAULT_HEAP, per_node_groups=False):
        self.ctx, self.count, self.xmx, self.gc_log = ctx, count, xmx, gc_log
        t_start = time.time()
        self.dir = os.path.join(ctx.work, name)
        os.makedirs(self.dir)
        if per_node_groups:
            self.node_groups = [Group("%s-node%d" % (name, i)) for i in range(count)]
            self.group = GroupSet(name, self.node_groups)
        else:
            self.group = Group(name)
            self.node_groups = [self.group] * count
        self.smtp = [free_port() for _ in range(count)]
        self.health = [free_port() for _ in range(count)]
        self.cluster = [free_port() for _ in range(count)]
        self.admin_port = free_port() if admin else None
        self.token = None
        members = ", ".join('"127.0.0.1:%d"' % p for p in self.cluster)
        self.logs, self.procs, self.gc_logs, self.errs = [], [], [], []
        for i in range(count):
            d = os.path.join(self.dir, "node%d" % i)
            os.makedirs(d)
            admin_yaml = ""
            if admin and i == 0:
                self.token = "%032x" % random.getrandbits(128)
                tf = os.path.join(d, "admin.token")
                with open(os.open(tf, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                    f.write(self.token + "\n")
                admin_yaml = "admin:\n  listen: 127.0.0.1:%d\n  token-file: %s\n" % (self.admin_port, tf)
            proxy_yaml = "  proxy-protocol:\n    trusted-networks: [127.0.0.1/32]\n" if proxy else ""
            yaml = (
                "smtpd:\n  listen: [\"127.0.0.1:%d\"]\n  hostname: bench-node%d.test\n  mynetworks: [127.0.0.0/8]\n%s"
                "smtp:\n  default-transport: smtp\n  relayhost: \"[127.0.0.1]:%d\"\n  tls-security-level: none\n"
                "  destination-concurrency-limit: 50\n"
                "queue:\n  spool-dir: %s/spool\n"
                "health:\n  listen: 127.0.0.1:%d\n  drain-delay: 0s\n  drain-timeout: 5s\n"
                "cluster:\n  name: %s\n  listen: 127.0.0.1:%d\n  members: [%s]\n"
                "log:\n  file: %s/mail.log\n%s"
                % (self.smtp[i], i, proxy_yaml, sink_port, d, self.health[i], "bench-%s-%d" % (name, os.getpid()),
                   self.cluster[i], members, d, admin_yaml))
            yaml = merge_yaml(merge_yaml(yaml, extra_yaml), os.environ.get("RELAY_BENCH_YAML", "").replace("\\n", "\n"))
            with open(os.path.join(d, "relay.yaml"), "w") as f:
                f.write(yaml)
            self.logs.append(os.path.join(d, "mail.log"))
            self.gc_logs.append(None)
            self.errs.append(None)
            self.procs.append(None)
            self.launch(i)
        for i in range(count):
            wait_ready(self.health[i], self.procs[i], 180, "relay node %d" % i)
        self.ready_s = time.time() - t_start
        if count > 1:
            deadline = time.time() + 120
            while not all(members_seen(self.health[i]) >= count for i in range(count)):
                if time.time() > deadline:
                    raise BenchError("the %d relay nodes did not form one cluster within 120s" % count)
                time.sleep(0.5)
        ctx.sampler.watch(self.group)

    def launch(self, i, tag=""):
        """Starts node i's JVM (again, on the same configuration and spool, with `tag` in the names
        of its new stderr and GC log); returns the time just before the process was started."""
        d = os.path.join(self.dir, "node%d" % i)
        jvm = ["java", "-Xmx" + self.xmx] + os.environ.get("RELAY_BENCH_JVM_OPTS", "").split()
        if self.gc_log:
            self.gc_logs[i] = os.path.join(d, "gc%s.log" % tag)
            jvm.append("-Xlog:gc:file=%s" % self.gc_logs[i])
        self.errs[i] = os.path.join(d, "node%s.err" % tag)
        cmd = self.node_groups[i].wrap(jvm + ["-jar", JAR, "--config", os.path.join(d, "relay.yaml")])
        t0 = time.time()
        p = subprocess.Popen(cmd, stdout=open(os.path.join(d, "node%s.out" % tag), "w"),
                             stderr=open(self.errs[i], "w"), stdin=subprocess.DEVNULL)
        self.node_groups[i].add_root(p.pid)
        self.ctx.procs.add(p, lambda p=p: stop_process(p, 30))
        self.procs[i] = p
        return t0

    def sent(self):
        return LogCounter(self.logs, " status=sent ")

    def check_alive(self, when):
        for i, p in enumerate(self.procs):
            if p.poll() is not None:
                err = self.errs[i]
                with open(err, errors="replace") as f:
                    lines = [l.strip() for l in f if "Error" in l or "Exception" in l]
                raise BenchError("relay node %d exited with %s %s; %s" % (i, p.returncode, when,
                                                                        lines[0][:200] if lines else "see " + err))

    def peak_rss_kb(self):
        peak = self.ctx.sampler.peak_kb(self.group)
        if self.count == 1:
            peak = max(peak, proc_status_kb(java_pid(self.procs[0]), "VmHWM"))
        return peak

    def metrics(self, i=0, timeout=30):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.health[i], timeout=timeout) as r:
            return r.read().decode()

    def admin(self, path, body):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.admin_port, path), data=json.dumps(body).encode(),
                                     headers={"Authorization": "Bearer " + self.token,
                                              "Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=1800) as r:
            return json.loads(r.read().decode())

    def stop(self):
        for p in self.procs:
            stop_process(p, 30)
        self.ctx.sampler.unwatch(self.group)
        self.group.remove()


def members_seen(health_port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % health_port, timeout=5) as r:
            return parse_metric(r.read().decode(), "relay_cluster_members")
    except OSError:
        return 0


def merge_yaml(base, extra):
    """Adds `extra` lines ("section:\\n  key: value") into the matching top-level sections of `base`."""
    if not extra:
        return base
    lines = base.splitlines()
    section = None
    for line in extra.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            section = line.rstrip(":")
            if not any(l == section + ":" for l in lines):
                lines.append(section + ":")
            continue
        idx = lines.index(section + ":") + 1
        while idx < len(lines) and lines[idx].startswith(" "):
            idx += 1
        lines.insert(idx, line)
    return "\n".join(lines) + "\n"


def java_pid(p):
    """The JVM's pid: the Popen'd process is the JVM itself (sh exec'd into it)."""
    return p.pid


def stop_process(p, timeout):
    if p.poll() is not None:
        return
    p.terminate()
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


POSTFIX_MAIN = """\
# private Postfix instance of the relay benchmark (deploy/bench/bench.py): Debian's defaults
# except what a relay to one smart host needs, and the relay's destination concurrency
compatibility_level = 3.6
queue_directory = {dir}/spool
data_directory = {dir}/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = {dir}/maillog
maillog_file_prefixes = /var, /dev/stdout, {dir}
myhostname = bench-postfix.test
mydomain = test
inet_interfaces = loopback-only
inet_protocols = ipv4
mydestination =
local_transport = error:5.1.1 local delivery is disabled
alias_maps =
alias_database =
biff = no
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
relayhost = [127.0.0.1]:{sink}
smtp_tls_security_level = none
default_destination_concurrency_limit = 50
smtp_destination_concurrency_limit = 50
"""

POSTFIX_MASTER = """\
127.0.0.1:{port} inet n -  n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


# "postfix-system" (issue 18): Debian's system Postfix as ../shared/bench/postfix-peer.sh sets it up
# (its main.cf word for word, Debian's master.cf with the SMTP listener moved and unchrooted, every
# other service chrooted as Debian ships it), run as a separate instance so that the machine's own
# /etc/postfix is neither read nor changed: its own config directory, queue and data directory and
# maillog in the work directory (the lines after the blank one), the chroot prepared by Debian's
# own /usr/lib/postfix/configure-instance.sh.
SYSTEM_POSTFIX_MAIN = """\
compatibility_level = 3.6
myhostname = peer-relay.test
mydomain = test
inet_interfaces = loopback-only
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:{sink}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
maillog_file = {dir}/maillog
default_destination_concurrency_limit = 50
smtp_destination_concurrency_limit = 50
alias_maps =
alias_database =

queue_directory = {dir}/spool
data_directory = {dir}/data
"""
DEBIAN_MASTER = ("/usr/share/postfix/master.cf.dist", "/etc/postfix/master.cf")
DEBIAN_SMTPD = re.compile(r"^smtp\s+inet\s+n\s+-\s+\S+\s+-\s+-\s+smtpd$", re.M)
CONFIGURE_INSTANCE = "/usr/lib/postfix/configure-instance.sh"
POSTFIXES = ("postfix", "postfix-system")


def system_master_cf(port):
    """Debian's master.cf as the package installs it, the `smtp inet` listener on 127.0.0.1:PORT
    and unchrooted (postfix-peer.sh's sed)."""
    for path in DEBIAN_MASTER:
        text = read_text(path)
        if DEBIAN_SMTPD.search(text):
            return DEBIAN_SMTPD.sub("127.0.0.1:%d      inet  n       -       n       -       -       smtpd" % port, text, 1)
    raise BenchError("no Debian master.cf with an `smtp inet ... smtpd` line in %s" % " or ".join(DEBIAN_MASTER))


class Postfix:
    """A Postfix instance of its own (master -d under setsid), its processes in one cgroup: the
    harness's private one (flavor "postfix"), or Debian's system setup (flavor "postfix-system")."""

    def __init__(self, ctx, name, sink_port, extra="", flavor="postfix"):
        self.ctx, self.flavor = ctx, flavor
        self.dir = os.path.join(ctx.work, name)
        self.etc = os.path.join(self.dir, "etc")
        os.makedirs(self.etc)
        os.makedirs(os.path.join(self.dir, "spool"))
        data = os.path.join(self.dir, "data")
        os.makedirs(data)
        shutil.chown(data, "postfix")
        self.port = free_port()
        self.maillog = os.path.join(self.dir, "maillog")
        system = flavor == "postfix-system"
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write((SYSTEM_POSTFIX_MAIN if system else POSTFIX_MAIN).format(dir=self.dir, sink=sink_port) + extra)
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(system_master_cf(self.port) if system else POSTFIX_MASTER.format(port=self.port))
        self.env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C", "MAIL_CONFIG": self.etc}
        self.run(["postfix", "-c", self.etc, "check"])
        if system:
            # the chrooted daemons' etc/, libraries and devices in the queue directory, as Debian's
            # postfix.service prepares them (MAIL_CONFIG points its postconf at this instance)
            self.run(["/bin/sh", CONFIGURE_INSTANCE, "-"])
        with open(os.path.join(self.dir, "postconf-n.txt"), "w") as f:
            f.write(self.run(["postconf", "-c", self.etc, "-n"]))
        daemons = self.run(["postconf", "-c", self.etc, "-h", "daemon_directory"]).strip()
        self.group = Group(name)
        cmd = self.group.wrap(["setsid", "-w", daemons + "/master", "-c", self.etc, "-d"])
        self.master = subprocess.Popen(cmd, env=self.env, stdout=open(os.path.join(self.dir, "master.out"), "w"),
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.group.add_root(self.master.pid)
        ctx.procs.add(self.master, self.stop)
        wait_greeting(self.port, self.master, 30, "Postfix")
        ctx.sampler.watch(self.group)

    def run(self, cmd):
        r = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise BenchError("%s exited with %d: %s" % (" ".join(cmd), r.returncode, (r.stdout + r.stderr).strip()))
        return r.stdout

    def sent(self):
        return LogCounter(self.maillog, " status=sent ")

    def peak_rss_kb(self):
        return self.ctx.sampler.peak_kb(self.group)

    def stop(self):
        if self.master.poll() is None:
            self.master.terminate()
            try:
                self.master.wait(10)
            except subprocess.TimeoutExpired:
                pass
        if not self.group.path:
            for pid in self.group.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.ctx.sampler.unwatch(self.group)
        self.group.remove()
        if self.master.poll() is None:
            self.master.kill()
            self.master.wait()


def haproxy_config(template, port, stats_socket, servers):
    """deploy/haproxy/haproxy.cfg from `defaults` on, for loopback: the smtp frontend on `port`,
    one server per (smtp port, health port), no submission listener, a global of our own."""
    body = template[template.index("\ndefaults") + 1:]
    sections = re.split(r"\n(?=(?:defaults|frontend|backend|listen)\b)", body)
    keep = [x for x in sections if not re.match(r"(frontend submission|backend relay_submission)\b", x)]
    body = "\n".join(keep)
    if "send-proxy-v2" not in body or "option httpchk GET /readyz" not in body or "bind :25" not in body:
        raise BenchError("deploy/haproxy/haproxy.cfg no longer has the shape the benchmark expects")
    body = body.replace("bind :25", "bind 127.0.0.1:%d" % port)
    lines = "".join("    server relay%d 127.0.0.1:%d check port %d\n" % (i + 1, s, h) for i, (s, h) in enumerate(servers))
    body = re.sub(r"(    server relay\d+ [^\n]*\n)+", lambda m: lines, body)
    body = re.sub(r"\n\s*log global[^\n]*", "", body)
    return "global\n    maxconn 4000\n    stats socket %s mode 600 level admin\n\n%s" % (stats_socket, body)


class Haproxy:
    """haproxy from deploy/haproxy/haproxy.cfg (defaults on), with loopback addresses and ports."""

    def __init__(self, ctx, nodes):
        self.ctx = ctx
        self.port = free_port()
        self.dir = os.path.join(ctx.work, "haproxy-%d" % ctx.round)
        os.makedirs(self.dir)
        self.sock = os.path.join(self.dir, "stats.sock")
        with open(HAPROXY_TEMPLATE) as f:
            template = f.read()
        self.cfg_text = haproxy_config(template, self.port, self.sock,
                                       [(nodes.smtp[i], nodes.health[i]) for i in range(nodes.count)])
        self.cfg = os.path.join(self.dir, "haproxy.cfg")
        with open(self.cfg, "w") as f:
            f.write(self.cfg_text)
        self.group = Group("haproxy")
        self.proc = subprocess.Popen(self.group.wrap(["haproxy", "-db", "-f", self.cfg]),
                                     stdout=open(os.path.join(self.dir, "haproxy.out"), "w"),
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.group.add_root(self.proc.pid)
        ctx.procs.add(self.proc, self.stop)
        deadline = time.time() + 60
        while self.up() < nodes.count:
            if self.proc.poll() is not None:
                raise BenchError("haproxy exited with %s; see %s/haproxy.out" % (self.proc.returncode, self.dir))
            if time.time() > deadline:
                raise BenchError("haproxy did not see %d servers UP within 60s" % nodes.count)
            time.sleep(0.5)

    def up(self):
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(self.sock)
                s.sendall(b"show stat\n")
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        except OSError:
            return 0
        rows = list(csv.reader(io.StringIO(data.decode().lstrip("# "))))
        if not rows:
            return 0
        head = rows[0]
        return sum(1 for r in rows[1:] if len(r) == len(head) and r[0] == "relay_smtp"
                   and r[1] not in ("BACKEND", "FRONTEND") and r[head.index("status")].startswith("UP"))

    def stop(self):
        stop_process(self.proc, 10)
        self.group.remove()


# ---------------------------------------------------------------- the scenarios

def smtp_source(port, n, sessions, size, rcpts, reuse, sender=SENDER, check=True, group=None):
    cmd = ["smtp-source", "-s", str(sessions), "-m", str(n), "-l", str(size), "-f", sender, "-t", RCPT]
    if rcpts > 1:
        cmd += ["-r", str(rcpts)]
    if reuse:
        cmd.append("-d")
    cmd.append("127.0.0.1:%d" % port)
    if group:
        cmd = group.wrap(cmd)
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    t1 = time.time()
    if r.returncode != 0 and check:
        raise BenchError("smtp-source to port %d exited with %d: %s" % (port, r.returncode, (r.stdout + r.stderr).strip()[-300:]))
    return t0, t1, r


def probe(port, rate, seconds, sessions, size, rcpts, reuse):
    cmd = ["java", "-cp", PROBE_CP, "io.relay.bench.LatencyProbe", "--port", str(port), "--rate", "%.1f" % rate,
           "--seconds", str(seconds), "--warmup", "3" if seconds >= 10 else "1", "--sessions", str(sessions),
           "--size", str(size), "--rcpts", str(rcpts)] + (["--reuse"] if reuse else [])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds * 4 + 120)
    if r.returncode != 0:
        raise BenchError("LatencyProbe exited with %d: %s" % (r.returncode, r.stderr.strip()[-300:]))
    return json.loads(r.stdout.strip().splitlines()[-1])


def throughput(ctx, system, port, scen, n, warm_per_jvm=None, before_measure=None, load=None, sessions=None):
    """Warm-up, then N messages with smtp-source; returns the figures of the run. (g): `before_measure`
    runs between the two (the CPU quotas go on), and `load` {name: Group} (haproxy, smtp-source,
    smtp-sink) has its CPU over the measured run reported in cores, beside the machine's; `sessions`
    overrides the scenario's concurrency."""
    _, default_sessions, size, rcpts, reuse = SCENARIOS[scen]
    sessions = sessions or default_sessions
    sent = system.sent()
    # the JIT compiles the hot paths during the first ~20k messages (a third of the CPU then):
    # warm up with as many messages as the run, at most the configured warm-up, per JVM (each
    # node of a cluster compiles the same code from the share of the traffic it gets)
    # (g): a fixed warm-up per node whatever the run's count (the 1-node run sends the fewest)
    warm = (warm_per_jvm or min(ctx.counts["warmup"], n)) * getattr(system, "count", 1)
    source_group = (load or {}).get("smtp-source")
    smtp_source(port, warm, sessions, size, rcpts, reuse, group=source_group)
    sent.wait_for(warm * rcpts, 600, "warm-up deliveries")
    if before_measure:
        before_measure()
    base = sent.update()
    java = [p for p in system.group.pids() if ctx.thread_cpu and proc_comm(p) == "java"]
    threads0 = thread_ticks(java)
    each0 = system.group.cpu_each() if hasattr(system.group, "cpu_each") else None
    per_node = [LogCounter(path, " status=sent ") for path in system.logs] if each0 is not None else []
    delivered0 = [c.update() for c in per_node]
    load0 = {k: g.cpu_seconds() for k, g in (load or {}).items()}
    machine0 = machine_cpu()
    cpu0 = system.group.cpu_seconds()
    t0, t1, _ = smtp_source(port, n, sessions, size, rcpts, reuse, group=source_group)
    t2 = sent.wait_for(base + n * rcpts, 1800, "deliveries")
    cpu1 = system.group.cpu_seconds()
    machine1 = machine_cpu()
    r = {"accepted_per_s": n / (t1 - t0), "e2e_per_s": n / (t2 - t0), "cpu_per_1000": (cpu1 - cpu0) / n * 1000,
         "messages": n, "cpu_mode": system.group.mode}
    if load is not None:
        wall = t2 - t0
        r["run_s"] = wall
        r["nodes_cores"] = (cpu1 - cpu0) / wall
        for k, g in load.items():
            r["%s_cores" % k] = (g.cpu_seconds() - load0[k]) / wall
        r["load_cores"] = sum(r["%s_cores" % k] for k in load)
        r["load_cpu_per_1000"] = r["load_cores"] * wall / n * 1000
        # the whole machine's busy cores over the run: ours, and whatever else ran beside it
        r["machine_busy_cores"] = (machine1[0] - machine0[0]) / max(1, machine1[1] - machine0[1]) * (os.cpu_count() or 1)
        r["others_cores"] = max(0.0, r["machine_busy_cores"] - r["nodes_cores"] - r["load_cores"])
        r["headroom_cores"] = (os.cpu_count() or 1) - r["machine_busy_cores"]
    if each0 is not None:
        r["node_cpu_s"] = [b - a for a, b in zip(each0, system.group.cpu_each())]
        r["node_delivered"] = [c.update() - d0 for c, d0 in zip(per_node, delivered0)]
    if java:
        r["thread_cpu"] = thread_cpu(threads0, thread_ticks(java), n)
        log("  CPU s/1000 messages by thread: " + ", ".join("%s %.3f" % (t["threads"], t["cpu_per_1000"])
                                                           for t in r["thread_cpu"][:12]))
    return r


def latency(ctx, port, scen, e2e_rate):
    _, sessions, size, rcpts, reuse = SCENARIOS[scen]
    rate = max(1.0, e2e_rate / 2)
    p = probe(port, rate, ctx.counts["probe"], sessions, size, rcpts, reuse)
    bad = sum(p["errors"].values())
    return {"p50_ms": p["p50_ms"], "p99_ms": p["p99_ms"], "probe_rate": p["rate"],
            "probe_achieved": p["achieved_rate"], "probe_errors": bad, "probe_slip_ms": p["max_slip_ms"]}


def measure_relay(ctx, scen):
    sink = Sink(ctx.procs, ctx.work)
    sink.start()
    nodes = RelayNodes(ctx, "relay-%s-%d" % (scen, ctx.round), 1, sink.port)
    try:
        r = throughput(ctx, nodes, nodes.smtp[0], scen, ctx.counts[scen])
        r.update(latency(ctx, nodes.smtp[0], scen, r["e2e_per_s"]))
        r["peak_rss_mb"] = nodes.peak_rss_kb() / 1024
        r["peak_pss_mb"] = ctx.sampler.peak_pss_kb(nodes.group) / 1024
        return r
    finally:
        nodes.stop()
        stop_process(sink.proc, 5)


def measure_cluster(ctx):
    sink = Sink(ctx.procs, ctx.work)
    sink.start()
    nodes = RelayNodes(ctx, "cluster-%d" % ctx.round, 3, sink.port, proxy=True)
    lb = None
    try:
        lb = Haproxy(ctx, nodes)
        ctx.sampler.watch(lb.group)
        lb_cpu0 = lb.group.cpu_seconds()
        r = throughput(ctx, nodes, lb.port, "d", ctx.counts["d"])
        r["haproxy_cpu_per_1000"] = (lb.group.cpu_seconds() - lb_cpu0) / (ctx.counts["d"] + min(ctx.counts["warmup"], ctx.counts["d"]) * nodes.count) * 1000
        r.update(latency(ctx, lb.port, "d", r["e2e_per_s"]))
        r["peak_rss_mb"] = nodes.peak_rss_kb() / 1024
        r["peak_pss_mb"] = ctx.sampler.peak_pss_kb(nodes.group) / 1024
        return r
    finally:
        if lb:
            ctx.sampler.unwatch(lb.group)
            lb.stop()
        nodes.stop()
        stop_process(sink.proc, 5)


def measure_scaleout(ctx, scen, count):
    """(g): `count` nodes behind haproxy, each JVM in a cpuacct group of its own and, for the
    measured run, in a cpu group of its own with the same CFS quota (ctx.quota CPUs); haproxy,
    smtp-source and smtp-sink outside the quotas, each in a cpuacct group so that their cores are
    reported beside the nodes' (the load generator must not be what limits). The nodes start and
    warm up (JIT) without the quota; it goes on just before the measured run: each JVM's pid is
    written to its cpu group's cgroup.procs (all its threads move). No latency probe: (g) is
    about throughput."""
    name = "scale-%s-%dn-%d" % (scen, count, ctx.round)
    load = {"haproxy": None, "smtp-source": Group("g-source-%d" % ctx.round),
            "smtp-sink": Group("g-sink-%d" % ctx.round)}
    # the load generator and haproxy: no quota, but in this run's cpu hierarchy (see CpuQuota)
    load_cpu = CpuQuota("%s-load" % name, None)
    load["smtp-source"].also = load["smtp-sink"].also = [load_cpu.path]
    sink = Sink(ctx.procs, ctx.work, group=load["smtp-sink"])
    sink.start()
    nodes, lb, quotas, stat0 = None, None, [], []
    try:
        nodes = RelayNodes(ctx, name, count, sink.port, proxy=True, per_node_groups=True)
        lb = Haproxy(ctx, nodes)
        load_cpu.move(lb.proc.pid)
        load["haproxy"] = lb.group
        quotas = [CpuQuota("%s-node%d" % (name, i), ctx.quota) for i in range(count)]

        def cap():
            for q, p in zip(quotas, nodes.procs):
                q.move(java_pid(p))
            stat0.extend(q.stat() for q in quotas)

        n = ctx.counts[scen] * count
        # N nodes get N times the work: N times the messages and, unless --g-fixed-sessions, N times
        # the concurrent sessions, so each node sees the concurrency the single node saw (with 20
        # sessions shared by 3 nodes each would batch its fsyncs, copies and event-loop wakeups over
        # a third as many sessions, which is not what adding nodes to a growing load looks like)
        sessions = SCENARIOS[scen][1] * (1 if ctx.g_fixed_sessions else count)
        r = throughput(ctx, nodes, lb.port, scen, n, warm_per_jvm=ctx.counts["g-warmup"], before_measure=cap, load=load,
                       sessions=sessions)
        r["sessions"] = sessions
        nodes.check_alive("after the measured run")
        stat1 = [q.stat() for q in quotas]
        diff = lambda a, b, k: b.get(k, 0) - a.get(k, 0)
        r.update({
            "nodes": count, "quota_cpus": ctx.quota, "cpu_shares": CpuQuota.BASE_SHARES,
            "node_cores": [c / r["run_s"] for c in r["node_cpu_s"]],
            "node_cpu_per_1000": [c / d * 1000 if d else None for c, d in zip(r["node_cpu_s"], r["node_delivered"])],
            # the share of CFS periods in which a node used up its quota: near 1, the quota is what limits
            "node_throttled": [diff(a, b, "nr_throttled") / max(1, diff(a, b, "nr_periods")) for a, b in zip(stat0, stat1)],
            "quota_use": r["nodes_cores"] / (count * ctx.quota),
            "peak_rss_mb": nodes.peak_rss_kb() / 1024})
        log("  %d node(s) at %.2f CPU each: %.0f msg/s end to end, nodes %.2f cores (%.0f%% of their quotas, "
            "throttled in %s of the periods), haproxy+smtp-source+smtp-sink %.2f cores, machine busy %.2f of %d"
            % (count, ctx.quota, r["e2e_per_s"], r["nodes_cores"], 100 * r["quota_use"],
               "/".join("%.0f%%" % (100 * t) for t in r["node_throttled"]), r["load_cores"],
               r["machine_busy_cores"], os.cpu_count() or 1))
        return r
    finally:
        if lb:
            lb.stop()
        if nodes:
            nodes.stop()
            remove_spools(nodes.dir, ctx.keep)
        stop_process(sink.proc, 5)
        for q in quotas + [load_cpu]:
            q.remove()
        for g in (load["smtp-source"], load["smtp-sink"]):
            g.remove()


def median_thread_cpu(runs):
    """thread_cpu of several runs: the median per thread kind (0 in a run without it), largest first."""
    kinds = {}
    for i, r in enumerate(runs):
        for t in r.get("thread_cpu") or []:
            kinds.setdefault(t["threads"], [[0.0] * len(runs), [0.0] * len(runs)])
            kinds[t["threads"]][0][i] = t["cpu_per_1000"]
            kinds[t["threads"]][1][i] = t["system_per_1000"]
    rows = [{"threads": k, "cpu_per_1000": round(statistics.median(c), 3), "system_per_1000": round(statistics.median(sy), 3)}
            for k, (c, sy) in kinds.items()]
    return sorted([x for x in rows if x["cpu_per_1000"]], key=lambda x: -x["cpu_per_1000"])


def measure_postfix(ctx, scen, flavor="postfix"):
    sink = Sink(ctx.procs, ctx.work)
    sink.start()
    pf = Postfix(ctx, "%s-%s-%d" % (flavor, scen, ctx.round), sink.port, flavor=flavor)
    try:
        r = throughput(ctx, pf, pf.port, scen, ctx.counts[scen])
        r.update(latency(ctx, pf.port, scen, r["e2e_per_s"]))
        r["peak_rss_mb"] = pf.peak_rss_kb() / 1024
        r["peak_pss_mb"] = ctx.sampler.peak_pss_kb(pf.group) / 1024
        return r
    finally:
        pf.stop()
        stop_process(sink.proc, 5)


def build_up_relay(ctx):
    """Scenario (e) for the relay: inject N with the sink down, then sink up and `queue retry --all`."""
    n = ctx.counts["e"]
    _, sessions, size, rcpts, reuse = SCENARIOS["e"]
    sink = Sink(ctx.procs, ctx.work)  # not started: the upstream is down
    extra = ("queue:\n  max-messages: %d\n  max-bytes: %d\n  minimal-backoff-time: 3600s\n  maximal-backoff-time: 4000s\n"
             "smtp:\n  breaker:\n    open-time: 2s\n" % (n * 2, max(4 << 30, n * size * 3)))
    nodes = RelayNodes(ctx, "buildup-relay-%d" % ctx.round, 1, sink.port, extra_yaml=extra, gc_log=True, admin=True)
    try:
        deferred = LogCounter(nodes.logs, " status=deferred ")
        cpu0 = nodes.group.cpu_seconds()
        t0, t1, src = smtp_source(nodes.smtp[0], n, sessions, size, rcpts, reuse, check=False)
        nodes.check_alive("while %d messages were sent to it (%d first attempts logged)" % (n, deferred.update()))
        # counted in the mail log: the qmgr line of each accepted message, the reject lines of 452 4.3.1
        # (/metrics reads every queued entry to fill its queue gauges: with 200k queued that takes long)
        time.sleep(2)
        accepted = LogCounter(nodes.logs, " nrcpt=").update()
        rejected_452 = LogCounter(nodes.logs, ": 452 4.3.1 ").update()
        if src.returncode != 0:
            log("relay build-up: smtp-source exited with %d (%s)" % (src.returncode, src.stderr.strip()[-200:]))
        deferred.wait_for(int(accepted), 900, "first delivery attempts (deferred) of the queued messages")
        cpu1 = nodes.group.cpu_seconds()
        pid = java_pid(nodes.procs[0])
        subprocess.run(["jcmd", str(pid), "GC.run"], capture_output=True, timeout=120)
        time.sleep(1)
        heap_peak, heap_live, heap_cap = parse_gc_log(open(nodes.gc_logs[0]).read())
        rss_queued = proc_status_kb(pid, "VmRSS") / 1024
        ts = time.time()
        try:
            queued = parse_metric(nodes.metrics(timeout=300), "relay_queue_messages")
        except OSError as e:
            log("relay build-up: /metrics did not answer: %s" % e)
            queued = None
        scrape_s = time.time() - ts
        log("relay build-up: %d accepted, %d 452s, heap live %.0f MB after full GC, peak %.0f MB"
            % (accepted, rejected_452, heap_live or -1, heap_peak))
        d = drain_relay(nodes, sink, int(accepted), 3600)
        heap_peak, heap_live2, _ = parse_gc_log(open(nodes.gc_logs[0]).read())
        return {"accepted_per_s": accepted / (t1 - t0), "e2e_per_s": accepted / (d["t_end"] - d["t_retry"]),
                "cpu_per_1000": ((cpu1 - cpu0) + d["cpu"]) / max(1, accepted) * 1000,
                "messages": int(accepted), "rejected_452": int(rejected_452), "queued": queued, "metrics_scrape_s": scrape_s,
                "heap_peak_mb": heap_peak, "heap_live_mb": heap_live, "heap_capacity_mb": heap_cap,
                "rss_queued_mb": rss_queued, "peak_rss_mb": nodes.peak_rss_kb() / 1024,
                "peak_pss_mb": ctx.sampler.peak_pss_kb(nodes.group) / 1024,
                "retry_touched": d["retry_touched"], "retry_call_s": d["retry_call_s"], "canaries": d["canaries"],
                **({"note": d["retry_note"]} if d["retry_note"] else {}),
                "cpu_mode": nodes.group.mode}
    finally:
        nodes.stop()
        if sink.proc:
            stop_process(sink.proc, 5)
        remove_spools(nodes.dir, ctx.keep)


def drain_relay(nodes, sink, expected, timeout, stall=300):
    """Brings the upstream back and drains the queue: one fresh message closes the circuit
    breaker (its half-open probe), then `POST /admin/v1/queue/retry {"all": true}` (`relayctl
    queue retry --all`; the queued messages wait out a 3600 s backoff otherwise), then until
    `expected` more deliveries (plus the canaries) are in the mail log. Raises BenchError when
    the drain stalls for `stall` s or takes longer than `timeout` s."""
    sink.start()
    time.sleep(3)
    sent = nodes.sent()
    canaries = 0
    deadline = time.time() + 120
    while sent.update() < 1:
        if time.time() > deadline:
            raise BenchError("the upstream came back but no message was delivered within 120s")
        _, _, c = smtp_source(nodes.smtp[0], 1, 1, 100, 1, False, sender="canary@app.test", check=False)
        if c.returncode != 0:
            log("  canary: smtp-source exited with %d (%s)" % (c.returncode, (c.stdout + c.stderr).strip()[-200:]))
        canaries += 1
        end = time.time() + 5
        while time.time() < end and sent.update() < 1:
            time.sleep(0.1)
    cpu2 = nodes.group.cpu_seconds()
    t2 = time.time()
    retry_note = None
    try:
        answer = nodes.admin("/admin/v1/queue/retry", {"all": True})
    except (http.client.HTTPException, ConnectionError) as e:
        # the admin server closes a connection after 60 s without a read (ReadTimeoutHandler),
        # also while it still works on the request: the retry goes on, the answer is lost
        answer = {}
        retry_note = "retry --all: connection closed after %.0f s (%s)" % (time.time() - t2, type(e).__name__)
        log("  drain: " + retry_note)
    t_call = time.time()
    try:
        t3 = sent.wait_for(expected + canaries, timeout, "drain deliveries", stall=stall)
    except BenchError:
        nodes.check_alive("during the drain")
        raise
    return {"t_retry": t2, "t_end": t3, "cpu": nodes.group.cpu_seconds() - cpu2, "canaries": canaries,
            "retry_touched": answer.get("touched"), "retry_call_s": t_call - t2, "retry_note": retry_note}


def remove_spools(path, keep_logs):
    """Frees a finished run's queue files at once (a million messages are ~4.5 GB, 100k x 100 KB
    ~10 GB), with its logs unless they are to be kept (--keep)."""
    if not keep_logs:
        shutil.rmtree(path, ignore_errors=True)
        return
    for top, dirs, _ in os.walk(path):
        for d in list(dirs):
            if d == "spool":  # the relay's spool-dir, Postfix's queue_directory
                shutil.rmtree(os.path.join(top, d), ignore_errors=True)
                dirs.remove(d)


def build_up_postfix(ctx, n=None, scen="e", flavor="postfix"):
    """Postfix's build-up, for (e) and the bursts: N messages of the scenario's shape with the
    sink down (`-A`: smtp-source goes on after a refusal and prints it), then the sink up and
    `postqueue -f`. Postfix at its defaults otherwise: message_size_limit 10 MB, queue_minfree 0
    (smtpd still wants 1.5 x message_size_limit free), in_flow_delay 1s, qmgr's active queue
    limit 20000; the backoff only keeps it from retrying while the queue builds up."""
    n = n or ctx.counts[scen]
    _, sessions, size, rcpts, reuse = SCENARIOS[scen]
    sink = Sink(ctx.procs, ctx.work)
    extra = "minimal_backoff_time = 3600s\nmaximal_backoff_time = 4000s\nqueue_run_delay = 3600s\n"
    pf = Postfix(ctx, "buildup-%s-%s-%d" % (flavor, scen, ctx.round), sink.port, extra, flavor)
    notes = []
    try:
        deferred = LogCounter(pf.maillog, " status=deferred ")
        cpu0 = pf.group.cpu_seconds()
        src = smtp_source_counted(pf.port, n, sessions, size, rcpts, reuse,
                                  os.path.join(pf.dir, "smtp-source.err"), source_timeout(n))
        if src["returncode"] != 0:
            log("postfix build-up: smtp-source exited with %d (%s)" % (src["returncode"], src["last"]))
        expected = n - src["refused"]
        try:
            deferred.wait_for(expected, settle_timeout(n), "Postfix: first delivery attempts (deferred)", stall=300)
        except BenchError as e:
            notes.append(str(e))
        # qmgr's line for each message that entered the queue (counted before the flush logs them again)
        accepted = LogCounter(pf.maillog, " nrcpt=").update()
        cpu1 = pf.group.cpu_seconds()
        rejected = LogCounter(pf.maillog, "NOQUEUE: reject: ")
        rejected.update()
        sink.start()
        sent = pf.sent()
        cpu2 = pf.group.cpu_seconds()
        t2 = time.time()
        pf.run(["postqueue", "-c", pf.etc, "-f"])
        t3 = sent.wait_for(accepted, drain_timeout(n), "Postfix drain deliveries", stall=300)
        cpu3 = pf.group.cpu_seconds()
        if n != ctx.counts[scen]:
            notes.append("%d queued (fewer, for time)" % n)
        r = {"accepted_per_s": accepted / (src["t1"] - src["t0"]), "e2e_per_s": accepted / (t3 - t2),
             "cpu_per_1000": ((cpu1 - cpu0) + (cpu3 - cpu2)) / max(1, accepted) * 1000, "messages": n,
             "accepted": accepted, "refused": n - accepted, "rejected_452": src["codes"].get("452", 0),
             "replies_non_2xx": sum(src["codes"].values()), "replies_by_code": src["codes"],
             "reject_lines": rejected.count, "peak_rss_mb": pf.peak_rss_kb() / 1024,
             "peak_pss_mb": ctx.sampler.peak_pss_kb(pf.group) / 1024, "cpu_mode": pf.group.mode,
             "complete_accept": accepted == n}
        if scen == "e":
            r["rejected_452"] = rejected.count  # as (e) always counted it
        if notes:
            r["note"] = "; ".join(notes)
        return r
    finally:
        pf.stop()
        if sink.proc:
            stop_process(sink.proc, 5)
        remove_spools(pf.dir, ctx.keep)


# ---------------------------------------------------------------- the bursts (f, f100k, r)

def source_timeout(n):
    """smtp-source's time limit for N messages: at least 100 accepted per second."""
    return max(1800, n / 100)


def settle_timeout(n):
    """Until every queued message's first delivery attempt (deferred) is logged."""
    return max(1800, n / 200)


def drain_timeout(n):
    return max(3600, n / 100)


def smtp_source_counted(port, n, sessions, size, rcpts, reuse, err_path, timeout):
    """smtp-source with -A (a refusal does not end the run: it prints "warning: <stage> rejected:
    <reply>" and goes on with the next message); its warnings go to `err_path` (a million could
    be refused) and are counted by reply code. `refused` is the messages that got a refusal
    (smtp-source leaves a transaction at its first non-2xx reply: one line per message)."""
    cmd = ["smtp-source", "-A", "-s", str(sessions), "-m", str(n), "-l", str(size), "-f", SENDER, "-t", RCPT]
    if rcpts > 1:
        cmd += ["-r", str(rcpts)]
    if reuse:
        cmd.append("-d")
    cmd.append("127.0.0.1:%d" % port)
    with open(err_path, "w") as err:
        t0 = time.time()
        rc = subprocess.run(cmd, stdout=err, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout).returncode
        t1 = time.time()
    out = count_source_replies(err_path)
    out.update(t0=t0, t1=t1, returncode=rc)
    return out


def count_source_replies(path):
    """Counts smtp-source's output: refusals by reply code, other warnings (connection errors)."""
    codes, other, last = {}, 0, ""
    with open(path, errors="replace") as f:
        for line in f:
            m = re.search(r" rejected: (\d{3})\b", line)
            if m:
                codes[m.group(1)] = codes.get(m.group(1), 0) + 1
            elif "warning:" in line or "fatal:" in line:
                other += 1
            if line.strip():
                last = line.strip()[:200]
    return {"codes": codes, "refused": sum(codes.values()), "other_warnings": other, "last": last}


class HeapCheckpoint(threading.Thread):
    """During a build-up, once `at` messages are queued (the mail log's qmgr lines): the heap's
    peak so far (GC log) and its live size then (a full GC), so that (f-100k) can be compared
    with (f) at the same count. The full GC pauses the node once (well under a second at 100k)."""

    def __init__(self, pid, gc_log, mail_logs, at):
        super().__init__(daemon=True)
        self.pid, self.gc_log, self.at = pid, gc_log, at
        self.counter = LogCounter(mail_logs, " nrcpt=")
        self.done = threading.Event()
        self.result = {}
        self.start()

    def run(self):
        while not self.done.is_set():
            if self.counter.update() >= self.at:
                peak = gc_log_figures(read_text(self.gc_log))["peak"]
                try:
                    live = live_heap_mb(self.pid)
                except (OSError, subprocess.SubprocessError) as e:
                    log("  heap checkpoint: %s" % e)
                    return
                self.result = {"checkpoint_queued": self.counter.update(), "checkpoint_heap_peak_mb": peak,
                               "checkpoint_live_mb": live}
                log("  heap at %d queued: peak so far %.0f MB, live %.1f MB after a full GC"
                    % (self.result["checkpoint_queued"], peak, live or -1))
                return
            self.done.wait(0.1)

    def stop(self):
        self.done.set()
        self.join(600)
        return self.result


def readyz(health_port):
    """(HTTP status, body) of /readyz, or (None, error)."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % health_port, timeout=2) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except OSError as e:
        return None, str(e)


def log_time(line):
    """The wall-clock time of a node's stderr line (logback: 2026-12-07T10:21:00.957Z ...), or None."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)(Z|[+-]\d\d:\d\d)", line)
    if not m:
        return None
    import datetime
    tz = "+00:00" if m.group(2) == "Z" else m.group(2)
    return datetime.datetime.fromisoformat(m.group(1) + tz).timestamp()


def time_start(nodes, i, t0, timeout, ready_grace=30):
    """Seconds from the (re)start of node i at `t0` until its SMTP port answers a 220 greeting,
    /readyz answers 200, and its stderr has the spool replay's line (SPOOL_REPLAY_DONE; its own
    timestamp). Polls every 50 ms; what did not happen within `timeout` s stays out, and so does
    a /readyz still 503 `ready_grace` s after the greeting and the replay (a queue above its
    high-water mark keeps it 503 until it drains, which it cannot with the upstream down)."""
    got, reason = {}, None
    offset = 0
    deadline = t0 + timeout
    p = nodes.procs[i]
    while True:
        if "greeting_s" not in got and greets(nodes.smtp[i], timeout=0.5):
            got["greeting_s"] = time.time() - t0
        if "ready_s" not in got:
            status, body = readyz(nodes.health[i])
            if status == 200:
                got["ready_s"] = time.time() - t0
            elif status:
                reason = body.strip()[:300]
        if "replay_s" not in got:
            with open(nodes.errs[i], "rb") as f:
                f.seek(offset)
                data = f.read()
            end = data.rfind(b"\n") + 1
            offset += end
            for line in data[:end].decode(errors="replace").splitlines():
                if SPOOL_REPLAY_DONE.search(line):
                    at = log_time(line)
                    got["replay_s"] = (at if at else time.time()) - t0
                    got["replay_line"] = line[:300]
                    break
        if all(k in got for k in ("greeting_s", "ready_s", "replay_s")):
            return got
        if p.poll() is not None:
            raise BenchError("the restarted node exited with %s; see %s" % (p.returncode, nodes.errs[i]))
        if "greeting_s" in got and "replay_s" in got:
            deadline = min(deadline, t0 + max(got["greeting_s"], got["replay_s"]) + ready_grace)
        if time.time() > deadline:
            missing = [k for k in ("greeting_s", "ready_s", "replay_s") if k not in got]
            got["start_note"] = "no %s within %.0f s%s" % (", ".join(missing), deadline - t0,
                                                         "; /readyz: " + reason if "ready_s" in missing and reason else "")
            log("  " + got["start_note"])
            return got
        time.sleep(0.05)


def restart_node(nodes, i, kind, tag, timeout):
    """Stops node i with SIGKILL ("kill9") or SIGTERM ("term"), starts it again on the same
    spool, and times its start (time_start). Figures prefixed with `kind`."""
    p = nodes.procs[i]
    ts = time.time()
    if kind == "kill9":
        os.kill(java_pid(p), signal.SIGKILL)
        p.wait()
    else:
        p.terminate()
        try:
            p.wait(600)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            log("  SIGTERM: the node did not exit within 600 s; killed")
    stop_s = time.time() - ts
    t0 = nodes.launch(i, tag)
    got = time_start(nodes, i, t0, timeout)
    g = gc_log_figures(read_text(nodes.gc_logs[i]))
    got.update(stop_s=stop_s, heap_peak_mb=g["peak"], exit_code=p.returncode)
    log("  %s: stopped in %.1f s (exit %s); greeting after %s s, /readyz 200 after %s s, replay done after %s s"
        % (kind, stop_s, p.returncode, *("%.2f" % got[k] if k in got else "-" for k in ("greeting_s", "ready_s", "replay_s"))))
    return {"%s_%s" % (kind, k): v for k, v in got.items()}


def count_deliveries(paths, accepted_end):
    """Every message accepted before the restarts (qmgr's `nrcpt=` line within the first
    `accepted_end` bytes of each mail log) against its `status=sent` lines: (delivered, lost,
    duplicates). Queue ids stay the same across a restart (they are the spool's keys)."""
    accepted, sent = set(), {}
    for path, limit in zip(paths, accepted_end):
        with open(path, "rb") as f:
            pos = 0
            for line in f:
                pos += len(line)
                if pos <= limit and b" nrcpt=" in line:
                    accepted.add(line.split(None, 6)[5])
                elif b" status=sent " in line:
                    qid = line.split(None, 6)[5]
                    sent[qid] = sent.get(qid, 0) + 1
    delivered = sum(1 for q in accepted if q in sent)
    duplicates = sum(sent[q] - 1 for q in accepted if sent.get(q, 0) > 1)
    return len(accepted), delivered, len(accepted) - delivered, duplicates


def burst_relay(ctx, scen):
    """(f), (f-100k) and (r) for the relay: one node with HEAP[scen], the upstream down (the sink
    not started: every attempt is refused, the breaker opens, the messages defer), N messages
    from smtp-source -A. Counts the refusals, times the accept rate and the first attempts, takes
    the heap's figures (peak, after-GC peak, live idle and queued); (f) also at (f-100k)'s count.
    (r) then restarts the node twice on the same spool (kill -9, SIGTERM) and times each start.
    Then the upstream comes back and the queue drains (drain_relay); (r) counts every message."""
    n = ctx.counts[scen]
    _, sessions, size, rcpts, reuse = SCENARIOS[scen]
    sink = Sink(ctx.procs, ctx.work)  # not started: the upstream is down
    # the queue's marks (count, bytes, index memory), the heap and everything else at the node's
    # defaults: they are what is measured
    extra = ("queue:\n  minimal-backoff-time: 3600s\n  maximal-backoff-time: 4000s\n"
             "smtp:\n  breaker:\n    open-time: 2s\n")
    xmx = HEAP.get(scen, DEFAULT_HEAP)
    nodes = RelayNodes(ctx, "burst-relay-%s-%d" % (scen, ctx.round), 1, sink.port, extra_yaml=extra,
                       gc_log=True, admin=True, xmx=xmx)
    r = {"messages": n, "xmx": xmx, "start_empty_s": nodes.ready_s, "cpu_mode": nodes.group.mode}
    notes = []
    checkpoint = None
    try:
        pid = java_pid(nodes.procs[0])
        idle = live_heap_mb(pid)
        deferred = LogCounter(nodes.logs, " status=deferred ")
        at = ctx.counts.get("f100k")
        if scen == "f" and at and at < n:
            checkpoint = HeapCheckpoint(pid, nodes.gc_logs[0], nodes.logs, at)
        cpu0 = nodes.group.cpu_seconds()
        try:
            src = smtp_source_counted(nodes.smtp[0], n, sessions, size, rcpts, reuse,
                                      os.path.join(nodes.dir, "smtp-source.err"), source_timeout(n))
        finally:
            if checkpoint:
                r.update(checkpoint.stop())
        nodes.check_alive("while %d messages were sent to it (%d first attempts logged)" % (n, deferred.update()))
        if src["returncode"] != 0:
            notes.append("smtp-source exited with %d (%s)" % (src["returncode"], src["last"]))
        expected = n - src["refused"]
        try:
            deferred.wait_for(expected, settle_timeout(n), "first delivery attempts (deferred)", stall=300)
        except BenchError as e:
            nodes.check_alive("while its first delivery attempts were logged")
            notes.append(str(e))
        accepted = LogCounter(nodes.logs, " nrcpt=").update()
        cpu1 = nodes.group.cpu_seconds()
        end = live_heap_mb(pid)
        g = gc_log_figures(read_text(nodes.gc_logs[0]))
        r.update({
            "accepted": accepted, "refused": n - accepted, "accepted_per_s": accepted / (src["t1"] - src["t0"]),
            "buildup_s": src["t1"] - src["t0"], "rejected_452": src["codes"].get("452", 0),
            "replies_non_2xx": sum(src["codes"].values()), "replies_by_code": src["codes"],
            "source_other_warnings": src["other_warnings"],
            "reject_lines": LogCounter(nodes.logs, ": reject: ").update(),
            "heap_peak_mb": g["peak"], "heap_after_gc_peak_mb": g["after_gc_peak"], "heap_capacity_mb": g["capacity"],
            "heap_live_idle_mb": idle, "heap_live_end_mb": end,
            "heap_bytes_per_msg": (end - idle) * 1048576 / accepted if accepted and idle is not None and end is not None else None,
            "rss_queued_mb": proc_status_kb(pid, "VmRSS") / 1024})
        if r.get("checkpoint_live_mb") is not None and idle is not None:
            r["checkpoint_bytes_per_msg"] = (r["checkpoint_live_mb"] - idle) * 1048576 / max(1, r["checkpoint_queued"])
        ts = time.time()
        try:
            m = nodes.metrics(timeout=300)
            r["queued_metric"] = parse_metric(m, "relay_queue_messages")
            r["rejected_metric"] = parse_metric(m, "relay_messages_rejected_total")
        except OSError as e:
            log("  /metrics did not answer: %s" % e)
        r["metrics_scrape_s"] = time.time() - ts
        log("  %d of %d accepted at %.0f/s, %d refused (smtp-source: %s); heap peak %.0f MB, after-GC peak %.0f MB, "
            "live %.1f -> %.1f MB (%s B/message)" % (accepted, n, r["accepted_per_s"], n - accepted, src["codes"] or "none",
                                                       g["peak"], g["after_gc_peak"], idle or -1, end or -1,
                                                       "%.0f" % r["heap_bytes_per_msg"] if r["heap_bytes_per_msg"] else "?"))
        log_ends = None
        if scen == "r":
            log_ends = [os.path.getsize(p) for p in nodes.logs]
            timeout = max(600, n / 1000)
            r.update(restart_node(nodes, 0, "kill9", "-kill9", timeout))
            r.update(restart_node(nodes, 0, "term", "-term", timeout))
            nodes.check_alive("after its restarts")
        try:
            d = drain_relay(nodes, sink, accepted, drain_timeout(n))
            r.update(e2e_per_s=accepted / (d["t_end"] - d["t_retry"]), drain_s=d["t_end"] - d["t_retry"],
                     retry_call_s=d["retry_call_s"], retry_touched=d["retry_touched"], canaries=d["canaries"],
                     cpu_per_1000=((cpu1 - cpu0) + d["cpu"]) / max(1, accepted) * 1000)
            if d["retry_note"]:
                notes.append(d["retry_note"])
        except BenchError as e:
            r["drain_error"] = str(e)[:300]
            log("  drain: %s" % e)
        if log_ends:
            r["counted"], r["delivered"], r["lost"], r["duplicates"] = count_deliveries(nodes.logs, log_ends)
            log("  after the restarts: %d accepted, %d delivered, %d lost, %d duplicates"
                % (r["counted"], r["delivered"], r["lost"], r["duplicates"]))
        # the drain reads the bodies back: the heap's peak over the drain too (for (r): the last JVM's)
        r["heap_peak_through_drain_mb"] = gc_log_figures(read_text(nodes.gc_logs[0]))["peak"]
        r["peak_rss_mb"] = nodes.peak_rss_kb() / 1024
        r["peak_pss_mb"] = ctx.sampler.peak_pss_kb(nodes.group) / 1024
        if notes:
            r["note"] = "; ".join(notes)
        return r
    finally:
        if checkpoint:
            checkpoint.stop()
        nodes.stop()
        if sink.proc:
            stop_process(sink.proc, 5)
        remove_spools(nodes.dir, ctx.keep)


def median_of(runs):
    out = dict(runs[-1])
    for k, v in runs[-1].items():
        vals = [r[k] for r in runs if isinstance(r.get(k), (int, float)) and not isinstance(r.get(k), bool)]
        if vals and len(vals) == len(runs):
            m = statistics.median(vals)
            # counts stay counts (the median of two is their mean)
            out[k] = int(round(m)) if all(isinstance(x, int) for x in vals) else m
    out["runs"] = len(runs)
    if len(runs) > 1:
        out["e2e_per_s_all"] = [round(r["e2e_per_s"]) if r.get("e2e_per_s") else None for r in runs]
    return out


class Context:
    def __init__(self, work, counts):
        self.work = work
        self.counts = counts
        self.procs = Procs()
        self.sampler = Sampler()
        self.round = 0
        self.thread_cpu = False
        self.keep = False


def run_bench(args):
    if os.geteuid() != 0:
        raise BenchError("run as root: Postfix's master and smtp-sink -u need it")
    for tool in ("smtp-source", "smtp-sink", "postfix", "postconf", "postqueue", "java", "jcmd"):
        if not shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/usr/lib/postfix/sbin"):
            raise BenchError("%s is missing (apt-get install postfix, a JDK 17)" % tool)
    for f in (JAR, os.path.join(PROBE_CP, "io", "relay", "bench", "LatencyProbe.class")):
        if not os.path.exists(f):
            raise BenchError("%s is missing: build first (mvn -B -q -DskipTests package)" % f)
    scenarios = only_scenarios(args.only)
    if ("d" in scenarios or set(SCALEOUT) & set(scenarios)) and not shutil.which("haproxy", path=os.environ.get("PATH", "") + ":/usr/sbin"):
        raise BenchError("haproxy is missing (apt-get install haproxy) for scenarios d and g")
    systems = args.systems.split(",")
    for x in systems:
        if x not in ("relay",) + POSTFIXES:
            raise BenchError("unknown system %r (relay, %s)" % (x, ", ".join(POSTFIXES)))
    counts = dict(QUICK if args.quick else FULL)
    if args.messages:
        for s in "abcd":
            counts[s] = args.messages
    if args.queue_messages:
        counts["e"] = args.queue_messages
    if args.scale:
        for s in BURSTS:
            counts[s] = max(1, int(round(counts[s] * args.scale)))
    if args.g_messages:
        for s in SCALEOUT:
            counts[s] = args.g_messages
    if args.g_warmup:
        counts["g-warmup"] = args.g_warmup
    os.makedirs(args.results, exist_ok=True)
    work = tempfile.mkdtemp(prefix="relay-bench.", dir="/var/tmp")
    os.chmod(work, 0o755)
    ctx = Context(work, counts)
    ctx.thread_cpu = args.thread_cpu
    ctx.keep = args.keep
    ctx.quota = args.g_quota
    ctx.g_fixed_sessions = args.g_fixed_sessions
    results = {"started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "quick": args.quick,
               "runs": args.runs, "counts": counts, "host": host_info(), "scenarios": {}}
    previous = os.path.join(args.results, "bench.json")
    if args.merge and os.path.exists(previous):
        with open(previous) as f:
            old = json.load(f)
        results["scenarios"] = old.get("scenarios", {})
        results["merged"] = old.get("merged", []) + ["%s: %s" % (results["started"], ",".join(scenarios))]
        results["started"] = old.get("started", results["started"])
        results["counts"] = dict(old.get("counts", {}), **{k: counts[k] for k in scenarios})
    log("work directory %s; results to %s" % (work, args.results))

    def save():
        with open(os.path.join(args.results, "bench.json"), "w") as f:
            json.dump(results, f, indent=1)

    try:
        for scen in scenarios:
            if scen not in SCENARIOS:
                raise BenchError("unknown scenario %r (%s)" % (scen, ", ".join(SCENARIOS)))
            entry = {"title": SCENARIOS[scen][0], "messages": counts[scen]}
            if scen in BURSTS:
                # their ratios to (a)'s end-to-end rate: (a) of this run, or of an earlier one (--merge)
                entry["a_same_run"] = "a" in scenarios
            if args.merge and scen in results["scenarios"]:
                entry = dict(results["scenarios"][scen], **entry)  # the other system's figures stay
            results["scenarios"][scen] = entry
            if scen in SCALEOUT:
                if "relay" in systems:
                    run_scaleout(ctx, args, scen, entry, save)
                continue
            for system in [x for x in ("relay",) + POSTFIXES if x in systems]:
                if scen == "r" and system != "relay":
                    continue  # the restart is the relay's: Postfix's queue is its files, read lazily by qmgr
                if scen == "d" and system != "relay":
                    if (results["scenarios"].get("a") or {}).get(system):
                        entry[system] = dict(results["scenarios"]["a"][system], note="Postfix of scenario a")
                        continue
                runs = []
                for i in range(args.runs):
                    ctx.round += 1
                    log("scenario %s, %s, run %d of %d: %d messages" % (scen, system, i + 1, args.runs, counts[scen]))
                    try:
                        if scen == "e":
                            r = build_up_relay(ctx) if system == "relay" else \
                                build_up_postfix(ctx, args.postfix_queue_messages, "e", system)
                        elif scen in BURSTS:
                            r = burst_relay(ctx, scen) if system == "relay" else build_up_postfix(ctx, None, scen, system)
                        elif scen == "d" and system == "relay":
                            r = measure_cluster(ctx)
                        elif system == "relay":
                            r = measure_relay(ctx, scen)
                        else:
                            r = measure_postfix(ctx, "a" if scen == "d" else scen, system)
                    except (BenchError, OSError, subprocess.SubprocessError, ValueError) as e:
                        # one failed measurement (a node that died, a timeout) is a result too
                        log("  failed: %s" % e)
                        r = {"error": str(e)[:300]}
                    log("  " + json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()}))
                    runs.append(r)
                    if scen == "e":
                        break  # one build-up each: it is slow
                good = [r for r in runs if "error" not in r]
                entry[system] = median_of(good) if good else runs[-1]
                if len(good) < len(runs) and good:
                    entry[system]["note"] = "%d of %d runs failed: %s" % (len(runs) - len(good), len(runs),
                                                                       runs[-1 if "error" in runs[-1] else 0].get("error"))
                save()
            results["scenarios"][scen] = entry
            save()
    finally:
        ctx.procs.stop_all()
        remove_groups()
        if args.keep:
            log("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    try:
        results["host"]["loadavg_at_end"] = open("/proc/loadavg").read().split()[:3]
    except OSError:
        pass
    save()
    report(results, args.results, png=not args.no_png)


def only_scenarios(only):
    """--only's names in order; "g" names both scale-out variants (g and g-reuse), "g-conn" the first alone."""
    out = []
    for s in only.split(","):
        for x in {"g": SCALEOUT, "g-conn": ("g",)}.get(s, (s,)):
            if x and x not in out:
                out.append(x)
    return out


def run_scaleout(ctx, args, scen, entry, save):
    """(g) or (g-reuse): --runs rounds of 1, 2, 3 nodes (--g-nodes), the node counts taking turns
    within a round (the machine's noise then falls on all of them alike); medians per node count."""
    counts = [int(x) for x in args.g_nodes.split(",") if x]
    entry.update({"quota_cpus": ctx.quota, "messages_per_node": ctx.counts[scen], "warmup_per_node": ctx.counts["g-warmup"],
                  "cpus": os.cpu_count(), "nodes": entry.get("nodes", {}) if args.merge else {}})
    runs = {n: [] for n in counts}
    for i in range(args.runs):
        for n in counts:
            ctx.round += 1
            log("scenario %s, %d node(s) at %.2f CPU each, run %d of %d: %d messages"
                % (scen, n, ctx.quota, i + 1, args.runs, ctx.counts[scen] * n))
            try:
                r = measure_scaleout(ctx, scen, n)
            except (BenchError, OSError, subprocess.SubprocessError, ValueError) as e:
                log("  failed: %s" % e)
                r = {"error": str(e)[:300]}
            log("  " + json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in r.items() if k != "thread_cpu"}))
            runs[n].append(r)
            if n == 1 and "error" not in r and not args.g_messages and not args.quick:
                # N nodes are at most N times as fast as one: this many per node lasts >= G_SECONDS
                want = int(-(-r["e2e_per_s"] * G_SECONDS // 1000) * 1000)
                if want > ctx.counts[scen]:
                    log("  %s: %d messages per node from now on (%d msg/s x %d s)" % (scen, want, r["e2e_per_s"], G_SECONDS))
                    ctx.counts[scen] = want
                    entry["messages_per_node"] = want
            good = [x for x in runs[n] if "error" not in x]
            m = median_of(good) if good else dict(runs[n][-1])
            if good and any("thread_cpu" in x for x in good):
                m["thread_cpu"] = median_thread_cpu(good)
            if len(good) < len(runs[n]) and good:
                m["note"] = "%d of %d runs failed: %s" % (len(runs[n]) - len(good), len(runs[n]),
                                                          [x for x in runs[n] if "error" in x][-1]["error"])
            entry["nodes"][str(n)] = m
            save()


def host_info():
    try:
        load = open("/proc/loadavg").read().split()[:3]
    except OSError:
        load = []
    return {"cpus": os.cpu_count(), "loadavg_at_start": load,
            "java": subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
            if shutil.which("java") else None,
            "postfix": subprocess.run(["postconf", "-d", "-h", "mail_version"], capture_output=True, text=True).stdout.strip()
            if shutil.which("postconf", path="/usr/sbin") else None}


# ---------------------------------------------------------------- the report

COLUMNS = [("accepted_per_s", "accepted msg/s", "%.0f"), ("e2e_per_s", "end-to-end msg/s", "%.0f"),
           ("p50_ms", "p50 accept ms", "%.2f"), ("p99_ms", "p99 accept ms", "%.2f"),
           ("probe_rate", "probe msg/s", "%.0f"), ("cpu_per_1000", "CPU s/1000 msg", "%.2f"),
           ("peak_rss_mb", "peak RSS MB", "%.0f"), ("peak_pss_mb", "peak PSS MB", "%.0f")]


def rows_of(results):
    """The table: (scenario, system, values by column key, note) per row, ratios included."""
    rows = []
    scen = results["scenarios"]
    ok = lambda r: r if r and "error" not in r else None
    for s, entry in scen.items():
        if s in SCALEOUT:
            continue  # their own table (scaleout_tables)
        ours = entry.get("relay")
        label = "%s: %s" % (s, entry["title"])
        for system in ("relay",) + POSTFIXES:
            if entry.get(system):
                rows.append((label, system, entry[system], note_of(s, system, entry[system], results)))
        # against each Postfix that ran, the faster one (end to end) first and named so: the
        # ratio to quote is the one against the better Postfix
        pfs = sorted([x for x in POSTFIXES if ok(entry.get(x))], key=lambda x: -(entry[x].get("e2e_per_s") or 0))
        for j, x in enumerate(pfs):
            if ok(ours):
                rows.append((label, "ratio relay/%s" % x, ratios(ours, entry[x]),
                             ("the faster Postfix" if j == 0 else "the slower Postfix") if len(pfs) > 1 else ""))
        if s == "d" and ok(ours) and "a" in scen and ok(scen["a"].get("relay")):
            rows.append((label, "ratio cluster/one node (a)", ratios(ours, scen["a"]["relay"]), ""))
    return rows


def ratios(x, y):
    out = {}
    for k, _, _ in COLUMNS:
        a, b = x.get(k), y.get(k)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b > 0 and a >= 0:
            out[k] = a / b
    return out


def note_of(scen, system, r, results=None):
    notes = []
    if r.get("error"):
        return "FAILED: " + r["error"]
    if scen in BURSTS:
        notes.extend(burst_notes(scen, system, r, results or {}))
    if scen == "e":
        notes.append("e2e = drain rate after the upstream came back")
        if system == "relay":
            notes.append("heap peak %.0f MB, live %s MB after a full GC with %d queued (-Xmx2g, heap size then %.0f MB)"
                         % (r.get("heap_peak_mb", 0), "%.0f" % r["heap_live_mb"] if r.get("heap_live_mb") else "?",
                            r.get("queued") or r.get("messages", 0), r.get("heap_capacity_mb", 0)))
            if r.get("metrics_scrape_s") and r.get("queued") is None:
                notes.append("/metrics closed the connection after %.0f s" % r["metrics_scrape_s"])
            elif r.get("metrics_scrape_s"):
                notes.append("one /metrics scrape took %.1f s" % r["metrics_scrape_s"])
            if r.get("retry_call_s") and not r.get("note"):
                notes.append("retry --all answered in %.0f s" % r["retry_call_s"])
        notes.append("%d x 452" % r.get("rejected_452", 0))
    if r.get("haproxy_cpu_per_1000"):
        notes.append("haproxy +%.2f CPU s/1000" % r["haproxy_cpu_per_1000"])
    if r.get("probe_errors"):
        notes.append("%d probe errors" % r["probe_errors"])
    if r.get("probe_rate") and r.get("probe_achieved") and r["probe_achieved"] < 0.9 * r["probe_rate"]:
        notes.append("probe fell behind (%.0f/s)" % r["probe_achieved"])
    if r.get("cpu_mode") == "sampled":
        notes.append("CPU sampled")
    if r.get("note"):
        notes.append(r["note"])
    if r.get("runs", 1) > 1:
        notes.append("median of %d, e2e %s" % (r["runs"], r.get("e2e_per_s_all")))
    return "; ".join(notes)


def mb(v, f="%.0f"):
    return (f % v) if isinstance(v, (int, float)) else "?"


def vs_a(results, scen, system):
    """(accept rate / (a)'s end-to-end rate, drain rate / (a)'s, (a)'s rate, same run) of a burst."""
    scen_all = results.get("scenarios", {})
    a = (scen_all.get("a") or {}).get(system) or {}
    r = (scen_all.get(scen) or {}).get(system) or {}
    base = a.get("e2e_per_s") if "error" not in a else None
    if not base:
        return None, None, None, None
    ratio = lambda k: r[k] / base if isinstance(r.get(k), (int, float)) else None
    return ratio("accepted_per_s"), ratio("e2e_per_s"), base, scen_all.get(scen, {}).get("a_same_run", True)


def vs_f(results):
    """(f-100k)'s heap beside (f)'s at the same count (the heap checkpoint of (f)): the pairs
    compared, each as (f-100k, f, ratio), or None when (f) has no checkpoint."""
    sc = results.get("scenarios", {})
    big = (sc.get("f100k") or {}).get("relay") or {}
    small = (sc.get("f") or {}).get("relay") or {}
    if not small.get("checkpoint_queued") or "error" in big or "error" in small:
        return None
    out = {"queued": (big.get("accepted"), small.get("checkpoint_queued"))}
    for name, kb, kf in (("peak", "heap_peak_mb", "checkpoint_heap_peak_mb"),
                         ("live", "heap_live_end_mb", "checkpoint_live_mb"),
                         ("per_msg", "heap_bytes_per_msg", "checkpoint_bytes_per_msg")):
        x, y = big.get(kb), small.get(kf)
        if isinstance(x, (int, float)) and isinstance(y, (int, float)) and y > 0:
            out[name] = (x, y, x / y)
    return out


def burst_notes(scen, system, r, results):
    """What a reader needs beside the numbers of (f), (f-100k) and (r)."""
    n = r.get("messages", 0)
    out = ["e2e = drain rate after the upstream came back" if r.get("e2e_per_s") else
           "no drain rate: " + r.get("drain_error", "?")]
    out.append("%s of %d accepted, %d x 452%s" % (mb(r.get("accepted"), "%d"), n, r.get("rejected_452", 0),
               " (non-2xx replies by code: %s)" % ", ".join("%s x %s" % (v, k) for k, v in sorted(r["replies_by_code"].items()))
               if r.get("replies_by_code") and set(r["replies_by_code"]) != {"452"} else ""))
    # the refusals as the client saw them against the system's own counts: a difference is a finding
    if isinstance(r.get("accepted"), (int, float)) and isinstance(r.get("replies_non_2xx"), (int, float)) \
            and r["accepted"] + r["replies_non_2xx"] != n and r.get("runs", 1) == 1:
        out.append("%d accepted + %d refusals seen by smtp-source != %d sent (%s other smtp-source warnings)"
                   % (r["accepted"], r["replies_non_2xx"], n, r.get("source_other_warnings", "?")))
    own = [x for x in (r.get("reject_lines"), r.get("rejected_metric")) if isinstance(x, (int, float))]
    if system == "relay" and any(int(x) != r.get("replies_non_2xx", 0) for x in own):
        out.append("the relay counted %s reject lines, relay_messages_rejected_total %s"
                   % (r.get("reject_lines", "?"), mb(r.get("rejected_metric"))))
    ra, rd, base, same = vs_a(results, scen, system)
    if ra or rd:
        out.append("accept %s, drain %s of %s (a)'s %.0f msg/s end to end" % (
            "%.2fx" % ra if ra else "?", "%.2fx" % rd if rd else "?", "this run's" if same else "an earlier run's", base))
    c = (results.get("scenarios", {}).get("c") or {}).get(system) or {}
    if scen == "f100k" and c.get("e2e_per_s") and "error" not in c:
        out.append("accept %.2fx, drain %s of (c)'s %.0f msg/s (100 KB) end to end" % (
            r.get("accepted_per_s", 0) / c["e2e_per_s"],
            "%.2fx" % (r["e2e_per_s"] / c["e2e_per_s"]) if r.get("e2e_per_s") else "?", c["e2e_per_s"]))
    if system != "relay":
        out.append("Postfix at its defaults (nothing needed changing for it to accept)")
        return out
    out.append("heap (-Xmx%s): peak %s MB, after-GC peak %s MB, live %s -> %s MB = %s B/queued message"
               % (r.get("xmx", "?"), mb(r.get("heap_peak_mb")), mb(r.get("heap_after_gc_peak_mb")),
                  mb(r.get("heap_live_idle_mb"), "%.1f"), mb(r.get("heap_live_end_mb"), "%.1f"), mb(r.get("heap_bytes_per_msg"))))
    if r.get("checkpoint_queued"):
        out.append("at %d queued: peak so far %s MB, live %s MB (%s B/message)"
                   % (r["checkpoint_queued"], mb(r.get("checkpoint_heap_peak_mb")), mb(r.get("checkpoint_live_mb"), "%.1f"),
                      mb(r.get("checkpoint_bytes_per_msg"))))
    if scen == "f100k":
        c = vs_f(results)
        if c:
            parts = ["%s %s vs %s (%.2fx, %s)" % (label, mb(c[k][0]), mb(c[k][1]), c[k][2],
                                                  "within 20%" if abs(c[k][2] - 1) <= 0.2 else "NOT within 20%")
                     for k, label in (("peak", "peak MB"), ("live", "live MB"), ("per_msg", "B/message")) if k in c]
            out.append("heap beside (f)'s at %s queued: %s" % (c["queued"][1], ", ".join(parts)))
        else:
            out.append("no (f) heap checkpoint to compare with (run f with f100k's count below its own)")
    if scen == "r":
        for kind, label in (("kill9", "kill -9"), ("term", "SIGTERM")):
            if ("%s_stop_s" % kind) in r:
                g = lambda k: mb(r.get("%s_%s" % (kind, k)), "%.1f")
                out.append("%s (stopped in %s s): SMTP greeting %s s, /readyz 200 %s s, replay done %s s after the start%s"
                           % (label, g("stop_s"), g("greeting_s"), g("ready_s"), g("replay_s"),
                              " (" + r["%s_start_note" % kind] + ")" if r.get("%s_start_note" % kind) else ""))
        if "counted" in r:
            out.append("%d accepted before the restarts: %d delivered, %d lost, %d duplicates"
                       % (r["counted"], r["delivered"], r["lost"], r["duplicates"]))
    if r.get("drain_error") and r.get("e2e_per_s"):
        out.append("drain: " + r["drain_error"])
    return out


# the second table: the bursts' own figures (scenario, system, these)
BURST_COLUMNS = [("messages", "sent", "%d"), ("accepted", "accepted", "%d"), ("rejected_452", "452s", "%d"),
                 ("replies_non_2xx", "non-2xx", "%d"),
                 ("accepted_per_s", "accept msg/s", "%.0f"), ("accept_vs_a", "accept/(a)", "%.2fx"),
                 ("e2e_per_s", "drain msg/s", "%.0f"), ("drain_vs_a", "drain/(a)", "%.2fx"),
                 ("heap_peak_mb", "heap peak MB", "%.0f"), ("heap_after_gc_peak_mb", "after-GC peak MB", "%.0f"),
                 ("heap_live_idle_mb", "live idle MB", "%.1f"), ("heap_live_end_mb", "live queued MB", "%.1f"),
                 ("heap_bytes_per_msg", "heap B/msg", "%.0f")]
# (r): one row per restart
RESTART_COLUMNS = [("accepted", "queued", "%d"), ("stop_s", "stop s", "%.1f"), ("greeting_s", "SMTP greeting s", "%.2f"),
                   ("ready_s", "/readyz 200 s", "%.2f"), ("replay_s", "replay done s", "%.2f"),
                   ("heap_peak_mb", "heap peak MB", "%.0f"), ("delivered", "delivered", "%d"), ("lost", "lost", "%d"),
                   ("duplicates", "duplicates", "%d")]


def burst_rows(results):
    """(scenario label, system, values by BURST_COLUMNS key) of the bursts that ran."""
    rows = []
    for s, entry in results.get("scenarios", {}).items():
        if s not in BURSTS:
            continue
        for system in ("relay",) + POSTFIXES:
            r = entry.get(system)
            if not r or "error" in r:
                continue
            vals = dict(r)
            vals["accept_vs_a"], vals["drain_vs_a"], _, _ = vs_a(results, s, system)
            rows.append(("%s: %s" % (s, entry["title"]), system, vals))
    return rows


def restart_rows(results):
    """(r)'s restarts: (kind, values by RESTART_COLUMNS key); the counts after the drain on each."""
    r = ((results.get("scenarios", {}).get("r") or {}).get("relay")) or {}
    rows = []
    for kind, label in (("kill9", "kill -9"), ("term", "SIGTERM")):
        if "%s_stop_s" % kind not in r:
            continue
        vals = {k: r.get("%s_%s" % (kind, k)) for k, _, _ in RESTART_COLUMNS}
        for k in ("accepted", "delivered", "lost", "duplicates"):
            vals[k] = r.get(k if k != "accepted" else "counted", r.get(k))
        rows.append((label, vals))
    return rows


# (g): one row per variant and cluster size; efficiency and "x 1 node" against the 1-node row of the same variant
SCALE_COLUMNS = [("nodes", "nodes", "%d"), ("quota_cpus", "CPU/node", "%.2f"), ("messages", "messages", "%d"),
                 ("run_s", "run s", "%.0f"), ("e2e_per_s", "end-to-end msg/s", "%.0f"), ("efficiency", "efficiency", "%.2f"),
                 ("cpu_per_1000", "CPU s/1000 msg (nodes)", "%.2f"), ("jit_per_1000", "of it JIT", "%.2f"),
                 ("cpu_vs_one", "x 1 node", "%.2fx"),
                 ("node_cpu_per_1000", "per node", "%.2f"), ("nodes_cores", "nodes' cores", "%.2f"),
                 ("quota_pct", "of quota", "%.0f%%"), ("throttled_pct", "throttled", "%.0f%%"),
                 ("haproxy_cores", "haproxy cores", "%.2f"), ("smtp-source_cores", "smtp-source cores", "%.2f"),
                 ("smtp-sink_cores", "smtp-sink cores", "%.2f"), ("others_cores", "others' cores", "%.2f"),
                 ("headroom_cores", "idle cores", "%.2f")]


def scaleout_rows(results):
    """(scenario label, values by SCALE_COLUMNS key, note) for each variant of (g) and node count."""
    rows = []
    for s in SCALEOUT:
        entry = results.get("scenarios", {}).get(s)
        if not entry:
            continue
        nodes = entry.get("nodes", {})
        one = nodes.get("1") if "error" not in nodes.get("1", {"error": 1}) else None
        for key in sorted(nodes, key=int):
            r = nodes[key]
            vals = dict(r)
            if "error" not in r:
                n = r.get("nodes", int(key))
                if one and one.get("e2e_per_s"):
                    vals["efficiency"] = r["e2e_per_s"] / (n * one["e2e_per_s"])
                if one and one.get("cpu_per_1000"):
                    vals["cpu_vs_one"] = r["cpu_per_1000"] / one["cpu_per_1000"]
                if isinstance(r.get("quota_use"), (int, float)):
                    vals["quota_pct"] = 100 * r["quota_use"]
                if r.get("thread_cpu"):
                    # the JIT still compiling in the measured run takes the quota's CPU from the work
                    vals["jit_per_1000"] = sum(t["cpu_per_1000"] for t in r["thread_cpu"] if "CompilerThread" in t["threads"])
                if r.get("node_throttled"):
                    vals["throttled_pct"] = [100 * t for t in r["node_throttled"]]
            notes = []
            if r.get("error"):
                notes.append("FAILED: " + r["error"])
            if r.get("sessions"):
                notes.append("%d sessions" % r["sessions"])
            if isinstance(r.get("quota_use"), (int, float)) and r["quota_use"] < 0.9:
                notes.append("the nodes used only %.0f%% of their quotas: something else limited" % (100 * r["quota_use"]))
            if isinstance(r.get("run_s"), (int, float)) and r["run_s"] < 20:
                notes.append("run shorter than 20 s")
            if r.get("note"):
                notes.append(r["note"])
            if r.get("runs", 1) > 1:
                notes.append("median of %d, e2e %s" % (r["runs"], r.get("e2e_per_s_all")))
            rows.append(("%s: %s" % (s, entry["title"]), vals, "; ".join(notes)))
    return rows


def scaleout_threads(results, top=8):
    """(column labels, rows of (thread kind, CPU s/1000 per column)): the thread kinds summed over
    the nodes, the `top` largest of each column."""
    cols = []
    for s in SCALEOUT:
        for key, r in sorted(((results.get("scenarios", {}).get(s) or {}).get("nodes", {})).items(), key=lambda kv: int(kv[0])):
            if r.get("thread_cpu"):
                cols.append(("%s %sn" % (s, key), {t["threads"]: t["cpu_per_1000"] for t in r["thread_cpu"]}))
    kinds = []
    for _, by_kind in cols:
        for k in sorted(by_kind, key=lambda k: -by_kind[k])[:top]:
            if k not in kinds:
                kinds.append(k)
    kinds.sort(key=lambda k: -max(c.get(k, 0) for _, c in cols))
    return [c[0] for c in cols], [(k, [c.get(k) for _, c in cols]) for k in kinds]


def scale_cell(v, f):
    if isinstance(v, list):
        return "/".join(fmt_cell(x, f) for x in v) if v else "-"
    return fmt_cell(v, f)


def scaleout_tables(results, markdown=False):
    """(g)'s table and its CPU by thread kind, as text or Markdown; "" when (g) did not run."""
    rows = scaleout_rows(results)
    if not rows:
        return ""
    entry = next(results["scenarios"][s] for s in SCALEOUT if s in results.get("scenarios", {}))
    title = ("(g) scale-out at equal CPU: N nodes behind haproxy, each JVM in a cpu cgroup with a CFS quota of "
             "%.2f CPU for the measured run (warm-up, %s messages per node, without it); haproxy, smtp-source and "
             "smtp-sink outside the quotas. efficiency = msg/s(N) / (N x msg/s(1)); CPU s/1000 msg (nodes) summed over "
             "the nodes, per node each node's CPU per 1000 messages it delivered; cores over the measured run (%s CPUs); "
             "idle cores = the machine's CPUs minus everything busy on it" % (entry.get("quota_cpus", 0),
                                                                          entry.get("warmup_per_node", "?"), entry.get("cpus", "?")))
    head = ["scenario"] + [c[1] for c in SCALE_COLUMNS] + ["notes"]
    lines = [[label] + [scale_cell(v.get(k), f) for k, _, f in SCALE_COLUMNS] + [note] for label, v, note in rows]
    cols, kinds = scaleout_threads(results)
    out = []
    if markdown:
        out.append("%s\n\n| %s |\n|---|%s---|\n%s" % (title, " | ".join(head), "---:|" * len(SCALE_COLUMNS),
                                                    "\n".join("| " + " | ".join(l) + " |" for l in lines)))
        if kinds:
            out.append("(g) CPU s per 1000 messages by thread kind, summed over the nodes (medians per kind)\n\n"
                       "| threads | %s |\n|---|%s\n%s" % (" | ".join(cols), "---:|" * len(cols),
                                                          "\n".join("| %s | %s |" % (k, " | ".join(fmt_cell(v, "%.3f") for v in vs))
                                                                    for k, vs in kinds)))
    else:
        widths = [max(len(str(r[i])) for r in [head] + lines) for i in range(len(head) - 1)]
        text = []
        for r in [head] + lines:
            text.append("  ".join(str(c).ljust(widths[i]) if i < 1 else str(c).rjust(widths[i])
                                  for i, c in enumerate(r[:-1])) + ("  " + r[-1] if r[-1] else ""))
            if r is head:
                text.append("-" * len(text[0]))
        out.append(title + "\n" + "\n".join(text))
        if kinds:
            out.append("(g) CPU s per 1000 messages by thread kind, summed over the nodes (medians per kind)\n"
                       + plain_table(["threads", ""] + cols, [[k, ""] + [fmt_cell(v, "%.3f") for v in vs] for k, vs in kinds]))
    return "\n\n".join(out)


def write_scaleout_csv(results, path):
    rows = scaleout_rows(results)
    if not rows:
        return False
    extra = ["accepted_per_s", "machine_busy_cores", "load_cores", "load_cpu_per_1000", "node_cores", "node_cpu_s",
             "node_delivered", "peak_rss_mb", "runs", "e2e_per_s_all"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["scenario"] + [c[0] for c in SCALE_COLUMNS] + extra + ["top_threads", "notes"])
        for label, v, note in rows:
            def cell(k):
                x = v.get(k)
                if isinstance(x, list):
                    return " ".join("%.3f" % y if isinstance(y, float) else str(y) for y in x)
                return ("%.3f" % x) if isinstance(x, float) else (str(x) if isinstance(x, int) else "")
            top = " ".join("%s=%.3f" % (t["threads"], t["cpu_per_1000"]) for t in (v.get("thread_cpu") or [])[:6])
            w.writerow([label.split(":")[0]] + [cell(k) for k, _, _ in SCALE_COLUMNS] + [cell(k) for k in extra] + [top, note])
    return True


def fmt_cell(v, f):
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return "-"
    return f % v


def plain_table(head, lines):
    widths = [max(len(str(r[i])) for r in [head] + lines) for i in range(len(head))]
    out = []
    for r in [head] + lines:
        out.append("  ".join(str(c).ljust(widths[i]) if i < 2 else str(c).rjust(widths[i]) for i, c in enumerate(r)).rstrip())
        if r is head:
            out.append("-" * len(out[0]))
    return "\n".join(out)


def burst_tables(results, markdown=False):
    """The bursts' table and (r)'s restart table, as text or Markdown; "" when none ran."""
    parts = []
    rows = burst_rows(results)
    if rows:
        head = ["scenario", "system"] + [c[1] for c in BURST_COLUMNS]
        lines = [[label, system] + [fmt_cell(v.get(k), f) for k, _, f in BURST_COLUMNS] for label, system, v in rows]
        parts.append(("Bursts (f, f-100k, r): accepted with the upstream down, then drained", head, lines))
    rr = restart_rows(results)
    if rr:
        head = ["(r) restart", "system"] + [c[1] for c in RESTART_COLUMNS]
        lines = [[label, "relay"] + [fmt_cell(v.get(k), f) for k, _, f in RESTART_COLUMNS] for label, v in rr]
        parts.append(("(r): the node stopped with the burst queued and started again on the same spool; "
                      "seconds from the process start; delivered/lost/duplicates counted after both restarts and the drain",
                      head, lines))
    out = []
    for title, head, lines in parts:
        if markdown:
            out.append("%s\n\n| %s |\n|---|---|%s\n%s" % (title, " | ".join(head), "---:|" * (len(head) - 2),
                                                       "\n".join("| " + " | ".join(l) + " |" for l in lines)))
        else:
            out.append(title + "\n" + plain_table(head, lines))
    return "\n\n".join(out)


def write_burst_csv(results, path):
    rows = burst_rows(results)
    if not rows:
        return False
    extra = ["buildup_s", "drain_s", "refused", "reject_lines", "rejected_metric", "heap_capacity_mb",
             "heap_peak_through_drain_mb", "checkpoint_queued", "checkpoint_heap_peak_mb", "checkpoint_live_mb",
             "checkpoint_bytes_per_msg", "start_empty_s", "cpu_per_1000", "peak_rss_mb", "peak_pss_mb"]
    restart = ["%s_%s" % (kind, k) for kind in ("kill9", "term") for k in ("stop_s", "greeting_s", "ready_s", "replay_s", "heap_peak_mb")]
    restart += ["counted", "delivered", "lost", "duplicates"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["scenario", "system"] + [c[0] for c in BURST_COLUMNS] + extra + restart)
        for label, system, v in rows:
            cell = lambda k: ("%.3f" % v[k]) if isinstance(v.get(k), float) else (str(v[k]) if isinstance(v.get(k), int) else "")
            w.writerow([label.split(":")[0], system] + [cell(k) for k, _, _ in BURST_COLUMNS] + [cell(k) for k in extra + restart])
    return True


def fmt(v, f, ratio=False):
    if not isinstance(v, (int, float)):
        return "-"
    return ("%.2fx" % v) if ratio else (f % v)


def table_text(results):
    head = ["scenario", "system"] + [c[1] for c in COLUMNS] + ["notes"]
    lines = []
    for label, system, vals, note in rows_of(results):
        ratio = system.startswith("ratio")
        lines.append([label, system] + [fmt(vals.get(k), f, ratio) for k, _, f in COLUMNS] + [note])
    widths = [max(len(str(r[i])) for r in [head] + lines) for i in range(len(head) - 1)]
    out = []
    for r in [head] + lines:
        out.append("  ".join(str(c).ljust(widths[i]) if i < 2 else str(c).rjust(widths[i])
                             for i, c in enumerate(r[:-1])) + ("  " + r[-1] if r[-1] else ""))
        if r is head:
            out.append("-" * len(out[0]))
    return "\n".join(out)


def markdown_table(results):
    head = ["scenario", "system"] + [c[1] for c in COLUMNS] + ["notes"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * len(COLUMNS) + "---|"]
    for label, system, vals, note in rows_of(results):
        ratio = system.startswith("ratio")
        cells = [label if system == "relay" or not any(r.startswith("| " + label) for r in out) else "", system]
        cells += [fmt(vals.get(k), f, ratio) for k, _, f in COLUMNS] + [note]
        out.append("| " + " | ".join("**%s**" % c if ratio and i > 1 and c != "-" and i < len(cells) - 1 else c
                                     for i, c in enumerate(cells)) + " |")
    return "\n".join(out)


def write_csv(results, path):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["scenario", "system"] + [c[0] for c in COLUMNS] + ["notes"])
        for label, system, vals, note in rows_of(results):
            ratio = system.startswith("ratio")
            w.writerow([label.split(":")[0], system]
                       + [("%.3f" % vals[k]) if ratio and k in vals else (("%.2f" % vals[k]) if k in vals and isinstance(vals[k], (int, float)) else "")
                          for k, _, _ in COLUMNS] + [note])


def burst_panels(results, bursts, heap_ax, restart_ax):
    """The bursts' heap (peak, after-GC peak, live with the queue full) and (r)'s restart times."""
    series = [("heap_peak_mb", "peak", "#1f77b4"), ("heap_after_gc_peak_mb", "after-GC peak", "#6baed6"),
              ("heap_live_end_mb", "live, queue full", "#2ca02c")]
    w = 0.8 / len(series)
    for j, (key, label, color) in enumerate(series):
        vals = [results["scenarios"][s]["relay"].get(key) or 0 for s in bursts]
        bars = heap_ax.bar([x + (j - 1) * w for x in range(len(bursts))], vals, w, label=label, color=color)
        for b, v in zip(bars, vals):
            if v:
                heap_ax.annotate("%.0f" % v, (b.get_x() + b.get_width() / 2, b.get_height()), ha="center", va="bottom", fontsize=7)
    heap_ax.set_xticks(list(range(len(bursts))))
    heap_ax.set_xticklabels(["%s: %d queued,\n%s B/msg" % (s, results["scenarios"][s]["relay"].get("accepted") or 0,
                                                          mb(results["scenarios"][s]["relay"].get("heap_bytes_per_msg")))
                             for s in bursts], fontsize=7)
    heap_ax.set_title("relay heap in the bursts, MB (-Xmx%s)" % HEAP.get(bursts[0], DEFAULT_HEAP), fontsize=10)
    heap_ax.legend(fontsize=8)
    rows = restart_rows(results)
    if not rows:
        restart_ax.axis("off")
        return
    keys = [("greeting_s", "SMTP greeting", "#1f77b4"), ("ready_s", "/readyz 200", "#6baed6"), ("replay_s", "replay done", "#2ca02c")]
    w = 0.8 / len(keys)
    for j, (key, label, color) in enumerate(keys):
        vals = [v.get(key) or 0 for _, v in rows]
        bars = restart_ax.bar([x + (j - 1) * w for x in range(len(rows))], vals, w, label=label, color=color)
        for b, v in zip(bars, vals):
            if v:
                restart_ax.annotate("%.1f" % v, (b.get_x() + b.get_width() / 2, b.get_height()), ha="center", va="bottom", fontsize=7)
    restart_ax.axhline(10, color="#d62728", linewidth=0.8, linestyle="--", label="target: SMTP within 10 s")
    restart_ax.set_xticks(list(range(len(rows))))
    restart_ax.set_xticklabels(["%s, %s queued" % (label, v.get("accepted")) for label, v in rows], fontsize=7)
    restart_ax.set_title("(r) restart: seconds from the process start", fontsize=10)
    restart_ax.legend(fontsize=8)


def scaleout_panels(results, rate_ax, cpu_ax):
    """(g): end-to-end msg/s by node count beside N x the 1-node rate (ideal scale-out), and the
    nodes' CPU per 1000 messages summed, per variant."""
    colors = {"g": "#1f77b4", "g-reuse": "#2ca02c"}
    for s in SCALEOUT:
        pts = [(v["nodes"], v) for label, v, _ in scaleout_rows(results) if label.startswith(s + ":") and "error" not in v]
        if not pts:
            continue
        xs = [n for n, _ in pts]
        rate_ax.plot(xs, [v["e2e_per_s"] for _, v in pts], "o-", color=colors[s], label=s)
        one = next((v["e2e_per_s"] for n, v in pts if n == 1), None)
        if one:
            rate_ax.plot(xs, [n * one for n in xs], ":", color=colors[s], label="%s: N x 1 node" % s)
        for n, v in pts:
            if v.get("efficiency"):
                rate_ax.annotate("%.2f" % v["efficiency"], (n, v["e2e_per_s"]), textcoords="offset points", xytext=(4, -10), fontsize=7)
        cpu_ax.plot(xs, [v["cpu_per_1000"] for _, v in pts], "o-", color=colors[s], label=s)
    for ax, title in ((rate_ax, "(g) end-to-end msg/s at %s CPU per node (efficiency)" % mb(
            next((results["scenarios"][s].get("quota_cpus") for s in SCALEOUT if s in results["scenarios"]), None), "%.2f")),
                      (cpu_ax, "(g) nodes' CPU s per 1000 messages, summed")):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("nodes", fontsize=8)
        ax.set_xticks([1, 2, 3])
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)


def write_png(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    scen = [s for s, e in results["scenarios"].items() if e.get("relay") and s not in SCALEOUT]
    panels = [("e2e_per_s", "end-to-end messages/s (e, f, f100k, r: drain)"), ("accepted_per_s", "accepted messages/s"),
              ("p99_ms", "p99 accept latency, ms (at half the rate)"), ("cpu_per_1000", "CPU seconds per 1000 messages")]
    bursts = [s for s in scen if s in BURSTS and "error" not in results["scenarios"][s]["relay"]]
    scale = scaleout_rows(results)
    nrows = 2 + bool(bursts) + bool(scale)
    fig, axes = plt.subplots(nrows, 2, figsize=(12, 4 * nrows))
    if scale:
        scaleout_panels(results, axes[nrows - 1][0], axes[nrows - 1][1])
    systems = [x for x in (("relay", "#1f77b4"), ("postfix", "#ff7f0e"), ("postfix-system", "#d62728"))
               if any(results["scenarios"][s].get(x[0]) for s in scen)]
    width = 0.76 / max(1, len(systems))
    if bursts:
        burst_panels(results, bursts, axes[2][0], axes[2][1])
    for ax, (key, title) in zip(axes.flat, panels):
        xs = range(len(scen))
        for j, (system, color) in enumerate(systems):
            vals = [results["scenarios"][s].get(system, {}).get(key) or 0 for s in scen]
            bars = ax.bar([x + (j - (len(systems) - 1) / 2) * width for x in xs], vals, width, label=system, color=color)
            for b, v in zip(bars, vals):
                if v:
                    ax.annotate(("%.0f" if v >= 100 else "%.1f" if v >= 1 else "%.2f") % v,
                                (b.get_x() + b.get_width() / 2, b.get_height()), ha="center", va="bottom", fontsize=7)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(list(xs))
        ax.set_xticklabels(["%s: %s" % (s, SHORT.get(s, "")) for s in scen], fontsize=7)
        ax.legend(fontsize=8)
    fig.suptitle("relay vs Postfix, one run on this machine (%s%s; load average %s at start)"
                 % (results.get("started", "?"), ", quick" if results.get("quick") else "",
                    (results.get("host", {}).get("loadavg_at_start") or ["?"])[0]), fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def report(results, outdir, png=True):
    os.makedirs(outdir, exist_ok=True)
    text = table_text(results)
    bursts = burst_tables(results)
    if bursts:
        text += "\n\n" + bursts
    scale = scaleout_tables(results)
    if scale:
        text += "\n\n" + scale
    with open(os.path.join(outdir, "bench.txt"), "w") as f:
        f.write("Measured %s to %s; load average at start %s\n\n%s\n"
                % (results.get("started", "?"), results.get("finished", "?"), load_text(results), text))
    write_csv(results, os.path.join(outdir, "bench.csv"))
    for name, writer in (("bench-bursts.csv", write_burst_csv), ("bench-scaleout.csv", write_scaleout_csv)):
        path = os.path.join(outdir, name)
        if not writer(results, path) and os.path.exists(path):
            os.remove(path)  # a stale one from an earlier run would read as this run's
    counts = results.get("counts", {})
    ran = results.get("scenarios", {})
    burst_counts = ", ".join("%s in %s" % (counts.get(k, "?"), k) for k in BURSTS if k in ran)
    with open(os.path.join(outdir, "bench.md"), "w") as f:
        f.write("Measured %s to %s (%s messages per run of a-d, %s queued in e%s; load average at start %s).\n\n%s\n%s"
                % (results.get("started", "?"), results.get("finished", "?"),
                   "/".join(str(counts.get(k, "?")) for k in "abcd"), counts.get("e", "?"),
                   "; bursts of " + burst_counts if burst_counts else "",
                   load_text(results), markdown_table(results),
                   "".join("\n" + x + "\n" for x in (burst_tables(results, markdown=True), scaleout_tables(results, markdown=True)) if x)))
    print(text)
    if png:
        try:
            write_png(results, os.path.join(outdir, "bench.png"))
        except ImportError:
            log("no chart: python3-matplotlib is not installed (apt-get install python3-matplotlib)")
    log("wrote %s/bench.{txt,md,csv%s}%s%s" % (outdir, ",png" if png else "", " and bench-bursts.csv" if bursts else "",
                                             " and bench-scaleout.csv" if scale else ""))


def load_text(results):
    """The load average at the start, and at the end when the run recorded it."""
    host = results.get("host", {})
    out = " ".join(host.get("loadavg_at_start", []))
    if host.get("loadavg_at_end"):
        out += ", at the end " + " ".join(host["loadavg_at_end"])
    return out


# ---------------------------------------------------------------- selftest (CI)

CANNED_GC = """[0.512s][info][gc] Using G1
[3.001s][info][gc] GC(0) Pause Young (Normal) (G1 Evacuation Pause) 24M->6M(256M) 4.123ms
[9.100s][info][gc] GC(7) Pause Young (Concurrent Start) (G1 Humongous Allocation) 1530M->1210M(2048M) 21.5ms
[9.300s][info][gc] GC(8) Pause Remark 1301M->1290M(2048M) 3.1ms
[12.00s][info][gc] GC(9) Pause Full (System.gc()) 1400M->1.1G(2048M) 812.0ms
[13.00s][info][gc] GC(10) Pause Full (System.gc()) 1400M->1100M(2048M) 812.0ms
"""

CANNED_METRICS = """# TYPE relay_messages_rejected_total counter
relay_messages_rejected_total{reason="backpressure"} 3.0
relay_messages_rejected_total{reason="size"} 1.0
relay_queue_messages{state="active"} 10.0
relay_queue_messages{state="deferred"} 199990.0
relay_messages_accepted_total{listener="127.0.0.1:2525"} 200000.0
"""


def selftest(outdir):
    peak, live, cap = parse_gc_log(CANNED_GC)
    assert (peak, live, cap) == (1530, 1100, 2048), (peak, live, cap)
    assert parse_metric(CANNED_METRICS, "relay_messages_rejected_total", {"reason": "backpressure"}) == 3
    assert parse_metric(CANNED_METRICS, "relay_queue_messages") == 200000
    assert parse_metric(CANNED_METRICS, "relay_messages_accepted_total") == 200000
    assert merge_yaml("queue:\n  spool-dir: x\nlog:\n  file: y\n", "queue:\n  max-messages: 5\nadmin:\n  listen: z\n") == \
        "queue:\n  spool-dir: x\n  max-messages: 5\nlog:\n  file: y\nadmin:\n  listen: z\n"
    assert thread_group("hz.relay-127.0.0.1:5701.partition-operation.thread-3") == "hz.partition-operation.thread"
    assert thread_group("hz.bench-cluster-1-123.IO.thread-in-2") == "hz.IO.thread-in"
    assert thread_group("queue-delivery-17") == "queue-delivery"
    assert thread_group("multiThreadIoEventLoopGroup-2-1") == "multiThreadIoEventLoopGroup-N"
    split = thread_cpu({(1, "10"): ("a-1", 100, 50), (1, "11"): ("a-2", 0, 0)},
                       {(1, "10"): ("a-1", 300, 50), (1, "11"): ("a-2", 100, 100), (1, "12"): ("b", 10, 0)}, 1000, {})
    hz = os.sysconf("SC_CLK_TCK")
    assert [t["threads"] for t in split] == ["a", "b"], split
    assert abs(split[0]["cpu_per_1000"] - round(400 / hz, 3)) < 1e-9 and abs(split[0]["system_per_1000"] - round(100 / hz, 3)) < 1e-9, split
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "mail.log")
        with open(p, "w") as f:
            f.write("a status=sent (250)\nb status=deferred\nc status=sent (250)\nd status=se")
        c = LogCounter(p, " status=sent ")
        assert c.update() == 2
        with open(p, "a") as f:
            f.write("nt (250)\n")
        assert c.update() == 3
    canned = {"started": "2026-01-01 00:00:00 UTC", "quick": True, "scenarios": {
        "a": {"title": SCENARIOS["a"][0], "relay": {"accepted_per_s": 2000.0, "e2e_per_s": 1800.0, "p50_ms": 2.0,
                                                    "p99_ms": 9.0, "probe_rate": 900.0, "cpu_per_1000": 0.8,
                                                    "peak_rss_mb": 400.0},
              "postfix": {"accepted_per_s": 900.0, "e2e_per_s": 900.0, "p50_ms": 4.0, "p99_ms": 20.0,
                          "probe_rate": 450.0, "cpu_per_1000": 1.6, "peak_rss_mb": 50.0}},
        "d": {"title": SCENARIOS["d"][0], "relay": {"accepted_per_s": 1500.0, "e2e_per_s": 1200.0, "p50_ms": 3.0,
                                                    "p99_ms": 15.0, "probe_rate": 600.0, "cpu_per_1000": 1.2,
                                                    "peak_rss_mb": 1200.0, "haproxy_cpu_per_1000": 0.1}},
        "e": {"title": SCENARIOS["e"][0], "relay": {"accepted_per_s": 1000.0, "e2e_per_s": 2000.0, "cpu_per_1000": 1.0,
                                                    "peak_rss_mb": 2500.0, "heap_peak_mb": 1900.0, "heap_live_mb": 1100.0,
                                                    "heap_capacity_mb": 2048.0, "queued": 200000, "rejected_452": 0}}}}
    selftest_bursts(canned)
    selftest_scaleout(canned)
    report(canned, outdir, png=False)
    with open(os.path.join(outdir, "bench.csv")) as f:
        rows = list(csv.DictReader(f))
    ratio = [r for r in rows if r["scenario"] == "a" and r["system"] == "ratio relay/postfix"][0]
    assert ratio["e2e_per_s"] == "2.000" and ratio["p99_ms"] == "0.450", ratio
    vs_one = [r for r in rows if r["scenario"] == "d" and r["system"] == "ratio cluster/one node (a)"][0]
    assert vs_one["e2e_per_s"] == "0.667", vs_one
    with open(os.path.join(outdir, "bench-bursts.csv")) as f:
        brows = {(r["scenario"], r["system"]): r for r in csv.DictReader(f)}
    f_relay = brows[("f", "relay")]
    assert f_relay["accept_vs_a"] == "0.900" and f_relay["drain_vs_a"] == "1.100", f_relay
    assert f_relay["rejected_452"] == "0" and f_relay["heap_bytes_per_msg"] == "200.000", f_relay
    assert brows[("f", "postfix")]["drain_vs_a"] == "1.000", brows[("f", "postfix")]
    assert brows[("r", "relay")]["kill9_greeting_s"] == "4.200" and brows[("r", "relay")]["lost"] == "0", brows[("r", "relay")]
    with open(os.path.join(outdir, "bench.txt")) as f:
        text = f.read()
    assert "peak MB 440 vs 400 (1.10x, within 20%)" in text, text
    assert "live MB 330 vs 250 (1.32x, NOT within 20%)" in text, text
    assert "kill -9 (stopped in 0.0 s): SMTP greeting 4.2 s" in text, text
    assert "1000000 accepted before the restarts: 1000000 delivered, 0 lost, 0 duplicates" in text, text
    with open(os.path.join(outdir, "bench-scaleout.csv")) as f:
        srows = {(r["scenario"], r["nodes"]): r for r in csv.DictReader(f)}
    assert srows[("g", "3")]["efficiency"] == "0.800" and srows[("g", "3")]["cpu_vs_one"] == "1.250", srows[("g", "3")]
    assert srows[("g", "2")]["node_cpu_per_1000"] == "1.000 1.100", srows[("g", "2")]
    assert srows[("g-reuse", "1")]["efficiency"] == "1.000", srows[("g-reuse", "1")]
    assert "hz.partition-operation.thread=0.300" in srows[("g", "3")]["top_threads"], srows[("g", "3")]
    assert "ratio relay/postfix-system" in text and "the faster Postfix" in text, text
    assert "(g) CPU s per 1000 messages by thread kind" in text and "0.80" in text, text
    with open(os.path.join(outdir, "bench.md")) as f:
        md = f.read()
    assert "| g: " in md and "| threads | g 1n | g 2n | g 3n | g-reuse 1n |" in md, md
    print("selftest: 1 passed, 0 failed")


def selftest_scaleout(canned):
    """(g)'s figures on canned runs: the medians per thread kind, the cgroup helpers' parsing;
    adds canned (g) and a faster system Postfix in (a) to `canned`."""
    runs = [{"thread_cpu": [{"threads": "a", "cpu_per_1000": 1.0, "system_per_1000": 0.1},
                            {"threads": "b", "cpu_per_1000": 0.2, "system_per_1000": 0.0}]},
            {"thread_cpu": [{"threads": "a", "cpu_per_1000": 3.0, "system_per_1000": 0.3}]},
            {"thread_cpu": [{"threads": "a", "cpu_per_1000": 2.0, "system_per_1000": 0.2},
                            {"threads": "b", "cpu_per_1000": 0.4, "system_per_1000": 0.0}]}]
    assert median_thread_cpu(runs) == [{"threads": "a", "cpu_per_1000": 2.0, "system_per_1000": 0.2},
                                       {"threads": "b", "cpu_per_1000": 0.2, "system_per_1000": 0.0}], median_thread_cpu(runs)
    assert only_scenarios("a,g") == ["a", "g", "g-reuse"] and only_scenarios("g-conn,g-reuse") == ["g", "g-reuse"]
    assert DEBIAN_SMTPD.search("x\nsmtp      inet  n       -       y       -       -       smtpd\ny")
    busy, total = machine_cpu()
    assert 0 <= busy <= total
    threads = lambda *kv: [{"threads": k, "cpu_per_1000": v, "system_per_1000": 0.0} for k, v in kv]
    node = lambda n, e2e, cpu, each, th: {
        "nodes": n, "quota_cpus": 0.25, "messages": 6000 * n, "run_s": 6000 * n / e2e, "e2e_per_s": e2e,
        "accepted_per_s": e2e, "cpu_per_1000": cpu, "node_cpu_per_1000": each, "nodes_cores": 0.25 * n * 0.98,
        "quota_use": 0.98, "node_throttled": [0.9] * n, "haproxy_cores": 0.1 * n, "smtp-source_cores": 0.1 * n,
        "smtp-sink_cores": 0.05 * n, "load_cores": 0.25 * n, "others_cores": 0.1, "headroom_cores": 2 - 0.5 * n - 0.1,
        "machine_busy_cores": 0.5 * n + 0.1, "thread_cpu": th}
    canned["scenarios"]["g"] = {"title": SCENARIOS["g"][0], "quota_cpus": 0.25, "warmup_per_node": 10000, "cpus": 2,
                                "nodes": {"1": node(1, 250.0, 0.8, [0.8], threads(("queue-delivery", 0.3), ("hz.partition-operation.thread", 0.05))),
                                          "2": node(2, 450.0, 0.9, [1.0, 1.1], threads(("queue-delivery", 0.3), ("hz.partition-operation.thread", 0.2))),
                                          "3": node(3, 600.0, 1.0, [1.0, 1.0, 1.0], threads(("queue-delivery", 0.3), ("hz.partition-operation.thread", 0.3)))}}
    canned["scenarios"]["g-reuse"] = {"title": SCENARIOS["g-reuse"][0], "quota_cpus": 0.25, "warmup_per_node": 10000,
                                      "cpus": 2, "nodes": {"1": node(1, 300.0, 0.7, [0.7], threads(("queue-delivery", 0.3)))}}
    canned["scenarios"]["a"]["postfix-system"] = dict(canned["scenarios"]["a"]["postfix"], e2e_per_s=1000.0)


CANNED_SOURCE = """smtp-source: warning: sender rejected: 452 4.3.1 Insufficient system storage
smtp-source: warning: end of data rejected: 452 4.3.1 Insufficient system storage
smtp-source: warning: recipient rejected: 450 4.7.1 try later
smtp-source: warning: connect to 127.0.0.1:2525: Connection refused
"""

CANNED_MAILLOG = b"""Dec 07 10:20:52 n.test relay/qmgr[1]: AAA: from=<a@app.test>, size=4370, nrcpt=1 (queue active)
Dec 07 10:20:52 n.test relay/qmgr[1]: BBB: from=<a@app.test>, size=4370, nrcpt=1 (queue active)
Dec 07 10:20:52 n.test relay/qmgr[1]: CCC: from=<a@app.test>, size=4370, nrcpt=1 (queue active)
Dec 07 10:20:53 n.test relay/smtp[1]: AAA: to=<r@example.com>, relay=none, delay=1, status=deferred (refused)
"""
CANNED_MAILLOG_AFTER = b"""Dec 07 10:21:52 n.test relay/qmgr[2]: DDD: from=<canary@app.test>, size=300, nrcpt=1 (queue active)
Dec 07 10:21:53 n.test relay/smtp[2]: DDD: to=<r@example.com>, relay=127.0.0.1, delay=1, status=sent (250 Ok)
Dec 07 10:21:53 n.test relay/smtp[2]: AAA: to=<r@example.com>, relay=127.0.0.1, delay=1, status=sent (250 Ok)
Dec 07 10:21:53 n.test relay/smtp[2]: BBB: to=<r@example.com>, relay=127.0.0.1, delay=1, status=sent (250 Ok)
Dec 07 10:21:54 n.test relay/smtp[2]: AAA: to=<r@example.com>, relay=127.0.0.1, delay=2, status=sent (250 Ok)
"""


def selftest_bursts(canned):
    """The bursts' parsing on canned input; adds canned (f), (f-100k), (r) figures to `canned`."""
    g = gc_log_figures(CANNED_GC)
    assert (g["peak"], g["after_gc_peak"], g["live"], g["pauses"]) == (1530, 1290, 1100, 4), g
    assert parse_heap_info(" garbage-first heap   total 17408K, used 2884K [0x0, 0x1)\n"
                           "  region size 1024K, 0 young (0K), 0 survivors (0K)\n"
                           " Metaspace       used 8873K, committed 9088K, reserved 1114112K\n") == 2884
    assert parse_heap_info(" PSYoungGen      total 100K, used 10K\n ParOldGen       total 200K, used 20K\n") == 30
    assert abs(log_time("2026-12-07T10:21:00.957Z INFO  [main] x - spool replay: 30 entries") - 1796638860.957) < 1e-3
    assert log_time("2026-12-07T11:21:00.957+01:00 INFO") == log_time("2026-12-07T10:21:00.957Z INFO")
    assert SPOOL_REPLAY_DONE.search("2026-12-07T10:21:00.957Z INFO  [main] io.relay.queue.ClusterQueue - spool replay: "
                                    "30 entries re-enqueued under epoch e (0 on hold), 0 dropped (delivered elsewhere)")
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "source.err")
        with open(p, "w") as f:
            f.write(CANNED_SOURCE)
        c = count_source_replies(p)
        assert c["codes"] == {"452": 2, "450": 1} and c["refused"] == 3 and c["other_warnings"] == 1, c
        p = os.path.join(d, "mail.log")
        with open(p, "wb") as f:
            f.write(CANNED_MAILLOG + CANNED_MAILLOG_AFTER)
        # CCC was accepted and never delivered, AAA delivered twice, DDD (the canary) not counted
        assert count_deliveries([p], [len(CANNED_MAILLOG)]) == (3, 2, 1, 1)
    a_relay, a_pf = canned["scenarios"]["a"]["relay"]["e2e_per_s"], canned["scenarios"]["a"]["postfix"]["e2e_per_s"]
    canned["scenarios"]["f"] = {"title": SCENARIOS["f"][0], "a_same_run": True, "relay": {
        "messages": 1000000, "accepted": 1000000, "rejected_452": 0, "replies_non_2xx": 0, "replies_by_code": {},
        "accepted_per_s": 0.9 * a_relay, "e2e_per_s": 1.1 * a_relay, "cpu_per_1000": 0.5, "peak_rss_mb": 1100.0,
        "xmx": "1g", "heap_peak_mb": 900.0, "heap_after_gc_peak_mb": 500.0, "heap_live_idle_mb": 50.0,
        "heap_live_end_mb": 50.0 + 200 * 1000000 / 1048576, "heap_bytes_per_msg": 200.0,
        "checkpoint_queued": 100000, "checkpoint_heap_peak_mb": 400.0, "checkpoint_live_mb": 250.0,
        "checkpoint_bytes_per_msg": 2097.0},
        "postfix": {"messages": 1000000, "accepted": 1000000, "rejected_452": 0, "accepted_per_s": 800.0,
                    "e2e_per_s": a_pf, "cpu_per_1000": 3.0}}
    canned["scenarios"]["f100k"] = {"title": SCENARIOS["f100k"][0], "a_same_run": True, "relay": {
        "messages": 100000, "accepted": 100000, "rejected_452": 0, "accepted_per_s": 600.0, "e2e_per_s": 700.0,
        "xmx": "1g", "heap_peak_mb": 440.0, "heap_after_gc_peak_mb": 400.0, "heap_live_idle_mb": 50.0,
        "heap_live_end_mb": 330.0, "heap_bytes_per_msg": 2936.0}}
    canned["scenarios"]["r"] = {"title": SCENARIOS["r"][0], "a_same_run": True, "relay": {
        "messages": 1000000, "accepted": 1000000, "rejected_452": 0, "accepted_per_s": 1500.0, "e2e_per_s": 2000.0,
        "kill9_stop_s": 0.01, "kill9_greeting_s": 4.2, "kill9_ready_s": 4.4, "kill9_replay_s": 30.5, "kill9_heap_peak_mb": 700.0,
        "term_stop_s": 2.5, "term_greeting_s": 3.9, "term_ready_s": 4.0, "term_replay_s": 28.0,
        "counted": 1000000, "delivered": 1000000, "lost": 0, "duplicates": 0}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run the benchmark (root)")
    r.add_argument("--quick", action="store_true", help="small counts: a smoke check, not a measurement")
    r.add_argument("--only", default="a,b,c,d,e",
                   help="scenarios, e.g. a,d (default a,b,c,d,e; the bursts f, f100k, r and the scale-out g "
                        "(= g-conn,g-reuse) only when named)")
    r.add_argument("--systems", default="relay,postfix",
                   help="relay, postfix (the harness's private instance), postfix-system (Debian's system setup "
                        "as ../shared/bench/postfix-peer.sh, a separate instance); some of them with --merge")
    r.add_argument("--runs", type=int, default=1,
                   help="runs of each scenario a-d, f, f100k, r (e: one); the table shows medians")
    r.add_argument("--messages", type=int, help="messages per run of a-d (default 20000/10000/4000/20000)")
    r.add_argument("--queue-messages", type=int, help="messages queued in scenario e (default 200000)")
    r.add_argument("--scale", type=float,
                   help="multiplies the bursts' counts (1000000 in f and r, 100000 in f100k): 0.02 tries them with 20000/2000")
    r.add_argument("--postfix-queue-messages", type=int,
                   help="messages queued in scenario e for Postfix, when fewer than the relay's (time)")
    r.add_argument("--results", default=os.path.join(ROOT, "deploy", "bench", "results"))
    r.add_argument("--no-png", action="store_true")
    r.add_argument("--keep", action="store_true", help="keep the work directory (configs, logs)")
    r.add_argument("--thread-cpu", action="store_true",
                   help="also CPU per 1000 messages by thread kind over the measured run (bench.json, log)")
    r.add_argument("--g-nodes", default="1,2,3", help="(g): the cluster sizes measured (default 1,2,3)")
    r.add_argument("--g-quota", type=float, default=DEFAULT_QUOTA,
                   help="(g): CPUs per node, its cgroup's cpu.cfs_quota_us / 100000 (default %.2f)" % DEFAULT_QUOTA)
    r.add_argument("--g-messages", type=int,
                   help="(g): messages per node and run (default %d, with -d %d; N nodes get N times as many)"
                        % (FULL["g"], FULL["g-reuse"]))
    r.add_argument("--g-fixed-sessions", action="store_true",
                   help="(g): the scenario's 20 sessions for every cluster size (default: 20 per node)")
    r.add_argument("--g-warmup", type=int,
                   help="(g): warm-up messages per node, without the quota (default %d)" % FULL["g-warmup"])
    r.add_argument("--merge", action="store_true",
                   help="keep the other scenarios of the results directory's bench.json (re-measure some)")
    rep = sub.add_parser("report", help="table, CSV and PNG from a bench.json")
    rep.add_argument("json")
    rep.add_argument("--results", default=None)
    rep.add_argument("--no-png", action="store_true")
    st = sub.add_parser("selftest", help="parsing and report logic on canned input")
    st.add_argument("outdir")
    args = ap.parse_args()
    # run.sh may run in the background, where SIGINT is ignored; SIGTERM and SIGINT both stop
    # the run through its cleanup (every process it started, its cgroups)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        if args.cmd == "run":
            run_bench(args)
        elif args.cmd == "report":
            with open(args.json) as f:
                report(json.load(f), args.results or os.path.dirname(os.path.abspath(args.json)), png=not args.no_png)
        else:
            selftest(args.outdir)
    except BenchError as e:
        log("bench: " + str(e))
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
