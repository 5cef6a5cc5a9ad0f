#!/usr/bin/env python3
"""Expected facts for the "apps" test image, read independently of Stella's own code.

Used by apps.sh (sourced by build-test-images.sh). Standard library only. Output is TSV.

  facts.py go ROOT              every ELF file below ROOT with a .go.buildinfo section
  facts.py go-version-m ROOT    `go version -m ROOT` output (stdin) in the same TSV
      columns: binary  kind  module  version  sum
      binary is the in-image path (ROOT stripped). kind is "go" (the toolchain: version only,
      module empty) or the keyword of a `go version -m` line: path, mod, dep, "=>" (replacement
      of the dep above it). `build` lines are left out. Rows keep `go version -m` order.
  facts.py rust-audit ROOT BIN  cargo-auditable data (.dep-v0 section, zlib JSON) of ROOT/BIN
  facts.py cargo-lock LOCK BIN  the packages of a Cargo.lock
      columns: name  version  source  binary   (source: local, git or registry)
"""
import json
import os
import struct
import sys
import zlib

GO_MAGIC = b"\xff Go buildinf:"


def elf_section(f, want):
    """Bytes of section `want` of the ELF file object f, or None (not ELF / no such section)."""
    f.seek(0)
    ident = f.read(64)
    if len(ident) < 52 or ident[:4] != b"\x7fELF":
        return None
    e = "<" if ident[5] == 1 else ">"
    if ident[4] == 2:  # ELFCLASS64
        (shoff,) = struct.unpack_from(e + "Q", ident, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", ident, 0x3A)
        fmt = e + "IIQQQQ"
    else:
        (shoff,) = struct.unpack_from(e + "I", ident, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", ident, 0x2E)
        fmt = e + "IIIIII"
    if shoff == 0 or shnum == 0 or shstrndx >= shnum:
        return None
    f.seek(shoff)
    table = f.read(shentsize * shnum)
    if len(table) < shentsize * shnum:
        return None
    heads = [struct.unpack_from(fmt, table, i * shentsize) for i in range(shnum)]
    _, _, _, _, stroff, strsize = heads[shstrndx]
    f.seek(stroff)
    names = f.read(strsize)
    for name, typ, _flags, _addr, off, size in heads:
        end = names.find(b"\0", name)
        if names[name:end].decode("latin-1") == want and typ != 8:  # 8 = SHT_NOBITS
            f.seek(off)
            return f.read(size)
    return None


def uvarint(b, pos):
    x = shift = 0
    while True:
        c = b[pos]
        pos += 1
        x |= (c & 0x7F) << shift
        if c < 0x80:
            return x, pos
        shift += 7


def go_buildinfo(data):
    """(go version, modinfo text) of a .go.buildinfo section (Go >= 1.18 inline format)."""
    if not data.startswith(GO_MAGIC) or len(data) < 32:
        raise ValueError("no Go build info magic")
    if not data[15] & 2:
        raise ValueError("pre-Go 1.18 pointer-format build info is not supported here")
    n, pos = uvarint(data, 32)
    version = data[pos:pos + n].decode()
    pos += n
    n, pos = uvarint(data, pos)
    mod = data[pos:pos + n]
    # runtime/debug framing: 16 sentinel bytes before and after the text.
    mod = mod[16:-16].decode() if len(mod) >= 33 and mod[-17] == 0x0A else ""
    return version, mod


def go_rows(binary, version, lines):
    rows = [(binary, "go", "", version, "")]
    for line in lines:
        f = line.split("\t")
        if f[0] in ("path", "mod", "dep", "=>"):
            f += [""] * (4 - len(f))
            rows.append((binary, f[0], f[1], f[2], f[3]))
    return rows


def walk_files(root):
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            p = os.path.join(d, name)
            if os.path.isfile(p) and not os.path.islink(p):
                yield p


def cmd_go(root):
    rows = []
    for p in walk_files(root):
        with open(p, "rb") as f:
            sec = elf_section(f, ".go.buildinfo")
        if sec is None:
            continue
        version, mod = go_buildinfo(sec)
        rows += go_rows("/" + os.path.relpath(p, root), version, mod.splitlines())
    return rows


def cmd_go_version_m(root, text):
    rows, binary, version, lines = [], None, None, []
    for line in text.splitlines() + [None]:
        if line is None or not line.startswith("\t"):
            if binary is not None:
                rows += go_rows(binary, version, lines)
            if line is None or not line.strip():
                continue
            path, _, version = line.rpartition(": ")
            binary, lines = "/" + os.path.relpath(path, root), []
        else:
            lines.append(line[1:])
    return rows


def cmd_rust_audit(root, binary):
    with open(os.path.join(root, binary.lstrip("/")), "rb") as f:
        sec = elf_section(f, ".dep-v0")
    if sec is None:
        raise SystemExit(f"{binary}: no .dep-v0 section (not built with cargo auditable?)")
    data = json.loads(zlib.decompress(sec))
    kinds = {"local": "local", "git": "git"}  # any registry, the default one included: "registry"
    return [(p["name"], p["version"], kinds.get(p.get("source", ""), "registry"), binary)
            for p in data["packages"]]


def cmd_cargo_lock(lock, binary):
    rows, cur = [], None
    with open(lock, encoding="utf-8") as f:
        for line in f.read().splitlines() + ["[end]"]:
            line = line.strip()
            if line.startswith("["):
                if cur is not None:
                    src = cur.get("source", "")
                    if not src:
                        kind = "local"
                    elif src.startswith("git+"):
                        kind = "git"
                    else:  # "registry+URL" or "sparse+URL"
                        kind = "registry"
                    rows.append((cur["name"], cur["version"], kind, binary))
                cur = {} if line == "[[package]]" else None
            elif cur is not None and " = " in line:
                k, v = line.split(" = ", 1)
                if v.startswith('"'):
                    cur[k] = v.strip('"')
    return rows


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "go" and len(argv) == 3:
        rows = cmd_go(argv[2])
    elif cmd == "go-version-m" and len(argv) == 3:
        rows = cmd_go_version_m(argv[2], sys.stdin.read())
    elif cmd == "rust-audit" and len(argv) == 4:
        rows = sorted(cmd_rust_audit(argv[2], argv[3]))
    elif cmd == "cargo-lock" and len(argv) == 4:
        rows = sorted(cmd_cargo_lock(argv[2], argv[3]))
    else:
        raise SystemExit(__doc__)
    if cmd.startswith("go"):  # group by binary, keep the line order within each
        rows.sort(key=lambda r: r[0])
    for r in rows:
        print("\t".join(r))


if __name__ == "__main__":
    main(sys.argv)
