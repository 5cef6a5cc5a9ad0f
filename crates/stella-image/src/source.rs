//! Image sources: each turns a [`Target`] into an [`ImageInfo`] and verified layer streams.

use crate::archive::TarIndex;
use crate::manifest::{
    Descriptor, ImageConfig, MAX_METADATA_BYTES, ManifestOrIndex, Platform, parse_json,
    select_platform,
};
use crate::{ImageError, Target};
use std::io::Read;
use std::path::{Path, PathBuf};
use stella_model::{Digest, ImageInfo, LayerInfo};
use stella_registry::VerifyingReader;

/// Options that shape how a source is opened.
#[derive(Debug, Clone, Default)]
pub struct SourceOptions {
    /// Platform picked from an image index; linux/amd64 by default.
    pub platform: Platform,
    /// Registry hosts (`host[:port]`) allowed over plain HTTP besides localhost.
    pub insecure_registries: Vec<String>,
}

/// An opened image.
pub trait ImageSource: Send + Sync {
    /// What the image is; `layers` is empty for a directory.
    fn info(&self) -> &ImageInfo;
    /// The raw bytes of layer `index` (compressed as stored), verified against the layer's
    /// digest as they stream; the digest error surfaces at end of stream.
    fn open_layer(&self, index: usize) -> Result<Box<dyn Read + Send + '_>, ImageError>;
    /// For a `dir:` source, the root directory to walk instead of layers.
    fn root_dir(&self) -> Option<&Path> {
        None
    }
}

/// Opens a target.
pub fn open_source(
    target: &Target,
    reference: &str,
    opts: &SourceOptions,
) -> Result<Box<dyn ImageSource>, ImageError> {
    match target {
        Target::OciLayout { dir, tag } => {
            let store = BlobStore::Dir(dir.clone());
            Ok(Box::new(OciSource::open(
                store,
                tag.as_deref(),
                reference,
                "oci",
                opts,
            )?))
        }
        Target::OciArchive { path, tag } => {
            let store = BlobStore::Tar(TarIndex::open(path)?);
            Ok(Box::new(OciSource::open(
                store,
                tag.as_deref(),
                reference,
                "oci-archive",
                opts,
            )?))
        }
        Target::DockerArchive { path, reference: r } => Ok(Box::new(
            crate::docker_archive::DockerArchiveSource::open(path, r.as_deref(), reference)?,
        )),
        Target::Registry(r) => Ok(Box::new(crate::registry_source::RegistrySource::open(
            r, reference, opts,
        )?)),
        Target::Dir(path) => Ok(Box::new(DirSource::open(path, reference)?)),
    }
}

/// Where an OCI layout's blobs are: a directory or a tar archive of one.
pub(crate) enum BlobStore {
    Dir(PathBuf),
    Tar(TarIndex),
}

impl BlobStore {
    fn name(&self) -> String {
        match self {
            BlobStore::Dir(p) => p.display().to_string(),
            BlobStore::Tar(t) => t.path().display().to_string(),
        }
    }

    fn blob_member(digest: &Digest) -> String {
        format!("blobs/{}/{}", digest.algorithm_name(), digest.hex())
    }

    fn read_file(&self, member: &str, limit: u64) -> Result<Vec<u8>, ImageError> {
        match self {
            BlobStore::Dir(dir) => {
                let path = dir.join(member);
                let meta = std::fs::metadata(&path)
                    .map_err(|e| ImageError::io(&path, "cannot read", e))?;
                if meta.len() > limit {
                    return Err(ImageError::bad_image(
                        self.name(),
                        format!(
                            "{member} is {} bytes, more than the {limit} allowed",
                            meta.len()
                        ),
                    ));
                }
                std::fs::read(&path).map_err(|e| ImageError::io(&path, "cannot read", e))
            }
            BlobStore::Tar(t) => t.read_member(member, limit),
        }
    }

