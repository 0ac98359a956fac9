// The Relay app: Kotlin sources, the uniffi bindings generated from librelay_android.so, and
// that library for arm64-v8a and x86_64, built by cargo-ndk (scripts/build-apk.sh runs it first).
plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "org.relay.android"
    compileSdk = 35

    defaultConfig {
        applicationId = "org.relay.android"
        minSdk = 26
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
    }

    buildFeatures {
        buildConfig = true
    }

    sourceSets {
        getByName("main") {
            // Written by scripts/build-apk.sh: the Kotlin bindings and the jniLibs from cargo-ndk.
            kotlin.srcDir("build/generated/uniffi")
            jniLibs.srcDir("build/generated/jniLibs")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions {
        jvmTarget = "17"
    }
}

dependencies {
    // uniffi's Kotlin bindings call the library through JNA (the @aar carries its Android .so files)
    // and expose async functions as suspend functions (kotlinx-coroutines). Nothing else: no
    // AndroidX, no Play services.
    implementation("net.java.dev.jna:jna:5.15.0@aar")
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.9.0")
}
