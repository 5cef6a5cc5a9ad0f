//! The OpenAPI 3.1 description of everything `stella serve` answers, served unauthenticated at
//! `GET /openapi.json`.
//!
//! It covers the authority's routes (`POST /token`, `GET /jwks`,
//! `GET /.well-known/openid-configuration`), the scan API (`/api/v1/scans…`) and this document
//! itself: parameters, request bodies, every status a route can answer (including the 429, 502
//! and 504 a gateway in front may give) and their schemas, and the security schemes: DPoP-bound
//! access tokens (RFC 9449) obtained with OAuth 2.0 client credentials. `servers` is the
//! service's public URL, the same origin DPoP proofs name in `htu`.
//!
//! Why a `serde_json` document rather than utoipa's derives: the handlers build their JSON with
//! `json!` rather than typed structs, and the authority's routes live in `stella-authority`, so
//! annotations would describe types the code does not serialize, kept apart from the code
//! anyway; and utoipa's model has no `DPoP` HTTP authentication scheme (its `HttpAuthScheme` is a
//! closed enum), which would leave the central part of the contract to patch by hand. What keeps
//! this document honest is not its generator but its tests: `tests/openapi.rs` validates it
//! against the official OpenAPI 3.1 schema and compares its operations with the routes the real
//! router serves, and `.ci/schemathesis.sh` checks live responses (status codes, schemas) against
//! it.
//!
//! The document is built once per process and is byte-for-byte deterministic for a given public
//! URL (`serde_json` keeps insertion order here).

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Map, Value, json};

/// Where the document is served.
pub const SPEC_PATH: &str = "/openapi.json";

/// The scope `POST /api/v1/scans` needs.
pub const SCOPE_ENQUEUE: &str = "scanner.scans.enqueue";
/// The scope the `GET /api/v1/scans…` routes need.
pub const SCOPE_READ: &str = "scanner.scans.read";

/// A route serving the document for a service reached at `public_url`.
pub fn router(public_url: &str) -> Router {
    let body = bytes::Bytes::from(
        serde_json::to_vec_pretty(&document(public_url)).expect("a JSON value serializes"),
    );
    // The literal path, not SPEC_PATH: tests/openapi.rs reads the `.route("…")` literals of the
    // sources to find every route the service serves.
    Router::new().route(
        "/openapi.json",
        get(move || {
            let body = body.clone();
            async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    )],
                    body,
                )
                    .into_response()
            }
        }),
    )
}

/// The OpenAPI 3.1.0 document for a service reached at `public_url` (`http://127.0.0.1:8080`).
pub fn document(public_url: &str) -> Value {
    let base = public_url.trim_end_matches('/');
    let mut paths = Map::new();
    paths.insert("/token".into(), json!({"post": token_operation()}));
    paths.insert("/jwks".into(), json!({"get": jwks_operation()}));
    paths.insert(
        "/.well-known/openid-configuration".into(),
        json!({"get": discovery_operation()}),
    );
    paths.insert(
        "/api/v1/scans".into(),
        json!({"get": list_scans_operation(), "post": create_scan_operation()}),
    );
    paths.insert(
        "/api/v1/scans/{id}".into(),
        json!({"get": get_scan_operation()}),
    );
    paths.insert(
        "/api/v1/scans/{id}/sbom".into(),
        json!({"get": get_sbom_operation()}),
    );
    paths.insert(
        "/api/v1/scans/{id}/findings".into(),
        json!({"get": get_findings_operation()}),
    );
    paths.insert(
        "/api/v1/scans/{id}/result".into(),
        json!({"get": get_result_operation()}),
    );
    paths.insert(SPEC_PATH.into(), json!({"get": openapi_operation()}));

    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "Stella API",
            "version": env!("CARGO_PKG_VERSION"),
            "summary": "Container image scanning as a service: scan jobs, SBOMs and findings.",
            "description": "Scan routes take `Authorization: DPoP <access token>` plus a fresh \
                `DPoP` proof for each request (RFC 9449). Get the token from `POST /token` with \
                OAuth 2.0 client credentials and a DPoP proof for the token endpoint; the token \
                is bound to the proof's key (`cnf.jkt`) and carries the client's tenant, which \
                scopes every scan route. Proofs must carry a server nonce: a request without a \
                fresh one is answered `use_dpop_nonce` with the nonce to use in the `DPoP-Nonce` \
                header. Any route may answer 429 (rate limited, with `Retry-After`), and 502 or \
                504 when a gateway in front cannot reach the service.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": base, "description": "this service's public URL"}],
        "tags": [
            {"name": "authority", "description": "OAuth 2.0 token endpoint and key discovery"},
            {"name": "scans", "description": "Scan jobs and their SBOMs, findings and results"},
            {"name": "meta", "description": "This document"},
        ],
        "paths": paths,
        "components": components(base),
    })
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn header_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/headers/{name}")})
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

