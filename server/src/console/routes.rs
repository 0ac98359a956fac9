//! The console's handlers. Every failure becomes a page in the reader's language (or, when
//! signed out, the sign-in page); the JSON error envelope is the API's, not the console's.

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use serde::Deserialize;

use super::auth::{self, ConsoleError, LOGIN_CSRF_COOKIE, SESSION_COOKIE, Session};
use super::i18n::Lang;
use super::{onboarding, pages};
use crate::error::ApiError;
use crate::secrets;
use crate::state::AppState;

/// Forms carry every field; a missing one is simply empty (and fails its check).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    csrf: String,
    email: String,
    password: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CsrfForm {
    pub(super) csrf: String,
}

pub(super) fn page(status: StatusCode, lang: Lang, markup: maud::Markup) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    res.content_type(ContentType::html())
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .cookie(pages::lang_cookie(lang));
    res.body(markup.into_string())
}

pub(super) fn see_other(to: &str) -> actix_web::HttpResponseBuilder {
    let mut res = HttpResponse::SeeOther();
    res.insert_header((header::LOCATION, to.to_owned()));
    res
}

/// What a failed console request shows.
pub(super) fn failure(lang: Lang, e: &ConsoleError) -> HttpResponse {
    let t = lang.texts();
    match e {
        ConsoleError::SignedOut => see_other("/console/login").finish(),
        ConsoleError::Csrf => page(StatusCode::FORBIDDEN, lang, pages::problem(lang, t.form_expired)),
        ConsoleError::TooManyAttempts => page(StatusCode::TOO_MANY_REQUESTS, lang, pages::problem(lang, t.too_many)),
        ConsoleError::Hashing(_) | ConsoleError::Store(_) => {
            tracing::warn!(error = %e, "console request failed");
            page(e.status_code(), lang, pages::problem(lang, t.server_error))
        }
    }
}

/// An API error met by a console page. `invalid`: the page's own words for a refused input,
/// shown above the API's sentence (which names the field or the file's line).
pub(super) fn api_failure(lang: Lang, e: &ApiError, invalid: Option<&str>) -> HttpResponse {
    let t = lang.texts();
    match e {
        ApiError::NotFound(_) => page(StatusCode::NOT_FOUND, lang, pages::problem(lang, t.not_found)),
        ApiError::InvalidRequest { message, .. } | ApiError::Unprocessable { message, .. } => {
            let markup = match invalid {
                Some(words) => pages::problem_detail(lang, words, message),
                None => pages::problem_detail(lang, t.not_accepted, message),
            };
            page(StatusCode::UNPROCESSABLE_ENTITY, lang, markup)
        }
        ApiError::Conflict(message) => {
            page(StatusCode::CONFLICT, lang, pages::problem_detail(lang, t.conflict, message))
        }
        ApiError::PayloadTooLarge { .. } => {
            page(StatusCode::PAYLOAD_TOO_LARGE, lang, pages::problem_detail(lang, t.not_accepted, &e.to_string()))
        }
        _ => {
            tracing::warn!(error = %e, "console request failed");
            page(StatusCode::SERVICE_UNAVAILABLE, lang, pages::problem(lang, t.server_error))
        }
    }
}

/// A signed-in person and the language they read: the extractor of every page behind the
/// sign-in. Signed out (or the session unreadable), the request is answered with the sign-in
/// redirect or an error page in that language before the handler runs.
pub struct Signed {
    pub lang: Lang,
    pub session: Session,
}

impl Signed {
    /// For a form: its CSRF token must be this session's, else the "form expired" page.
    pub fn with_csrf(self, token: &str) -> Result<Signed, Refused> {
        match self.session.check_csrf(token) {
            Ok(()) => Ok(self),
            Err(error) => Err(Refused { lang: self.lang, error }),
        }
    }
}

/// Why a [`Signed`] page could not be shown, rendered in the reader's language.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct Refused {
    lang: Lang,
    error: ConsoleError,
}

