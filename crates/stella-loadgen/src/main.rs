//! `stella-loadgen`: a load generator for the Stella scan API (`stella serve`).
//!
//! Every request to the API carries a DPoP proof (RFC 9449) signed for that one request: its own
//! `jti` (the server refuses a replayed one), `htm`/`htu` of the request, the `ath` hash of the
//! access token, and the server's nonce. A fixed-request tool such as wrk replays the same
//! headers, so every request after the first would be refused as a replay; this tool signs a
//! fresh proof per request with [`stella_authority::DpopKey`], the same code `stella` uses.
//!
//! Modes (numbers go to stdout as one JSON object, a readable summary to stderr):
//! - `get`: one completed scan, then `GET /api/v1/scans/{id}` from N clients, each on its own
//!   keep-alive connection with its own key and token, for D seconds: latency percentiles and
//!   throughput;
//! - `sequential`: J jobs one after another (the queue is empty at each submit): submit, wait
//!   until completed (long polls with `?wait=`, or a poll every `--poll-ms`); the queue latency
//!   (`started_at - created_at`), the worker's time (`finished_at - started_at`), the wall time
//!   the client sees and the difference (the API's share of the wall time), which splits into
//!   the time until the job row exists, the queue latency, and the time from `finished_at`
//!   until the client has the answer;
//! - `throughput`: K jobs kept in flight for D seconds: scans completed per minute.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, anyhow, bail};
use base64::Engine as _;
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use stella_authority::DpopKey;

#[derive(Parser)]
#[command(
    name = "stella-loadgen",
    about = "Load generator for the Stella scan API"
)]
struct Cli {
    /// The server's origin, as its `--public-url` names it (e.g. http://127.0.0.1:8080).
    #[arg(long)]
    base: String,
    /// An OAuth client with the scanner.scans.enqueue and scanner.scans.read scopes.
    #[arg(long, env = "STELLA_LOADGEN_CLIENT_ID")]
    client_id: String,
    #[arg(long, env = "STELLA_LOADGEN_CLIENT_SECRET", hide_env_values = true)]
    client_secret: String,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// GET /api/v1/scans/{id} of one completed scan from concurrent clients.
    Get {
        /// The image of the scan whose status is read (submitted and awaited first).
        #[arg(long)]
        image: String,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, default_value_t = 20)]
        duration_secs: u64,
    },
    /// Jobs one at a time: queue latency, worker time, client wall time, API overhead.
    Sequential {
        #[arg(long)]
        image: String,
        #[arg(long, default_value_t = 50)]
        jobs: usize,
        /// How often the job is polled while it runs; bounds how late completion is seen.
        /// 0 (the default): long polls (`?wait=`), answered as the job finishes.
        #[arg(long, default_value_t = 0)]
        poll_ms: u64,
    },
    /// Jobs kept in flight for a while: scans completed per minute.
    Throughput {
        #[arg(long)]
        image: String,
        /// Jobs in flight at any time (more than the workers, so none is ever idle).
        #[arg(long, default_value_t = 4)]
        inflight: usize,
        #[arg(long, default_value_t = 60)]
        duration_secs: u64,
        /// As for `sequential`: 0 (the default) long-polls.
        #[arg(long, default_value_t = 0)]
        poll_ms: u64,
    },
}

/// One API client: its DPoP key, access token and the last nonce the server gave it, over one
/// keep-alive connection.
struct Session {
    http: reqwest::Client,
    base: String,
    id: String,
    secret: String,
    key: DpopKey,
    token: String,
    token_expires: Instant,
    nonce: Option<String>,
    /// Requests repeated because the server asked for a (new) nonce.
    nonce_retries: u64,
}

