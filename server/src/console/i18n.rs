//! The console's languages: English and Urdu (right to left). Every visible string is a field
//! of [`Texts`], so a language that misses one does not compile.

use actix_web::HttpRequest;

pub const LANG_COOKIE: &str = "relay_lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ur,
}

impl Lang {
    /// `?lang=` first (the switch links), then the remembered choice, then English.
    pub fn of(req: &HttpRequest) -> Lang {
        let query = req.query_string().split('&').find_map(|pair| pair.strip_prefix("lang="));
        let cookie = req.cookie(LANG_COOKIE);
        match query.or(cookie.as_ref().map(|c| c.value())) {
            Some("ur") => Lang::Ur,
            _ => Lang::En,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ur => "ur",
        }
    }

    pub fn dir(self) -> &'static str {
        match self {
            Lang::En => "ltr",
            Lang::Ur => "rtl",
        }
    }

    /// The other language, for the switch.
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Ur,
            Lang::Ur => Lang::En,
        }
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::En => &EN,
            Lang::Ur => &UR,
        }
    }
}

pub struct Texts {
    /// The language's own name, shown on the switch that leads to it.
    pub name: &'static str,
    pub console: &'static str,
    pub sign_in: &'static str,
    pub sign_out: &'static str,
    pub email: &'static str,
    pub password: &'static str,
    pub bad_login: &'static str,
    pub too_many: &'static str,
    pub form_expired: &'static str,
    pub server_error: &'static str,
    pub signed_in_as: &'static str,
    pub api_reference: &'static str,
    pub getting_started: &'static str,
    pub done: &'static str,
    pub to_do: &'static str,
    pub step_account: &'static str,
    pub step_device: &'static str,
    pub step_device_how: &'static str,
    pub step_key: &'static str,
    pub step_key_how: &'static str,
    pub step_request: &'static str,
    pub step_request_how: &'static str,
    pub step_delivery: &'static str,
    pub step_delivery_how: &'static str,
    pub step_ready: &'static str,
    pub step_ready_how: &'static str,
    pub dashboard: &'static str,
    pub devices: &'static str,
    pub no_devices: &'static str,
    pub pair_phone: &'static str,
    pub device_name: &'static str,
    pub device_state: &'static str,
    pub state_online: &'static str,
    pub state_offline: &'static str,
    pub state_degraded: &'static str,
    pub state_disabled: &'static str,
    pub last_heartbeat: &'static str,
    pub never: &'static str,
    pub battery: &'static str,
    pub charging: &'static str,
    pub signal: &'static str,
    pub sims: &'static str,
    pub in_flight: &'static str,
    pub pacing: &'static str,
    pub per_minute: &'static str,
    pub per_day: &'static str,
    pub rename: &'static str,
    pub enable: &'static str,
    pub disable: &'static str,
    pub unpair: &'static str,
    pub bad_name: &'static str,
    pub not_found: &'static str,
    pub pair_title: &'static str,
    pub pair_steps: &'static str,
    pub pairing_code: &'static str,
    pub server_address: &'static str,
    pub expires_at: &'static str,
    pub waiting_for_phone: &'static str,
    pub phone_connected: &'static str,
}

const EN: Texts = Texts {
    name: "English",
    console: "Relay console",
    sign_in: "Sign in",
    sign_out: "Sign out",
    email: "Email",
    password: "Password",
    bad_login: "The email or password is wrong.",
    too_many: "Too many attempts from this address. Wait a minute and try again.",
    form_expired: "This form has expired. Reload the page and try again.",
    server_error: "Something went wrong on the server. Try again in a moment.",
    signed_in_as: "Signed in as",
    api_reference: "API reference",
    getting_started: "Getting started",
    done: "Done",
    to_do: "To do",
    step_account: "Account created",
    step_device: "Pair an Android phone",
    step_device_how: "Make a pairing code (POST /v1/devices/pairing) and scan its QR code with the Relay app.",
    step_key: "Take an API key",
    step_key_how: "Use the key you were given, or create one with POST /v1/keys.",
    step_request: "Send your first request",
    step_request_how: "POST /v1/messages with your key: the API reference has a ready example.",
    step_delivery: "See your first delivery",
    step_delivery_how: "Keep the phone online: the message reaches delivered when the network confirms it.",
    step_ready: "Readiness is green",
    step_ready_how: "GET /v1/readiness says what is missing: a phone online, an active subscription, a running queue.",
    dashboard: "Dashboard",
    devices: "Devices",
    no_devices: "No phone is paired yet.",
    pair_phone: "Pair a phone",
    device_name: "Name",
    device_state: "State",
    state_online: "Online",
    state_offline: "Offline",
    state_degraded: "Degraded: its last sends failed",
    state_disabled: "Disabled",
    last_heartbeat: "Last heartbeat",
    never: "never",
    battery: "Battery",
    charging: "charging",
    signal: "Signal",
    sims: "SIMs",
    in_flight: "In flight",
    pacing: "Pacing",
    per_minute: "parts/min",
    per_day: "parts/day",
    rename: "Rename",
    enable: "Enable",
    disable: "Disable",
    unpair: "Unpair",
    bad_name: "A device name has 1 to 100 characters.",
    not_found: "There is nothing here, or it belongs to another account.",
    pair_title: "Pair an Android phone",
    pair_steps: "Open the Relay app on the phone, tap Pair and scan this code. Or type the pairing code and the server address.",
    pairing_code: "Pairing code",
    server_address: "Server address",
    expires_at: "Valid until",
    waiting_for_phone: "Waiting for the phone…",
    phone_connected: "Paired and online:",
};

