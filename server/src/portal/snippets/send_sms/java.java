// Queue one SMS: the answer carries its request_id and status "queued".
// Java 11+ (text blocks: 15+), no libraries: RELAY_API_KEY=… java Example.java
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

public class SendSms {
    static final HttpClient HTTP = HttpClient.newHttpClient();

    public static void main(String[] args) throws Exception {
        String body = """
            {"to": "+923001234567", "message": "Your order 1043 has shipped."}""";
        HttpRequest request = HttpRequest.newBuilder(URI.create("{{BASE_URL}}/v1/messages"))
            .header("Authorization", "Bearer " + System.getenv("RELAY_API_KEY"))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build();
        // Errors are JSON too: {"ok": false, "error": {"code": …, "message": …}}
        System.out.println(HTTP.send(request, HttpResponse.BodyHandlers.ofString()).body());
    }
}
