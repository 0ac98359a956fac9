// Subscribe an endpoint of yours to events: the answer shows its signing secret once.
// .NET or Mono, no packages. Needs RELAY_API_KEY in the environment.
using System;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Threading.Tasks;

class Webhooks
{
    static readonly HttpClient Http = new HttpClient();

    static async Task RunAsync()
    {
        var key = Environment.GetEnvironmentVariable("RELAY_API_KEY");
        var request = new HttpRequestMessage(HttpMethod.Post, "{{BASE_URL}}/v1/webhooks");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var body = "{\"url\": \"" + Environment.GetEnvironmentVariable("WEBHOOK_URL") + "\", \"events\": [\"message.delivered\", \"message.failed\"]}";
        request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        var response = await Http.SendAsync(request);
        // Errors are JSON too: {"ok": false, "error": {"code": …, "message": …}}
        Console.WriteLine(await response.Content.ReadAsStringAsync());
    }

    static void Main() => RunAsync().GetAwaiter().GetResult();
}
