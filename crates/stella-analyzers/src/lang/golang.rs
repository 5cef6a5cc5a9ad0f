//! Go binaries: the build information the Go linker embeds in every executable built with
//! module support (`go version -m` prints it): the toolchain version, the main module and each
//! dependency module with its version and `=>` replacement.
//!
//! The build info starts with the 16-byte-aligned magic `\xff Go buildinf:`, in the
//! `.go.buildinfo` section (ELF, PE), `__go_buildinfo` (Mach-O), or, in binaries without that
//! section, somewhere in the data segment. Two encodings exist: Go 1.18+ stores both strings
//! inline after the 32-byte header as varint-prefixed bytes (flag bit 2); older toolchains store
//! two pointers to Go string headers, resolved here through the binary's segments.
//!
//! Which files: see [`wants_executable`]; the same rule serves the Rust binary analyzer.

use crate::{Analyzer, AnalyzerError, Facts};
use object::{Object, ObjectSection, ObjectSegment};
use stella_model::{Dependency, Package, PackageKind};

/// The magic that starts the build info header.
const MAGIC: &[u8] = b"\xff Go buildinf:";
/// Sanity bound on a build info string (version, module info).
const MAX_STRING: usize = 16 << 20;

pub struct GoBinaryAnalyzer;

impl Analyzer for GoBinaryAnalyzer {
    fn name(&self) -> &'static str {
        "go-binary"
    }
    fn version(&self) -> u32 {
        // 2: module-less binaries keep their main package path on the stdlib entry.
        2
    }
    fn wants(&self, path: &str) -> bool {
        wants_executable(path)
    }
    fn analyze(&self, path: &str, content: &[u8]) -> Result<Facts, AnalyzerError> {
        if !is_native_executable(content) {
            return Ok(Facts::default());
        }
        let Some(info) = read_build_info(content).map_err(|e| AnalyzerError::new(path, e))? else {
            return Ok(Facts::default());
        };
        Ok(Facts {
            packages: build_info_packages(path, &info),
            ..Facts::default()
        })
    }
}

/// The files the binary analyzers (Go, Rust) want. The scanner reads every wanted file into
/// memory, so the rule stays narrow and is decided on the path alone:
///
/// - any file under a directory named `bin` or `sbin` at any depth (`usr/bin`, `usr/local/bin`,
///   `sbin`, `opt/app/bin`, `root/go/bin`, `usr/lib/go-1.21/bin`, …), whatever its name;
/// - files whose name has no extension (no `.`), or ends with `.exe`, when they sit directly
///   in the image root (`/app`, `/manager`), or anywhere under `opt/`, `app/`, `ko-app/`,
///   `usr/libexec/`, `usr/local/libexec/` or `usr/lib/go*/` (toolchain tools);
///
/// The content is then checked (ELF, Mach-O or PE magic) before anything is parsed, so scripts
/// that match the rule cost one comparison.
pub fn wants_executable(path: &str) -> bool {
    let (dir, name) = match path.rsplit_once('/') {
        Some((d, n)) => (d, n),
        None => ("", path),
    };
    if name.is_empty() {
        return false;
    }
    if dir.split('/').any(|c| c == "bin" || c == "sbin") {
        return true;
    }
    let plain = !name.contains('.') || name.to_ascii_lowercase().ends_with(".exe");
    if !plain {
        return false;
    }
    if dir.is_empty() {
        return true;
    }
    const TREES: [&str; 5] = [
        "opt/",
        "app/",
        "ko-app/",
        "usr/libexec/",
        "usr/local/libexec/",
    ];
    let under = |p: &str| path.starts_with(p);
    TREES.iter().any(|t| under(t))
        || path
            .strip_prefix("usr/lib/go")
            .is_some_and(|r| r.starts_with('/') || r.starts_with('-'))
        || path.starts_with("usr/local/go/")
}

/// Whether the bytes start like an ELF, Mach-O (thin or fat) or PE executable.
pub fn is_native_executable(content: &[u8]) -> bool {
    let Some(head) = content.get(..4) else {
        return false;
    };
    head == b"\x7fELF"
        || matches!(
            head,
            [0xfe, 0xed, 0xfa, 0xce | 0xcf]
                | [0xce | 0xcf, 0xfa, 0xed, 0xfe]
                | [0xca, 0xfe, 0xba, 0xbe]
        )
        || head.starts_with(b"MZ")
}