/// A response with a JSON body of `schema` and the given headers.
fn json_response(description: &str, schema: Value, headers: Value) -> Value {
    let mut r = json!({"description": description, "content": json_content(schema)});
    if headers.as_object().is_some_and(|h| !h.is_empty()) {
        r["headers"] = headers;
    }
    r
}

/// `application/json` errors of either shape, or the plain-text answer of axum's extractors
/// (a malformed query string or path segment is refused before the handler runs).
fn bad_request(description: &str) -> Value {
    json!({
        "description": description,
        "headers": {"WWW-Authenticate": header_ref("WWW-Authenticate")},
        "content": {
            "application/json": {"schema": {"anyOf": [schema_ref("ApiError"), schema_ref("OAuthError")]}},
            "text/plain": {"schema": {"type": "string"}},
        },
    })
}

/// The answers every route may give because of what stands in front of it.
fn add_gateway_responses(responses: &mut Value) {
    responses["429"] = json!({"$ref": "#/components/responses/RateLimited"});
    responses["502"] = json!({"$ref": "#/components/responses/BadGateway"});
    responses["504"] = json!({"$ref": "#/components/responses/GatewayTimeout"});
}

/// The answers of a route guarded by a DPoP-bound token with `scope`.
fn add_resource_auth_responses(responses: &mut Value) {
    responses["401"] = json!({"$ref": "#/components/responses/Unauthorized"});
    responses["403"] = json!({"$ref": "#/components/responses/Forbidden"});
    responses["503"] = json!({"$ref": "#/components/responses/Unavailable"});
}

fn resource_security(scope: &str) -> Value {
    // Both schemes in one requirement: the token comes from the oauth2 flow with `scope` and is
    // presented with the DPoP scheme (a bearer presentation is refused).
    json!([{"oauth2": [scope], "DPoP": []}])
}

fn id_parameter() -> Value {
    json!({
        "name": "id",
        "in": "path",
        "required": true,
        "description": "The scan job's id (`scan-…`, as `POST /api/v1/scans` answered). Another \
            tenant's job answers 404, like a missing one.",
        "schema": {"type": "string", "minLength": 1},
    })
}

fn scan_operation(
    operation_id: &str,
    summary: &str,
    description: &str,
    scope: &str,
    parameters: Vec<Value>,
    mut responses: Value,
) -> Value {
    responses["400"] = bad_request(
        "Malformed request: a JSON `ApiError` from the handler, a JSON `OAuthError` for a \
         malformed `Authorization` header, or plain text when axum refuses the path or query.",
    );
    responses["404"] = json_response(
        "No such scan for the caller's tenant, or no such route.",
        schema_ref("ApiError"),
        json!({}),
    );
    add_resource_auth_responses(&mut responses);
    add_gateway_responses(&mut responses);
    let mut params = vec![json!({"$ref": "#/components/parameters/DPoP"})];
    params.extend(parameters);
    json!({
        "tags": ["scans"],
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "security": resource_security(scope),
        "parameters": params,
        "responses": responses,
    })
}

fn not_completed() -> Value {
    json_response(
        "The scan has not completed (`not_completed`; the message names its status).",
        schema_ref("ApiError"),
        json!({}),
    )
}

