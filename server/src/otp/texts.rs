//! The SMS an OTP sends: one short, natural text per purpose and locale, the code in ASCII
//! digits, the expiry in minutes, and the optional machine-readable lines (Android SMS
//! Retriever hash, WebOTP / origin-bound code line).
//!
//! Right-to-left locales (`ur`, `ar`) put a LEFT-TO-RIGHT MARK on both sides of the code:
//! the digits then form one left-to-right run whatever punctuation follows them, and the
//! sentence around them stays right-to-left. Those texts never start with the code, so the
//! paragraph direction (taken from the first strong character) is right-to-left.

/// Why the code is sent: each has its own wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Login,
    Signup,
    PasswordReset,
    Transaction,
    Verification,
}

impl Purpose {
    pub const ALL: [Purpose; 5] =
        [Purpose::Login, Purpose::Signup, Purpose::PasswordReset, Purpose::Transaction, Purpose::Verification];

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Login => "login",
            Purpose::Signup => "signup",
            Purpose::PasswordReset => "password_reset",
            Purpose::Transaction => "transaction",
            Purpose::Verification => "verification",
        }
    }

    pub fn parse(s: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.as_str() == s)
    }

    pub fn names() -> String {
        Purpose::ALL.map(Purpose::as_str).join(", ")
    }
}

/// The languages (and scripts) an OTP can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    En,
    /// Urdu in its own (Arabic) script.
    Ur,
    /// Roman Urdu: Urdu in Latin letters, GSM-7 only, one 160-character segment.
    UrLatn,
    Ar,
    Hi,
    Bn,
    Fr,
    Es,
    Tr,
    Id,
}

impl Locale {
    pub const ALL: [Locale; 10] = [
        Locale::En,
        Locale::Ur,
        Locale::UrLatn,
        Locale::Ar,
        Locale::Hi,
        Locale::Bn,
        Locale::Fr,
        Locale::Es,
        Locale::Tr,
        Locale::Id,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Ur => "ur",
            Locale::UrLatn => "ur-Latn",
            Locale::Ar => "ar",
            Locale::Hi => "hi",
            Locale::Bn => "bn",
            Locale::Fr => "fr",
            Locale::Es => "es",
            Locale::Tr => "tr",
            Locale::Id => "id",
        }
    }

    /// BCP 47 tags compare without regard to case; `_` is accepted for `-`.
    pub fn parse(s: &str) -> Option<Locale> {
        let wanted = s.trim().replace('_', "-");
        Locale::ALL.into_iter().find(|l| l.as_str().eq_ignore_ascii_case(&wanted))
    }

    pub fn names() -> String {
        Locale::ALL.map(Locale::as_str).join(", ")
    }

    pub fn is_rtl(self) -> bool {
        matches!(self, Locale::Ur | Locale::Ar)
    }
}

/// LEFT-TO-RIGHT MARK: keeps the code one left-to-right run inside right-to-left text.
pub const LRM: char = '\u{200E}';

/// "5 minutes" in the locale, with its plural rules.
fn duration(locale: Locale, minutes: u32) -> String {
    match locale {
        Locale::En | Locale::Fr if minutes == 1 => "1 minute".into(),
        Locale::En | Locale::Fr => format!("{minutes} minutes"),
        Locale::Es if minutes == 1 => "1 minuto".into(),
        Locale::Es => format!("{minutes} minutos"),
        Locale::Tr => format!("{minutes} dakika"),
        Locale::Id => format!("{minutes} menit"),
        Locale::Hi => format!("{minutes} मिनट"),
        Locale::Bn => format!("{minutes} মিনিট"),
        Locale::Ur => format!("{minutes} منٹ"),
        Locale::UrLatn => format!("{minutes} minute"),
        // Arabic: one, two (dual), 3–10 (plural), 11 and more (singular accusative).
        Locale::Ar => match minutes {
            1 => "دقيقة واحدة".into(),
            2 => "دقيقتين".into(),
            3..=10 => format!("{minutes} دقائق"),
            _ => format!("{minutes} دقيقة"),
        },
    }
}