const UR: Texts = Texts {
    name: "اردو",
    console: "ریلے کنسول",
    sign_in: "سائن اِن کریں",
    sign_out: "سائن آؤٹ",
    email: "ای میل",
    password: "پاس ورڈ",
    bad_login: "ای میل یا پاس ورڈ درست نہیں۔",
    too_many: "اس پتے سے بہت زیادہ کوششیں ہوئیں۔ ایک منٹ انتظار کر کے دوبارہ کوشش کریں۔",
    form_expired: "یہ فارم پرانا ہو چکا ہے۔ صفحہ دوبارہ لوڈ کر کے پھر کوشش کریں۔",
    server_error: "سرور پر کوئی خرابی ہوئی۔ تھوڑی دیر بعد دوبارہ کوشش کریں۔",
    signed_in_as: "سائن اِن بطور",
    api_reference: "API حوالہ",
    getting_started: "آغاز",
    done: "مکمل",
    to_do: "باقی",
    step_account: "اکاؤنٹ بن گیا",
    step_device: "اینڈرائیڈ فون جوڑیں",
    step_device_how: "جوڑنے کا کوڈ بنائیں (POST /v1/devices/pairing) اور ریلے ایپ سے اس کا QR کوڈ اسکین کریں۔",
    step_key: "API کلید حاصل کریں",
    step_key_how: "آپ کو دی گئی کلید استعمال کریں، یا POST /v1/keys سے نئی بنائیں۔",
    step_request: "اپنی پہلی درخواست بھیجیں",
    step_request_how: "اپنی کلید کے ساتھ POST /v1/messages بھیجیں: API حوالے میں تیار مثال موجود ہے۔",
    step_delivery: "پہلی ترسیل دیکھیں",
    step_delivery_how: "فون آن لائن رکھیں: نیٹ ورک کی تصدیق پر پیغام delivered ہو جاتا ہے۔",
    step_ready: "تیاری کی جانچ سبز ہے",
    step_ready_how: "GET /v1/readiness بتاتا ہے کہ کیا کمی ہے: آن لائن فون، فعال سبسکرپشن، چلتی قطار۔",
    dashboard: "ڈیش بورڈ",
    devices: "آلات",
    no_devices: "ابھی کوئی فون جوڑا نہیں گیا۔",
    pair_phone: "فون جوڑیں",
    device_name: "نام",
    device_state: "حالت",
    state_online: "آن لائن",
    state_offline: "آف لائن",
    state_degraded: "کمزور: اس کی آخری ترسیلات ناکام ہوئیں",
    state_disabled: "غیر فعال",
    last_heartbeat: "آخری رابطہ",
    never: "کبھی نہیں",
    battery: "بیٹری",
    charging: "چارج ہو رہی ہے",
    signal: "سگنل",
    sims: "سِم",
    in_flight: "زیرِ ترسیل",
    pacing: "رفتار کی حد",
    per_minute: "حصے فی منٹ",
    per_day: "حصے فی دن",
    rename: "نام بدلیں",
    enable: "فعال کریں",
    disable: "غیر فعال کریں",
    unpair: "جوڑ ختم کریں",
    bad_name: "آلے کا نام 1 سے 100 حروف کا ہو۔",
    not_found: "یہاں کچھ نہیں، یا یہ کسی دوسرے اکاؤنٹ کا ہے۔",
    pair_title: "اینڈرائیڈ فون جوڑیں",
    pair_steps: "فون پر ریلے ایپ کھولیں، جوڑیں پر ٹیپ کریں اور یہ کوڈ اسکین کریں۔ یا جوڑنے کا کوڈ اور سرور کا پتا لکھیں۔",
    pairing_code: "جوڑنے کا کوڈ",
    server_address: "سرور کا پتا",
    expires_at: "کب تک درست",
    waiting_for_phone: "فون کا انتظار ہے…",
    phone_connected: "جُڑ گیا اور آن لائن ہے:",
};
