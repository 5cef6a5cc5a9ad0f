#!/bin/sh
# Builds three tiny real .rpm packages with rpmbuild and installs them (--justdb) into a fresh
# rpm database for every backend this machine's rpm can write, plus Berkeley DB files made from
# the same headers. Used by tests/rpm_tool.rs; runnable by hand:
#
#     crates/stella-rpmdb/tests/make-rpmdbs.sh /tmp/rpmdbs
#
# Output, under OUT:
#   rpms/*.rpm                the packages
#   sqlite/rpmdb.sqlite       written by rpm itself (_db_backend sqlite)
#   ndb/Packages.db           written by rpm itself, only if its ndb backend is built in
#   bdb-le/Packages           Berkeley DB hash, little-endian, 4 KiB pages (values on overflow pages)
#   bdb-be/Packages           the same, big-endian (as rpm on s390x writes it)
#   bdb-64k/Packages          little-endian, 64 KiB pages (values stored on the hash page itself)
#   backends.txt              one line per database written: NAME DIR FILE READ_BACKEND
#
# Why the BDB files are not written by rpm: Debian's rpm 4.18 can only *read* Berkeley DB
# (backend bdb_ro); the read-write bdb backend is not built. The same header blobs that rpm stored
# in the SQLite database are exported with `rpmdb --exportdb` and written into Berkeley DB hash
# files by the real Berkeley DB library (libdb 5.3, through Perl's DB_File, which Debian's perl
# ships), keyed by header number as rpm keys them, with rpm's header-number counter under key 0.
# rpm's own bdb_ro reader then lists them, so the test compares against rpm, not against us.
set -eu

OUT=${1:?usage: make-rpmdbs.sh OUTDIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
TOP="$OUT/build"
rm -rf "$TOP" "$OUT/rpms" "$OUT/sqlite" "$OUT/ndb" "$OUT/bdb-le" "$OUT/bdb-be" "$OUT/bdb-64k"
mkdir -p "$TOP/SPECS" "$OUT/rpms"
: > "$OUT/backends.txt"

command -v rpmbuild >/dev/null || { echo "make-rpmdbs: rpmbuild not found" >&2; exit 2; }
command -v rpm >/dev/null || { echo "make-rpmdbs: rpm not found" >&2; exit 2; }

# Epoch, License, Vendor, Requires (with a version), Provides, several files in several dirs.
cat > "$TOP/SPECS/stella-base.spec" <<'EOF'
Name: stella-base
Epoch: 3
Version: 2.3
Release: 4
Summary: Stella rpmdb test package with an epoch
License: Apache-2.0
Vendor: Stella Test Vendor
Provides: stella-base-capability = 2.3
%description
Test fixture for stella-rpmdb.
%install
mkdir -p %{buildroot}/etc %{buildroot}/usr/lib/stella-base
echo base > %{buildroot}/etc/stella-base.conf
echo one > %{buildroot}/usr/lib/stella-base/one.txt
echo two > %{buildroot}/usr/lib/stella-base/two.txt
%files
%config /etc/stella-base.conf
/usr/lib/stella-base
EOF

cat > "$TOP/SPECS/stella-hello.spec" <<'EOF'
Name: stella-hello
Version: 1.0
Release: 1.test
Summary: Stella rpmdb test package that requires another
License: MIT
Vendor: Stella Test Vendor
Requires: stella-base >= 3:2.3
Requires: /bin/sh
%description
Test fixture for stella-rpmdb.
%install
mkdir -p %{buildroot}/usr/share/stella-hello
echo hello > %{buildroot}/usr/share/stella-hello/hello.txt
%files
/usr/share/stella-hello/hello.txt
EOF

# noarch, no Vendor tag, a dotted pre-release.
cat > "$TOP/SPECS/stella-noarch.spec" <<'EOF'
Name: stella-noarch
Version: 0.1
Release: 0.1.beta
Summary: Stella rpmdb test package without vendor
License: GPL-2.0-or-later
BuildArch: noarch
%description
Test fixture for stella-rpmdb.
%install
mkdir -p %{buildroot}/opt/stella-noarch
echo readme > %{buildroot}/opt/stella-noarch/README
%files
/opt/stella-noarch/README
EOF

for spec in "$TOP"/SPECS/*.spec; do
    rpmbuild -bb --quiet --nodeps \
        --define "_topdir $TOP" \
        --define "_rpmdir $OUT/rpms" \
        --define '_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm' \
        --define 'debug_package %{nil}' \
        --define '_build_id_links none' \
        --define 'source_date_epoch_from_changelog 0' \
        "$spec" >/dev/null
done

# Installs the packages into a fresh database with the given backend. rpm's chatter (Debian's
# rpm warns that it is not the native package manager) goes to a log shown only on failure.
install_into() { # BACKEND DIR
    rm -rf "$2"
    mkdir -p "$2"
    if ! { rpm --dbpath "$2" --define "_db_backend $1" --initdb &&
        rpm --dbpath "$2" --define "_db_backend $1" -i --justdb --nodeps --noscripts \
            --ignorearch --ignoreos "$OUT"/rpms/*.rpm; } > "$OUT/rpm-$1.log" 2>&1; then
        cat "$OUT/rpm-$1.log" >&2
        return 1
    fi
}

# `rpm --showrc` lists the backends this build has, e.g. "available backends : sqlite bdb_ro dummy".
BACKENDS=$(rpm --showrc | sed -n 's/^available backends *: *//p')
echo "make-rpmdbs: $(rpm --version); available backends: $BACKENDS" >&2

install_into sqlite "$OUT/sqlite"
echo "sqlite $OUT/sqlite rpmdb.sqlite sqlite" >> "$OUT/backends.txt"

case " $BACKENDS " in
*" ndb "*)
    install_into ndb "$OUT/ndb"
    echo "ndb $OUT/ndb Packages.db ndb" >> "$OUT/backends.txt"
    ;;