/// The sentence, with `{code}` and `{dur}` to fill in.
fn template(purpose: Purpose, locale: Locale) -> &'static str {
    use Locale as L;
    use Purpose as P;
    match (locale, purpose) {
        (L::En, P::Login) => "Your login code is {code}. It expires in {dur}. Never share it with anyone.",
        (L::En, P::Signup) => "Your sign-up code is {code}. It expires in {dur}. Don't share it with anyone.",
        (L::En, P::PasswordReset) => {
            "Your password reset code is {code}. It expires in {dur}. If you didn't ask for it, ignore this message."
        }
        (L::En, P::Transaction) => {
            "Your code to confirm this transaction is {code}. It expires in {dur}. Never share it, not even with our staff."
        }
        (L::En, P::Verification) => "Your verification code is {code}. It expires in {dur}.",

        (L::Ur, P::Login) => "آپ کا لاگ اِن کوڈ {code} ہے۔ یہ {dur} تک کارآمد ہے۔ یہ کوڈ کسی کو نہ بتائیں۔",
        (L::Ur, P::Signup) => "آپ کا سائن اَپ کوڈ {code} ہے۔ یہ {dur} تک کارآمد ہے۔ یہ کوڈ کسی کو نہ بتائیں۔",
        (L::Ur, P::PasswordReset) => {
            "پاس ورڈ ری سیٹ کرنے کا کوڈ {code} ہے۔ یہ {dur} تک کارآمد ہے۔ اگر آپ نے یہ درخواست نہیں کی تو یہ پیغام نظرانداز کریں۔"
        }
        (L::Ur, P::Transaction) => {
            "ادائیگی کی تصدیق کا کوڈ {code} ہے۔ یہ {dur} تک کارآمد ہے۔ یہ کوڈ کسی کو نہ بتائیں، ہمارے عملے کو بھی نہیں۔"
        }
        (L::Ur, P::Verification) => "آپ کا تصدیقی کوڈ {code} ہے۔ یہ {dur} تک کارآمد ہے۔",

        (L::UrLatn, P::Login) => "Aap ka login code {code} hai. Yeh {dur} tak valid hai. Yeh code kisi ko na batayein.",
        (L::UrLatn, P::Signup) => {
            "Aap ka sign-up code {code} hai. Yeh {dur} tak valid hai. Yeh code kisi ko na batayein."
        }
        (L::UrLatn, P::PasswordReset) => {
            "Password reset ka code {code} hai. Yeh {dur} tak valid hai. Agar aap ne request nahi ki to is message ko nazarandaz karein."
        }
        (L::UrLatn, P::Transaction) => {
            "Payment ki tasdeeq ka code {code} hai. Yeh {dur} tak valid hai. Yeh code kisi ko na batayein, hamare staff ko bhi nahi."
        }
        (L::UrLatn, P::Verification) => "Aap ka verification code {code} hai. Yeh {dur} tak valid hai.",

        (L::Ar, P::Login) => "رمز تسجيل الدخول الخاص بك هو {code}. صالح لمدة {dur}. لا تشاركه مع أي شخص.",
        (L::Ar, P::Signup) => "رمز التسجيل الخاص بك هو {code}. صالح لمدة {dur}. لا تشاركه مع أي شخص.",
        (L::Ar, P::PasswordReset) => {
            "رمز إعادة تعيين كلمة المرور هو {code}. صالح لمدة {dur}. إذا لم تطلبه، فتجاهل هذه الرسالة."
        }
        (L::Ar, P::Transaction) => {
            "رمز تأكيد العملية هو {code}. صالح لمدة {dur}. لا تشاركه مع أي شخص، ولا حتى مع موظفينا."
        }
        (L::Ar, P::Verification) => "رمز التحقق الخاص بك هو {code}. صالح لمدة {dur}.",

        (L::Hi, P::Login) => "आपका लॉगिन कोड {code} है। यह {dur} तक मान्य है। इसे किसी के साथ साझा न करें।",
        (L::Hi, P::Signup) => "आपका साइन-अप कोड {code} है। यह {dur} तक मान्य है। इसे किसी के साथ साझा न करें।",
        (L::Hi, P::PasswordReset) => {
            "पासवर्ड रीसेट करने का कोड {code} है। यह {dur} तक मान्य है। अगर आपने यह अनुरोध नहीं किया, तो इस संदेश को अनदेखा करें।"
        }
        (L::Hi, P::Transaction) => {
            "लेन-देन की पुष्टि का कोड {code} है। यह {dur} तक मान्य है। इसे किसी के साथ साझा न करें, हमारे कर्मचारियों के साथ भी नहीं।"
        }
        (L::Hi, P::Verification) => "आपका सत्यापन कोड {code} है। यह {dur} तक मान्य है।",

        (L::Bn, P::Login) => "আপনার লগইন কোড {code}। এটি {dur} পর্যন্ত বৈধ। কাউকে এই কোড জানাবেন না।",
        (L::Bn, P::Signup) => "আপনার সাইন-আপ কোড {code}। এটি {dur} পর্যন্ত বৈধ। কাউকে এই কোড জানাবেন না।",
        (L::Bn, P::PasswordReset) => {
            "পাসওয়ার্ড রিসেট করার কোড {code}। এটি {dur} পর্যন্ত বৈধ। আপনি অনুরোধ না করে থাকলে এই বার্তাটি উপেক্ষা করুন।"
        }
        (L::Bn, P::Transaction) => {
            "লেনদেন নিশ্চিত করার কোড {code}। এটি {dur} পর্যন্ত বৈধ। কাউকে এই কোড জানাবেন না, আমাদের কর্মীদেরও না।"
        }
        (L::Bn, P::Verification) => "আপনার যাচাইকরণ কোড {code}। এটি {dur} পর্যন্ত বৈধ।",

        (L::Fr, P::Login) => "Votre code de connexion est {code}. Il expire dans {dur}. Ne le communiquez à personne.",
        (L::Fr, P::Signup) => {
            "Votre code d'inscription est {code}. Il expire dans {dur}. Ne le communiquez à personne."
        }
        (L::Fr, P::PasswordReset) => {
            "Votre code de réinitialisation du mot de passe est {code}. Il expire dans {dur}. Si vous n'avez rien demandé, ignorez ce message."
        }
        (L::Fr, P::Transaction) => {
            "Votre code de confirmation de l'opération est {code}. Il expire dans {dur}. Ne le communiquez à personne, pas même à nos conseillers."
        }
        (L::Fr, P::Verification) => "Votre code de vérification est {code}. Il expire dans {dur}.",

        (L::Es, P::Login) => "Tu código de inicio de sesión es {code}. Caduca en {dur}. No lo compartas con nadie.",
        (L::Es, P::Signup) => "Tu código de registro es {code}. Caduca en {dur}. No lo compartas con nadie.",
        (L::Es, P::PasswordReset) => {
            "Tu código para restablecer la contraseña es {code}. Caduca en {dur}. Si no lo has pedido, ignora este mensaje."
        }
        (L::Es, P::Transaction) => {
            "Tu código para confirmar la operación es {code}. Caduca en {dur}. No lo compartas con nadie, ni siquiera con nuestro personal."
        }
        (L::Es, P::Verification) => "Tu código de verificación es {code}. Caduca en {dur}.",

        (L::Tr, P::Login) => "Giriş kodunuz: {code}. Kod {dur} geçerlidir. Kimseyle paylaşmayın.",
        (L::Tr, P::Signup) => "Kayıt kodunuz: {code}. Kod {dur} geçerlidir. Kimseyle paylaşmayın.",
        (L::Tr, P::PasswordReset) => {
            "Şifre sıfırlama kodunuz: {code}. Kod {dur} geçerlidir. Bu isteği siz yapmadıysanız bu mesajı dikkate almayın."
        }
        (L::Tr, P::Transaction) => {
            "İşlem onay kodunuz: {code}. Kod {dur} geçerlidir. Çalışanlarımız dahil kimseyle paylaşmayın."
        }
        (L::Tr, P::Verification) => "Doğrulama kodunuz: {code}. Kod {dur} geçerlidir.",

        (L::Id, P::Login) => {
            "Kode masuk Anda adalah {code}. Berlaku selama {dur}. Jangan berikan kode ini kepada siapa pun."
        }
        (L::Id, P::Signup) => {
            "Kode pendaftaran Anda adalah {code}. Berlaku selama {dur}. Jangan berikan kode ini kepada siapa pun."
        }
        (L::Id, P::PasswordReset) => {
            "Kode untuk mengatur ulang kata sandi Anda adalah {code}. Berlaku selama {dur}. Jika Anda tidak memintanya, abaikan pesan ini."
        }
        (L::Id, P::Transaction) => {
            "Kode konfirmasi transaksi Anda adalah {code}. Berlaku selama {dur}. Jangan berikan kode ini kepada siapa pun, termasuk staf kami."
        }
        (L::Id, P::Verification) => "Kode verifikasi Anda adalah {code}. Berlaku selama {dur}.",
    }
}

