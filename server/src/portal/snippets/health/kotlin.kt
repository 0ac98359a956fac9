// Liveness (public) and readiness (this account can send now: key, plan, phones, queue).
// Kotlin/JVM with java.net.http (no libraries). Needs RELAY_API_KEY in the environment.
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse

private val http: HttpClient = HttpClient.newHttpClient()

fun main() {
    val request1 = HttpRequest.newBuilder(URI.create("{{BASE_URL}}/v1/health"))
        .build()
    // Errors are JSON too: {"ok": false, "error": {"code": …, "message": …}}
    println(http.send(request1, HttpResponse.BodyHandlers.ofString()).body())
    val request2 = HttpRequest.newBuilder(URI.create("{{BASE_URL}}/v1/readiness"))
        .header("Authorization", "Bearer ${System.getenv("RELAY_API_KEY")}")
        .build()
    // Errors are JSON too: {"ok": false, "error": {"code": …, "message": …}}
    println(http.send(request2, HttpResponse.BodyHandlers.ofString()).body())
}
