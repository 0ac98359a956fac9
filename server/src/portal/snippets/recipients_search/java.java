// Search the directory by name or by (part of) a number.
// Java 11+ (text blocks: 15+), no libraries: RELAY_API_KEY=… java Example.java
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

public class RecipientsSearch {
    static final HttpClient HTTP = HttpClient.newHttpClient();

    public static void main(String[] args) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create("{{BASE_URL}}/v1/recipients?q=Ali"))
            .header("Authorization", "Bearer " + System.getenv("RELAY_API_KEY"))
            .build();
        // Errors are JSON too: {"ok": false, "error": {"code": …, "message": …}}
        System.out.println(HTTP.send(request, HttpResponse.BodyHandlers.ofString()).body());
    }
}