/// Whole minutes a code lives, rounded down (never promising more time than there is), at least 1.
pub fn minutes(expires_in_seconds: u32) -> u32 {
    (expires_in_seconds / 60).max(1)
}

/// What goes into the SMS besides the sentence.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras<'a> {
    /// Android SMS Retriever: the app's 11-character hash, on a line of its own.
    pub app_hash: Option<&'a str>,
    /// WebOTP / origin-bound one-time codes: `@domain #code` as the very last line.
    pub web_otp_domain: Option<&'a str>,
}

/// The SMS text for `code` (ASCII digits).
pub fn render(purpose: Purpose, locale: Locale, code: &str, minutes: u32, extras: Extras<'_>) -> String {
    let shown = if locale.is_rtl() { format!("{LRM}{code}{LRM}") } else { code.to_owned() };
    let mut text = template(purpose, locale).replace("{code}", &shown).replace("{dur}", &duration(locale, minutes));
    if let Some(hash) = extras.app_hash {
        text.push_str("\n\n");
        text.push_str(hash);
    }
    if let Some(domain) = extras.web_otp_domain {
        // Its own paragraph, plain ASCII: browsers match `^@domain #code$` on the last line.
        text.push_str("\n\n@");
        text.push_str(domain);
        text.push_str(" #");
        text.push_str(code);
    }
    text
}

