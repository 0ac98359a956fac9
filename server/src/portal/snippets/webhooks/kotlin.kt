// Subscribe an endpoint of yours to events: the answer shows its signing secret once.
// Kotlin/JVM with java.net.http (no libraries). Needs RELAY_API_KEY in the environment.
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse

private val http: HttpClient = HttpClient.newHttpClient()

fun main() {
    val body = """{"url": "${System.getenv("WEBHOOK_URL")}", "events": ["message.delivered", "message.failed"]}"""
    val request = HttpRequest.newBuilder(URI.create("{{BASE_URL}}/v1/webhooks"))
        .header("Authorization", "Bearer ${System.getenv("RELAY_API_KEY")}")
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body))
        .build()
    // Errors are JSON too: {"ok": false, "error": {"code": …, "message": …}}
    println(http.send(request, HttpResponse.BodyHandlers.ofString()).body())
}