impl Refused {
    /// The page that says why.
    pub fn page(&self) -> HttpResponse {
        failure(self.lang, &self.error)
    }
}

impl ResponseError for Refused {
    fn status_code(&self) -> StatusCode {
        self.error.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        self.page()
    }
}

impl FromRequest for Signed {
    type Error = Refused;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let lang = Lang::of(req);
        let session = Session::from_request(req, payload);
        Box::pin(async move {
            session.await.map(|session| Signed { lang, session }).map_err(|error| Refused { lang, error })
        })
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::SignedOut => StatusCode::SEE_OTHER,
            ConsoleError::Csrf => StatusCode::FORBIDDEN,
            ConsoleError::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            ConsoleError::Hashing(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ConsoleError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        failure(Lang::En, self)
    }
}

pub async fn dashboard(signed: Signed, state: web::Data<AppState>) -> HttpResponse {
    let Signed { lang, session } = signed;
    let account = session.account.clone();
    let progress = state.db.run(move |conn| onboarding::progress(conn, &account).map_err(ConsoleError::from)).await;
    match progress {
        Ok(progress) => {
            page(StatusCode::OK, lang, pages::dashboard(lang, &session.account, &session.csrf_token(), &progress))
        }
        Err(e) => failure(lang, &e),
    }
}

/// The sign-in form, with a fresh double-submit token in a cookie and in the form.
fn login_page(req: &HttpRequest, state: &AppState, status: StatusCode, error: Option<&str>) -> HttpResponse {
    let lang = Lang::of(req);
    let token = auth::new_login_token();
    let mut res = page(status, lang, pages::login(lang, &token, error));
    if let Err(e) = res.add_cookie(&auth::login_token_cookie(state, &token)) {
        tracing::warn!(error = %e, "cannot set the sign-in token cookie");
    }
    res
}

pub async fn login_form(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    login_page(&req, &state, StatusCode::OK, None)
}

pub async fn login(req: HttpRequest, state: web::Data<AppState>, form: web::Form<LoginForm>) -> HttpResponse {
    let lang = Lang::of(&req);
    let form = form.into_inner();
    // Hashes compared, not the tokens: equal-time enough, and nothing secret leaks either way.
    let cookie = req.cookie(LOGIN_CSRF_COOKIE).map(|c| secrets::sha256_hex(c.value()));
    if form.csrf.is_empty() || cookie.as_deref() != Some(secrets::sha256_hex(&form.csrf).as_str()) {
        return failure(lang, &ConsoleError::Csrf);
    }
    let client = req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default();
    if let Err(e) = auth::count_attempt(&client) {
        return failure(lang, &e);
    }
    let LoginForm { email, password, .. } = form;
    let opened = state
        .db
        .run(move |conn| match auth::check_login(conn, &email, &password)? {
            Some(account) => auth::open_session(conn, &account.id).map(Some),
            None => Ok(None),
        })
        .await;
    match opened {
        Ok(Some(raw)) => {
            tracing::info!("console sign-in");
            see_other("/console")
                .cookie(auth::session_cookie(&state, &raw))
                .cookie(auth::removal(LOGIN_CSRF_COOKIE, "/console/login"))
                .finish()
        }
        Ok(None) => login_page(&req, &state, StatusCode::UNAUTHORIZED, Some(lang.texts().bad_login)),
        Err(e) => failure(lang, &e),
    }
}

pub async fn logout(signed: Signed, state: web::Data<AppState>, form: web::Form<CsrfForm>) -> HttpResponse {
    let Signed { lang, session } = match signed.with_csrf(&form.csrf) {
        Ok(signed) => signed,
        Err(refused) => return refused.page(),
    };
    let raw = session.raw_id().to_owned();
    match state.db.run(move |conn| auth::close_session(conn, &raw)).await {
        Ok(()) => see_other("/console/login").cookie(auth::removal(SESSION_COOKIE, "/console")).finish(),
        Err(e) => failure(lang, &e),
    }
}
