// Liveness (public) and readiness (this account can send now: key, plan, phones, queue).
// Java 11+ (text blocks: 15+), no libraries: RELAY_API_KEY=… java Example.java
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

public class Health {
    static final HttpClient HTTP = HttpClient.newHttpClient();

    public static void main(String[] args) throws Exception {
        HttpRequest request1 = HttpRequest.newBuilder(URI.create("{{BASE_URL}}/v1/health"))
            .build();
        // Errors are JSON too: {"ok": false, "error": {"code": …, "message": …}}
        System.out.println(HTTP.send(request1, HttpResponse.BodyHandlers.ofString()).body());
        HttpRequest request2 = HttpRequest.newBuilder(URI.create("{{BASE_URL}}/v1/readiness"))
            .header("Authorization", "Bearer " + System.getenv("RELAY_API_KEY"))
            .build();
        // Errors are JSON too: {"ok": false, "error": {"code": …, "message": …}}
        System.out.println(HTTP.send(request2, HttpResponse.BodyHandlers.ofString()).body());
    }
}
