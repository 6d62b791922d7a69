#!/bin/sh
# System packages the test suite drives but never installs itself; `make test` runs this first.
#
# * chromium (Debian's package): tests/api/test_map_page.py drives it with Playwright through
#   its executable path (ELSTER_CHROMIUM, default /usr/bin/chromium); no browser is downloaded.
# * postgresql (Debian's package): tests/support/pg.py starts a throwaway server with its
#   initdb and pg_ctl (ELSTER_PG_BINDIR, else initdb on PATH, else /usr/lib/postgresql/*/bin).
#   Skipped when ELSTER_TEST_POSTGRES=0 or ELSTER_TEST_POSTGRES_URL names another server.
#
# Idempotent and quiet once everything is there. Needs apt-get (as root, or with sudo).
set -eu

missing=""
CHROMIUM=${ELSTER_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || missing="$missing chromium"

have_postgres() {
    [ -n "${ELSTER_PG_BINDIR:-}" ] && [ -x "$ELSTER_PG_BINDIR/initdb" ] && return 0
    command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}
case "${ELSTER_TEST_POSTGRES:-1}" in
    0 | false | no | off) ;;
    *) [ -n "${ELSTER_TEST_POSTGRES_URL:-}" ] || have_postgres || missing="$missing postgresql" ;;
esac

[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_test_deps: missing:$missing and apt-get is not available; install them with" \
         "your system's package manager (or set ELSTER_CHROMIUM / ELSTER_PG_BINDIR," \
         "or ELSTER_TEST_POSTGRES=0 to skip the PostgreSQL tests)" >&2
    exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "ensure_test_deps: installing$missing" >&2
# shellcheck disable=SC2086  # $missing is a list of package names
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing \
    || {
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
    }
