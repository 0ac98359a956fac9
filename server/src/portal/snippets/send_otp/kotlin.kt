// Send a one-time code: the answer carries the otp_id to verify against.
// Kotlin/JVM with java.net.http (no libraries). Needs RELAY_API_KEY in the environment.
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse

private val http: HttpClient = HttpClient.newHttpClient()

fun main() {
    val body = """{"to": "+923001234567", "purpose": "login", "locale": "en"}"""
    val request = HttpRequest.newBuilder(URI.create("{{BASE_URL}}/v1/otp/send"))
        .header("Authorization", "Bearer ${System.getenv("RELAY_API_KEY")}")
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body))
        .build()
    // Errors are JSON too: {"ok": false, "error": {"code": …, "message": …}}
    println(http.send(request, HttpResponse.BodyHandlers.ofString()).body())
}
