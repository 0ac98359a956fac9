// One text to many numbers, filled per recipient: the answer carries the batch_id.
// Java 11+ (text blocks: 15+), no libraries: RELAY_API_KEY=… java Example.java
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

public class Bulk {
    static final HttpClient HTTP = HttpClient.newHttpClient();

    public static void main(String[] args) throws Exception {
        String body = """
            {"message": "Hi {{name}}, your order {{order}} has shipped.", "recipients": [{"to": "+923001234567", "name": "Ali", "vars": {"order": "1043"}}, {"to": "+923007654321", "name": "Sara", "vars": {"order": "1044"}}]}""";
        HttpRequest request = HttpRequest.newBuilder(URI.create("{{BASE_URL}}/v1/messages/bulk"))
            .header("Authorization", "Bearer " + System.getenv("RELAY_API_KEY"))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build();
        // Errors are JSON too: {"ok": false, "error": {"code": …, "message": …}}
        System.out.println(HTTP.send(request, HttpResponse.BodyHandlers.ofString()).body());
    }
}
