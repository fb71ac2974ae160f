#!/usr/bin/env bash
# The benchmark (issue 8): the relay beside Postfix, measured in one run on this machine.
#   deploy/bench/run.sh [--quick] [--only a,b,c,d,e,f,f100k,r,g] [--runs N] [--scale X] [--jmh] [--no-build] [--keep] ...
# Scenarios: (a) 20 sessions, 4 KB, one message per connection; (b) 20 sessions reusing
# their connections (smtp-source -d), 10 recipients per message; (c) 100 KB messages;
# (d) the 3-node cluster behind haproxy (deploy/haproxy/haproxy.cfg); (e) queue build-up:
# 200k messages accepted with the upstream down, then drained. Prints the table and writes
# bench.{txt,csv,json,png} to deploy/bench/results/ (--quick: deploy/bench/results/quick/).
# The bursts (issue 17), only when named in --only (e.g. --only a,f,f100k,r: a gives the ratios):
# (f) one node with -Xmx1g, the upstream down, 1,000,000 x 4 KB (smtp-source -s 20 -A): the
#   452s/non-2xx replies, the accept rate (and / (a)'s end-to-end rate), the heap's peak,
#   after-GC peak and live bytes per queued message (full GCs idle and with the queue full,
#   and once at f100k's count), then the upstream up: the drain rate (and / (a)'s); Postfix's
#   same burst beside it; (f100k) the same with 100,000 x 100 KB, its heap beside (f)'s at the
#   same count; (r) (f)'s burst, then the node killed (-9), started on the same spool, stopped
#   (SIGTERM), started again: seconds until SMTP greets, /readyz is 200 and the spool replay's
#   line is logged; then the drain, every message counted (delivered/lost/duplicates). Their
#   own table in bench.{txt,md} and bench-bursts.csv. --scale 0.02 tries them with 20000/2000.
# (g) scale-out at equal CPU (issue 18), only when named (--only a,g): 1, 2, 3 nodes behind haproxy,
#   4 KB, one message per connection (g) and reused connections (g-reuse), each JVM in a cgroup v1
#   cpu group with the same quota (--g-quota, 0.25 CPU) for the measured run, 20 sessions per node
#   (--g-fixed-sessions: 20 for every size); throughput, scale-out
#   efficiency, CPU per message per node, the load generator's cores and the machine's idle cores.
#   Their own table in bench.{txt,md} and bench-scaleout.csv.
# --systems relay,postfix,postfix-system adds Debian's system Postfix as ../shared/bench/postfix-peer.sh
#   sets it up (a separate instance; /etc/postfix untouched) beside the private one.
# --jmh also runs the JMH microbenchmarks (deploy/src/main/java/io/relay/bench) and writes
# jmh.txt and jmh.json next to them; --jmh-only runs just those.
# Needs root, a JDK 17, Maven, and Debian's postfix, haproxy and python3-matplotlib
# (installed with apt-get when missing). How each figure is measured: deploy/bench/bench.py.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

build=1 jmh=0 bench=1 quick=0 results="" args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --jmh) jmh=1 ;;
    --jmh-only) jmh=1; bench=0 ;;
    --quick) quick=1; args+=("$1") ;;
    --results) results=$2; args+=("$1" "$2"); shift ;;
    -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; /usr/bin/python3 deploy/bench/bench.py run --help; exit 0 ;;
    *) args+=("$1") ;;
  esac
  shift
done
if [ -z "$results" ]; then
  results=$root/deploy/bench/results
  [ $quick = 1 ] && results=$results/quick
  args+=(--results "$results")
fi

[ "$(id -u)" = 0 ] || { echo "run.sh: run as root (Postfix's master and smtp-sink -u need it)" >&2; exit 1; }
need=()
[ -x /usr/sbin/postfix ] || need+=(postfix)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
/usr/bin/python3 -c 'import matplotlib' 2>/dev/null || need+=(python3-matplotlib)
if [ ${#need[@]} -gt 0 ]; then
  echo "run.sh: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ $build = 1 ]; then
  jar=relay-node/target/relay-node.jar probe=deploy/target/classes/io/relay/bench/LatencyProbe.class
  if [ ! -f $jar ] || [ ! -f $probe ] || [ $jmh = 1 -a ! -f deploy/target/benchmarks.jar ] \
     || [ -n "$(find routing queue health-http admin-api relay-node deploy -name '*.java' -path '*/src/main/*' -newer $jar -print -quit)" ]; then
    echo "run.sh: building (mvn -B -q -DskipTests package)" >&2
    mvn -B -q -DskipTests $([ $jmh = 1 ] && echo -Pjmh) package
  fi
fi

if [ $bench = 1 ]; then
  /usr/bin/python3 deploy/bench/bench.py run "${args[@]}"
fi
if [ $jmh = 1 ]; then
  mkdir -p "$results"
  jmh_args=(-rf json -rff "$results/jmh.json")
  [ $quick = 1 ] && jmh_args+=(-wi 1 -i 2 -w 1s -r 1s)
  echo "run.sh: JMH microbenchmarks (java -jar deploy/target/benchmarks.jar)" >&2
  started="$(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
  java -Dbench.dir=/var/tmp -jar deploy/target/benchmarks.jar "${jmh_args[@]}" > "$results/jmh.log"
  { echo "# JMH, $started; settings of each class's annotations${jmh_args[4]:+ (short: ${jmh_args[*]:4})}"
    sed -n '/^Benchmark /,$p' "$results/jmh.log" | grep -v '^Benchmark result is saved'
    echo
    grep '^\[spool\]' "$results/jmh.log" | sed 's/^/# /'
  } > "$results/jmh.txt"
  rm -f "$results/jmh.log"
  cat "$results/jmh.txt"
fi