    fn open_blob(&self, digest: &Digest) -> Result<Box<dyn Read + Send>, ImageError> {
        let member = Self::blob_member(digest);
        match self {
            BlobStore::Dir(dir) => {
                let path = dir.join(&member);
                let f = std::fs::File::open(&path).map_err(|e| {
                    ImageError::bad_image(
                        self.name(),
                        format!("the manifest names blob {digest}, which is missing: {e}"),
                    )
                })?;
                Ok(Box::new(f))
            }
            BlobStore::Tar(t) => {
                if !t.contains(&member) {
                    return Err(ImageError::bad_image(
                        self.name(),
                        format!(
                            "the manifest names blob {digest}, which is missing from the archive"
                        ),
                    ));
                }
                t.open_member(&member)
            }
        }
    }

    /// A small blob (manifest, config) read whole, bounded, and checked against its digest.
    fn read_blob(&self, digest: &Digest, what: &str) -> Result<Vec<u8>, ImageError> {
        let mut out = Vec::new();
        self.open_blob(digest)?
            .take(MAX_METADATA_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| ImageError::bad_image(self.name(), format!("{what} {digest}: {e}")))?;
        if out.len() as u64 > MAX_METADATA_BYTES {
            return Err(ImageError::bad_image(
                self.name(),
                format!("{what} {digest} is larger than {MAX_METADATA_BYTES} bytes"),
            ));
        }
        let actual = Digest::sha256_of(&out);
        if digest.algorithm_name() == "sha256" && actual != *digest {
            return Err(ImageError::bad_image(
                self.name(),
                format!("{what} {digest}: digest mismatch: the blob hashes to {actual}"),
            ));
        }
        Ok(out)
    }
}

/// An image in an OCI layout (a directory or an archive of one).
pub(crate) struct OciSource {
    store: BlobStore,
    info: ImageInfo,
}

const REF_NAME: &str = "org.opencontainers.image.ref.name";

