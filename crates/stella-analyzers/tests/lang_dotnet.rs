//! .NET analyzers on real files: Trivy's `deps.json` and NuGet lockfile fixtures
//! (`shared/data/fixtures-trivy-parsers`, read in place), with the exact package sets.

mod common;

use stella_analyzers::{AnalyzerError, Facts};
use stella_model::PackageKind;

use common::analyzer_for;

fn fixture(rel: &str) -> Vec<u8> {
    common::parser_fixture(rel)
}

fn run(path: &str, rel: &str) -> Result<Facts, AnalyzerError> {
    analyzer_for(path).analyze(path, &fixture(rel))
}

/// `name@version`, sorted as strings.
fn ids(facts: &Facts, evidence: &str) -> Vec<String> {
    let mut v: Vec<String> = facts
        .packages
        .iter()
        .map(|p| {
            assert_eq!(p.kind, PackageKind::Nuget);
            assert_eq!(p.purl, format!("pkg:nuget/{}@{}", p.name, p.version));
            assert_eq!(p.properties["stella:evidence"], evidence);
            format!("{}@{}", p.name, p.version)
        })
        .collect();
    v.sort();
    v
}

const DEPS: &str = "dotnet/core_deps/testdata/";
const LOCK: &str = "nuget/lock/testdata/";

#[test]
fn deps_json_fixtures() {
    let path = "app/ExampleApp1.deps.json";
    for (file, expected) in [
        ("happy.deps.json", &["Newtonsoft.Json@13.0.1"][..]),
        // The runtime packs of a self-contained app are the .NET runtime, not NuGet packages.
        ("self-contained.deps.json", &["Newtonsoft.Json@13.0.1"]),
        // Api and Data are projects of the solution.
        ("multi-project.deps.json", &["Newtonsoft.Json@13.0.3"]),
        ("ambiguous-root.deps.json", &["Newtonsoft.Json@13.0.3"]),
        // `runtimeTarget` names a target that is not there: the only target is used.
        ("missing-target.deps.json", &["Newtonsoft.Json@13.0.1"]),
        ("no-libraries.deps.json", &[]),
        // Meta-packages and packages without assets for the target deploy no file.
        (
            "without-runtime.deps.json",
            &["JsonDiffPatch@2.0.61", "Libuv@1.9.1"],
        ),
    ] {
        let facts = run(path, &format!("{DEPS}{file}")).unwrap();
        assert_eq!(ids(&facts, "installed"), expected, "{file}");
    }
    let facts = run(path, &format!("{DEPS}happy.deps.json")).unwrap();
    let p = &facts.packages[0];
    assert_eq!(p.found_in, path);
    assert!(p.properties["nuget.sha512"].starts_with("sha512-ppPFpBcv"));
    let facts = run(path, &format!("{DEPS}without-runtime.deps.json")).unwrap();
    let deps: Vec<&str> = facts.packages[0]
        .depends
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(deps, ["Microsoft.NETCore.App"]);
}

#[test]
fn invalid_deps_json_is_an_error_naming_the_file() {
    let path = "app/ExampleApp1.deps.json";
    let e = run(path, &format!("{DEPS}invalid.deps.json")).unwrap_err();
    assert_eq!(e.path, path);
}

