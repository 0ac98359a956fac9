// One text to many numbers, filled per recipient: the answer carries the batch_id.
// Kotlin/JVM with java.net.http (no libraries). Needs RELAY_API_KEY in the environment.
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse

private val http: HttpClient = HttpClient.newHttpClient()

fun main() {
    val body = """{"message": "Hi {{name}}, your order {{order}} has shipped.", "recipients": [{"to": "+923001234567", "name": "Ali", "vars": {"order": "1043"}}, {"to": "+923007654321", "name": "Sara", "vars": {"order": "1044"}}]}"""
    val request = HttpRequest.newBuilder(URI.create("{{BASE_URL}}/v1/messages/bulk"))
        .header("Authorization", "Bearer ${System.getenv("RELAY_API_KEY")}")
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body))
        .build()
    // Errors are JSON too: {"ok": false, "error": {"code": …, "message": …}}
    println(http.send(request, HttpResponse.BodyHandlers.ofString()).body())
}
