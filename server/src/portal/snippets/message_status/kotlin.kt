// Follow a message: its status, the phone that sent it, and its timeline.
// Kotlin/JVM with java.net.http (no libraries). Needs RELAY_API_KEY in the environment.
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse

private val http: HttpClient = HttpClient.newHttpClient()

fun main() {
    val request = HttpRequest.newBuilder(URI.create("{{BASE_URL}}/v1/messages/${System.getenv("REQUEST_ID")}"))
        .header("Authorization", "Bearer ${System.getenv("RELAY_API_KEY")}")
        .build()
    // Errors are JSON too: {"ok": false, "error": {"code": …, "message": …}}
    println(http.send(request, HttpResponse.BodyHandlers.ofString()).body())
}