/// The two strings of a binary's build info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// The toolchain version, `go1.21.5`.
    pub go_version: String,
    /// The module info text, framing removed; empty for builds without module support.
    pub modinfo: String,
}

/// Reads the build info of a Go binary; `Ok(None)` when the file is not a Go binary.
pub fn read_build_info(data: &[u8]) -> Result<Option<BuildInfo>, String> {
    let file = object::File::parse(data).ok();
    // The dedicated section when the binary has one; else every 16-aligned magic in the file.
    let mut candidates: Vec<usize> = Vec::new();
    if let Some(f) = &file {
        for name in [".go.buildinfo", "__go_buildinfo"] {
            if let Some(sec) = f.section_by_name(name)
                && let Some((off, size)) = sec.file_range()
            {
                let start = off as usize;
                let end = start.saturating_add(size as usize).min(data.len());
                if let Some(at) = data.get(start..end).and_then(|s| find_aligned(s, 0)) {
                    candidates.push(start + at);
                }
            }
        }
    }
    if candidates.is_empty() {
        let mut from = 0;
        while let Some(at) = data.get(from..).and_then(|rest| find_aligned(rest, from)) {
            candidates.push(from + at);
            from += at + 16;
        }
    }
    let mut last_err = None;
    for at in candidates {
        match decode_at(data, file.as_ref(), at) {
            Ok(Some(info)) => return Ok(Some(info)),
            Ok(None) => {}
            Err(e) => last_err = Some(e),
        }
    }
    match last_err {
        Some(e) => Err(e),
        None => Ok(None),
    }
}

/// The offset (in `hay`) of the first magic whose file offset `base + i` is 16-aligned.
fn find_aligned(hay: &[u8], base: usize) -> Option<usize> {
    let finder = memchr::memmem::Finder::new(MAGIC);
    let mut from = 0;
    while let Some(i) = finder.find(&hay[from..]) {
        let at = from + i;
        if (base + at).is_multiple_of(16) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Decodes the header at `at`. `Ok(None)` when the bytes there are not a plausible header
/// (the magic also appears as a constant inside programs that read build info).
fn decode_at(
    data: &[u8],
    file: Option<&object::File<'_>>,
    at: usize,
) -> Result<Option<BuildInfo>, String> {
    let Some(hdr) = data.get(at..at + 32) else {
        return Ok(None);
    };
    let ptr_size = hdr[14] as usize;
    let flags = hdr[15];
    if !matches!(ptr_size, 4 | 8) || flags & !3 != 0 {
        return Ok(None);
    }
    let big = flags & 1 != 0;
    let (version, modinfo) = if flags & 2 != 0 {
        let mut pos = at + 32;
        let v = read_varint_string(data, &mut pos).ok_or("truncated build info version")?;
        let m = read_varint_string(data, &mut pos).ok_or("truncated build info modules")?;
        (v, m)
    } else {
        let file = file.ok_or("build info uses pointers but the binary cannot be parsed")?;
        let read_ptr = |b: &[u8]| read_uint(b, ptr_size, big);
        let vaddr = read_ptr(&hdr[16..]);
        let maddr = read_ptr(&hdr[16 + ptr_size..]);
        let v = read_go_string(file, vaddr, ptr_size, big).ok_or("unreadable version string")?;
        let m = read_go_string(file, maddr, ptr_size, big).ok_or("unreadable module string")?;
        (v, m)
    };
    let go_version = String::from_utf8_lossy(version).into_owned();
    if !go_version.starts_with("go") && !go_version.starts_with("devel") {
        return Err(format!(
            "build info has an unexpected Go version {go_version:?}"
        ));
    }
    Ok(Some(BuildInfo {
        go_version,
        modinfo: strip_framing(modinfo),
    }))
}

fn read_uint(b: &[u8], size: usize, big: bool) -> u64 {
    let b = &b[..size];
    let mut v = 0u64;
    if big {
        for &x in b {
            v = (v << 8) | x as u64;
        }
    } else {
        for &x in b.iter().rev() {
            v = (v << 8) | x as u64;
        }
    }
    v
}

fn read_varint_string<'a>(data: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let mut len: u64 = 0;
    let mut shift = 0;
    loop {
        let b = *data.get(*pos)?;
        *pos += 1;
        len |= ((b & 0x7f) as u64) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    let len = usize::try_from(len).ok().filter(|l| *l <= MAX_STRING)?;
    let s = data.get(*pos..pos.checked_add(len)?)?;
    *pos += len;
    Some(s)
}

/// Bytes at a virtual address, through the segments (or sections) that map it.
fn read_at<'a>(file: &object::File<'a>, addr: u64, size: u64) -> Option<&'a [u8]> {
    for seg in file.segments() {
        if let Ok(Some(d)) = seg.data_range(addr, size) {
            return Some(d);
        }
    }
    for sec in file.sections() {
        if let Ok(Some(d)) = sec.data_range(addr, size) {
            return Some(d);
        }
    }
    None
}