fn token_operation() -> Value {
    let dpop_nonce = json!({"DPoP-Nonce": header_ref("DPoP-Nonce-Always")});
    let mut responses = json!({
        "200": {
            "description": "A DPoP-bound access token.",
            "headers": {
                "Cache-Control": {"description": "`no-store`.", "required": true, "schema": {"type": "string", "const": "no-store"}},
                "DPoP-Nonce": header_ref("DPoP-Nonce-Always"),
            },
            "content": json_content(schema_ref("TokenResponse")),
        },
        "400": json_response(
            "The request was refused (RFC 6749 §5.2, RFC 9449 §5): `invalid_request`, \
             `unsupported_grant_type`, `invalid_scope`, `invalid_dpop_proof`, or \
             `use_dpop_nonce` (retry with the `DPoP-Nonce` of this answer).",
            schema_ref("OAuthError"),
            dpop_nonce.clone(),
        ),
        "401": json_response(
            "Client authentication failed (`invalid_client`); unknown clients and wrong secrets \
             answer alike.",
            schema_ref("OAuthError"),
            json!({
                "WWW-Authenticate": {"description": "`Basic realm=\"stella\"`.", "required": true, "schema": {"type": "string"}},
                "DPoP-Nonce": header_ref("DPoP-Nonce-Always"),
            }),
        ),
        "413": {
            "description": "The body is larger than the service accepts (64 KiB).",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        "503": json_response(
            "`temporarily_unavailable`: the client store (the database) or the DPoP replay \
             cache is unreachable; retry later.",
            schema_ref("OAuthError"),
            dpop_nonce,
        ),
    });
    add_gateway_responses(&mut responses);
    json!({
        "tags": ["authority"],
        "operationId": "issueToken",
        "summary": "Issue a DPoP-bound access token (OAuth 2.0 client credentials)",
        "description": "Client credentials grant (RFC 6749 §4.4) with a DPoP proof (RFC 9449 §5) \
            whose `htm` is `POST` and `htu` this endpoint's URL. Authenticate the client with \
            HTTP Basic (`client_secret_basic`) or with `client_id` and `client_secret` in the \
            body (`client_secret_post`), never both. Every answer carries a fresh `DPoP-Nonce`.",
        "security": [{"client_secret_basic": []}, {}],
        "parameters": [{"$ref": "#/components/parameters/DPoP"}],
        "requestBody": {
            "required": true,
            "content": {"application/x-www-form-urlencoded": {"schema": schema_ref("TokenRequest")}},
        },
        "responses": responses,
    })
}

fn jwks_operation() -> Value {
    let mut responses = json!({
        "200": json_response("The issuer's public keys.", schema_ref("JwkSet"), json!({})),
    });
    add_gateway_responses(&mut responses);
    json!({
        "tags": ["authority"],
        "operationId": "getJwks",
        "summary": "The JWK Set that verifies access tokens",
        "responses": responses,
    })
}

fn discovery_operation() -> Value {
    let mut responses = json!({
        "200": json_response("Authorization server metadata.", schema_ref("ServerMetadata"), json!({})),
    });
    add_gateway_responses(&mut responses);
    json!({
        "tags": ["authority"],
        "operationId": "getServerMetadata",
        "summary": "Authorization server metadata (RFC 8414 fields at the OpenID path)",
        "responses": responses,
    })
}

fn openapi_operation() -> Value {
    let mut responses = json!({
        "200": json_response("This document.", json!({"type": "object"}), json!({})),
    });
    add_gateway_responses(&mut responses);
    json!({
        "tags": ["meta"],
        "operationId": "getOpenApi",
        "summary": "This OpenAPI 3.1 document (no authentication)",
        "responses": responses,
    })
}

fn create_scan_operation() -> Value {
    let responses = json!({
        "202": json_response(
            "The job is queued (or, for a replayed `Idempotency-Key`, the first job with that key \
             in its current status).",
            schema_ref("ScanAccepted"),
            json!({"Location": {
                "description": "The job's URL path (`/api/v1/scans/{id}`).",
                "required": true,
                "schema": {"type": "string"},
            }}),
        ),
        "413": json_response(
            "The body is larger than 64 KiB (`payload_too_large`).",
            schema_ref("ApiError"),
            json!({}),
        ),
    });
    let mut op = scan_operation(
        "createScan",
        "Enqueue a scan of an image",
        "Inserts a job for the caller's tenant and queues it for a worker. Local targets \
         (`dir:`, `oci:`, `oci-archive:`, `docker-archive:`) are refused unless the server \
         allows them.",
        SCOPE_ENQUEUE,
        vec![json!({
            "name": "Idempotency-Key",
            "in": "header",
            "required": false,
            "description": "Replaying a key returns the job first made with it instead of a new \
                one (1 to 255 visible ASCII characters).",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]([ -~]*[!-~])?$"},
        })],
        responses,
    );
    op["requestBody"] = json!({
        "required": true,
        "content": {"application/json": {"schema": schema_ref("ScanRequest")}},
    });
    op
}

