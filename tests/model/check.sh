#!/bin/sh
# check.sh: one spin model check, run by tests/model/meson.build.
#
# usage: check.sh MODEL MODE EXPECT PATTERN [SPIN-DEFINE...]
#   MODEL    a Promela file (tests/model/*.pml)
#   MODE     safety    assertions and invalid end states (pan -DSAFETY)
#            liveness  the model's ltl claim under weak fairness (pan -a -f)
#   EXPECT   pass      spin must complete the search and report "errors: 0"
#            fail      spin must report an error whose report contains
#                      PATTERN (a broken variant: the check must be able to
#                      fail); the counterexample is printed
#   PATTERN  text expected in pan's report when EXPECT is fail ('' if pass)
#   SPIN-DEFINE  -D options for spin's preprocessor (model configuration)
#
# The spin and C compiler paths come from $SPIN and $PAN_CC (set by meson);
# either one missing skips the test (exit 77). pan.c is compiled with this
# script's own flags, never the project's (sanitizer builds included), in a
# temporary directory, since pan writes its trail and binaries next to it.
set -u

if [ $# -lt 4 ]; then
    echo "usage: $0 MODEL safety|liveness pass|fail PATTERN [-DNAME=VALUE...]" >&2
    exit 2
fi
model=$1 mode=$2 expect=$3 pattern=$4
shift 4

SPIN=${SPIN:-$(command -v spin || true)}
PAN_CC=${PAN_CC:-$(command -v cc || true)}
if [ -z "$SPIN" ] || [ ! -x "$SPIN" ]; then
    echo "SKIP: spin not found (Debian: apt-get install spin)"
    exit 77
fi
if [ -z "$PAN_CC" ] || [ ! -x "$PAN_CC" ]; then
    echo "SKIP: no C compiler to build the verifier"
    exit 77
fi

case $mode in
    # COLLAPSE compresses stored states; MEMLIM (MB) stops a runaway search.
    safety)   panflags="-DSAFETY -DNOCLAIM -DCOLLAPSE -DMEMLIM=2048"; runflags="" ;;
    liveness) panflags="-DNFAIR=3 -DCOLLAPSE -DMEMLIM=2048"; runflags="-a -f" ;;
    *) echo "unknown mode '$mode'" >&2; exit 2 ;;
esac
case $expect in
    pass|fail) ;;
    *) echo "unknown expectation '$expect'" >&2; exit 2 ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rcgc-model.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
name=$(basename "$model")
cp "$model" "$tmp/$name" || exit 1
cd "$tmp" || exit 1

echo "model: $name $* ($mode, expected to $expect)"
"$SPIN" -V
if ! "$SPIN" -a "$@" "$name" >spin.log 2>&1; then
    cat spin.log
    echo "FAIL: spin -a rejected the model"
    exit 1
fi
# -O0: pan.c is large (every inline call site is expanded), and at -O1 or
# -O2 compiling it takes longer than the search it speeds up.
# shellcheck disable=SC2086
if ! "$PAN_CC" -O0 -w $panflags -o pan pan.c >cc.log 2>&1; then
    cat cc.log
    echo "FAIL: could not compile pan.c"
    exit 1
fi
# -m: search depth; the models' longest paths are a few hundred thousand
# steps (cycles of mutators that run for ever).
# shellcheck disable=SC2086
./pan -m4000000 $runflags >pan.log 2>&1
grep -E "^pan:|errors:|states, stored|elapsed time|State-vector|memory usage|search depth" pan.log

errors=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' pan.log | tail -n 1)
if [ -z "$errors" ]; then
    cat pan.log
    echo "FAIL: no verdict from pan"
    exit 1
fi

# The counterexample, without the steps that only branch (else, goto) and
# capped at its last 400 lines; `spin -t -p` in a copy of the model with
# the same defines and pan's .trail file replays it in full.
trail() {
    echo "--- counterexample (spin -t -p $*):"
    "$SPIN" -t -p "$@" "$name" 2>&1 |
        grep -E "^ *[0-9]+:|violated|CYCLE|terminates" |
        grep -vE "\[else\]|goto|\[break\]" | tail -n 400
}

if [ "$expect" = pass ]; then
    if [ "$errors" -ne 0 ]; then
        trail "$@"
        echo "FAIL: spin found $errors error(s)"
        exit 1
    fi
    if grep -qE "max search depth too small|out of memory|Search not completed" pan.log; then
        echo "FAIL: the search did not complete"
        exit 1
    fi
    echo "PASS: no errors over the whole state space"
    exit 0
fi

if [ "$errors" -eq 0 ]; then
    echo "FAIL: the broken variant was expected to fail, and spin found no error"
    exit 1
fi
if ! grep -qF -- "$pattern" pan.log; then
    trail "$@"
    echo "FAIL: spin found an error, but not the expected one ('$pattern')"
    exit 1
fi
trail "$@"
echo "PASS: spin found the expected counterexample ('$pattern')"
exit 0