/// A Go string header (pointer, length) at `addr`, and the bytes it points to.
fn read_go_string<'a>(
    file: &object::File<'a>,
    addr: u64,
    ptr_size: usize,
    big: bool,
) -> Option<&'a [u8]> {
    let hdr = read_at(file, addr, 2 * ptr_size as u64)?;
    let ptr = read_uint(hdr, ptr_size, big);
    let len = read_uint(&hdr[ptr_size..], ptr_size, big);
    if len == 0 {
        return Some(&[]);
    }
    if len as usize > MAX_STRING {
        return None;
    }
    read_at(file, ptr, len)
}

/// Removes the 16-byte sentinels around the module info (`cmd/go`'s infoStart and infoEnd).
fn strip_framing(b: &[u8]) -> String {
    if b.len() >= 33 && b[b.len() - 17] == b'\n' {
        String::from_utf8_lossy(&b[16..b.len() - 16]).into_owned()
    } else {
        String::new()
    }
}

/// One module line: path, version, checksum.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Module {
    pub path: String,
    pub version: String,
    pub sum: String,
    /// The `=>` replacement, if any.
    pub replace: Option<Box<Module>>,
}

/// The parsed module info text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModInfo {
    /// The main package path (`path` line).
    pub path: String,
    /// The main module (`mod` line).
    pub main: Option<Module>,
    pub deps: Vec<Module>,
    /// `build` settings, in order.
    pub settings: Vec<(String, String)>,
}

/// Parses the module info text (the format `go version -m` prints, without the file name).
pub fn parse_modinfo(text: &str) -> ModInfo {
    let mut info = ModInfo::default();
    // Which module a `=>` line applies to: the main module or the last dependency.
    let mut last_is_main = false;
    for line in text.lines() {
        let mut fields = line.split('\t');
        let tag = fields.next().unwrap_or_default();
        let module = |mut f: std::str::Split<'_, char>| Module {
            path: f.next().unwrap_or_default().to_string(),
            version: f.next().unwrap_or_default().to_string(),
            sum: f.next().unwrap_or_default().to_string(),
            replace: None,
        };
        match tag {
            "path" => info.path = fields.next().unwrap_or_default().to_string(),
            "mod" => {
                info.main = Some(module(fields));
                last_is_main = true;
            }
            "dep" => {
                info.deps.push(module(fields));
                last_is_main = false;
            }
            "=>" => {
                let r = Some(Box::new(module(fields)));
                let target = if last_is_main {
                    info.main.as_mut()
                } else {
                    info.deps.last_mut()
                };
                if let Some(m) = target {
                    m.replace = r;
                }
            }
            "build" => {
                let setting = fields.collect::<Vec<_>>().join("\t");
                if let Some((k, v)) = setting.split_once('=') {
                    info.settings.push((unquote(k), unquote(v)));
                }
            }
            _ => {}
        }
    }
    info
}

/// Undoes the Go quoting of build setting keys and values that hold spaces or quotes.
fn unquote(s: &str) -> String {
    let Some(inner) = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
        return s.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The stdlib version from a toolchain version: `go1.21.5` → `1.21.5`,
/// `go1.22.0 X:boringcrypto` → `1.22.0`; `None` for development toolchains.
pub fn stdlib_version(go_version: &str) -> Option<&str> {
    go_version
        .split_whitespace()
        .next()?
        .strip_prefix("go")
        .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
}

/// `pkg:golang/<module path>@<version>`; the last path element is the purl name. An empty
/// version leaves the purl without one.
pub fn golang_purl(path: &str, version: &str) -> String {
    let (ns, name) = match path.rsplit_once('/') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, path),
    };
    let Ok(mut purl) = packageurl::PackageUrl::new("golang", name) else {
        return String::new();
    };
    if let Some(ns) = ns
        && purl.with_namespace(ns).is_err()
    {
        return String::new();
    }
    if !version.is_empty() && purl.with_version(version).is_err() {
        return String::new();
    }
    purl.to_string()
}