/// The same text with every digit of the code masked: what the API shows and what is kept.
pub fn redacted(purpose: Purpose, locale: Locale, code_length: usize, minutes: u32, extras: Extras<'_>) -> String {
    render(purpose, locale, &"•".repeat(code_length), minutes, extras)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::text::{Encoding, analyze};

    const CODE: &str = "482913";

    #[test]
    fn every_purpose_renders_in_every_locale_with_the_code_and_the_minutes() {
        for locale in Locale::ALL {
            for purpose in Purpose::ALL {
                let text = render(purpose, locale, CODE, 7, Extras::default());
                assert_eq!(text.matches(CODE).count(), 1, "{locale:?} {purpose:?}: {text}");
                assert!(text.contains('7'), "{locale:?} {purpose:?} lacks the minutes: {text}");
                assert!(!text.contains('{') && !text.contains('}'), "{locale:?} {purpose:?}: {text}");
                // Only ASCII digits: no Arabic-Indic, Devanagari or Bengali digits anywhere.
                let digits: String = text.chars().filter(|c| c.is_numeric()).collect();
                assert!(digits.chars().all(|c| c.is_ascii_digit()), "{locale:?} {purpose:?}: {text}");
                assert!(analyze(&text).segments <= 3, "{locale:?} {purpose:?} is too long: {text}");
            }
        }
    }

    #[test]
    fn texts_differ_between_purposes() {
        for locale in Locale::ALL {
            let all: std::collections::HashSet<String> =
                Purpose::ALL.iter().map(|p| render(*p, locale, CODE, 5, Extras::default())).collect();
            assert_eq!(all.len(), Purpose::ALL.len(), "{locale:?}");
        }
    }

    #[test]
    fn roman_urdu_fits_one_gsm7_segment_at_the_longest_code_and_expiry() {
        for purpose in Purpose::ALL {
            let text = render(purpose, Locale::UrLatn, "1234567890", 60, Extras::default());
            let info = analyze(&text);
            assert_eq!(info.encoding, Encoding::Gsm7, "{purpose:?}: {text}");
            assert_eq!(info.segments, 1, "{purpose:?} needs {} segments: {text}", info.segments);
            assert!(text.chars().count() <= 160, "{purpose:?}: {text}");
        }
    }

    #[test]
    fn minutes_round_down_and_plurals_follow_the_language() {
        assert_eq!(minutes(60), 1);
        assert_eq!(minutes(119), 1);
        assert_eq!(minutes(300), 5);
        assert_eq!(minutes(3600), 60);
        assert!(render(Purpose::Login, Locale::En, CODE, 1, Extras::default()).contains("in 1 minute."));
        assert!(render(Purpose::Login, Locale::Es, CODE, 10, Extras::default()).contains("en 10 minutos."));
        assert!(render(Purpose::Login, Locale::Ar, CODE, 2, Extras::default()).contains("لمدة دقيقتين."));
        assert!(render(Purpose::Login, Locale::Ar, CODE, 5, Extras::default()).contains("لمدة 5 دقائق."));
        assert!(render(Purpose::Login, Locale::Ar, CODE, 15, Extras::default()).contains("لمدة 15 دقيقة."));
    }

    #[test]
    fn urdu_and_arabic_wrap_the_code_in_left_to_right_marks() {
        assert_eq!(
            render(Purpose::Login, Locale::Ur, CODE, 5, Extras::default()),
            "آپ کا لاگ اِن کوڈ \u{200E}482913\u{200E} ہے۔ یہ 5 منٹ تک کارآمد ہے۔ یہ کوڈ کسی کو نہ بتائیں۔"
        );
        assert_eq!(
            render(Purpose::Verification, Locale::Ar, CODE, 10, Extras::default()),
            "رمز التحقق الخاص بك هو \u{200E}482913\u{200E}. صالح لمدة 10 دقائق."
        );
        assert_eq!(
            render(Purpose::Transaction, Locale::Ar, "0042", 1, Extras::default()),
            "رمز تأكيد العملية هو \u{200E}0042\u{200E}. صالح لمدة دقيقة واحدة. لا تشاركه مع أي شخص، ولا حتى مع موظفينا."
        );
        for locale in [Locale::En, Locale::UrLatn, Locale::Hi, Locale::Fr] {
            assert!(!render(Purpose::Login, locale, CODE, 5, Extras::default()).contains(LRM), "{locale:?}");
        }
    }

    /// Runs the Unicode Bidirectional Algorithm (UAX #9) over each right-to-left text, as a
    /// phone's text renderer does, and checks the line as displayed: a right-to-left paragraph
    /// whose code reads left to right, in order, with the full stop after it on its left.
    #[test]
    fn right_to_left_texts_display_the_code_in_order() {
        for locale in [Locale::Ur, Locale::Ar] {
            for purpose in Purpose::ALL {
                let text = render(purpose, locale, CODE, 5, Extras::default());
                let bidi = unicode_bidi::BidiInfo::new(&text, None);
                assert_eq!(bidi.paragraphs.len(), 1);
                let para = &bidi.paragraphs[0];
                assert!(para.level.is_rtl(), "{locale:?} {purpose:?} is not a right-to-left paragraph");
                let shown: String = bidi.reorder_line(para, para.range.clone()).chars().filter(|c| *c != LRM).collect();
                assert!(shown.contains(CODE), "{locale:?} {purpose:?}: the code is not shown in order: {shown}");
                // Displayed left to right: what follows the code in reading order is on its left.
                let at = shown.find(CODE).unwrap_or_default();
                let left_of_code = shown[..at].trim_end();
                assert!(!left_of_code.ends_with(char::is_numeric), "{locale:?} {purpose:?}: {shown}");
            }
        }
    }

    #[test]
    fn the_retriever_hash_and_the_web_otp_line_are_appended_in_their_formats() {
        let extras = Extras { app_hash: Some("FA+9qCX9VSu"), web_otp_domain: Some("example.com") };
        let text = render(Purpose::Login, Locale::En, CODE, 5, extras);
        assert_eq!(
            text,
            "Your login code is 482913. It expires in 5 minutes. Never share it with anyone.\n\nFA+9qCX9VSu\n\n@example.com #482913"
        );
        // The WebOTP line stays plain ASCII and last, even in right-to-left text.
        let ar = render(Purpose::Login, Locale::Ar, CODE, 5, extras);
        assert!(ar.ends_with("\n\n@example.com #482913"), "{ar}");
        assert_eq!(ar.lines().last(), Some("@example.com #482913"));
    }

    #[test]
    fn the_redacted_text_hides_every_digit_of_the_code() {
        let extras = Extras { app_hash: None, web_otp_domain: Some("example.com") };
        let text = redacted(Purpose::Login, Locale::En, 6, 5, extras);
        assert_eq!(
            text,
            "Your login code is ••••••. It expires in 5 minutes. Never share it with anyone.\n\n@example.com #••••••"
        );
    }

    #[test]
    fn locales_and_purposes_parse_and_name_themselves() {
        assert_eq!(Locale::parse("ur-latn"), Some(Locale::UrLatn));
        assert_eq!(Locale::parse("ur_Latn"), Some(Locale::UrLatn));
        assert_eq!(Locale::parse("EN"), Some(Locale::En));
        assert_eq!(Locale::parse("de"), None);
        assert_eq!(Purpose::parse("password_reset"), Some(Purpose::PasswordReset));
        assert_eq!(Purpose::parse("Login"), None);
        assert!(Locale::names().contains("ur-Latn"));
        assert_eq!(Purpose::names(), "login, signup, password_reset, transaction, verification");
    }
}