/// A reply: status and body.
struct Reply {
    status: u16,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Session {
    async fn login(base: &str, id: &str, secret: &str) -> Result<Session> {
        let http = reqwest::Client::builder()
            // One connection per session: N sessions are N connections.
            .pool_max_idle_per_host(1)
            .timeout(Duration::from_secs(30))
            .build()?;
        let mut s = Session {
            http,
            base: base.trim_end_matches('/').to_owned(),
            id: id.to_owned(),
            secret: secret.to_owned(),
            key: DpopKey::generate(),
            token: String::new(),
            token_expires: Instant::now(),
            nonce: None,
            nonce_retries: 0,
        };
        s.refresh_token().await?;
        Ok(s)
    }

    async fn refresh_token(&mut self) -> Result<()> {
        let url = format!("{}/token", self.base);
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", self.id, self.secret))
        );
        for _ in 0..2 {
            let proof = self.key.proof("POST", &url, self.nonce.as_deref(), None);
            let r = self
                .http
                .post(&url)
                .header("authorization", &basic)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("dpop", proof)
                .body("grant_type=client_credentials")
                .send()
                .await
                .with_context(|| format!("POST {url}"))?;
            let reply = self.finish(r).await?;
            if reply.json()["error"] == "use_dpop_nonce" {
                continue;
            }
            if reply.status != 200 {
                bail!("POST {url}: {} {}", reply.status, reply.text());
            }
            let v = reply.json();
            self.token = v["access_token"]
                .as_str()
                .ok_or_else(|| anyhow!("POST {url}: no access_token in {v}"))?
                .to_owned();
            let ttl = v["expires_in"].as_u64().unwrap_or(300);
            // Renewed a little early, so no measured request meets an expired token.
            self.token_expires = Instant::now() + Duration::from_secs(ttl.saturating_sub(15));
            return Ok(());
        }
        bail!("POST {url}: the server kept asking for a new DPoP nonce")
    }

    /// Reads the body and keeps any nonce the server sent.
    async fn finish(&mut self, r: reqwest::Response) -> Result<Reply> {
        let status = r.status().as_u16();
        if let Some(n) = r.headers().get("dpop-nonce").and_then(|v| v.to_str().ok()) {
            self.nonce = Some(n.to_owned());
        }
        let body = r.bytes().await?.to_vec();
        Ok(Reply { status, body })
    }

    /// `method path` with a fresh proof, once more if the server asks for a new nonce.
    async fn request(&mut self, method: &str, path: &str, body: Option<&Value>) -> Result<Reply> {
        if Instant::now() >= self.token_expires {
            self.refresh_token().await?;
        }
        let full = format!("{}{}", self.base, path);
        for attempt in 0..2 {
            let proof = self
                .key
                .proof(method, &full, self.nonce.as_deref(), Some(&self.token));
            let mut req = match method {
                "GET" => self.http.get(&full),
                "POST" => self.http.post(&full),
                other => bail!("unsupported method {other}"),
            }
            .header("authorization", format!("DPoP {}", self.token))
            .header("dpop", proof);
            if let Some(b) = body {
                req = req
                    .header("content-type", "application/json")
                    .body(b.to_string());
            }
            let r = req
                .send()
                .await
                .with_context(|| format!("{method} {full}"))?;
            let reply = self.finish(r).await?;
            if reply.status == 401 && reply.json()["error"] == "use_dpop_nonce" && attempt == 0 {
                self.nonce_retries += 1;
                continue;
            }
            return Ok(reply);
        }
        bail!("{method} {full}: the server kept asking for a new DPoP nonce")
    }

