//! The console's security at the HTTP level, in the ordinary suite: sign-in cookies are
//! secure and HTTP-only, every action needs the session's CSRF token, a bad sign-in is refused
//! with a plain message, passwords set with `photon accounts set-password` work, signing out
//! ends the session, and an account never sees another account's images.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use std::io::Write;

use common::bin;
use photon_testkit::{Creds, Photon, Proto};

struct Console {
    http: reqwest::Client,
    base: String,
    cookie: String,
}

fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn field(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no {name} field in {html}"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_owned()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Opens the sign-in page and posts `form` (plus its login token); returns the response.
async fn post_signin(base: &str, form: &[(&str, &str)]) -> reqwest::Response {
    let http = http();
    let page = http
        .get(format!("{base}/console/signin"))
        .send()
        .await
        .unwrap();
    let login_cookie = set_cookies(&page)[0].split(';').next().unwrap().to_owned();
    let html = page.text().await.unwrap();
    let login = field(&html, "login");
    let mut all: Vec<(&str, &str)> = vec![("login", &login), ("next", "/console/images")];
    all.extend_from_slice(form);
    http.post(format!("{base}/console/signin"))
        .header("cookie", login_cookie)
        .form(&all)
        .send()
        .await
        .unwrap()
}

async fn sign_in(base: &str, creds: &Creds) -> Console {
    let r = post_signin(
        base,
        &[
            ("method", "key"),
            ("access_key_id", &creds.access_key_id),
            ("secret_access_key", &creds.secret_access_key),
            ("region", "us-east-1"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let cookies = set_cookies(&r);
    let session = cookies
        .iter()
        .find(|c| c.starts_with("photon_console="))
        .expect("a session cookie");
    for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/console"] {
        assert!(session.contains(flag), "{flag} missing from {session}");
    }
    Console {
        http: http(),
        base: base.to_owned(),
        cookie: session.split(';').next().unwrap().to_owned(),
    }
}

impl Console {
    async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

#[tokio::test]
async fn sign_in_csrf_isolation_and_sign_out() {
    let p = Photon::start_with(bin(), &["--pace", "instant", "--regions", "us-east-1"]);
    let owner = p.default.clone();
    let other = p.create_account();
    p.seed_private_images(&owner.account_id, "us-east-1", &["mine".into()])
        .await;
    let base = p.endpoint.clone();

    // Without a session every page sends the browser to sign in, remembering where it was.
    let (status, _) = Console {
        http: http(),
        base: base.clone(),
        cookie: "photon_console=forged".into(),
    }
    .get("/console/images?filter=private")
    .await;
    assert_eq!(status, 303);

    // A wrong secret: refused in plain words, the access key id kept in the form.
    let r = post_signin(
        &base,
        &[
            ("method", "key"),
            ("access_key_id", &owner.access_key_id),
            ("secret_access_key", "wrong"),
            ("region", "us-east-1"),
        ],
    )
    .await;
    assert_eq!(r.status(), 401);
    let html = r.text().await.unwrap();
    assert!(html.contains("sign-in details are not right"), "{html}");
    assert!(html.contains(&owner.access_key_id));
    // The sign-in form itself is protected: no login token, no sign-in.
    let r = http()
        .post(format!("{base}/console/signin"))
        .form(&[
            ("method", "key"),
            ("access_key_id", owner.access_key_id.as_str()),
            ("secret_access_key", owner.secret_access_key.as_str()),
            ("region", "us-east-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let me = sign_in(&base, &owner).await;
    let (status, html) = me.get("/console/images?filter=private").await;
    assert_eq!(status, 200);
    assert!(html.contains("data-name=\"mine\""), "{html}");
    let arn = format!(
        "arn:aws:appstream:us-east-1:{}:image/mine",
        owner.account_id
    );

    // An action without the session's CSRF token changes nothing.
    let (status, _) = me
        .post(
            "/console/images/delete",
            &[("image", &arn), ("csrf", "guess")],
        )
        .await;
    assert_eq!(status, 403);
    let c = p.client(Proto::Json, &owner, "us-east-1");
    assert_eq!(
        c.describe_images()
            .names("mine")
            .send()
            .await
            .unwrap()
            .images()
            .len(),
        1
    );

    // The other account sees none of it, even by asking for it by ARN.
    let them = sign_in(&base, &other).await;
    let (_, html) = them.get("/console/images?filter=private").await;
    assert!(!html.contains("data-name=\"mine\""));
    let (_, html) = them
        .get(&format!("/console/images?image={}", urlencode(&arn)))
        .await;
    assert!(!html.contains("id=\"image-details\""), "{html}");
    // Nor can it act on it with its own valid token, even when it owns an image of the same
    // name and the owner shares "mine" with it: the action names the owner's image, and its own
    // "mine" must not be deleted in its place.
    p.seed_private_images(&other.account_id, "us-east-1", &["mine".into()])
        .await;
    c.update_image_permissions()
        .name("mine")
        .shared_account_id(&other.account_id)
        .image_permissions(
            aws_sdk_appstream::types::ImagePermissions::builder()
                .allow_fleet(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (_, page) = them.get("/console/images").await;
    let csrf = field(&page, "csrf");
    let (status, html) = them
        .post(
            "/console/images/delete",
            &[("image", &arn), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(status, 403, "{html}");
    assert!(html.contains("owner can delete"), "{html}");
    let theirs = p.client(Proto::Json, &other, "us-east-1");
    let own = format!(
        "arn:aws:appstream:us-east-1:{}:image/mine",
        other.account_id
    );
    let listed = theirs
        .describe_images()
        .r#type(aws_sdk_appstream::types::VisibilityType::Private)
        .send()
        .await
        .unwrap();
    assert!(listed
        .images()
        .iter()
        .any(|i| i.arn() == Some(own.as_str())));
    assert_eq!(
        c.describe_images()
            .names("mine")
            .send()
            .await
            .unwrap()
            .images()
            .len(),
        1
    );
    c.delete_image_permissions()
        .name("mine")
        .shared_account_id(&other.account_id)
        .send()
        .await
        .unwrap();

    // With the token, the owner deletes it.
    let (_, page) = me.get("/console/images").await;
    let csrf = field(&page, "csrf");
    // A form shown before the region was switched (in another tab) acts on nothing.
    let (status, html) = me
        .post(
            "/console/images/delete",
            &[("image", &arn), ("csrf", &csrf), ("region", "eu-west-1")],
        )
        .await;
    assert_eq!(status, 409, "{html}");
    assert!(html.contains("Nothing was"), "{html}");
    assert_eq!(
        c.describe_images()
            .names("mine")
            .send()
            .await
            .unwrap()
            .images()
            .len(),
        1
    );
    let (status, _) = me
        .post(
            "/console/images/delete",
            &[("image", &arn), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(status, 303);
    assert!(c.describe_images().names("mine").send().await.is_err());

    // Signing out ends the session on the server, not just in the browser.
    let (status, _) = me.post("/console/signout", &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    let (status, _) = me.get("/console/images").await;
    assert_eq!(status, 303);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn console_password_set_with_the_cli() {
    let p = Photon::start_with(bin(), &["--pace", "instant", "--regions", "us-east-1"]);
    let acct = p.default.account_id.clone();
    let set = |pw: &str| {
        let mut args = vec!["accounts", "set-password", "--account-id", acct.as_str()];
        let store = p.store_args();
        args.extend(store.iter().map(String::as_str));
        let mut child = std::process::Command::new(bin())
            .args(&args)
            .env_remove("PHOTON_DATABASE_URL")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{pw}").unwrap();
        child.wait_with_output().unwrap()
    };
    let short = set("short");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8"));
    assert!(set("correct horse battery").status.success());

    let signin = |pw: &'static str| {
        let base = p.endpoint.clone();
        let acct = acct.clone();
        async move {
            post_signin(
                &base,
                &[
                    ("method", "password"),
                    ("account_id", &acct),
                    ("password", pw),
                    ("region", "us-east-1"),
                ],
            )
            .await
            .status()
            .as_u16()
        }
    };
    assert_eq!(signin("correct horse battery").await, 303);
    assert_eq!(signin("correct horse").await, 401);
    // An account without a password cannot sign in with one.
    let other = p.create_account();
    let r = post_signin(
        &p.endpoint,
        &[
            ("method", "password"),
            ("account_id", &other.account_id),
            ("password", "correct horse battery"),
            ("region", "us-east-1"),
        ],
    )
    .await;
    assert_eq!(r.status(), 401);

    // A new password ends the account's console sessions.
    let session = sign_in(&p.endpoint, &p.default).await;
    assert_eq!(session.get("/console/images").await.0, 200);
    assert!(set("another long passphrase").status.success());
    assert_eq!(session.get("/console/images").await.0, 303);
}
