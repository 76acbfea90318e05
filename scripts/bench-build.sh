#!/usr/bin/env bash
# Compile and codegen cost (issue 11, item 6): times code generation and the build of the
# generated example, and prints one markdown table (measure, value, baseline, ratio, target,
# met?), also written to $CARGO_TARGET_DIR/bench/build-results.md.
#
#   scripts/bench-build.sh [--quick]
#
# 1. Codegen speed: `cargo bench -p codegen --bench generate` (in memory: the example, then
#    10, 100 and 1,000 synthesized messages in two series, time per message and the ratio
#    between sizes), and the release `codegen generate` binary on a copy of the example
#    catalog with hyperfine (fresh output folder, and output already up to date).
# 2. The AsyncAPI markdown generator (@asyncapi/generator + @asyncapi/markdown-template,
#    installed by scripts/bench-tools.sh) on our own AsyncAPI export of the same catalog, in
#    a network namespace without network when `unshare -n` works (it must run offline), timed
#    with hyperfine in the same run as ours: the ratio is theirs / ours.
# 3. Build cost of the generated example, in a copy of the repository under
#    $CARGO_TARGET_DIR/bench/example (the repository's catalog is never modified) with its own
#    target folder: cold `cargo build` of the 25 generated crates (debug, fresh target folder;
#    skipped by --quick), a no-op build, then one optional field added to one event
#    (inventory.StockReserved gets `sku: optional<string>`), regenerated, and the incremental
#    `cargo build --timings` timed with the list of crates it rebuilt; the edit is reverted and
#    rebuilt (a second sample). Generated lines of .rs per message are counted in the copy.
#
# --quick skips only the cold build; without a warm target folder from an earlier run its
# warm-up build is a cold build all the same (not reported). The machine's load (uptime) at the
# start and the end is printed under the table: figures on a shared machine are noisy.
#
# Environment: CARGO_TARGET_DIR (default: target/ of the repository); BENCH_RUNS (hyperfine
# runs of `codegen generate`, default 20); BENCH_NODE_RUNS (runs of the markdown generator,
# default 3).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
QUICK=0
for arg in "$@"; do
    case "$arg" in
        --quick) QUICK=1 ;;
        -h | --help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench-build.sh: unknown argument \`$arg\` (--quick or --help)" >&2; exit 2 ;;
    esac
done

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BENCH="$CARGO_TARGET_DIR/bench"
COPY="$BENCH/example"               # copy of the repository for the build measurements
EXAMPLE_TARGET="$BENCH/example-target"
GEN_ROOT="$BENCH/catalog"            # the example catalog alone, for `codegen generate` runs
MD_OUT="$BENCH/asyncapi-markdown"
RESULTS="$BENCH/build-results.md"
RUNS="${BENCH_RUNS:-20}"
NODE_RUNS="${BENCH_NODE_RUNS:-3}"
EDIT_FILE=catalog/inventory.yaml
EDIT_EVENT=StockReserved
EDIT_FIELD="sku: optional<string>"
mkdir -p "$BENCH"

die() { echo "bench-build.sh: error: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }
now() { date +%s.%N; }
# seconds since $1, three decimals
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
load() { uptime | sed 's/.*load average/load average/'; }
# median and minimum of a hyperfine CSV export (command,mean,stddev,median,user,system,min,max), ms
hf_median_ms() { awk -F, 'NR == 2 { printf "%.1f", $4 * 1000 }' "$1"; }
hf_min_ms() { awk -F, 'NR == 2 { printf "%.1f", $7 * 1000 }' "$1"; }
# one key of the bench's results file
result() { awk -v k="$1" '$1 == k { print $2 }' "$BENCH/generate-bench.txt"; }
# a/b with two decimals
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# "yes" when the awk condition on v holds, else "**no**"
met() { awk -v v="$1" "BEGIN { exit !($2) }" && echo yes || echo "**no**"; }

started=$(now)
load_start="$(load)"
log "load at the start: $load_start ($(nproc) cores)"

# --- tools ----------------------------------------------------------------------------------
log "tools (scripts/bench-tools.sh)"
"$ROOT/scripts/bench-tools.sh" >/dev/null
NODE_MODULES="$ROOT/tools/bench/node_modules"

log "release codegen and the generate bench"
(cd "$ROOT" && cargo build -q --release -p codegen)
CODEGEN="$CARGO_TARGET_DIR/release/codegen"

# --- 1. codegen speed -------------------------------------------------------------------------
log "cargo bench -p codegen --bench generate"
(cd "$ROOT" && BENCH_RESULTS="$BENCH/generate-bench.txt" cargo bench -q -p codegen --bench generate) \
    | tee "$BENCH/generate-bench.log" >&2

rm -rf "$GEN_ROOT" && mkdir -p "$GEN_ROOT"
cp -r "$ROOT/catalog" "$ROOT/sagas.yaml" "$ROOT/topology.yaml" "$GEN_ROOT/"
printf 'runtime: { path: %s }\n' "$ROOT/runtime" >"$GEN_ROOT/project.yaml"
log "hyperfine: codegen generate of the example ($RUNS runs, fresh output, then up to date)"
hyperfine -N --style basic --warmup 2 --runs "$RUNS" \
    --prepare "rm -rf $GEN_ROOT/generated" \
    --export-csv "$BENCH/codegen-fresh.csv" \
    "$CODEGEN --root $GEN_ROOT generate" >&2
"$CODEGEN" --root "$GEN_ROOT" generate >/dev/null
hyperfine -N --style basic --warmup 2 --runs "$RUNS" \
    --export-csv "$BENCH/codegen-uptodate.csv" \
    "$CODEGEN --root $GEN_ROOT generate" >&2
ours_fresh=$(hf_median_ms "$BENCH/codegen-fresh.csv")
ours_fresh_min=$(hf_min_ms "$BENCH/codegen-fresh.csv")
ours_uptodate=$(hf_median_ms "$BENCH/codegen-uptodate.csv")
ours_uptodate_min=$(hf_min_ms "$BENCH/codegen-uptodate.csv")

# --- 2. the AsyncAPI markdown generator ---------------------------------------------------------
ASYNCAPI="$GEN_ROOT/generated/docs/asyncapi.yaml"
[ -f "$ASYNCAPI" ] || die "codegen wrote no $ASYNCAPI"
offline=()
offline_note="with network (unshare -n is not available)"
if unshare -n true 2>/dev/null; then
    offline=(unshare -n)
    offline_note="offline (in a network namespace without network)"
fi
NODE_CMD="${offline[*]} node $ROOT/tools/bench/asyncapi-markdown.cjs $ASYNCAPI $MD_OUT"
log "the AsyncAPI markdown generator, $offline_note"
rm -rf "$MD_OUT"
md_json=$(timeout 300 "${offline[@]}" node "$ROOT/tools/bench/asyncapi-markdown.cjs" "$ASYNCAPI" "$MD_OUT") \
    || die "the AsyncAPI markdown generator failed (see above)"
echo "$md_json" >&2
log "hyperfine: the markdown generator ($NODE_RUNS runs) against codegen generate, same run"
hyperfine -N --style basic --warmup 1 --runs "$NODE_RUNS" \
    --prepare "rm -rf $MD_OUT" \
    --export-csv "$BENCH/asyncapi-markdown.csv" \
    "$NODE_CMD" >&2
theirs=$(hf_median_ms "$BENCH/asyncapi-markdown.csv")
theirs_min=$(hf_min_ms "$BENCH/asyncapi-markdown.csv")
# their in-process parse + render + write, against our in-process check + generate
theirs_inproc=$(node -e 'const r = JSON.parse(process.argv[1]); console.log(r.generate_ms.toFixed(2))' "$md_json")
md_versions=$(node -e 'const r = JSON.parse(process.argv[1]); console.log(`@asyncapi/generator ${r.generator}, @asyncapi/markdown-template ${r.template}`)' "$md_json")

# --- 3. build cost of the generated example -----------------------------------------------------
log "copy of the repository in $COPY"
if [ -e "$BENCH/example.dirty" ]; then
    # an earlier run stopped between the edit and its revert: its artifacts are not the
    # example's, and restored files keep older times than them, so start over
    log "an earlier run was interrupted: removing its target folder"
    rm -rf "$EXAMPLE_TARGET"
fi
rm -rf "$COPY" && mkdir -p "$COPY"
# tar keeps modification times, so a warm target folder stays valid for unchanged files
tar -C "$ROOT" --exclude=./target --exclude=./.git --exclude=node_modules \
    --exclude=./tests/artifacts -cf - . | tar -C "$COPY" -xf -
packages=()
crates=0
for crate in "$COPY"/generated/crates/*/; do
    packages+=(-p "$(basename "$crate")")
    crates=$((crates + 1))
done
build() { (cd "$COPY" && CARGO_TARGET_DIR="$EXAMPLE_TARGET" cargo build --locked "$@" "${packages[@]}"); }

cold="skipped (--quick)"
cold_units="-"
if [ "$QUICK" = 0 ]; then
    log "cold build of $crates generated crates (fresh target folder)"
    rm -rf "$EXAMPLE_TARGET"
    t=$(now)
    build 2>"$BENCH/cold-build.log" || { tail -30 "$BENCH/cold-build.log" >&2; die "the cold build failed"; }
    cold="$(since "$t") s"
    cold_units=$(grep -c '^ *Compiling ' "$BENCH/cold-build.log" || true)
else
    log "warm-up build (not reported)"
    build 2>"$BENCH/warmup-build.log" || { tail -30 "$BENCH/warmup-build.log" >&2; die "the warm-up build failed"; }
fi

log "no-op build"
t=$(now)
build 2>"$BENCH/noop-build.log"
noop=$(since "$t")

messages=$("$CODEGEN" --root "$COPY" check | sed -n 's/.*contexts, \([0-9]*\) messages.*/\1/p')
rs_lines=$(find "$COPY/generated/crates" -name '*.rs' -exec cat {} + | wc -l)
lines_per_message=$(ratio "$rs_lines" "$messages")

log "edit: $EDIT_FILE, event $EDIT_EVENT gets \`$EDIT_FIELD\`; regenerate; incremental build"
touch "$BENCH/example.dirty"
original="$BENCH/$(basename "$EDIT_FILE").orig"
cp "$COPY/$EDIT_FILE" "$original"
awk -v ev="$EDIT_EVENT" -v field="$EDIT_FIELD" '
    { print }
    $0 == "  " ev ":" { inside = 1 }
    inside == 1 && $0 == "    fields:" { print "      " field; inside = 2 }
' "$original" >"$COPY/$EDIT_FILE"
cmp -s "$original" "$COPY/$EDIT_FILE" && die "the edit found no \`fields:\` of $EDIT_EVENT in $EDIT_FILE"
t=$(now)
"$CODEGEN" --root "$COPY" generate >"$BENCH/edit-generate.log" 2>&1 \
    || { cat "$BENCH/edit-generate.log" >&2; die "codegen generate failed after the edit"; }
regen=$(since "$t")
changed_rs=$(cd "$COPY" && find generated/crates -name '*.rs' -newer "$original" | paste -sd, | sed 's/,/, /g')
rm -rf "$EXAMPLE_TARGET/cargo-timings"
t=$(now)
build --timings 2>"$BENCH/incremental-build.log"
incremental=$(since "$t")
rebuilt=$(sed -n 's/^ *Compiling \([^ ]*\) .*/\1/p' "$BENCH/incremental-build.log" | sort | paste -sd, | sed 's/,/, /g')
rebuilt_count=$(grep -c '^ *Compiling ' "$BENCH/incremental-build.log" || true)
timing_html="$(ls -t "$EXAMPLE_TARGET"/cargo-timings/cargo-timing*.html | head -1)"
cp "$timing_html" "$BENCH/incremental-cargo-timing.html"
# where the incremental build's time went: libraries (rustc) and binaries (rustc + linking)
split=$(node -e '
    const html = require("fs").readFileSync(process.argv[1], "utf8");
    const units = JSON.parse(html.match(/UNIT_DATA = (\[[\s\S]*?\]);\n/)[1]).filter((u) => u.duration > 0);
    const sum = (us) => us.reduce((s, u) => s + u.duration, 0).toFixed(1);
    const bins = units.filter((u) => u.target.includes("bin"));
    const libs = units.filter((u) => !u.target.includes("bin"));
    console.log(`${libs.length} libraries ${sum(libs)} s, ${bins.length} binaries ${sum(bins)} s (a 3-line main.rs each: mostly linking), summed unit durations`);
' "$BENCH/incremental-cargo-timing.html" 2>/dev/null || echo "no --timings data")

log "revert the edit; regenerate; build (a second sample)"
cp "$original" "$COPY/$EDIT_FILE"
"$CODEGEN" --root "$COPY" generate >/dev/null
t=$(now)
build 2>"$BENCH/revert-build.log"
revert=$(since "$t")
rm -f "$BENCH/example.dirty"

# --- table ------------------------------------------------------------------------------------
example_ms=$(result example_ms)
table() {
    local c10 c100 c1000 o10 o100 o1000 r
    c10=$(result contexts_10_per_message_ms); c100=$(result contexts_100_per_message_ms)
    c1000=$(result contexts_1000_per_message_ms)
    o10=$(result one_context_10_per_message_ms); o100=$(result one_context_100_per_message_ms)
    o1000=$(result one_context_1000_per_message_ms)
    echo "| measure | value | baseline | ratio | target | met? |"
    echo "|---|---|---|---|---|---|"
    echo "| example ($(result example_messages) messages): check + generate in memory | $example_ms ms | - | - | < 50 ms | $(met "$example_ms" 'v < 50') |"
    echo "| example: \`codegen generate\` binary, fresh output (median; min $ours_fresh_min ms) | $ours_fresh ms | - | - | < 50 ms | $(met "$ours_fresh" 'v < 50') |"
    echo "| example: \`codegen generate\` binary, output up to date (median; min $ours_uptodate_min ms) | $ours_uptodate ms | - | - | < 50 ms | $(met "$ours_uptodate" 'v < 50') |"
    r=$(ratio "$c100" "$c10")
    echo "| per message, 100 messages (10 contexts of 5+5) | $c100 ms | $c10 ms (10 messages) | $r | <= 1.5 (linear) | $(met "$r" 'v <= 1.5') |"
    r=$(ratio "$c1000" "$c100")
    echo "| per message, 1,000 messages (100 contexts of 5+5) | $c1000 ms | $c100 ms (100 messages) | $r | <= 1.5 (linear) | $(met "$r" 'v <= 1.5') |"
    r=$(ratio "$o100" "$o10")
    echo "| per message, 100 messages (1 context of 50+50) | $o100 ms | $o10 ms (10 messages) | $r | <= 1.5 (linear) | $(met "$r" 'v <= 1.5') |"
    r=$(ratio "$o1000" "$o100")
    echo "| per message, 1,000 messages (1 context of 500+500) | $o1000 ms | $o100 ms (100 messages) | $r | <= 1.5 (linear) | $(met "$r" 'v <= 1.5') |"
    echo "| 1,000 messages (20 contexts of 25+25) in memory | $(result large_ms) ms | - | - | < 1,000 ms | $(met "$(result large_ms)" 'v < 1000') |"
    r=$(ratio "$theirs" "$ours_fresh")
    echo "| AsyncAPI markdown generator, whole process, one .md (median; min $theirs_min ms) vs \`codegen generate\`, fresh output | $theirs ms | $ours_fresh ms | $r | >= 20 | $(met "$r" 'v >= 20') |"
    r=$(ratio "$theirs_inproc" "$example_ms")
    echo "| AsyncAPI markdown generator in process (parse, render, write) vs our check + generate | $theirs_inproc ms | $example_ms ms | $r | >= 20 | $(met "$r" 'v >= 20') |"
    echo "| cold \`cargo build\` of the $crates generated crates (debug, $cold_units units) | $cold | - | - | - | - |"
    echo "| no-op \`cargo build\` | $noop s | - | - | - | - |"
    echo "| regenerate after editing one event field | $regen s | - | - | - | - |"
    echo "| incremental \`cargo build\` after that edit ($rebuilt_count crates rebuilt) | $incremental s | - | - | <= 20 s | $(met "$incremental" 'v <= 20') |"
    echo "| the same after reverting the edit (second sample) | $revert s | - | - | <= 20 s | $(met "$revert" 'v <= 20') |"
    echo "| generated lines of .rs per message ($rs_lines lines / $messages messages) | $lines_per_message | - | - | - | - |"
}
load_end="$(load)"
{
    table
    echo
    echo "Machine: $(nproc) cores, shared; $load_start at the start, $load_end at the end."
    echo "Growth of each phase from 100 to 1,000 messages: $(result contexts_1000_phase_growth | tr _ ' ') (100 contexts); $(result one_context_1000_phase_growth | tr _ ' ') (one context)."
    echo "Markdown generator: $md_versions on node $(node --version), $offline_note."
    echo "Incremental build: the edit changed ${changed_rs:-no .rs file}; rebuilt: $rebuilt; $split."
    echo "Script time: $(since "$started") s$([ "$QUICK" = 1 ] && echo " (--quick)")."
} >"$RESULTS"
echo
cat "$RESULTS"
echo
echo "(written to $RESULTS; cargo --timings of the incremental build: $BENCH/incremental-cargo-timing.html)"