    async fn submit(&mut self, image: &str) -> Result<String> {
        let r = self
            .request("POST", "/api/v1/scans", Some(&json!({"image": image})))
            .await?;
        if r.status != 202 {
            if r.status == 429 {
                bail!("{}", RATE_LIMITED);
            }
            bail!("POST /api/v1/scans {image}: {} {}", r.status, r.text());
        }
        r.json()["job_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("no job_id in {}", r.text()))
    }

    /// `GET /api/v1/scans/{id}`, held by the server up to `wait_secs` until the job finishes.
    async fn job(&mut self, id: &str, wait_secs: u64) -> Result<Value> {
        let path = match wait_secs {
            0 => format!("/api/v1/scans/{id}"),
            w => format!("/api/v1/scans/{id}?wait={w}"),
        };
        let r = self.request("GET", &path, None).await?;
        if r.status != 200 {
            if r.status == 429 {
                bail!("{}", RATE_LIMITED);
            }
            bail!("GET /api/v1/scans/{id}: {} {}", r.status, r.text());
        }
        Ok(r.json())
    }

    /// Waits for `id` to complete: a long poll (`?wait=`) when `every` is zero, else a poll
    /// every `every`; the job, and when completion was seen.
    async fn wait(
        &mut self,
        id: &str,
        every: Duration,
        limit: Duration,
    ) -> Result<(Value, Instant)> {
        let deadline = Instant::now() + limit;
        loop {
            let job = if every.is_zero() {
                self.job(id, LONG_POLL_SECS).await?
            } else {
                self.job(id, 0).await?
            };
            match job["status"].as_str() {
                Some("completed") => return Ok((job, Instant::now())),
                Some("failed") => bail!("scan {id} failed: {}", job["error"]),
                _ => {}
            }
            if Instant::now() >= deadline {
                bail!("scan {id} did not complete within {limit:?}: {job}");
            }
            tokio::time::sleep(every).await;
        }
    }
}

/// The `?wait=` of a long poll, in seconds.
const LONG_POLL_SECS: u64 = 20;

const RATE_LIMITED: &str = "the server answered 429: start it with STELLA_RATE_LIMIT_PER_CLIENT=0 \
     STELLA_RATE_LIMIT_PER_TENANT=0 STELLA_RATE_LIMIT_ANONYMOUS=0 for a benchmark";

/// A job timestamp (RFC 3339, microseconds).
fn ts(job: &Value, field: &str) -> Result<time::OffsetDateTime> {
    let s = job[field]
        .as_str()
        .ok_or_else(|| anyhow!("job has no {field}: {job}"))?;
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .with_context(|| format!("{field} {s:?}"))
}

fn span_ms(job: &Value, from: &str, to: &str) -> Result<f64> {
    let d = ts(job, to)? - ts(job, from)?;
    Ok(d.as_seconds_f64() * 1000.0)
}

/// p50, p90, p99 and max (nearest rank) of `v`, in the unit given, as JSON.
fn percentiles(mut v: Vec<f64>) -> Value {
    if v.is_empty() {
        return json!({"n": 0});
    }
    v.sort_by(f64::total_cmp);
    let rank = |p: f64| {
        let i = ((p / 100.0) * v.len() as f64).ceil() as usize;
        round3(v[i.clamp(1, v.len()) - 1])
    };
    json!({
        "n": v.len(),
        "p50": rank(50.0),
        "p90": rank(90.0),
        "p99": rank(99.0),
        "max": round3(v[v.len() - 1]),
        "mean": round3(v.iter().sum::<f64>() / v.len() as f64),
    })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn run_get(cli: &Cli, image: &str, concurrency: usize, duration: Duration) -> Result<Value> {
    let mut first = Session::login(&cli.base, &cli.client_id, &cli.client_secret).await?;
    let id = first.submit(image).await?;
    first
        .wait(&id, Duration::from_millis(50), Duration::from_secs(300))
        .await?;
    let path = format!("/api/v1/scans/{id}");
    let mut sessions = Vec::new();
    for _ in 0..concurrency {
        let mut s = Session::login(&cli.base, &cli.client_id, &cli.client_secret).await?;
        // One request outside the window: it fetches the nonce and opens the connection.
        let r = s.request("GET", &path, None).await?;
        if r.status != 200 {
            bail!("GET {path}: {} {}", r.status, r.text());
        }
        sessions.push(s);
    }
    let start = Instant::now();
    let end = start + duration;
    let mut tasks = Vec::new();
    for mut s in sessions {
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut statuses = std::collections::BTreeMap::<u16, u64>::new();
            let mut errors = 0u64;
            while Instant::now() < end {
                let t = Instant::now();
                match s.request("GET", &path, None).await {
                    Ok(r) => {
                        lat.push(ms(t.elapsed()));
                        *statuses.entry(r.status).or_default() += 1;
                    }
                    Err(_) => errors += 1,
                }
            }
            (lat, statuses, errors, s.nonce_retries)
        }));
    }
    let mut lat = Vec::new();
    let mut statuses = std::collections::BTreeMap::<u16, u64>::new();
    let (mut errors, mut retries) = (0, 0);
    for t in tasks {
        let (l, st, e, r) = t.await?;
        lat.extend(l);
        for (k, v) in st {
            *statuses.entry(k).or_default() += v;
        }
        errors += e;
        retries += r;
    }
    let elapsed = start.elapsed().as_secs_f64();
    if statuses.get(&429).is_some_and(|n| *n > 0) {
        eprintln!("warning: {RATE_LIMITED}");
    }
    let requests = lat.len();
    Ok(json!({
        "mode": "get",
        "scan_id": id,
        "concurrency": concurrency,
        "seconds": round3(elapsed),
        "requests": requests,
        "throughput_rps": round3(requests as f64 / elapsed),
        "latency_ms": percentiles(lat),
        "statuses": statuses,
        "transport_errors": errors,
        "nonce_retries": retries,
    }))
}