impl OciSource {
    fn open(
        store: BlobStore,
        tag: Option<&str>,
        reference: &str,
        transport: &str,
        opts: &SourceOptions,
    ) -> Result<Self, ImageError> {
        let name = store.name();
        let layout = store.read_file("oci-layout", 64 * 1024).map_err(|_| {
            ImageError::bad_image(&name, "not an OCI image layout: oci-layout is missing")
        })?;
        let _: serde_json::Value = parse_json(&layout, "oci-layout", &name)?;
        let index_bytes = store.read_file("index.json", MAX_METADATA_BYTES)?;
        let index: ManifestOrIndex = parse_json(&index_bytes, "index.json", &name)?;
        let manifests = index.manifests.unwrap_or_default();
        if manifests.is_empty() {
            return Err(ImageError::bad_image(
                &name,
                "index.json lists no manifests",
            ));
        }
        let chosen: Descriptor = match tag {
            Some(tag) => manifests
                .iter()
                .find(|d| {
                    d.annotations.get(REF_NAME).is_some_and(|r| {
                        r == tag || r.rsplit_once(':').is_some_and(|(_, t)| t == tag)
                    })
                })
                .cloned()
                .ok_or_else(|| {
                    let tags: Vec<&str> = manifests
                        .iter()
                        .filter_map(|d| d.annotations.get(REF_NAME))
                        .map(|s| s.as_str())
                        .collect();
                    ImageError::bad_image(
                        &name,
                        format!("no image tagged {tag:?} (tags: {})", tags.join(", ")),
                    )
                })?,
            None if manifests.len() == 1 => manifests[0].clone(),
            None => {
                if manifests.iter().all(|d| d.platform.is_some()) {
                    select_platform(&manifests, &opts.platform, &name)?.clone()
                } else {
                    let tags: Vec<&str> = manifests
                        .iter()
                        .filter_map(|d| d.annotations.get(REF_NAME))
                        .map(|s| s.as_str())
                        .collect();
                    return Err(ImageError::bad_image(
                        &name,
                        format!(
                            "the layout holds {} images; name one with :TAG (tags: {})",
                            manifests.len(),
                            tags.join(", ")
                        ),
                    ));
                }
            }
        };
        let mut desc = chosen.clone();
        // Follow nested indexes down to a platform manifest.
        for _ in 0..4 {
            let bytes = store.read_blob(&desc.digest, "manifest")?;
            let m: ManifestOrIndex = parse_json(&bytes, "manifest", &name)?;
            if let Some(list) = m.manifests {
                desc = select_platform(&list, &opts.platform, &name)?.clone();
                continue;
            }
            let config_desc = m.config.ok_or_else(|| {
                ImageError::bad_image(&name, format!("manifest {} has no config", desc.digest))
            })?;
            let config_bytes = store.read_blob(&config_desc.digest, "config")?;
            let config: ImageConfig = parse_json(&config_bytes, "image config", &name)?;
            let layers = m.layers.unwrap_or_default();
            let info = image_info(
                reference,
                transport,
                &name,
                tag.map(String::from),
                Some(desc.digest.clone()),
                config_desc.digest.clone(),
                &config,
                &layers,
            );
            return Ok(OciSource { store, info });
        }
        Err(ImageError::bad_image(
            &name,
            "image indexes nest too deeply",
        ))
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn image_info(
    reference: &str,
    transport: &str,
    name: &str,
    tag: Option<String>,
    manifest_digest: Option<Digest>,
    config_digest: Digest,
    config: &ImageConfig,
    layers: &[Descriptor],
) -> ImageInfo {
    let diff_ids = config
        .rootfs
        .as_ref()
        .map(|r| r.diff_ids.clone())
        .unwrap_or_default();
    ImageInfo {
        reference: reference.to_string(),
        transport: transport.to_string(),
        name: name.to_string(),
        tag,
        manifest_digest,
        config_digest: Some(config_digest),
        created: config.created.clone(),
        os: config.os.clone(),
        architecture: config.architecture.clone(),
        variant: config.variant.clone(),
        layers: layers
            .iter()
            .enumerate()
            .map(|(i, d)| LayerInfo {
                index: i as u32,
                digest: d.digest.clone(),
                diff_id: diff_ids.get(i).cloned(),
                media_type: d.media_type.clone(),
                size: d.size,
            })
            .collect(),
    }
}

impl ImageSource for OciSource {
    fn info(&self) -> &ImageInfo {
        &self.info
    }
    fn open_layer(&self, index: usize) -> Result<Box<dyn Read + Send + '_>, ImageError> {
        let layer = &self.info.layers[index];
        let raw = self.store.open_blob(&layer.digest)?;
        Ok(Box::new(VerifyingReader::new(
            raw,
            layer.digest.clone(),
            layer.size,
            format!("layer {} of {}", layer.digest, self.store.name()),
        )))
    }
}

/// A root filesystem on disk.
pub(crate) struct DirSource {
    root: PathBuf,
    info: ImageInfo,
}

impl DirSource {
    fn open(path: &Path, reference: &str) -> Result<Self, ImageError> {
        let meta = std::fs::metadata(path)
            .map_err(|e| ImageError::io(path, "cannot scan directory", e))?;
        if !meta.is_dir() {
            return Err(ImageError::BadTarget {
                target: reference.to_string(),
                message: "dir: needs a directory".into(),
            });
        }
        Ok(DirSource {
            root: path.to_path_buf(),
            info: ImageInfo {
                reference: reference.to_string(),
                transport: "dir".into(),
                name: path.display().to_string(),
                tag: None,
                manifest_digest: None,
                config_digest: None,
                created: None,
                os: std::env::consts::OS.to_string(),
                architecture: String::new(),
                variant: None,
                layers: Vec::new(),
            },
        })
    }
}

impl ImageSource for DirSource {
    fn info(&self) -> &ImageInfo {
        &self.info
    }
    fn open_layer(&self, _index: usize) -> Result<Box<dyn Read + Send + '_>, ImageError> {
        Err(ImageError::bad_image(
            self.root.display().to_string(),
            "a directory has no layers",
        ))
    }
    fn root_dir(&self) -> Option<&Path> {
        Some(&self.root)
    }
}
