//! `docker save` archives: `manifest.json` names the config and the layer files.

use crate::ImageError;
use crate::archive::TarIndex;
use crate::layer::{Compression, sniff_compression};
use crate::manifest::{Descriptor, ImageConfig, MAX_METADATA_BYTES, parse_json};
use crate::source::{ImageSource, image_info};
use serde::Deserialize;
use std::io::Read;
use std::path::Path;
use stella_model::{Digest, ImageInfo};
use stella_registry::VerifyingReader;

#[derive(Debug, Deserialize)]
struct ArchiveManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

pub(crate) struct DockerArchiveSource {
    index: TarIndex,
    /// Archive member of each layer, in order.
    members: Vec<String>,
    info: ImageInfo,
}

/// The digest a member's name states, for `blobs/sha256/HEX` and `HEX.tar`/`HEX.json` names.
fn digest_from_member_name(member: &str) -> Option<Digest> {
    if let Some(rest) = member.strip_prefix("blobs/")
        && let Some((alg, hex)) = rest.split_once('/')
    {
        return format!("{alg}:{hex}").parse().ok();
    }
    let stem = member
        .strip_suffix(".tar")
        .or_else(|| member.strip_suffix(".json"))?;
    if stem.contains('/') {
        return None;
    }
    format!("sha256:{stem}").parse().ok()
}

impl DockerArchiveSource {
    pub(crate) fn open(
        path: &Path,
        wanted: Option<&str>,
        reference: &str,
    ) -> Result<Self, ImageError> {
        let index = TarIndex::open(path)?;
        let name = path.display().to_string();
        if !index.contains("manifest.json") {
            return Err(ImageError::bad_image(
                &name,
                "not a docker archive: manifest.json is missing",
            ));
        }
        let bytes = index.read_member("manifest.json", MAX_METADATA_BYTES)?;
        let entries: Vec<ArchiveManifestEntry> = parse_json(&bytes, "manifest.json", &name)?;
        let entry = match wanted {
            Some(w) => entries
                .iter()
                .find(|e| {
                    e.repo_tags
                        .iter()
                        .flatten()
                        .any(|t| t == w || t.ends_with(&format!("/{w}")))
                })
                .ok_or_else(|| {
                    ImageError::bad_image(&name, format!("no image tagged {w:?} in the archive"))
                })?,
            None if entries.len() == 1 => &entries[0],
            None if entries.is_empty() => {
                return Err(ImageError::bad_image(
                    &name,
                    "manifest.json lists no images",
                ));
            }
            None => {
                let tags: Vec<String> = entries
                    .iter()
                    .flat_map(|e| e.repo_tags.clone().unwrap_or_default())
                    .collect();
                return Err(ImageError::bad_image(
                    &name,
                    format!(
                        "the archive holds {} images; name one with :REF (tags: {})",
                        entries.len(),
                        tags.join(", ")
                    ),
                ));
            }
        };
        let config_member = crate::layer::normalize_entry_path(&entry.config)
            .ok()
            .flatten()
            .ok_or_else(|| {
                ImageError::bad_image(&name, format!("bad config path {:?}", entry.config))
            })?;
        let config_bytes = index.read_member(&config_member, MAX_METADATA_BYTES)?;
        let config_digest = Digest::sha256_of(&config_bytes);
        if let Some(stated) = digest_from_member_name(&config_member)
            && stated != config_digest
        {
            return Err(ImageError::bad_image(
                &name,
                format!(
                    "config {config_member}: digest mismatch: expected {stated}, got {config_digest}"
                ),
            ));
        }
        let config: ImageConfig = parse_json(&config_bytes, "image config", &name)?;
        let diff_ids = config
            .rootfs
            .as_ref()
            .map(|r| r.diff_ids.clone())
            .unwrap_or_default();
        if diff_ids.len() != entry.layers.len() {
            return Err(ImageError::bad_image(
                &name,
                format!(
                    "manifest.json lists {} layers but the config has {} diff_ids",
                    entry.layers.len(),
                    diff_ids.len()
                ),
            ));
        }
        let mut members = Vec::new();
        let mut descriptors = Vec::new();
        for (i, layer) in entry.layers.iter().enumerate() {
            let member = crate::layer::normalize_entry_path(layer)
                .ok()
                .flatten()
                .ok_or_else(|| ImageError::bad_image(&name, format!("bad layer path {layer:?}")))?;
            let size = index.size(&member).ok_or_else(|| {
                ImageError::bad_image(
                    &name,
                    format!(
                        "manifest.json names layer {member:?}, which is missing from the archive"
                    ),
                )
            })?;
            // The digest that verifies the member: its name when it states one, otherwise the
            // diff_id when the member is an uncompressed tar (legacy `ID/layer.tar` naming).
            let digest = match digest_from_member_name(&member) {
                Some(d) => d,
                None => {
                    let mut head = [0u8; 4];
                    let n = index.open_member(&member)?.read(&mut head).unwrap_or(0);
                    if sniff_compression(&head[..n]) == Compression::None {
                        diff_ids[i].clone()
                    } else {
                        hash_member(&index, &member)?
                    }
                }
            };
            members.push(member);
            descriptors.push(Descriptor {
                media_type: "application/vnd.docker.image.rootfs.diff.tar".into(),
                digest,
                size,
                platform: None,
                annotations: Default::default(),
            });
        }
        let (repo, tag) = match entry.repo_tags.as_ref().and_then(|t| t.first()) {
            Some(t) => match t.rsplit_once(':') {
                Some((r, tag)) if !tag.contains('/') => (r.to_string(), Some(tag.to_string())),
                _ => (t.clone(), None),
            },
            None => (name.clone(), None),
        };
        let info = image_info(
            reference,
            "docker-archive",
            &repo,
            tag,
            None,
            config_digest,
            &config,
            &descriptors,
        );
        Ok(DockerArchiveSource {
            index,
            members,
            info,
        })
    }
}

fn hash_member(index: &TarIndex, member: &str) -> Result<Digest, ImageError> {
    let mut r = index.open_member(member)?;
    let mut h = stella_model::DigestHasher::sha256();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = r
            .read(&mut buf)
            .map_err(|e| ImageError::io(index.path(), format!("reading {member}"), e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finish())
}

impl ImageSource for DockerArchiveSource {
    fn info(&self) -> &ImageInfo {
        &self.info
    }
    fn open_layer(&self, index: usize) -> Result<Box<dyn Read + Send + '_>, ImageError> {
        let layer = &self.info.layers[index];
        let raw = self.index.open_member(&self.members[index])?;
        Ok(Box::new(VerifyingReader::new(
            raw,
            layer.digest.clone(),
            layer.size,
            format!(
                "layer {} of {}",
                self.members[index],
                self.index.path().display()
            ),
        )))
    }
}