fn list_scans_operation() -> Value {
    scan_operation(
        "listScans",
        "List the tenant's scans, newest first",
        "One page of jobs; pass `next_cursor` back as `cursor` for the next page.",
        SCOPE_READ,
        vec![
            json!({
                "name": "cursor",
                "in": "query",
                "required": false,
                "description": "The `next_cursor` of the previous page; an unknown cursor answers 400.",
                "schema": {"type": "string"},
            }),
            json!({
                "name": "limit",
                "in": "query",
                "required": false,
                "description": "Page size; values outside 1..=500 are clamped into it.",
                "schema": {"type": "integer", "minimum": 0, "maximum": 4294967295u64, "default": 50},
            }),
        ],
        json!({"200": json_response("One page of scans.", schema_ref("ScanPage"), json!({}))}),
    )
}

fn get_scan_operation() -> Value {
    scan_operation(
        "getScan",
        "One scan job",
        "The job's status, timestamps, attempts, error and summary. With `wait` it is a long \
         poll: the answer comes as soon as the job is completed or failed, or when the wait is \
         over, whichever is first.",
        SCOPE_READ,
        vec![
            id_parameter(),
            json!({
                "name": "wait",
                "in": "query",
                "required": false,
                "description": format!(
                    "Seconds to hold the request while the job is queued or running, from 0 \
                     (the default: answer at once) to {}. Another value answers 400.",
                    crate::api::MAX_WAIT_SECS
                ),
                "schema": {"type": "integer", "minimum": 0, "maximum": crate::api::MAX_WAIT_SECS},
            }),
        ],
        json!({"200": json_response("The scan job.", schema_ref("Scan"), json!({}))}),
    )
}

fn get_sbom_operation() -> Value {
    scan_operation(
        "getScanSbom",
        "The SBOM of a completed scan",
        "SPDX 2.3 JSON or CycloneDX 1.6 JSON, as stored when the scan completed. 404 when the \
         scan produced no SBOM in that format.",
        SCOPE_READ,
        vec![
            id_parameter(),
            json!({
                "name": "format",
                "in": "query",
                "required": false,
                "description": "The SBOM format; the job's `sbom_format` when absent. Another \
                    value answers 400.",
                "schema": {"type": "string", "enum": ["spdx", "cyclonedx"]},
            }),
        ],
        json!({
            "200": {
                "description": "The SBOM document.",
                "headers": {"ETag": {
                    "description": "The quoted digest of the stored document.",
                    "required": true,
                    "schema": {"type": "string"},
                }},
                "content": {
                    "application/spdx+json": {"schema": {"type": "object", "description": "An SPDX 2.3 JSON document."}},
                    "application/vnd.cyclonedx+json": {"schema": {
                        "type": "object",
                        "description": "A CycloneDX 1.6 JSON document (served with `; version=1.6`).",
                    }},
                },
            },
            "409": not_completed(),
        }),
    )
}

