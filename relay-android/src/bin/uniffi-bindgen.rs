//! Writes the foreign-language bindings (Kotlin) for the built library, in uniffi's library
//! mode: `uniffi-bindgen generate target/debug/librelay_android.so -l kotlin -o OUT`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
