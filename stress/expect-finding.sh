#!/bin/sh
# expect-finding.sh: checks that rcgc-stress reports a bug injected on purpose.
#
# Purpose: proves that the oracle can fail. Runs a short rcgc-stress with
# --inject-bug KIND and a fixed seed, and passes only if the run announced
# the object it injected the bug on ("rcgc-stress: injecting KIND on object
# ID") and ended with status 1 and a line "rcgc-stress: FINDING WANT: object
# ID ..." about that very object (so that another finding, from a real bug,
# does not count); for the kind "hang" (a deadlock, no object), with the
# watchdog's "hang" finding. In a sanitizer build (SANITIZE other than
# "none") a bug that is a use after free may be stopped by the sanitizer
# before the oracle reads the memory: for those kinds (WANT
# freed-while-reachable or weak-answered-dead) a non-zero status with the
# sanitizer's heap-use-after-free report passes too.
#
# Use: expect-finding.sh STRESS-BINARY KIND WANT [SANITIZE] (stress/meson.build
# runs it once per kind).
set -u
exe=$1
kind=$2
want=$3
sanitize=${4:-none}

out=$("$exe" --threads 2 --seconds 3 --seed 11 --verify 1 --watchdog 10 --inject-bug "$kind" 2>&1)
rc=$?
printf '%s\n' "$out" | tail -n 30

if [ "$want" = hang ]; then
    # No object: the run must end, by the watchdog, with a "hang" finding.
    if [ "$rc" -eq 1 ] && printf '%s\n' "$out" | grep -q '^rcgc-stress: FINDING hang: '; then
        echo "ok: --inject-bug $kind: status 1, finding hang"
        exit 0
    fi
    echo "not ok: --inject-bug $kind: status $rc, expected status 1 and finding hang"
    exit 1
fi
id=$(printf '%s\n' "$out" | sed -n "s/^rcgc-stress: injecting $kind on object \([0-9]*\) .*/\1/p")
if [ -z "$id" ]; then
    echo "not ok: --inject-bug $kind: the run never announced the injection (status $rc)"
    exit 1
fi
if [ "$rc" -eq 1 ] && printf '%s\n' "$out" | grep -q "^rcgc-stress: FINDING $want: object $id "; then
    echo "ok: --inject-bug $kind: status 1, finding $want on object $id"
    exit 0
fi
case $want in
freed-while-reachable | weak-answered-dead)
    if [ "$sanitize" != none ] && [ "$rc" -ne 0 ] && printf '%s\n' "$out" |
        grep -Eq '(ERROR: AddressSanitizer|WARNING: ThreadSanitizer): heap-use-after-free'; then
        echo "ok: --inject-bug $kind: status $rc, the sanitizer's heap-use-after-free report"
        exit 0
    fi
    ;;
esac
echo "not ok: --inject-bug $kind: status $rc, expected status 1 and finding $want on object $id"
exit 1