async fn run_sequential(cli: &Cli, image: &str, jobs: usize, poll: Duration) -> Result<Value> {
    let mut s = Session::login(&cli.base, &cli.client_id, &cli.client_secret).await?;
    // A first job outside the sample: it warms the connection, the nonce and the layer cache.
    let id = s.submit(image).await?;
    s.wait(&id, poll, Duration::from_secs(300)).await?;
    let (mut queue, mut worker, mut wall, mut overhead, mut post) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut to_insert, mut to_seen) = (Vec::new(), Vec::new());
    for _ in 0..jobs {
        // The server's timestamps come from the same clock (loopback), so the overhead splits
        // into: before the job row exists, the queue, and after the worker finished.
        let sent = time::OffsetDateTime::now_utc();
        let t0 = Instant::now();
        let id = s.submit(image).await?;
        post.push(ms(t0.elapsed()));
        let (job, seen) = s.wait(&id, poll, Duration::from_secs(300)).await?;
        let seen_at = time::OffsetDateTime::now_utc() - (Instant::now() - seen);
        let w = ms(seen - t0);
        let scan = span_ms(&job, "started_at", "finished_at")?;
        queue.push(span_ms(&job, "created_at", "started_at")?);
        to_insert.push((ts(&job, "created_at")? - sent).as_seconds_f64() * 1000.0);
        to_seen.push((seen_at - ts(&job, "finished_at")?).as_seconds_f64() * 1000.0);
        worker.push(scan);
        wall.push(w);
        overhead.push(w - scan);
    }
    Ok(json!({
        "mode": "sequential",
        "jobs": jobs,
        "poll_ms": poll.as_millis() as u64,
        "submit_ms": percentiles(post),
        "queue_ms": percentiles(queue),
        "worker_ms": percentiles(worker),
        "wall_ms": percentiles(wall),
        "overhead_ms": percentiles(overhead),
        "until_inserted_ms": percentiles(to_insert),
        "finished_until_seen_ms": percentiles(to_seen),
    }))
}

async fn run_throughput(
    cli: &Cli,
    image: &str,
    inflight: usize,
    duration: Duration,
    poll: Duration,
) -> Result<Value> {
    let start = Instant::now();
    let end = start + duration;
    let mut tasks = Vec::new();
    for _ in 0..inflight {
        let mut s = Session::login(&cli.base, &cli.client_id, &cli.client_secret).await?;
        let image = image.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut done_in_window = 0u64;
            let mut worker = Vec::new();
            let mut failures = Vec::new();
            // Submits only while the window is open; a job finishing after it is not counted
            // but is awaited, so the next run starts on an empty queue.
            while Instant::now() < end {
                let outcome = async {
                    let id = s.submit(&image).await?;
                    s.wait(&id, poll, Duration::from_secs(300)).await
                }
                .await;
                match outcome {
                    Ok((job, seen)) => {
                        if seen <= end {
                            done_in_window += 1;
                        }
                        if let Ok(w) = span_ms(&job, "started_at", "finished_at") {
                            worker.push(w);
                        }
                    }
                    Err(e) => failures.push(format!("{e:#}")),
                }
            }
            (done_in_window, worker, failures)
        }));
    }
    let (mut done, mut worker, mut failures) = (0, Vec::new(), Vec::new());
    for t in tasks {
        let (d, w, f) = t.await?;
        done += d;
        worker.extend(w);
        failures.extend(f);
    }
    for f in failures.iter().take(3) {
        eprintln!("failure: {f}");
    }
    let secs = duration.as_secs_f64();
    Ok(json!({
        "mode": "throughput",
        "inflight": inflight,
        "seconds": secs,
        "completed": done,
        "scans_per_minute": round3(done as f64 * 60.0 / secs),
        "worker_ms": percentiles(worker),
        "failures": failures.len(),
    }))
}

fn summary(v: &Value) -> String {
    let mut out = String::new();
    if let Some(o) = v.as_object() {
        for (k, x) in o {
            out.push_str(&format!("{k:>16}: {x}\n"));
        }
    }
    out
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut result = match &cli.mode {
        Mode::Get {
            image,
            concurrency,
            duration_secs,
        } => {
            run_get(
                &cli,
                image,
                (*concurrency).max(1),
                Duration::from_secs(*duration_secs),
            )
            .await?
        }
        Mode::Sequential {
            image,
            jobs,
            poll_ms,
        } => run_sequential(&cli, image, *jobs, Duration::from_millis(*poll_ms)).await?,
        Mode::Throughput {
            image,
            inflight,
            duration_secs,
            poll_ms,
        } => {
            run_throughput(
                &cli,
                image,
                (*inflight).max(1),
                Duration::from_secs(*duration_secs),
                Duration::from_millis(*poll_ms),
            )
            .await?
        }
    };
    result["base"] = json!(cli.base);
    result["started_unix"] = json!(started);
    eprint!("{}", summary(&result));
    println!("{result}");
    Ok(())
}
