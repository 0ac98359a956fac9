// Send a one-time code: the answer carries the otp_id to verify against.
// .NET or Mono, no packages. Needs RELAY_API_KEY in the environment.
using System;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Threading.Tasks;

class SendOtp
{
    static readonly HttpClient Http = new HttpClient();

    static async Task RunAsync()
    {
        var key = Environment.GetEnvironmentVariable("RELAY_API_KEY");
        var request = new HttpRequestMessage(HttpMethod.Post, "{{BASE_URL}}/v1/otp/send");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var body = @"{""to"": ""+923001234567"", ""purpose"": ""login"", ""locale"": ""en""}";
        request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        var response = await Http.SendAsync(request);
        // Errors are JSON too: {"ok": false, "error": {"code": …, "message": …}}
        Console.WriteLine(await response.Content.ReadAsStringAsync());
    }

    static void Main() => RunAsync().GetAwaiter().GetResult();
}
