// Verify a webhook from Relay (Standard Webhooks: HMAC-SHA256 over "id.timestamp.body").
// The JDK only; or use the official library com.standardwebhooks:standardwebhooks.
import java.security.MessageDigest
import java.util.Base64
import javax.crypto.Mac
import javax.crypto.spec.SecretKeySpec
import kotlin.math.abs
import kotlin.system.exitProcess

fun verifyWebhook(secret: String, id: String, timestamp: String, signatureHeader: String, rawBody: String): Boolean {
    val ts = timestamp.toLongOrNull() ?: return false
    if (abs(System.currentTimeMillis() / 1000 - ts) > 300) return false
    val mac = Mac.getInstance("HmacSHA256")
    mac.init(SecretKeySpec(Base64.getDecoder().decode(secret.removePrefix("whsec_")), "HmacSHA256"))
    val expected = mac.doFinal("$id.$timestamp.$rawBody".toByteArray())
    // Two signatures, separated by a space, during a secret rotation.
    return signatureHeader.split(" ").any { part ->
        val (version, signature) = part.split(",", limit = 2).let { it[0] to it.getOrElse(1) { "" } }
        val given = runCatching { Base64.getDecoder().decode(signature) }.getOrNull()
        version == "v1" && given != null && MessageDigest.isEqual(given, expected)
    }
}

fun main() {
    // In Ktor or Spring: the three webhook-* headers and the raw body as a String.
    val env = { name: String -> System.getenv(name) ?: "" }
    val ok = verifyWebhook(env("WEBHOOK_SECRET"), env("WEBHOOK_ID"), env("WEBHOOK_TIMESTAMP"), env("WEBHOOK_SIGNATURE"), env("WEBHOOK_BODY"))
    println(if (ok) "valid" else "invalid")
    exitProcess(if (ok) 0 else 1)
}
