#!/bin/bash
# Benchmarks/compare.sh — ferryd against vsftpd, side by side in one run, measured by ferry-bench.
#
# Builds release binaries, prepares two identical homes (tmpfs when possible), one self-signed ECDSA P-256
# certificate for both servers, starts ferryd and vsftpd on loopback (installing vsftpd from Debian's packages if
# missing), runs every scenario against both in alternation for --rounds rounds, and prints the medians and the
# ratios ferryd/vsftpd. Needs root (vsftpd authenticates a system user through PAM; tmpfs mount).
#
# Usage: sudo Benchmarks/compare.sh [--quick] [--rounds N (3)] [--scenario LIST] [--out DIR] [--no-idle-10k]
# Env:   FERRY_BENCH_NICE=-10 runs the servers and the load generator at that niceness (shields from other load).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ROUNDS=3
QUICK=""
SCENARIOS="retr,stor,concurrent,burst,login-rate,idle,small-files,listing,retr-tls,stor-tls,concurrent-tls"
OUT=""
IDLE_10K=1
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK="--quick" ;;
    --rounds) ROUNDS="$2"; shift ;;
    --scenario) SCENARIOS="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    --no-idle-10k) IDLE_10K=0 ;;
    -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown option '$1' (see --help)" >&2; exit 64 ;;
    esac
    shift
done
[ "$(id -u)" = 0 ] || { echo "compare.sh: run as root (vsftpd logs in a system user through PAM)" >&2; exit 77; }
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: --rounds must be a positive number" >&2; exit 64; }

WORK=${FERRY_COMPARE_DIR:-/tmp/ferry-compare}
OUT=${OUT:-$WORK/results-$(date -u +%Y%m%dT%H%M%SZ)}
FERRY_PORT=2310
VSFTPD_PORT=2311
BENCH_USER=ferrybench
BENCH_PASS=benchpass
NICE=${FERRY_BENCH_NICE:+nice -n $FERRY_BENCH_NICE}
export DEBIAN_FRONTEND=noninteractive

log() { printf '== %s\n' "$*" >&2; }

# --- tools -------------------------------------------------------------------------------------------------------
if [ ! -x /usr/sbin/vsftpd ]; then
    log "installing vsftpd (Debian package)"
    apt-get update -qq && apt-get install -y -qq vsftpd >/dev/null
fi
command -v openssl >/dev/null || { apt-get update -qq && apt-get install -y -qq openssl >/dev/null; }

log "building release binaries"
(cd "$ROOT" && swift build -c release --product ferryd >&2 && swift build -c release --product ferry-bench >&2)
BIN="$(cd "$ROOT" && swift build -c release --show-bin-path)"
FERRYD="$BIN/ferryd"
BENCH="$BIN/ferry-bench"