*) echo "make-rpmdbs: ndb skipped: this rpm cannot write ndb" >&2 ;;
esac

if ! perl -MDB_File -e1 2>/dev/null; then
    echo "make-rpmdbs: bdb skipped: Perl's DB_File (Berkeley DB) is not available" >&2
    exit 0
fi

rpmdb --dbpath "$OUT/sqlite" --define '_db_backend sqlite' --exportdb > "$OUT/headers.bin"

write_bdb() { # DIR LORDER PAGESIZE
    mkdir -p "$1"
    perl -MDB_File -MFcntl -e '
        my ($file, $lorder, $pagesize, $export) = @ARGV;
        my $info = DB_File::HASHINFO->new();
        $info->{lorder} = $lorder;
        $info->{bsize} = $pagesize;
        tie(my %db, "DB_File", $file, O_RDWR | O_CREAT | O_TRUNC, 0644, $info)
            or die "tie $file: $!";
        open(my $fh, "<:raw", $export) or die "open $export: $!";
        my $all = do { local $/; <$fh> };
        my $int = $lorder == 4321 ? "N" : "V";
        my ($pos, $n) = (0, 0);
        while ($pos < length $all) {
            my ($magic, $il, $dl) = unpack("a8 N N", substr($all, $pos, 16));
            die "bad header magic at $pos" unless $magic eq "\x8e\xad\xe8\x01\0\0\0\0";
            my $len = 8 + 16 * $il + $dl;
            $n++;
            $db{pack($int, $n)} = substr($all, $pos + 8, $len);
            $pos += 8 + $len;
        }
        $db{pack($int, 0)} = pack($int, $n + 1);   # rpm keeps the next header number here
        untie %db;
    ' "$1/Packages" "$2" "$3" "$OUT/headers.bin"
}

write_bdb "$OUT/bdb-le" 1234 4096
write_bdb "$OUT/bdb-be" 4321 4096
write_bdb "$OUT/bdb-64k" 1234 65536
for d in bdb-le bdb-be bdb-64k; do
    echo "$d $OUT/$d Packages bdb_ro" >> "$OUT/backends.txt"
done
