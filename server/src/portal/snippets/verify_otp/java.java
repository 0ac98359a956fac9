// Check the code the person typed: status is "success", "failed" or "expired".
// Java 11+ (text blocks: 15+), no libraries: RELAY_API_KEY=… java Example.java
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

public class VerifyOtp {
    static final HttpClient HTTP = HttpClient.newHttpClient();

    public static void main(String[] args) throws Exception {
        String body = """
            {"otp_id": "%s", "code": "%s"}""".formatted(System.getenv("OTP_ID"), System.getenv("OTP_CODE"));
        HttpRequest request = HttpRequest.newBuilder(URI.create("{{BASE_URL}}/v1/otp/verify"))
            .header("Authorization", "Bearer " + System.getenv("RELAY_API_KEY"))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build();
        // Errors are JSON too: {"ok": false, "error": {"code": …, "message": …}}
        System.out.println(HTTP.send(request, HttpResponse.BodyHandlers.ofString()).body());
    }
}
