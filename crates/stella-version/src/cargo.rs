//! crates.io versions and Cargo version requirements, through the `semver` crate that Cargo
//! itself uses, so parsing and matching (including the pre-release rule: `>=1.0.0` does not match
//! `1.1.0-alpha`) are Cargo's by construction.

pub(crate) fn parse_version(s: &str) -> Result<semver::Version, String> {
    semver::Version::parse(s).map_err(|e| e.to_string())
}

pub(crate) fn parse_req(s: &str) -> Result<semver::VersionReq, String> {
    semver::VersionReq::parse(s).map_err(|e| e.to_string())
}
