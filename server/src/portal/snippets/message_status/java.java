// Follow a message: its status, the phone that sent it, and its timeline.
// Java 11+ (text blocks: 15+), no libraries: RELAY_API_KEY=… java Example.java
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

public class MessageStatus {
    static final HttpClient HTTP = HttpClient.newHttpClient();

    public static void main(String[] args) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create("{{BASE_URL}}/v1/messages/" + System.getenv("REQUEST_ID")))
            .header("Authorization", "Bearer " + System.getenv("RELAY_API_KEY"))
            .build();
        // Errors are JSON too: {"ok": false, "error": {"code": …, "message": …}}
        System.out.println(HTTP.send(request, HttpResponse.BodyHandlers.ofString()).body());
    }
}
