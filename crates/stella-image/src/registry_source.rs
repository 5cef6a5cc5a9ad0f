//! Images pulled from a registry over the OCI distribution API (see `stella-registry`).

use crate::ImageError;
use crate::manifest::{Descriptor, ImageConfig, parse_json};
use crate::source::{ImageSource, SourceOptions, image_info};
use std::io::Read;
use stella_model::ImageInfo;
use stella_registry::{ClientOptions, ImageReference, RegistryClient};

pub(crate) struct RegistrySource {
    client: RegistryClient,
    reference: ImageReference,
    info: ImageInfo,
}

fn registry_error(e: stella_registry::RegistryError) -> ImageError {
    ImageError::Registry(Box::new(e))
}

impl RegistrySource {
    pub(crate) fn open(
        reference: &str,
        full: &str,
        opts: &SourceOptions,
    ) -> Result<Self, ImageError> {
        let parsed: ImageReference = reference.parse().map_err(registry_error)?;
        let client = RegistryClient::new(ClientOptions {
            platform: opts.platform.clone(),
            insecure_registries: opts.insecure_registries.clone(),
            ..ClientOptions::default()
        })
        .map_err(registry_error)?;
        let resolved = client.resolve(&parsed).map_err(registry_error)?;
        let config: ImageConfig = parse_json(&resolved.config_bytes, "image config", full)?;
        let layers: Vec<Descriptor> = resolved
            .layers
            .iter()
            .map(|l| Descriptor {
                media_type: l.media_type.clone(),
                digest: l.digest.clone(),
                size: l.size,
                platform: None,
                annotations: Default::default(),
            })
            .collect();
        let info = image_info(
            full,
            "docker",
            &format!("{}/{}", parsed.registry, parsed.repository),
            parsed.tag.clone(),
            Some(resolved.manifest_digest.clone()),
            resolved.config_digest.clone(),
            &config,
            &layers,
        );
        Ok(RegistrySource {
            client,
            reference: parsed,
            info,
        })
    }
}

impl ImageSource for RegistrySource {
    fn info(&self) -> &ImageInfo {
        &self.info
    }
    fn open_layer(&self, index: usize) -> Result<Box<dyn Read + Send + '_>, ImageError> {
        let layer = &self.info.layers[index];
        self.client
            .open_blob(&self.reference, &layer.digest, layer.size)
            .map_err(registry_error)
    }
}