#[test]
fn packages_lock_fixtures() {
    let path = "src/MyApp/packages.lock.json";
    let simple = run(path, &format!("{LOCK}packages_lock_simple.json")).unwrap();
    assert_eq!(
        ids(&simple, "lockfile"),
        ["Newtonsoft.Json@12.0.3", "NuGet.Frameworks@5.7.0"]
    );
    let legacy = run(path, &format!("{LOCK}packages_lock_legacy.json")).unwrap();
    assert_eq!(
        ids(&legacy, "lockfile"),
        ["AWSSDK.Core@3.5.1.30", "Newtonsoft.Json@12.0.3"]
    );
    let sub = run(path, &format!("{LOCK}packages_lock_subdependencies.json")).unwrap();
    assert_eq!(
        ids(&sub, "lockfile"),
        [
            "Microsoft.Extensions.ApiDescription.Server@3.0.0",
            "Microsoft.OpenApi@1.1.4",
            "Newtonsoft.Json@12.0.3",
            "NuGet.Frameworks@5.7.0",
            "Swashbuckle.AspNetCore.Swagger@5.5.1",
            "Swashbuckle.AspNetCore.SwaggerGen@5.5.1",
            "Swashbuckle.AspNetCore.SwaggerUI@5.5.1",
            "Swashbuckle.AspNetCore@5.5.1",
        ]
    );
    let swash = sub
        .packages
        .iter()
        .find(|p| p.name == "Swashbuckle.AspNetCore")
        .unwrap();
    let deps: Vec<&str> = swash.depends.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        deps,
        [
            "Microsoft.Extensions.ApiDescription.Server",
            "Swashbuckle.AspNetCore.Swagger",
            "Swashbuckle.AspNetCore.SwaggerGen",
            "Swashbuckle.AspNetCore.SwaggerUI",
        ]
    );
}

#[test]
fn packages_lock_with_several_frameworks() {
    let path = "src/MyApp/packages.lock.json";
    let multi = run(path, &format!("{LOCK}packages_lock_multi.json")).unwrap();
    assert_eq!(
        ids(&multi, "lockfile"),
        [
            "AWSSDK.Core@3.5.1.30",
            "Microsoft.Bcl.AsyncInterfaces@1.1.0",
            "Microsoft.CSharp@4.3.0",
            "Microsoft.NETCore.Platforms@1.1.0",
            "Microsoft.NETCore.Targets@1.1.0",
            "Microsoft.NETFramework.ReferenceAssemblies.net20@1.0.0",
            "Microsoft.NETFramework.ReferenceAssemblies.net40@1.0.0",
            "Microsoft.NETFramework.ReferenceAssemblies@1.0.0",
            "NETStandard.Library@1.6.1",
            "NETStandard.Library@2.0.3",
            "Newtonsoft.Json@12.0.3",
            "System.Collections@4.3.0",
            "System.ComponentModel.Primitives@4.3.0",
            "System.ComponentModel.TypeConverter@4.3.0",
            "System.ComponentModel@4.3.0",
            "System.Diagnostics.Debug@4.3.0",
            "System.Diagnostics.Tools@4.3.0",
            "System.Dynamic.Runtime@4.3.0",
            "System.Globalization@4.3.0",
            "System.IO@4.3.0",
            "System.Linq.Expressions@4.3.0",
            "System.Linq@4.3.0",
            "System.Net.Primitives@4.3.0",
            "System.ObjectModel@4.3.0",
            "System.Reflection.Extensions@4.3.0",
            "System.Reflection.Primitives@4.3.0",
            "System.Reflection@4.3.0",
            "System.Resources.ResourceManager@4.3.0",
            "System.Runtime.CompilerServices.Unsafe@4.5.2",
            "System.Runtime.Extensions@4.3.0",
            "System.Runtime.Serialization.Primitives@4.3.0",
            "System.Runtime@4.3.0",
            "System.Text.Encoding.Extensions@4.3.0",
            "System.Text.Encoding@4.3.0",
            "System.Text.RegularExpressions@4.3.0",
            "System.Threading.Tasks.Extensions@4.5.2",
            "System.Threading.Tasks@4.3.0",
            "System.Threading@4.3.0",
            "System.Xml.ReaderWriter@4.3.0",
            "System.Xml.XDocument@4.3.0",
        ]
    );
}

#[test]
fn truncated_input_never_panics() {
    for (path, rel) in [
        (
            "app/App.deps.json",
            format!("{DEPS}without-runtime.deps.json"),
        ),
        (
            "src/packages.lock.json",
            format!("{LOCK}packages_lock_subdependencies.json"),
        ),
    ] {
        let a = analyzer_for(path);
        let data = fixture(&rel);
        for end in (0..data.len()).step_by(5) {
            let e = a.analyze(path, &data[..end]).unwrap_err();
            assert_eq!(e.path, path);
        }
    }
}