fn get_findings_operation() -> Value {
    scan_operation(
        "getScanFindings",
        "The findings of a completed scan",
        "Advisory matches of the scan's packages (empty when the server has no advisory \
         snapshot).",
        SCOPE_READ,
        vec![id_parameter()],
        json!({
            "200": json_response("The findings.", schema_ref("ScanFindings"), json!({})),
            "409": not_completed(),
        }),
    )
}

fn get_result_operation() -> Value {
    scan_operation(
        "getScanResult",
        "The full result of a completed scan",
        "The `stella.scan-result/v1` document (timestamp, inventory, findings) from which \
         `stella scan --server` renders its outputs as a local scan does.",
        SCOPE_READ,
        vec![id_parameter()],
        json!({
            "200": json_response("The scan result.", schema_ref("ScanResult"), json!({})),
            "409": not_completed(),
        }),
    )
}

fn components(base: &str) -> Value {
    let job_status =
        json!({"type": "string", "enum": ["queued", "running", "completed", "failed"]});
    let timestamp_or_null = json!({"type": ["string", "null"], "format": "date-time"});
    json!({
        "schemas": {
            "ApiError": {
                "type": "object",
                "description": "An error of the scan API. Codes: `invalid_request`, `not_found`, \
                    `not_completed`, `payload_too_large`, `unavailable`.",
                "required": ["error", "error_description"],
                "properties": {
                    "error": {"type": "string"},
                    "error_description": {"type": "string"},
                },
            },
            "OAuthError": {
                "type": "object",
                "description": "An OAuth 2.0 / DPoP error (RFC 6749 §5.2, RFC 6750 §3, RFC 9449). \
                    Codes: `unauthorized` when no credentials were presented at all, \
                    `invalid_request`, `invalid_client`, `invalid_grant`, \
                    `unsupported_grant_type`, `invalid_scope`, `invalid_token`, \
                    `insufficient_scope`, `invalid_dpop_proof`, `use_dpop_nonce`, \
                    `temporarily_unavailable`, and `rate_limited` from the gateway.",
                "required": ["error", "error_description"],
                "properties": {
                    "error": {"type": "string"},
                    "error_description": {"type": "string"},
                },
            },
            "ScanRequest": {
                "type": "object",
                "additionalProperties": false,
                "required": ["image"],
                "properties": {
                    "image": {
                        "type": "string",
                        "description": "The image to scan: `docker://REGISTRY/REPO:TAG` (or \
                            `@sha256:…`). Other transports (`dir:`, `oci:`, `oci-archive:`, \
                            `docker-archive:`) read the server's own files and are refused (400) \
                            unless the server allows local targets. Surrounding whitespace is \
                            trimmed; the rest must be 1 to 2048 characters without control \
                            characters.",
                        "minLength": 1,
                        "maxLength": 2048,
                        "pattern": r"^[^\u0000-\u001F\u007F-\u009F]+$",
                        "examples": ["docker://registry.example/library/debian:12"],
                    },
                    "sbom_format": {
                        "type": ["string", "null"],
                        "enum": ["spdx", "cyclonedx", null],
                        "default": "cyclonedx",
                        "description": "The SBOM format the job stores (both are produced).",
                    },
                },
            },
            "ScanAccepted": {
                "type": "object",
                "required": ["job_id", "status"],
                "properties": {
                    "job_id": {"type": "string"},
                    "status": job_status,
                },
            },
            "Scan": {
                "type": "object",
                "required": ["job_id", "image", "sbom_format", "status", "created_at", "started_at",
                             "finished_at", "attempts", "error", "summary"],
                "properties": {
                    "job_id": {"type": "string"},
                    "image": {"type": "string"},
                    "sbom_format": {"type": "string", "enum": ["spdx", "cyclonedx"]},
                    "status": job_status,
                    "created_at": timestamp_or_null,
                    "started_at": timestamp_or_null,
                    "finished_at": timestamp_or_null,
                    "attempts": {"type": "integer", "minimum": 0},
                    "error": {"type": ["string", "null"], "description": "Why the last attempt failed."},
                    "summary": {
                        "type": ["object", "null"],
                        "description": "Set when the scan completed: `image_digest`, `packages`, \
                            `findings` (counts by severity), `advisory_snapshot`, `layers`, \
                            `layers_from_cache`.",
                    },
                },
            },
            "ScanPage": {
                "type": "object",
                "required": ["items", "next_cursor"],
                "properties": {
                    "items": {"type": "array", "items": schema_ref("Scan")},
                    "next_cursor": {"type": ["string", "null"], "description": "Null on the last page."},
                },
            },
            "Finding": {
                "type": "object",
                "description": "One advisory matched to one package.",
                "properties": {
                    "vulnerability": {"type": "string"},
                    "severity": {"type": "string", "enum": ["unknown", "negligible", "low", "medium", "high", "critical"]},
                    "package": {"type": "object"},
                },
            },
            "ScanFindings": {
                "type": "object",
                "required": ["job_id", "findings"],
                "properties": {
                    "job_id": {"type": "string"},
                    "findings": {"type": "array", "items": schema_ref("Finding")},
                },
            },
            "ScanResult": {
                "type": "object",
                "required": ["schemaVersion", "timestamp", "inventory", "findings"],
                "properties": {
                    "schemaVersion": {"type": "string", "const": "stella.scan-result/v1"},
                    "timestamp": {"type": "string"},
                    "inventory": {"type": "object"},
                    "findings": {"type": ["object", "null"], "description": "Null without an advisory snapshot."},
                },
            },
            "TokenRequest": {
                "type": "object",
                "required": ["grant_type"],
                "properties": {
                    "grant_type": {"type": "string", "enum": ["client_credentials"]},
                    "client_id": {"type": "string", "description": "With `client_secret_post`."},
                    "client_secret": {"type": "string", "description": "With `client_secret_post`."},
                    "scope": {
                        "type": "string",
                        "description": "Space-separated scopes, a subset of the client's; all of \
                            them when absent.",
                    },
                },
            },
            "TokenResponse": {
                "type": "object",
                "required": ["access_token", "token_type", "expires_in", "scope"],
                "properties": {
                    "access_token": {"type": "string", "description": "A JWT bound to the proof key (`cnf.jkt`)."},
                    "token_type": {"type": "string", "const": "DPoP"},
                    "expires_in": {"type": "integer", "minimum": 0},
                    "scope": {"type": "string"},
                },
            },
            "JwkSet": {
                "type": "object",
                "required": ["keys"],
                "properties": {
                    "keys": {"type": "array", "items": {
                        "type": "object",
                        "required": ["kty"],
                        "properties": {
                            "kty": {"type": "string"},
                            "crv": {"type": "string"},
                            "x": {"type": "string"},
                            "y": {"type": "string"},
                            "kid": {"type": "string"},
                            "use": {"type": "string"},
                            "alg": {"type": "string"},
                        },
                    }},
                },
            },
            "ServerMetadata": {
                "type": "object",
                "required": ["issuer", "token_endpoint", "jwks_uri", "grant_types_supported",
                             "token_endpoint_auth_methods_supported", "dpop_signing_alg_values_supported"],
                "properties": {
                    "issuer": {"type": "string", "format": "uri"},
                    "token_endpoint": {"type": "string", "format": "uri"},
                    "jwks_uri": {"type": "string", "format": "uri"},
                    "grant_types_supported": {"type": "array", "items": {"type": "string"}},
                    "token_endpoint_auth_methods_supported": {"type": "array", "items": {"type": "string"}},
                    "dpop_signing_alg_values_supported": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
        "responses": {
            "Unauthorized": {
                "description": "No, an invalid or an expired token, or a DPoP proof refused \
                    (`invalid_token`, `invalid_dpop_proof`), or a fresh nonce is required \
                    (`use_dpop_nonce`: retry with the `DPoP-Nonce` of this answer).",
                "headers": {
                    "WWW-Authenticate": header_ref("WWW-Authenticate-Required"),
                    "DPoP-Nonce": header_ref("DPoP-Nonce"),
                },
                "content": json_content(schema_ref("OAuthError")),
            },
            "Forbidden": {
                "description": "The token lacks the route's scope (`insufficient_scope`).",
                "headers": {"WWW-Authenticate": header_ref("WWW-Authenticate-Required")},
                "content": json_content(schema_ref("OAuthError")),
            },
            "Unavailable": {
                "description": "A backend (database, queue, blob store or DPoP replay cache) is \
                    unavailable; retry later.",
                "headers": {"WWW-Authenticate": header_ref("WWW-Authenticate")},
                "content": json_content(json!({"anyOf": [schema_ref("ApiError"), schema_ref("OAuthError")]})),
            },
            "RateLimited": {
                "description": "Rate limited by the gateway (`rate_limited`).",
                "headers": {"Retry-After": {
                    "description": "Seconds to wait before retrying.",
                    "required": true,
                    "schema": {"type": "integer", "minimum": 0},
                }},
                "content": json_content(schema_ref("OAuthError")),
            },
            "BadGateway": {
                "description": "The gateway could not reach the service.",
                "content": json_content(schema_ref("OAuthError")),
            },
            "GatewayTimeout": {
                "description": "The service did not answer the gateway in time.",
                "content": json_content(schema_ref("OAuthError")),
            },
        },
        "parameters": {
            "DPoP": {
                "name": "DPoP",
                "in": "header",
                "required": true,
                "description": "A DPoP proof (RFC 9449 §4): a compact JWS with `typ` `dpop+jwt`, \
                    `alg` ES256 or EdDSA and the public `jwk`, whose claims are a fresh `jti`, \
                    `htm` (the method), `htu` (the request URL on this service's public origin, \
                    without query), `iat`, the server's `nonce`, and on scan routes `ath` (the \
                    base64url SHA-256 of the access token). One per request: a `jti` is \
                    accepted once.",
                "schema": {"type": "string"},
            },
        },
        "headers": {
            "WWW-Authenticate": {
                "description": "The DPoP challenge (`DPoP algs=\"ES256 EdDSA\", error=…`) when \
                    the refusal came from the authorization check.",
                "schema": {"type": "string"},
            },
            "WWW-Authenticate-Required": {
                "description": "The DPoP challenge: `DPoP algs=\"ES256 EdDSA\"`, with `error` and \
                    `error_description` (and `scope` for `insufficient_scope`) when there is one.",
                "required": true,
                "schema": {"type": "string"},
            },
            "DPoP-Nonce": {
                "description": "The nonce to put in the next proof; sent with `use_dpop_nonce`.",
                "schema": {"type": "string"},
            },
            "DPoP-Nonce-Always": {
                "description": "A fresh nonce for the next proof (RFC 9449 §8).",
                "required": true,
                "schema": {"type": "string"},
            },
        },
        "securitySchemes": {
            "DPoP": {
                "type": "http",
                "scheme": "DPoP",
                "description": "A DPoP-bound access token (RFC 9449): `Authorization: DPoP \
                    <access token>` together with a `DPoP` proof header made for this request by \
                    the key the token is bound to. The same token presented as a Bearer token is \
                    refused.",
            },
            "oauth2": {
                "type": "oauth2",
                "description": "OAuth 2.0 client credentials at the token endpoint, with a DPoP \
                    proof; the token it issues is presented with the `DPoP` scheme.",
                "flows": {
                    "clientCredentials": {
                        "tokenUrl": format!("{base}/token"),
                        "scopes": {
                            SCOPE_ENQUEUE: "Enqueue scans (POST /api/v1/scans).",
                            SCOPE_READ: "Read scans, SBOMs, findings and results.",
                        },
                    },
                },
            },
            "client_secret_basic": {
                "type": "http",
                "scheme": "basic",
                "description": "Client authentication at the token endpoint: the client id and \
                    secret, each form-urlencoded (RFC 6749 §2.3.1). Alternatively send them as \
                    `client_id` and `client_secret` in the body.",
            },
        },
    })
}