# --- clean up whatever happens -----------------------------------------------------------------------------------
FERRYD_PID=""
VSFTPD_PID=""
cleanup() {
    [ -n "$FERRYD_PID" ] && kill "$FERRYD_PID" 2>/dev/null || true
    [ -n "$VSFTPD_PID" ] && kill "$VSFTPD_PID" 2>/dev/null || true
    sleep 0.5
    mountpoint -q "$WORK/homes" 2>/dev/null && umount "$WORK/homes" 2>/dev/null || true
    rm -rf "$WORK/homes" "$WORK/data"
    id "$BENCH_USER" >/dev/null 2>&1 && userdel "$BENCH_USER" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- homes, user, certificate ------------------------------------------------------------------------------------
mkdir -p "$WORK/homes" "$OUT"
if ! mountpoint -q "$WORK/homes"; then
    mount -t tmpfs -o size=8g,mode=0755 tmpfs "$WORK/homes" 2>/dev/null || log "tmpfs mount failed: homes on disk"
fi
HOMES_FS=$(stat -f -c %T "$WORK/homes")
for server in ferryd vsftpd; do
    "$BENCH" --setup "$WORK/homes/$server" >/dev/null
done
id "$BENCH_USER" >/dev/null 2>&1 || useradd -M -d "$WORK/homes/vsftpd" -s /bin/sh "$BENCH_USER"
usermod -d "$WORK/homes/vsftpd" "$BENCH_USER"
# md5crypt on purpose, as ../shared/bench does: cheap to verify, so login-rate measures vsftpd, not yescrypt.
echo "$BENCH_USER:$(openssl passwd -1 -salt ferrybch "$BENCH_PASS")" | chpasswd -e
sed -i "/^$BENCH_USER\$/d" /etc/ftpusers 2>/dev/null || true
chown -R "$BENCH_USER:$BENCH_USER" "$WORK/homes/vsftpd"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 -subj /CN=127.0.0.1 \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

# --- servers -----------------------------------------------------------------------------------------------------
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
rm -rf "$WORK/data"
echo "$BENCH_PASS" | "$FERRYD" user add --data "$WORK/data" "$BENCH_USER" --password-stdin \
    --home "$WORK/homes/ferryd" --quota unlimited --files unlimited >/dev/null
# vsftpd does not fsync uploads; neither does ferryd here, so both are measured with the same semantics. The cost of
# ferryd's default (durable uploads) is measured on its own by fsync_cost.py (BENCHMARKS.md, "Durable uploads").
# FERRYD_DURABILITY= (empty) measures the default instead.
FERRYD_DURABILITY=${FERRYD_DURABILITY---unsafe-no-fsync}
start_ferryd() {
    $NICE "$FERRYD" serve --data "$WORK/data" --host 127.0.0.1 --port $FERRY_PORT --passive-ports 21000-22999 \
        --max-connections 20000 --max-connections-per-ip 20000 --max-sessions-per-user 20000 --idle-timeout 900 \
        --tls optional --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem" --log-level warning $FERRYD_DURABILITY \
        </dev/null >>"$WORK/ferryd.log" 2>&1 &
    FERRYD_PID=$!
}
start_ferryd

mkdir -p /var/run/vsftpd/empty
cat >"$WORK/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$VSFTPD_PORT
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
pasv_enable=YES
pasv_min_port=23000
pasv_max_port=24999
connect_from_port_20=NO
xferlog_enable=NO
syslog_enable=NO
dual_log_enable=NO
vsftpd_log_file=$WORK/vsftpd.log
pam_service_name=vsftpd
secure_chroot_dir=/var/run/vsftpd/empty
max_clients=0
max_per_ip=0
idle_session_timeout=900
data_connection_timeout=300
seccomp_sandbox=NO
ssl_enable=YES
allow_anon_ssl=NO
force_local_logins_ssl=NO
force_local_data_ssl=NO
ssl_tlsv1=NO
ssl_sslv2=NO
ssl_sslv3=NO
require_ssl_reuse=NO
ssl_ciphers=HIGH
rsa_cert_file=$WORK/cert.pem
rsa_private_key_file=$WORK/key.pem
EOF
start_vsftpd() {
    $NICE /usr/sbin/vsftpd "$WORK/vsftpd.conf" </dev/null >>"$WORK/vsftpd.out" 2>&1 &
    VSFTPD_PID=$!
}
start_vsftpd

wait_port() {
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "compare.sh: nothing answers on port $1; see $WORK/*.log, $WORK/*.out" >&2
    exit 1
}
wait_port $FERRY_PORT
wait_port $VSFTPD_PORT

# Memory per idle session is measured on freshly started servers: a heap grown by earlier scenarios would hide
# (or inflate) what the sessions themselves take.
restart_servers() {
    kill "$FERRYD_PID" "$VSFTPD_PID" 2>/dev/null || true
    wait "$FERRYD_PID" "$VSFTPD_PID" 2>/dev/null || true
    start_ferryd
    start_vsftpd
    wait_port $FERRY_PORT
    wait_port $VSFTPD_PORT
}

# --- runs --------------------------------------------------------------------------------------------------------
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
    echo "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "homes: $HOMES_FS; ferryd $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?'); vsftpd $(dpkg-query -W -f='${Version}' vsftpd 2>/dev/null || echo '?')"
    echo "rounds: $ROUNDS ${QUICK:+(quick)}"
} | tee "$OUT/machine.txt" >&2

run_one() { # label port scenario round [extra args]
    local label=$1 port=$2 scenario=$3 round=$4
    shift 4
    $NICE "$BENCH" --url "ftp://$BENCH_USER:$BENCH_PASS@127.0.0.1:$port" --label "$label" --scenario "$scenario" \
        $QUICK "$@" --json "$OUT/$label-$scenario-$round.json" || true
    sleep 1
}