/// A Go module package.
pub(super) fn go_package(found_in: &str, path: &str, version: &str) -> Package {
    let mut p = Package::new(PackageKind::Go, path, version, found_in);
    p.purl = golang_purl(path, version);
    p
}

/// The packages of one binary's build info: the stdlib, the main module, every dependency.
pub fn build_info_packages(found_in: &str, info: &BuildInfo) -> Vec<Package> {
    let mods = parse_modinfo(&info.modinfo);
    let mut out = Vec::new();
    let toolchain = info.go_version.clone();
    let mut stdlib_name = None;
    if let Some(v) = stdlib_version(&toolchain) {
        let mut p = go_package(found_in, "stdlib", v);
        p.properties
            .insert("go.toolchain".to_string(), toolchain.clone());
        stdlib_name = Some(p.name.clone());
        out.push(p);
    }
    let mut deps = Vec::new();
    for dep in &mods.deps {
        let mut p = module_package(found_in, dep);
        p.properties
            .insert("go.toolchain".to_string(), toolchain.clone());
        deps.push(Dependency {
            name: p.name.clone(),
        });
        out.push(p);
    }
    if let Some(main) = &mods.main {
        let mut p = module_package(found_in, main);
        p.properties
            .insert("go.toolchain".to_string(), toolchain.clone());
        p.properties
            .insert("go.main".to_string(), "true".to_string());
        if !mods.path.is_empty() {
            p.properties
                .insert("go.path".to_string(), mods.path.clone());
        }
        for (k, v) in &mods.settings {
            p.properties.insert(format!("go.build.{k}"), v.clone());
        }
        p.depends = deps;
        if let Some(name) = stdlib_name {
            p.depends.push(Dependency { name });
        }
        p.normalize();
        out.push(p);
    } else if let Some(stdlib) = out.first_mut().filter(|p| p.name == "stdlib") {
        // Built without module support (as Debian builds Go): the main package path is the
        // one fact that names the command; keep it on the toolchain entry.
        if !mods.path.is_empty() {
            stdlib
                .properties
                .insert("go.path".to_string(), mods.path.clone());
        }
        for (k, v) in &mods.settings {
            stdlib.properties.insert(format!("go.build.{k}"), v.clone());
        }
    }
    out
}

