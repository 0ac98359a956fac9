// Liveness (public) and readiness (this account can send now: key, plan, phones, queue).
// .NET or Mono, no packages. Needs RELAY_API_KEY in the environment.
using System;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Threading.Tasks;

class Health
{
    static readonly HttpClient Http = new HttpClient();

    static async Task RunAsync()
    {
        var key = Environment.GetEnvironmentVariable("RELAY_API_KEY");
        var request1 = new HttpRequestMessage(HttpMethod.Get, "{{BASE_URL}}/v1/health");
        var response1 = await Http.SendAsync(request1);
        // Errors are JSON too: {"ok": false, "error": {"code": …, "message": …}}
        Console.WriteLine(await response1.Content.ReadAsStringAsync());
        var request2 = new HttpRequestMessage(HttpMethod.Get, "{{BASE_URL}}/v1/readiness");
        request2.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var response2 = await Http.SendAsync(request2);
        // Errors are JSON too: {"ok": false, "error": {"code": …, "message": …}}
        Console.WriteLine(await response2.Content.ReadAsStringAsync());
    }

    static void Main() => RunAsync().GetAwaiter().GetResult();
}
