//! A small client for the review UI and API (ureq), keeping the session cookie and the
//! CSRF token the way a browser and a script would.

use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Header fields (names lower-case), in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (Null when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// One browser-like client.
pub struct Client {
    base: String,
    agent: ureq::Agent,
    /// The session cookie's value, once signed in.
    pub session: Option<String>,
    /// The CSRF token from the API sign-in.
    pub csrf: Option<String>,
}

impl Client {
    /// A client for `http://addr`.
    pub fn new(addr: std::net::SocketAddr) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Client {
            base: format!("http://{addr}"),
            agent,
            session: None,
            csrf: None,
        }
    }

    fn finish(
        &mut self,
        res: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> anyhow::Result<Reply> {
        let mut res = res.context("request failed")?;
        let status = res.status().as_u16();
        let headers: Vec<(String, String)> = res
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        for (n, v) in &headers {
            if n == "set-cookie" {
                if let Some(val) = v.strip_prefix("palisade_session=") {
                    let val = val.split(';').next().unwrap_or("");
                    self.session = (!val.is_empty()).then(|| val.to_string());
                }
            }
        }
        let body = res
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()
            .context("cannot read the body")?;
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    fn cookie(&self) -> String {
        self.session
            .as_ref()
            .map(|s| format!("palisade_session={s}"))
            .unwrap_or_default()
    }

    /// GET with the session cookie.
    pub fn get(&mut self, path: &str) -> anyhow::Result<Reply> {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        if self.session.is_some() {
            req = req.header("Cookie", self.cookie());
        }
        let res = req.call();
        self.finish(res)
    }

    /// POST a JSON body with the session cookie and, when `csrf`, the X-CSRF-Token.
    pub fn post_json(&mut self, path: &str, body: &Value, csrf: bool) -> anyhow::Result<Reply> {
        let mut req = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/json");
        if self.session.is_some() {
            req = req.header("Cookie", self.cookie());
        }
        if csrf {
            if let Some(t) = &self.csrf {
                req = req.header("X-CSRF-Token", t);
            }
        }
        let res = req.send(body.to_string());
        self.finish(res)
    }

    /// POST a form with the session cookie (and `extra_cookie` such as the sign-in
    /// form's).
    pub fn post_form(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        extra_cookie: Option<&str>,
    ) -> anyhow::Result<Reply> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter().copied())
            .finish();
        let mut cookie = self.cookie();
        if let Some(c) = extra_cookie {
            if !cookie.is_empty() {
                cookie.push_str("; ");
            }
            cookie.push_str(c);
        }
        let mut req = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/x-www-form-urlencoded");
        if !cookie.is_empty() {
            req = req.header("Cookie", cookie);
        }
        let res = req.send(body);
        self.finish(res)
    }

    /// `POST /api/v1/quarantine/{id}/{action}` with its CSRF token.
    pub fn act(&mut self, id: &str, action: &str, body: &Value) -> anyhow::Result<Reply> {
        self.post_json(&format!("/api/v1/quarantine/{id}/{action}"), body, true)
    }

    /// Signs in through the API; returns the reply (the CSRF token is kept).
    pub fn api_login(&mut self, user: &str, password: &str) -> anyhow::Result<Reply> {
        let r = self.post_json(
            "/api/v1/login",
            &serde_json::json!({ "user": user, "password": password }),
            false,
        )?;
        if let Some(t) = r.json()["csrf_token"].as_str() {
            self.csrf = Some(t.to_string());
        }
        Ok(r)
    }
}

/// The value of a hidden form field `name` in an HTML page.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = start + html[start..].find('"')?;
    Some(html[start..end].to_string())
}

/// Adds a user with the CLI, the way an admin does.
pub fn add_user(
    config: &std::path::Path,
    name: &str,
    role: &str,
    password: &str,
) -> anyhow::Result<()> {
    use std::io::Write;
    let mut child = std::process::Command::new(crate::palisade_bin()?)
        .args([
            "user",
            "add",
            name,
            "--role",
            role,
            "--password-stdin",
            "--config",
        ])
        .arg(config)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(format!("{password}\n").as_bytes())?;
    let out = child.wait_with_output()?;
    anyhow::ensure!(
        out.status.success(),
        "palisade user add failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
