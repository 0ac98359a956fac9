// Queue one SMS: the answer carries its request_id and status "queued".
// Kotlin/JVM with java.net.http (no libraries). Needs RELAY_API_KEY in the environment.
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse

private val http: HttpClient = HttpClient.newHttpClient()

fun main() {
    val body = """{"to": "+923001234567", "message": "Your order 1043 has shipped."}"""
    val request = HttpRequest.newBuilder(URI.create("{{BASE_URL}}/v1/messages"))
        .header("Authorization", "Bearer ${System.getenv("RELAY_API_KEY")}")
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body))
        .build()
    // Errors are JSON too: {"ok": false, "error": {"code": …, "message": …}}
    println(http.send(request, HttpResponse.BodyHandlers.ofString()).body())
}