/// A module from the build info; a replacement by another module version is what was
/// compiled, so it names the package, and the original is kept in `go.replaces`. A
/// replacement by a local directory keeps the original identity and records the directory in
/// `go.replace.dir`: the code compiled is not that module version, and the properties say so.
fn module_package(found_in: &str, m: &Module) -> Package {
    let mut p = match m.replace.as_deref() {
        Some(r) if !r.version.is_empty() => {
            let mut p = go_package(found_in, &r.path, &r.version);
            p.properties.insert(
                "go.replaces".to_string(),
                format!("{}@{}", m.path, m.version),
            );
            if !r.sum.is_empty() {
                p.properties.insert("go.sum".to_string(), r.sum.clone());
            }
            p
        }
        Some(r) => {
            let mut p = go_package(found_in, &m.path, &m.version);
            p.properties
                .insert("go.replace.dir".to_string(), r.path.clone());
            p
        }
        None => {
            let mut p = go_package(found_in, &m.path, &m.version);
            if !m.sum.is_empty() {
                p.properties.insert("go.sum".to_string(), m.sum.clone());
            }
            p
        }
    };
    if p.version == "(devel)" || p.version.is_empty() {
        p.purl = golang_purl(&p.name, "");
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wants_rule() {
        for p in [
            "usr/bin/skopeo",
            "usr/local/bin/kubectl.1.33",
            "bin/busybox",
            "sbin/init",
            "opt/app/server",
            "app",
            "manager",
            "ko-app/hello",
            "root/go/bin/dlv",
            "usr/lib/go-1.21/pkg/tool/linux_amd64/vet",
            "usr/libexec/docker/cli-plugins/docker-buildx",
            "opt/tool/tool.exe",
        ] {
            assert!(wants_executable(p), "{p}");
        }
        for p in [
            "etc/passwd",
            "usr/lib/x86_64-linux-gnu/libc.so.6",
            "usr/share/doc/x/copyright",
            "opt/app/config.yaml",
            "README.md",
            "var/lib/dpkg/status",
        ] {
            assert!(!wants_executable(p), "{p}");
        }
    }

    #[test]
    fn modinfo_with_replacements_and_settings() {
        let text = "path\texample.com/cmd/x\n\
            mod\texample.com\t(devel)\t\n\
            dep\tgithub.com/a/b\tv1.0.0\th1:abc=\n\
            =>\tgithub.com/fork/b\tv1.0.1\th1:def=\n\
            dep\tgolang.org/x/sys\tv0.1.0\th1:xyz=\n\
            dep\texample.com/local\tv0.0.0\n\
            =>\t../local\t\t\n\
            build\t-ldflags=\"-s -w\"\n\
            build\tGOOS=linux\n";
        let info = BuildInfo {
            go_version: "go1.21.5".into(),
            modinfo: text.into(),
        };
        let pkgs = build_info_packages("usr/bin/x", &info);
        let by = |n: &str| pkgs.iter().find(|p| p.name == n).unwrap();
        assert_eq!(by("stdlib").purl, "pkg:golang/stdlib@1.21.5");
        let fork = by("github.com/fork/b");
        assert_eq!(fork.version, "v1.0.1");
        assert_eq!(fork.properties["go.replaces"], "github.com/a/b@v1.0.0");
        assert_eq!(fork.purl, "pkg:golang/github.com/fork/b@v1.0.1");
        assert_eq!(
            by("example.com/local").properties["go.replace.dir"],
            "../local"
        );
        let main = by("example.com");
        assert_eq!(main.version, "(devel)");
        assert_eq!(main.purl, "pkg:golang/example.com");
        assert_eq!(main.properties["go.build.-ldflags"], "-s -w");
        assert_eq!(main.properties["go.build.GOOS"], "linux");
        assert_eq!(main.depends.len(), 4);
        assert_eq!(pkgs.len(), 5);
    }

    #[test]
    fn stdlib_versions() {
        assert_eq!(stdlib_version("go1.21.5"), Some("1.21.5"));
        assert_eq!(stdlib_version("go1.22.0 X:boringcrypto"), Some("1.22.0"));
        assert_eq!(stdlib_version("devel go1.23-abc"), None);
    }

    fn framed(m: &str) -> Vec<u8> {
        let mut v = vec![0x30u8; 16];
        v.extend_from_slice(m.as_bytes());
        v.extend_from_slice(&[0x31u8; 16]);
        v
    }

    #[test]
    fn inline_format_without_sections() {
        let mut data = vec![0u8; 48];
        data.extend_from_slice(MAGIC);
        data.extend_from_slice(&[8, 2]);
        data.extend_from_slice(&[0u8; 16]);
        let v = b"go1.22.1";
        data.push(v.len() as u8);
        data.extend_from_slice(v);
        let m = framed("path\tx/y\nmod\tx/y\tv1.2.3\th1:q=\n");
        // two-byte varint length
        data.push((m.len() as u8 & 0x7f) | 0x80);
        data.push((m.len() >> 7) as u8);
        data.extend_from_slice(&m);
        let info = read_build_info(&data).unwrap().unwrap();
        assert_eq!(info.go_version, "go1.22.1");
        assert_eq!(info.modinfo, "path\tx/y\nmod\tx/y\tv1.2.3\th1:q=\n");
    }

    /// A minimal ELF64 with one PT_LOAD segment and no sections, holding a pointer-format
    /// (pre-1.18) build info header.
    fn old_format_elf(big: bool) -> Vec<u8> {
        let base: u64 = 0x400000;
        let mut d = vec![0u8; 0x200];
        let w16 = |d: &mut Vec<u8>, at: usize, v: u16| {
            let b = if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            };
            d[at..at + 2].copy_from_slice(&b)
        };
        let w32 = |d: &mut Vec<u8>, at: usize, v: u32| {
            let b = if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            };
            d[at..at + 4].copy_from_slice(&b)
        };
        let w64 = |d: &mut Vec<u8>, at: usize, v: u64| {
            let b = if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            };
            d[at..at + 8].copy_from_slice(&b)
        };
        d[..4].copy_from_slice(b"\x7fELF");
        d[4] = 2; // 64-bit
        d[5] = if big { 2 } else { 1 };
        d[6] = 1;
        w16(&mut d, 16, 2); // ET_EXEC
        w16(&mut d, 18, if big { 43 } else { 62 });
        w32(&mut d, 20, 1);
        w64(&mut d, 32, 64); // phoff
        w16(&mut d, 52, 64); // ehsize
        w16(&mut d, 54, 56); // phentsize
        w16(&mut d, 56, 1); // phnum
        w16(&mut d, 58, 64); // shentsize
        // PT_LOAD mapping the whole file at `base`.
        w32(&mut d, 64, 1);
        w32(&mut d, 68, 6);
        w64(&mut d, 72, 0);
        w64(&mut d, 80, base);
        w64(&mut d, 88, base);
        let version = b"go1.16.15";
        let modinfo = framed(
            "path\tex.com/t\nmod\tex.com/t\tv0.1.0\t\ndep\tgithub.com/q/r\tv2.0.0+incompatible\th1:z=\n",
        );
        // Header at 0x100, string headers at 0x130/0x140, data from 0x160.
        d[0x100..0x10e].copy_from_slice(MAGIC);
        d[0x10e] = 8;
        d[0x10f] = if big { 1 } else { 0 };
        w64(&mut d, 0x110, base + 0x130);
        w64(&mut d, 0x118, base + 0x140);
        let vstart = 0x160usize;
        let mstart = vstart + version.len();
        d.resize(mstart + modinfo.len(), 0);
        d[vstart..mstart].copy_from_slice(version);
        d[mstart..].copy_from_slice(&modinfo);
        w64(&mut d, 0x130, base + vstart as u64);
        w64(&mut d, 0x138, version.len() as u64);
        w64(&mut d, 0x140, base + mstart as u64);
        w64(&mut d, 0x148, modinfo.len() as u64);
        let size = d.len() as u64;
        w64(&mut d, 96, size);
        w64(&mut d, 104, size);
        d
    }

    #[test]
    fn pointer_format_little_and_big_endian() {
        for big in [false, true] {
            let elf = old_format_elf(big);
            let facts = GoBinaryAnalyzer.analyze("usr/bin/t", &elf).unwrap();
            let purls: Vec<_> = facts.packages.iter().map(|p| p.purl.as_str()).collect();
            assert_eq!(
                purls,
                [
                    "pkg:golang/stdlib@1.16.15",
                    "pkg:golang/github.com/q/r@v2.0.0%2Bincompatible",
                    "pkg:golang/ex.com/t@v0.1.0",
                ],
                "big endian: {big}"
            );
        }
    }

    #[test]
    fn malformed_inputs_do_not_panic() {
        // A header whose strings run past the end of the file.
        let mut data = b"\x7fELF".to_vec();
        data.resize(16, 0);
        data.extend_from_slice(MAGIC);
        data.extend_from_slice(&[8, 2]);
        data.extend_from_slice(&[0u8; 16]);
        data.push(0xff);
        let err = GoBinaryAnalyzer.analyze("usr/bin/bad", &data).unwrap_err();
        assert_eq!(err.path, "usr/bin/bad");
        // Pointer format that points nowhere.
        let mut elf = old_format_elf(false);
        elf[0x110..0x118].copy_from_slice(&0xdead_beefu64.to_le_bytes());
        assert!(GoBinaryAnalyzer.analyze("usr/bin/t", &elf).is_err());
        // Not a binary, and truncated prefixes of a real one.
        assert!(
            GoBinaryAnalyzer
                .analyze("usr/bin/sh", b"#!/bin/sh\n")
                .unwrap()
                .packages
                .is_empty()
        );
        let elf = old_format_elf(false);
        for n in 0..elf.len() {
            let _ = GoBinaryAnalyzer.analyze("usr/bin/t", &elf[..n]);
        }
    }
}
