//! A real headless Chromium, driven over WebDriver (chromedriver), for the console's
//! end-to-end tests. Steps are written the way the seed's procedures read: choose a link or a
//! button by its visible words.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const WAIT: Duration = Duration::from_secs(20);

pub(crate) struct Browser {
    pub c: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    base: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// XPath string literal for any text (quotes included).
fn xpath_literal(s: &str) -> String {
    if !s.contains('\'') {
        format!("'{s}'")
    } else {
        format!("concat('{}')", s.replace('\'', "', \"'\", '"))
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile, aimed at `base`
    /// (e.g. `http://127.0.0.1:7400`).
    pub(crate) async fn start(base: &str) -> Browser {
        assert!(
            std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists(),
            "the console tests need Debian's chromium and chromium-driver \
             (apt-get install chromium chromium-driver); .ci/run installs them"
        );
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().unwrap();
        let caps: serde_json::Map<String, serde_json::Value> = serde_json::from_value(serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        }))
        .unwrap();
        let deadline = Instant::now() + WAIT;
        let c = loop {
            let attempt = ClientBuilder::rustls()
                .expect("tls")
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await;
            match attempt {
                Ok(c) => break c,
                Err(e) => {
                    assert!(Instant::now() < deadline, "chromedriver did not start: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        Browser {
            c,
            driver,
            _profile: profile,
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    pub(crate) async fn close(mut self) {
        let _ = self.c.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }

    pub(crate) async fn goto(&self, path: &str) {
        self.c.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    pub(crate) async fn path(&self) -> String {
        let u = self.c.current_url().await.unwrap();
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        }
    }

    pub(crate) async fn find(&self, css: &str) -> Element {
        let found = self
            .c
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(el) => el,
            Err(e) => panic!("no element {css} on {}: {e}", self.path().await),
        }
    }

    /// Whether `css` is on the page now: for absences, checked after a `shows` of the same page.
    pub(crate) async fn exists(&self, css: &str) -> bool {
        self.c.find(Locator::Css(css)).await.is_ok()
    }

    /// Whether `css` appears within the wait: a click's navigation may still be under way
    /// when the next command runs, so a presence is waited for rather than sampled.
    pub(crate) async fn shows(&self, css: &str) -> bool {
        self.c
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .is_ok()
    }

    async fn by_xpath(&self, xpath: &str, what: &str) -> Element {
        let found = self
            .c
            .wait()
            .at_most(WAIT)
            .for_element(Locator::XPath(xpath))
            .await;
        match found {
            Ok(el) => el,
            Err(e) => panic!("no {what} on {}: {e}", self.path().await),
        }
    }

    /// Chooses the link, button or menu entry whose visible words are `words`.
    pub(crate) async fn choose(&self, words: &str) {
        let lit = xpath_literal(words);
        let xpath = format!(
            "//a[normalize-space()={lit}] | //button[normalize-space()={lit}] | \
             //summary[normalize-space()={lit}]"
        );
        self.by_xpath(&xpath, &format!("'{words}' to choose"))
            .await
            .click()
            .await
            .unwrap();
    }

    /// Chooses `words` inside the element `css` (e.g. a table row).
    pub(crate) async fn choose_in(&self, css: &str, words: &str) {
        let scope = self.find(css).await;
        let lit = xpath_literal(words);
        let el = scope
            .find(Locator::XPath(&format!(
                ".//a[normalize-space()={lit}] | .//button[normalize-space()={lit}]"
            )))
            .await
            .unwrap_or_else(|e| panic!("no '{words}' in {css}: {e}"));
        el.click().await.unwrap();
    }

    /// Types into the field labelled `label` (replacing what it held).
    pub(crate) async fn fill(&self, label: &str, text: &str) {
        let lit = xpath_literal(label);
        let label_el = self
            .by_xpath(
                &format!("//label[normalize-space()={lit}]"),
                &format!("label '{label}'"),
            )
            .await;
        let id = label_el.attr("for").await.unwrap().expect("label has for=");
        let field = self.find(&format!("#{id}")).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    pub(crate) async fn fill_css(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Selects the option with value `value` in the select labelled `label` (any text: the
    /// option is found by XPath, where a backslash is not an escape).
    pub(crate) async fn select(&self, label: &str, value: &str) {
        let lit = xpath_literal(label);
        let label_el = self
            .by_xpath(
                &format!("//label[normalize-space()={lit}]"),
                &format!("label '{label}'"),
            )
            .await;
        let id = label_el.attr("for").await.unwrap().expect("label has for=");
        let select = self.find(&format!("#{id}")).await;
        let option = select
            .find(Locator::XPath(&format!(
                ".//option[@value={}]",
                xpath_literal(value)
            )))
            .await
            .unwrap_or_else(|e| panic!("no option {value} in '{label}': {e}"));
        option.click().await.unwrap();
    }

    pub(crate) async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    /// The page's visible text.
    pub(crate) async fn page_text(&self) -> String {
        self.text("body").await
    }

    /// Waits until the element's text contains `want` (e.g. a badge settling without a reload).
    pub(crate) async fn wait_text(&self, css: &str, want: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let now = match self.c.find(Locator::Css(css)).await {
                Ok(el) => el.text().await.unwrap_or_default(),
                Err(_) => String::from("(no such element)"),
            };
            if now.contains(want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{css} never showed '{want}' on {}: it shows '{now}'",
                self.path().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a PNG of the page under `$PHOTON_SCREENSHOTS/{name}.png` when that is set (the
    /// README's screenshots are made this way).
    pub(crate) async fn screenshot(&self, name: &str) {
        if let Ok(dir) = std::env::var("PHOTON_SCREENSHOTS") {
            let png = self.c.screenshot().await.unwrap();
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(format!("{dir}/{name}.png"), png).unwrap();
        }
    }
}

/// Signs in with an access key, as the sign-in page asks.
pub(crate) async fn sign_in(b: &Browser, creds: &photon_testkit::Creds, region: &str) {
    b.goto("/console").await;
    b.fill("Access key ID", &creds.access_key_id).await;
    b.fill("Secret access key", &creds.secret_access_key).await;
    b.select("Region", region).await;
    b.choose("Sign in").await;
    b.find("#account").await;
    assert_eq!(b.text("#account").await, creds.account_id);
}
