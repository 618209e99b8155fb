#!/bin/bash
# One version, told the same everywhere.  gwresize.control's default_version
# is the source; META.json (the PGXN release: "version" and
# provides.gwresize.version, as semantic versions: 1.1 is 1.1.0), the top
# entry of debian/changelog (upstream part: 1.1 in 1.1-1) and the Makefile's
# DATA must agree with it, and sql/ must install it: from every version
# named in sql/, a chain of upgrade scripts reaches it.  With
# GW_NO_INSTALL=1 (the suite against an installed gwresize), the installed
# control file and scripts are checked the same way, and so is the Debian
# package's version when one is installed.  Prints TAP; exits 1 on a failure.
set -u
cd "$(dirname "$0")/.."

n=0
bad=0
check() {	# check DESCRIPTION EXPECTED ACTUAL
	n=$((n + 1))
	if [ "$2" = "$3" ]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		echo "#   expected: '$2'"
		echo "#        got: '$3'"
		bad=$((bad + 1))
	fi
}

# control_version FILE: default_version of an extension control file
control_version() {
	sed -n "s/^[[:space:]]*default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" "$1"
}

# upgrade_path DIR VERSION [all]: "" when an install script of DIR's
# gwresize--*.sql, or one followed by a chain of upgrade scripts, installs
# VERSION, and with "all" when every version named there reaches VERSION;
# else what is wrong
upgrade_path() {
	python3 - "$1" "$2" "${3:-}" <<'PY'
import os, re, sys
d, target, every = sys.argv[1], sys.argv[2], sys.argv[3] == 'all'
installs, edges = set(), {}
for f in os.listdir(d):
    m = re.fullmatch(r'gwresize--(.+)\.sql', f)
    if not m:
        continue
    parts = m.group(1).split('--')
    if len(parts) == 1:
        installs.add(parts[0])
    elif len(parts) == 2:
        edges.setdefault(parts[0], set()).add(parts[1])
named = installs | set(edges) | {b for t in edges.values() for b in t}
def reaches(v):
    seen, todo = {v}, [v]
    while todo:
        for w in edges.get(todo.pop(), ()):
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return target in seen
problems = []
if not any(reaches(v) for v in installs):
    problems.append('no install script leads to ' + target)
stuck = sorted(v for v in named if not reaches(v))
if every and stuck:
    problems.append('no update to %s from: %s' % (target, ' '.join(stuck)))
print('; '.join(problems))
PY
}

ver=$(control_version gwresize.control)
semver_ok=$(echo "$ver" | grep -cE '^[0-9]+(\.[0-9]+){1,2}$')
check "gwresize.control: default_version '$ver' is N.N or N.N.N" 1 "$semver_ok"
semver=$ver
[ "$(echo "$ver" | tr -cd . | wc -c)" = 1 ] && semver="$ver.0"

meta=$(python3 -c '
import json, sys
m = json.load(open("META.json"))
p = m.get("provides", {}).get("gwresize", {})
print(m.get("name", ""), m.get("version", ""), p.get("version", ""), p.get("file", ""),
      m.get("meta-spec", {}).get("version", ""))
' 2>&1) || meta="unreadable: $meta"
read -r m_name m_ver m_pver m_file m_spec <<<"$meta"
check "META.json: name" gwresize "$m_name"
check "META.json: version is the control file's ($semver)" "$semver" "$m_ver"
check "META.json: provides.gwresize.version is the control file's ($semver)" "$semver" "$m_pver"
check "META.json: provides.gwresize.file exists" yes "$([ -n "$m_file" ] && [ -f "$m_file" ] && echo yes)"
check "META.json: meta-spec 1.0.0" 1.0.0 "$m_spec"

deb=$(sed -n '1s/^gwresize (\([^)]*\)).*/\1/p' debian/changelog)
deb_upstream=${deb#*:}
deb_upstream=${deb_upstream%-*}
check "debian/changelog: the top entry ($deb) packages version $ver" "$ver" "$deb_upstream"

missing=""
for f in sql/gwresize--*.sql; do
	grep -qF "$f" Makefile || missing="$missing $f"
done
check "Makefile: DATA installs every sql/gwresize--*.sql" "" "${missing# }"
check "sql/: installs $ver, and every version named there updates to it" "" "$(upgrade_path sql "$ver" all)"

if [ -n "${GW_NO_INSTALL:-}" ]; then
	ext="$(pg_config --sharedir)/extension"
	check "installed $ext/gwresize.control: default_version" "$ver" "$(control_version "$ext/gwresize.control")"
	check "installed $ext: installs $ver" "" "$(upgrade_path "$ext" "$ver")"
	pkg="postgresql-$(pg_config --version | sed -n 's/^PostgreSQL \([0-9]*\).*/\1/p')-gwresize"
	if [ "$(dpkg-query -W -f '${db:Status-Status}' "$pkg" 2>/dev/null)" = installed ]; then
		pv=$(dpkg-query -W -f '${Version}' "$pkg")
		pv=${pv#*:}
		check "installed package $pkg $pv: upstream version" "$ver" "${pv%-*}"
	fi
fi
echo "1..$n"
[ "$bad" = 0 ]