for round in $(seq 1 "$ROUNDS"); do
    log "round $round of $ROUNDS"
    for scenario in ${SCENARIOS//,/ }; do
        # Alternate who goes first, so neither always runs on a warmer (or busier) machine.
        if [ $((round % 2)) = 1 ]; then order="ferryd vsftpd"; else order="vsftpd ferryd"; fi
        [ "$scenario" = idle ] && restart_servers
        for label in $order; do
            if [ "$label" = ferryd ]; then port=$FERRY_PORT; else port=$VSFTPD_PORT; fi
            run_one "$label" "$port" "$scenario" "$round"
        done
    done
done
if [ "$IDLE_10K" = 1 ] && [ -z "$QUICK" ]; then
    log "ferryd alone: 10,000 idle sessions"
    restart_servers
    run_one ferryd-10k $FERRY_PORT idle 1 --idle-sessions 10000 --timeout 60
fi

# --- table -------------------------------------------------------------------------------------------------------
python3 - "$OUT" "$SCENARIOS" <<'PY'
import glob, json, os, statistics, sys
out = sys.argv[1]
wanted = sys.argv[2].split(",")
rows = {}
for path in sorted(glob.glob(os.path.join(out, "*.json"))):
    for r in json.load(open(path)):
        rows.setdefault((r["scenario"], r["label"]), []).append(r)
order = []
for name in wanted:  # the order of --scenario; listing gives two rows
    for scenario in ([name] if name != "listing" else ["listing-list", "listing-mlsd"]):
        if scenario not in order:
            order.append(scenario)
def cell(results):
    ok = [r for r in results if r["status"] == "ok" and r.get("headline")]
    if not ok:
        return None, (results[0]["status"] if results else "-"), None
    metric = ok[0]["headline"]["metric"]
    value = statistics.median(r["metrics"][metric] for r in ok)
    return value, metric, ok[0]["headline"]["higherIsBetter"]
lines = ["| scenario | metric | ferryd | vsftpd | ferryd/vsftpd | better |", "|---|---|---|---|---|---|"]
for scenario in order:
    f, fm, higher = cell(rows.get((scenario, "ferryd"), []))
    v, vm, _ = cell(rows.get((scenario, "vsftpd"), []))
    if f is None and v is None and (scenario, "ferryd-10k") not in rows:
        continue
    metric = fm if f is not None else vm
    ratio = f"{f / v:.2f}×" if f is not None and v not in (None, 0) else "–"
    better = "" if f is None or v is None else ("ferryd" if (f > v) == bool(higher) and f != v else ("vsftpd" if f != v else "tie"))
    fmt = lambda x, m: (m if x is None else (f"{x:.0f}" if abs(x) >= 100 else f"{x:.2f}"))
    extra = ""
    if scenario in ("concurrent", "concurrent-tls"):
        fr = [r for r in rows.get((scenario, "ferryd"), []) if r["status"] == "ok"]
        vr = [r for r in rows.get((scenario, "vsftpd"), []) if r["status"] == "ok"]
        if fr and vr:
            extra = f" (p99 {statistics.median(r['metrics']['p99_s'] for r in fr):.2f} s vs {statistics.median(r['metrics']['p99_s'] for r in vr):.2f} s; failed {max(r['metrics']['failed'] for r in fr):.0f} vs {max(r['metrics']['failed'] for r in vr):.0f})"
    if scenario == "burst":
        fr = rows.get((scenario, "ferryd"), [])
        vr = rows.get((scenario, "vsftpd"), [])
        if fr and vr and fr[0]["status"] == "ok" and vr[0]["status"] == "ok":
            extra = " (of %d; refused+timed out %s vs %s)" % (fr[0]["metrics"]["clients"],
                "/".join("%d" % (r["metrics"]["refused"] + r["metrics"]["timed_out"]) for r in fr),
                "/".join("%d" % (r["metrics"]["refused"] + r["metrics"]["timed_out"]) for r in vr))
    lines.append(f"| {scenario} | {metric} | {fmt(f, fm)} | {fmt(v, vm)} | {ratio}{extra} | {better} |")
for r in rows.get(("idle", "ferryd-10k"), []):
    m = r["metrics"]
    lines.append(f"| idle, 10,000 sessions (ferryd only) | pss_kib_per_session | {m.get('pss_kib_per_session', float('nan')):.1f} | – | – | held {m.get('held', 0):.0f}/{m.get('sessions', 0):.0f} |" if r["status"] == "ok" else f"| idle 10k (ferryd only) | | {r['status']}: {r['summary']} | | | |")
table = "\n".join(lines)
open(os.path.join(out, "table.md"), "w").write(table + "\n")
print(table)
PY
log "results: $OUT (JSON per run, machine.txt, table.md)"
